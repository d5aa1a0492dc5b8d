package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"policygraph/errs"
	"policygraph/internal/bytecache"
	"policygraph/storage"
)

// The two response media types of the GraphQL-over-HTTP specification.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// Transport serves GraphQL over HTTP as the GraphQL-over-HTTP specification
// says: GET (queries only; a mutation is 405) and POST with application/json;
// responses in application/graphql-response+json or application/json as the
// Accept header asks (406 when it asks for neither), with the status codes the
// specification gives for each. Query results are cached per graph version and
// GET responses carry an ETag, answered 304 on If-None-Match, and Cache-Control.
type Transport struct {
	// MaxBodyBytes bounds a POST body (413 past it).
	MaxBodyBytes int64
	// Cache, when not nil, holds query results until the graph changes.
	Cache *ResponseCache
	// Version is the graph's version; cached results and ETags are keyed on it.
	Version func() uint64
	// Pin, when set, marks a request's context so that all its reads see one
	// version of the graph, and returns that version; the request then runs
	// with the context it returns, and its answer is cached under the version.
	Pin func(ctx context.Context) (context.Context, uint64)
	// CacheControl is sent with successful GET query responses.
	CacheControl string
	// Metrics, when not nil, records requests, errors and cache use.
	Metrics *Metrics
	// Refusals remembers requests refused for what they are, whatever the graph
	// holds (a query that does not parse or validate, or exceeds a limit), so
	// that a client repeating one costs a hash and a lookup. NewHandler sets it.
	Refusals *bytecache.Cache[string, *cachedResponse]
	// RefusalDelay holds back every refused request's answer (see Limits).
	RefusalDelay time.Duration
	// MaxResponseBytes bounds a query's answer (RESPONSE_TOO_LARGE past it); 0: no bound.
	MaxResponseBytes int64
	// Timeout is the request time limit that Guard sets, for the TIMEOUT answer's message.
	Timeout time.Duration
	// Log receives a line for each request answered TIMEOUT.
	Log *slog.Logger
	// StoreID, when not empty, names the graph's store in the version header
	// every response carries (HeaderVersion; consistency.go).
	StoreID string
	// WaitVersion, when set, holds a request with HeaderMinVersion until the
	// graph has reached it, at most MinVersionWait (0: DefaultMinVersionWait).
	WaitVersion    VersionWaiter
	MinVersionWait time.Duration
	// tarpit bounds how many refused requests wait at once; past it they are
	// answered at once, so waiting requests cannot pile up without bound.
	tarpit chan struct{}
}

// maxTarpitted bounds the refused requests held back at once.
const maxTarpitted = 512

// holdBack delays a refused request's answer by RefusalDelay, or less when its
// client goes away; when too many are already waiting it does not wait.
func (t *Transport) holdBack(r *http.Request) {
	if t.RefusalDelay <= 0 || t.tarpit == nil {
		return
	}
	select {
	case t.tarpit <- struct{}{}:
		defer func() { <-t.tarpit }()
	default:
		return
	}
	timer := time.NewTimer(t.RefusalDelay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
	}
}

// staticRefusal lists the codes of refusals that depend only on the request,
// the schema and the limits: the same request is always refused the same way.
var staticRefusal = map[errs.Code]bool{
	errs.ParseFailed: true, errs.ValidationFailed: true, errs.DepthLimit: true,
	errs.ComplexityLimit: true, errs.TooManyAliases: true, errs.TokenLimit: true, errs.IntrospectionDisabled: true,
}

// isStaticRefusal reports whether every error is a static refusal.
func isStaticRefusal(list gqlerror.List) bool {
	for _, e := range list {
		if code, _ := e.Extensions["code"].(string); !staticRefusal[errs.Code(code)] {
			return false
		}
	}
	return len(list) > 0
}

var _ graphql.Transport = (*Transport)(nil)

// Supports implements graphql.Transport. Requests for a stream (IsStream) are
// left to a streaming transport.
func (t *Transport) Supports(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodPost) && !IsStream(r)
}

// requestError is a failure before execution: the request is not a well-formed
// GraphQL-over-HTTP request, or its document does not parse or validate.
type requestError struct {
	status int // under application/graphql-response+json
	errs   gqlerror.List
	// anyMedia: the status holds under application/json too.
	anyMedia bool
}

// notJSON is the specification's "JSON parsing failure": a body the server
// cannot read as JSON gets 400 under either media type (graphql-http audit BCF8),
// unlike a well-formed request that fails later, which application/json answers 200.
func notJSON(format string, args ...any) *requestError {
	e := badRequest(errs.BadRequest, format, args...)
	e.anyMedia = true
	return e
}

func badRequest(code errs.Code, format string, args ...any) *requestError {
	e := gqlerror.Errorf(format, args...)
	e.Extensions = map[string]any{"code": string(code)}
	return &requestError{status: errs.Status(code), errs: gqlerror.List{e}}
}

// refuse is the request error of code with msg, answered with code's status.
func refuse(code errs.Code, msg string) *requestError {
	return &requestError{status: errs.Status(code), errs: gqlerror.List{codeErr(code, msg)}}
}

// Do implements graphql.Transport.
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := time.Now()
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		t.record("", http.StatusNotAcceptable, start, nil)
		writeError(w, mediaJSON, errs.NotAcceptable,
			"this server answers "+mediaGraphQLResponse+" or "+mediaJSON)
		return
	}
	addVary(w.Header(), "Accept")
	req, rerr := t.read(w, r)
	if rerr != nil {
		t.fail(w, r, media, rerr, "", start)
		return
	}
	if t.WaitVersion != nil && t.StoreID != "" {
		if ok, code := awaitMinVersion(w, r, media, t.StoreID, t.MinVersionWait, t.WaitVersion); !ok {
			t.record("", errs.Status(code), start, gqlerror.List{codeErr(code, "")})
			return
		}
	}
	// The version is read before the cache and before the query runs: a result
	// cached under it was computed from a snapshot at least that new, and a
	// write commits a new version, so a cached result is never older than the
	// last write before the request.
	var version uint64
	if t.Pin != nil {
		var ctx context.Context
		ctx, version = t.Pin(r.Context())
		r = r.WithContext(ctx)
	} else {
		version = t.Version()
	}
	t.setVersionHeader(w, version)
	// Keyed on the request's bytes, so a repeated request is answered without
	// decoding it; requests that differ only in spelling (spaces, key order)
	// are cached apart, which costs space, never correctness.
	key := cacheKey(media, r.Method, req)
	if t.Refusals != nil {
		if e, ok := t.Refusals.Get(key); ok {
			t.holdBack(r)
			t.Metrics.request(e.operation, e.status, time.Since(start))
			t.Metrics.errorCodes(e.codes)
			w.Header().Set("Content-Type", media+"; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(e.status)
			w.Write(e.body)
			return
		}
	}
	if t.Cache != nil {
		if e, ok := t.Cache.Get(key, version); ok {
			t.Metrics.cache("hit")
			t.respond(w, r, media, e.status, e.body, e.etag, e.operation, start, t.gzipForm(w, key, version, e))
			return
		}
	}
	raw, rerr := t.params(r, req)
	if rerr != nil {
		t.fail(w, r, media, rerr, "", start)
		return
	}
	raw.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	raw.Headers = r.Header

	opCtx, refused := exec.CreateOperationContext(r.Context(), raw)
	if refused != nil {
		status := statusOf(refused)
		resp := exec.DispatchError(graphql.WithOperationContext(r.Context(), opCtx), refused)
		e := t.fail(w, r, media, &requestError{status: status, errs: resp.Errors}, operationName(opCtx), start)
		if t.Refusals != nil && isStaticRefusal(resp.Errors) {
			t.Refusals.Add(key, e, e.weight())
		}
		return
	}
	op := opCtx.Operation
	if r.Method == http.MethodGet && op != nil && op.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		t.record(operationName(opCtx), http.StatusMethodNotAllowed, start, nil)
		writeError(w, media, errs.MethodNotAllowed, "GET requests may only run queries; send "+string(op.Operation)+"s with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(r.Context(), opCtx)
	resp := responses(ctx)
	if resp == nil {
		resp = &graphql.Response{} // gqlgen made nothing: the request's context ended
	}
	mutation := op != nil && op.Operation == ast.Mutation
	if t.Pin != nil {
		// The request's own writes moved its pin: the version its answer
		// was read at, or, after a write, the version the last one made.
		_, answered := t.Pin(r.Context())
		if v := storage.WrittenVersion(r.Context()); v != 0 {
			answered = v
		}
		t.setVersionHeader(w, answered)
	}
	if mutation && t.Cache != nil {
		// Release the answers the write made stale now, not at the next query.
		t.Cache.Observe(t.Version())
	}
	// The whole answer is in memory: if the time ran out while it was made and
	// it shows, answer TIMEOUT rather than a partial answer (see Guard).
	if errors.Is(r.Context().Err(), context.DeadlineExceeded) && timedOut(resp, mutation) {
		t.log().WarnContext(r.Context(), "request timed out", "timeout", t.Timeout.String(), "mutation", mutation)
		t.record(operationName(opCtx), http.StatusServiceUnavailable, start, gqlerror.List{codeErr(errs.Timeout, "")})
		writeError(w, media, errs.Timeout,
			fmt.Sprintf("the request took longer than %s and was stopped; ask for less (fewer or narrower fields, a smaller first)", t.Timeout))
		return
	}
	if !mutation && t.MaxResponseBytes > 0 && int64(len(resp.Data)) > t.MaxResponseBytes {
		// Checked on the data before the answer is serialized, so that it is
		// not copied. A mutation's answer is passed on whatever its size: it
		// has committed.
		e := refuse(errs.ResponseTooLarge, fmt.Sprintf("the answer is larger than the limit of %d bytes; ask for less (fewer or narrower fields, a smaller first)", t.MaxResponseBytes))
		t.fail(w, r, media, e, operationName(opCtx), start)
		return
	}
	var body []byte
	var err error
	if resp.Data == nil && len(resp.Errors) > 0 {
		// Refused before it ran: a request error, which has no data entry.
		body, err = json.Marshal(struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions})
	} else {
		body, err = encodeResponse(resp)
	}
	if err != nil {
		writeError(w, media, errs.Internal, "internal error")
		return
	}
	status := http.StatusOK
	if media == mediaGraphQLResponse && resp.Data == nil && len(resp.Errors) > 0 {
		// No data: the operation was refused before it ran (a write without the
		// token, say): a 4xx or 5xx under application/graphql-response+json.
		status = statusOf(resp.Errors)
	}
	t.Metrics.errors(resp.Errors)
	retryAfter(w, resp.Errors)
	etag := ""
	var gzipped func() []byte
	if op != nil && op.Operation == ast.Query && len(resp.Errors) == 0 {
		if r.Method == http.MethodGet { // only GET responses carry an ETag
			sum := sha256.Sum256(body)
			etag = `"` + hex.EncodeToString(sum[:12]) + `"`
		}
		if t.Cache != nil {
			e := &cachedResponse{status: status, body: body, etag: etag, operation: operationName(opCtx)}
			t.Cache.Add(key, version, e)
			t.Metrics.cache("miss")
			gzipped = t.gzipForm(w, key, version, e)
		}
	}
	t.respond(w, r, media, status, body, etag, operationName(opCtx), start, gzipped)
}

// setVersionHeader says which version of the graph the response answers.
func (t *Transport) setVersionHeader(w http.ResponseWriter, v uint64) {
	if t.StoreID != "" {
		w.Header().Set(HeaderVersion, VersionHeader(t.StoreID, v))
	}
}

// gzipForm returns what gives the gzip form of the cached answer e when w
// compresses (Compress negotiated gzip) and e is long enough to be
// compressed, else nil. The form is made at the first call, and kept in the
// cache beside the answer: an answer the cache serves over and over is not
// gzipped over and over. It is made as Compress would make it as it sends
// (gzipBody), so the bytes are the same either way.
func (t *Transport) gzipForm(w http.ResponseWriter, key string, version uint64, e *cachedResponse) func() []byte {
	if len(e.body) < CompressMinBytes || !compressing(w) {
		return nil
	}
	return func() []byte {
		if e.gz != nil {
			return e.gz
		}
		gz := gzipBody(e.body)
		t.Cache.addGzip(key, version, e, gz)
		return gz
	}
}

// encodeResponse serializes resp as json.Marshal does (the same bytes: HTML
// characters escaped), with one copy of the data where json.Marshal makes
// three (its buffer, grown by doubling, then the copy it returns): an answer
// near MaxResponseBytes holds twice its size in memory, not four times.
func encodeResponse(resp *graphql.Response) ([]byte, error) {
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		return json.Marshal(resp) // incremental delivery, which this server does not use
	}
	var errs, ext []byte
	var err error
	if len(resp.Errors) > 0 {
		if errs, err = json.Marshal(resp.Errors); err != nil {
			return nil, err
		}
	}
	if len(resp.Extensions) > 0 {
		if ext, err = json.Marshal(resp.Extensions); err != nil {
			return nil, err
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, len(resp.Data)+len(errs)+len(ext)+48))
	buf.WriteByte('{')
	if errs != nil {
		buf.WriteString(`"errors":`)
		buf.Write(errs)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if resp.Data == nil {
		buf.WriteString("null")
	} else {
		json.HTMLEscape(buf, resp.Data)
	}
	if ext != nil {
		buf.WriteString(`,"extensions":`)
		buf.Write(ext)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (t *Transport) log() *slog.Logger {
	if t.Log == nil {
		return slog.Default()
	}
	return t.Log
}

// respond writes a response, with ETag, Cache-Control and 304 for GET queries.
// When gzipped is not nil, the body it returns, already gzipped, is sent
// instead of body (Compress passes it on as it is).
func (t *Transport) respond(w http.ResponseWriter, r *http.Request, media string, status int, body []byte, etag, op string, start time.Time, gzipped func() []byte) {
	if etag != "" && r.Method == http.MethodGet {
		w.Header().Set("ETag", etag)
		if t.CacheControl != "" {
			w.Header().Set("Cache-Control", t.CacheControl)
		}
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			t.Metrics.cache("not_modified")
			t.record(op, http.StatusNotModified, start, nil)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		w.Header().Set("Cache-Control", "no-store")
	}
	t.record(op, status, start, nil)
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	if gzipped != nil {
		body = gzipped()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// fail answers a request error: 200 with the errors under application/json, its
// 4xx under application/graphql-response+json (never with a data entry).
func (t *Transport) fail(w http.ResponseWriter, r *http.Request, media string, e *requestError, op string, start time.Time) *cachedResponse {
	t.holdBack(r)
	status := http.StatusOK
	if media == mediaGraphQLResponse || e.anyMedia || e.status == http.StatusRequestEntityTooLarge || e.status == http.StatusUnsupportedMediaType {
		status = e.status
	}
	t.record(op, status, start, e.errs)
	body, _ := json.Marshal(struct {
		Errors gqlerror.List `json:"errors"`
	}{e.errs})
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	retryAfter(w, e.errs)
	w.WriteHeader(status)
	w.Write(body)
	return &cachedResponse{status: status, body: body, operation: op, codes: errorCodes(e.errs)}
}

// errorCodes lists the extensions.code of each error (errs.Unknown for none).
func errorCodes(list gqlerror.List) []string {
	codes := make([]string, len(list))
	for i, e := range list {
		codes[i], _ = e.Extensions["code"].(string)
		if codes[i] == "" {
			codes[i] = string(errs.Unknown)
		}
	}
	return codes
}

func (t *Transport) record(op string, status int, start time.Time, list gqlerror.List) {
	t.Metrics.request(op, status, time.Since(start))
	t.Metrics.errors(list)
}

// writeError answers a refused request with code's status (errs.Status) and
// the body errs.Body makes.
func writeError(w http.ResponseWriter, media string, code errs.Code, msg string) {
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(errs.Status(code))
	w.Write(errs.Body(code, msg, nil))
}

// negotiate picks the response media type from an Accept header: the acceptable
// type with the highest q, application/graphql-response+json on a tie; */* and
// application/* mean application/json, as does a missing header.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				q = v
			}
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			continue
		}
		var m string
		switch mt {
		case mediaGraphQLResponse:
			m = mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			m = mediaJSON
		default:
			continue
		}
		if q > bestQ || (q == bestQ && m == mediaGraphQLResponse && q > 0) {
			best, bestQ = m, q
		}
	}
	return best, best != "" && bestQ > 0
}

// read returns the request's GraphQL parameters undecoded: the URL's query
// string (GET) or the JSON body (POST), after checking the body's media type
// and size.
func (t *Transport) read(w http.ResponseWriter, r *http.Request) ([]byte, *requestError) {
	if r.Method == http.MethodGet {
		return []byte(r.URL.RawQuery), nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, refuse(errs.UnsupportedMediaType, "send POST bodies as Content-Type: application/json")
	}
	if ct != mediaJSON && !strings.EqualFold(ct, "application/json; charset=utf-8") {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != mediaJSON || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
			return nil, refuse(errs.UnsupportedMediaType, "send POST bodies as Content-Type: application/json (utf-8)")
		}
	}
	if t.MaxBodyBytes > 0 && r.ContentLength > t.MaxBodyBytes {
		// Refused unread: an oversized body costs the server nothing.
		return nil, refuse(errs.RequestTooLarge, "the request body is larger than "+strconv.FormatInt(t.MaxBodyBytes, 10)+" bytes")
	}
	body := r.Body
	if t.MaxBodyBytes > 0 {
		body = http.MaxBytesReader(w, r.Body, t.MaxBodyBytes)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, refuse(errs.RequestTooLarge, "the request body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes")
		}
		return nil, badRequest(errs.BadRequest, "could not read the request body")
	}
	if !utf8.Valid(b) {
		return nil, notJSON("the request body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, badRequest(errs.BadRequest, "the request body is empty; send {\"query\": \"...\"}")
	}
	return b, nil
}

// params decodes the request's GraphQL parameters from what read returned,
// checking each one's type.
func (t *Transport) params(r *http.Request, req []byte) (*graphql.RawParams, *requestError) {
	if r.Method != http.MethodGet {
		return bodyParams(req)
	}
	q := r.URL.Query()
	for name, vals := range q {
		for _, v := range vals {
			if !utf8.ValidString(v) {
				return nil, badRequest(errs.BadRequest, "URL parameter %q is not valid UTF-8", name)
			}
		}
	}
	var b body
	if v := q.Get("query"); q.Has("query") {
		b.Query = &v
	}
	if v := q.Get("operationName"); v != "" {
		b.OperationName = &v
	}
	for name, dst := range map[string]*map[string]any{"variables": &b.Variables, "extensions": &b.Extensions} {
		if v := q.Get(name); v != "" {
			if !json.Valid([]byte(v)) {
				return nil, badRequest(errs.BadRequest, "%s is not valid JSON", name)
			}
			if err := json.Unmarshal([]byte(v), dst); err != nil {
				return nil, badRequest(errs.BadRequest, "%s must be a JSON object", name)
			}
		}
	}
	return b.params()
}

// body is a request's JSON body, decoded in one pass. Numbers decode as
// float64, not json.Number: gqlparser would take a json.Number for a String
// variable, which the specification refuses.
type body struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// bodyParams decodes a request's JSON body: an object whose members are
// the request's parameters, null where absent.
func bodyParams(req []byte) (*graphql.RawParams, *requestError) {
	var b body
	if err := json.Unmarshal(req, &b); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case !errors.As(err, &te):
			return nil, notJSON("the request body is not JSON: %v", err)
		case te.Field == "query" || te.Field == "operationName":
			return nil, badRequest(errs.BadRequest, "%s must be a string", te.Field)
		case te.Field == "variables" || te.Field == "extensions":
			return nil, badRequest(errs.BadRequest, "%s must be a JSON object", te.Field)
		default:
			return nil, badRequest(errs.BadRequest, "the request body is not a JSON object: %v", err)
		}
	}
	return b.params()
}

// params are b's request parameters.
func (b body) params() (*graphql.RawParams, *requestError) {
	raw := &graphql.RawParams{Variables: b.Variables, Extensions: b.Extensions}
	if b.Query != nil {
		raw.Query = *b.Query
	}
	if b.OperationName != nil {
		raw.OperationName = *b.OperationName
	}
	intVariables(raw.Variables)
	if raw.Query == "" && raw.Extensions["persistedQuery"] == nil {
		return nil, badRequest(errs.BadRequest, "the request has no query")
	}
	return raw, nil
}

// retryAfter sets Retry-After (a second) on an answer that holds an error
// the client should retry later: the store unreachable or without a quorum
// (STORE_UNAVAILABLE), whatever the status the media type gives the answer.
func retryAfter(w http.ResponseWriter, list gqlerror.List) {
	for _, e := range list {
		if c, _ := e.Extensions["code"].(string); errs.Code(c) == errs.StoreUnavailable {
			w.Header().Set("Retry-After", "1")
			return
		}
	}
}

func codeErr(code errs.Code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(code)}}
}

// statusOf is the status of a refused request: the first error's code's status
// (errs.Status), 4xx before 5xx; 400 for an error with no code.
func statusOf(list gqlerror.List) int {
	status := 0
	for _, e := range list {
		s := http.StatusBadRequest
		if code, ok := e.Extensions["code"].(string); ok {
			s = errs.Status(errs.Code(code))
		}
		if status == 0 || (s < 500 && status >= 500) {
			status = s
		}
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	return status
}

func operationName(opCtx *graphql.OperationContext) string {
	if opCtx == nil {
		return ""
	}
	if opCtx.OperationName != "" {
		return opCtx.OperationName
	}
	if opCtx.Operation != nil && opCtx.Operation.Name != "" {
		return opCtx.Operation.Name
	}
	return ""
}

// etagMatch reports whether an If-None-Match header names etag (or is *).
func etagMatch(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// cacheKey identifies a request's result apart from the graph version: the
// response media type, the method and the request's undecoded parameters.
func cacheKey(media, method string, req []byte) string {
	h := sha256.New()
	for _, s := range []string{media, method} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(req)
	var sum [sha256.Size]byte
	return string(h.Sum(sum[:0]))
}
