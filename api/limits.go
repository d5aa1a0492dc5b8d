package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"policygraph/errs"
	"policygraph/internal/bytecache"
)

func init() {
	// The query limits refuse a request before it runs, as a validation error
	// does: the transports answer them with a 4xx status, not 200.
	for _, code := range []errs.Code{errs.DepthLimit, errs.ComplexityLimit, errs.TooManyAliases, errs.TokenLimit} {
		errcode.RegisterErrorType(string(code), errcode.KindProtocol)
	}
}

// Limits bound what one request to /graphql may cost. A zero field means no
// limit. (The body size is Options.MaxBodyBytes, which the transport enforces.)
type Limits struct {
	// MaxDepth bounds how deeply fields nest (introspection aside).
	MaxDepth int
	// MaxComplexity bounds the query's cost in the model of complexity.go; it
	// also bounds the number of fields once fragments are expanded.
	MaxComplexity int
	// MaxAliases bounds the aliased fields plus the fields repeated under one
	// parent, once fragments are expanded.
	MaxAliases int
	// MaxTokens bounds the lexical tokens of the query text.
	MaxTokens int
	// Timeout bounds the time one request may run; reads stop when it passes.
	Timeout time.Duration
	// RefusalDelay holds back the answer to a refused request (one that is
	// malformed, too large, or over a limit) by this long, without using CPU,
	// so that a client flooding the server with abusive requests is slowed to
	// that pace while well-behaved requests, never refused, are not delayed.
	RefusalDelay time.Duration
	// MaxResponseBytes bounds the answer to a query (RESPONSE_TOO_LARGE past
	// it); the cost model charges big fields so that the complexity limit
	// refuses most such queries before they run. Answers to mutations, which
	// have committed, are never replaced.
	MaxResponseBytes int64
	// MaxInFlight bounds the requests running at once, and MaxInFlightPerClient
	// those from one client address (an IPv4 address, an IPv6 /64), so that
	// one client cannot take every slot. Past either a request waits up to
	// QueueWait for a slot, then gets 503 SERVER_BUSY.
	MaxInFlight          int
	MaxInFlightPerClient int
	QueueWait            time.Duration
}

// DefaultLimits are the limits the server runs with unless told otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:      12,
		MaxComplexity: 20000,
		MaxAliases:    30,
		MaxTokens:     5000,
		Timeout:       5 * time.Second,
		RefusalDelay:  50 * time.Millisecond,

		MaxResponseBytes:     DefaultMaxResponseBytes,
		MaxInFlight:          16,
		MaxInFlightPerClient: 4,
		QueueWait:            time.Second,
	}
}

// DefaultMaxResponseBytes is the default bound on a query's answer.
const DefaultMaxResponseBytes = 8 << 20

// apply installs the query limits (depth, aliases, tokens, complexity) on srv.
// The time limit needs no field middleware (which gqlgen runs through a
// closure made for every resolver call): reads stop once the request's
// context is done (every scanCheckEvery-th record), and so does marshalling a
// list over the read model (graph.marshalSlice).
//
// version is the version of the counts the cost model reads (see
// queryLimits.measured); nil when the costs do not depend on the data.
func (l Limits) apply(srv *handler.Server, version func() uint64) {
	if version == nil {
		version = func() uint64 { return 0 }
	}
	srv.Use(&queryLimits{Limits: l, version: version,
		measured: bytecache.New[string, measure](measuredBytes, measuredBytes/entryShare, 0)})
	if l.MaxTokens > 0 {
		// The parser's own limit is a backstop; queryLimits answers first, with its code.
		srv.SetParserTokenLimit(l.MaxTokens + 16)
	}
}

// queryLimits refuses queries that are too long, too deep or too wide, then
// those whose complexity (gqlgen's walk over the cost model, complexity.go)
// exceeds the limit: the cheap checks first, since the walk expands every
// fragment spread.
//
// Both measures are remembered. A dashboard or a script asks the same few
// operations over and over, and walking each one's shape and cost again was
// 8-14% of the CPU of a small read over the read model. The shape depends on
// the operation alone; the cost also on its variables and on the counts the
// cost model reads, so a cost is reused only at the version of the data it
// was measured at (version: the read model's, or the store's head).
type queryLimits struct {
	Limits
	es       graphql.ExecutableSchema
	version  func() uint64
	measured *bytecache.Cache[string, measure]
}

// measuredBytes bounds the memory of the remembered measures (keys are the
// operation's text and variables).
const measuredBytes = 2 << 20

// measure is what queryLimits found for one operation with its variables.
type measure struct {
	refusal    *gqlerror.Error // a shape limit's, whatever the data
	complexity int
	version    uint64 // of the data complexity was measured against
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = (*queryLimits)(nil)

func (*queryLimits) ExtensionName() string { return "QueryLimits" }

func (q *queryLimits) Validate(schema graphql.ExecutableSchema) error {
	q.es = schema
	return nil
}

func limitError(code errs.Code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": string(code)}}
}

// MaxNameBytes bounds the names in a query (fields, aliases, arguments, types,
// fragments, variables). The schema's are short; a validation error on a long
// one costs an edit distance to every name the schema holds ("Did you mean"),
// about a second of CPU for a 1 MB name.
const MaxNameBytes = 1024

// MutateOperationParameters counts the query's tokens and measures its names.
// A query has no more tokens than bytes and no name longer than itself, so
// short queries (almost all) are not lexed twice.
func (q *queryLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	countTokens := q.MaxTokens > 0 && len(p.Query) > q.MaxTokens
	if !countTokens && len(p.Query) <= MaxNameBytes {
		return nil
	}
	lx := lexer.New(&ast.Source{Input: p.Query})
	for n := 0; ; n++ {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil // the parser reports syntax errors
		}
		if tok.Kind == lexer.Name && len(tok.Value) > MaxNameBytes {
			return limitError(errs.TokenLimit, "the query has a name of %d bytes; the limit is %d", len(tok.Value), MaxNameBytes)
		}
		if countTokens && n >= q.MaxTokens {
			return limitError(errs.TokenLimit, "the query has more than %d tokens", q.MaxTokens)
		}
	}
}

// MutateOperationContext measures the operation's depth, aliases and fields,
// then its complexity, or finds them measured.
func (q *queryLimits) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil {
		return nil
	}
	version := q.version()
	key, keyed := measureKey(op)
	m, found := measure{}, false
	if keyed {
		m, found = q.measured.Get(key)
	}
	if !found {
		m = measure{refusal: q.shape(op), complexity: -1}
	}
	if m.refusal != nil {
		if !found && keyed {
			q.measured.Add(key, m, int64(len(key)+len(m.refusal.Message)))
		}
		return copyError(m.refusal) // the presenter may add to it
	}
	if q.MaxComplexity <= 0 {
		return nil
	}
	if m.complexity < 0 || m.version != version {
		m.complexity = complexity.Calculate(ctx, q.es, op.Operation, op.Variables)
		m.version = version
		if keyed {
			q.measured.Add(key, m, int64(len(key)))
		}
	}
	if m.complexity > q.MaxComplexity {
		return limitError(errs.ComplexityLimit, "operation has complexity %d, which exceeds the limit of %d", m.complexity, q.MaxComplexity)
	}
	return nil
}

// measureKey is op's key among the measures: its name, variables and text;
// ok is false for an operation too long to remember, or whose variables do
// not marshal.
func measureKey(op *graphql.OperationContext) (key string, ok bool) {
	if len(op.RawQuery) > maxMeasuredQuery {
		return "", false
	}
	var vars []byte
	if len(op.Variables) > 0 {
		b, err := json.Marshal(op.Variables) // map keys sorted: one key for one value
		if err != nil {
			return "", false
		}
		vars = b
	}
	return op.OperationName + "\x00" + string(vars) + "\x00" + op.RawQuery, true
}

// maxMeasuredQuery is the longest operation text queryLimits remembers.
const maxMeasuredQuery = 16 << 10

func copyError(e *gqlerror.Error) *gqlerror.Error {
	c := *e
	c.Extensions = maps.Clone(e.Extensions)
	return &c
}

// shape refuses op if it nests too deep, aliases or repeats too many fields,
// or selects too many.
func (q *queryLimits) shape(op *graphql.OperationContext) *gqlerror.Error {
	w := shapeWalker{doc: op.Doc, fragments: map[string]*shape{}}
	s := w.selectionSet(op.Operation.SelectionSet, 0)
	s.close()
	switch {
	case q.MaxDepth > 0 && s.depth > q.MaxDepth:
		return limitError(errs.DepthLimit, "the query nests %d fields deep; the limit is %d", s.depth, q.MaxDepth)
	case q.MaxAliases > 0 && satAdd(s.aliases, s.repeats) > q.MaxAliases:
		return limitError(errs.TooManyAliases, "the query has %d aliased or repeated fields; the limit is %d", satAdd(s.aliases, s.repeats), q.MaxAliases)
	case q.MaxComplexity > 0 && s.fields > q.MaxComplexity:
		return limitError(errs.ComplexityLimit, "the query selects %d fields once fragments are expanded, so its complexity exceeds the limit of %d", s.fields, q.MaxComplexity)
	}
	return nil
}

// shape is what a selection set asks for, fragments expanded.
type shape struct {
	depth, aliases, fields, repeats int
	// keys counts the response keys at this level not yet checked for repeats:
	// fragments merge theirs into the enclosing field's.
	keys map[string]int
}

func (s *shape) add(o *shape, depthOffset int) {
	s.depth = max(s.depth, o.depth+depthOffset)
	s.aliases = satAdd(s.aliases, o.aliases)
	s.fields = satAdd(s.fields, o.fields)
	s.repeats = satAdd(s.repeats, o.repeats)
}

// close counts the repeated response keys of a complete selection set.
func (s *shape) close() {
	for _, n := range s.keys {
		if n > 1 {
			s.repeats = satAdd(s.repeats, n-1)
		}
	}
	s.keys = nil
}

// shapeWalker measures selection sets, each named fragment once: a query that
// spreads fragments into fragments costs linear time to measure, not exponential.
type shapeWalker struct {
	doc       *ast.QueryDocument
	fragments map[string]*shape
}

func (w *shapeWalker) selectionSet(ss ast.SelectionSet, guard int) *shape {
	s := &shape{keys: map[string]int{}}
	if guard > 1000 {
		return s
	}
	for _, sel := range ss {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "__schema" || sel.Name == "__type" {
				continue // introspection has its own depth rule in the validator
			}
			s.fields = satAdd(s.fields, 1)
			key := sel.Name
			if sel.Alias != "" && sel.Alias != sel.Name {
				s.aliases = satAdd(s.aliases, 1)
				key = sel.Alias
			}
			s.keys[key] = satAdd(s.keys[key], 1)
			child := w.selectionSet(sel.SelectionSet, guard+1)
			child.close()
			s.add(child, 1)
			s.depth = max(s.depth, 1)
		case *ast.InlineFragment:
			s.merge(w.selectionSet(sel.SelectionSet, guard+1))
		case *ast.FragmentSpread:
			s.merge(w.fragment(sel.Name, guard+1))
		}
	}
	return s
}

func (s *shape) merge(o *shape) {
	s.add(o, 0)
	for k, n := range o.keys {
		s.keys[k] = satAdd(s.keys[k], n)
	}
}

func (w *shapeWalker) fragment(name string, guard int) *shape {
	if s, ok := w.fragments[name]; ok {
		if s == nil {
			return &shape{} // a cycle: the validator has refused it already
		}
		return s
	}
	w.fragments[name] = nil
	var s *shape
	if def := w.doc.Fragments.ForName(name); def != nil {
		s = w.selectionSet(def.SelectionSet, guard)
	} else {
		s = &shape{}
	}
	w.fragments[name] = s
	return s
}

// Guard wraps the /graphql handler with the limits that act on the whole HTTP
// exchange:
//
//   - admission: at most MaxInFlight requests run at once, at most
//     MaxInFlightPerClient of them from one client address; a request past
//     either waits up to QueueWait for a slot, then is answered 503 SERVER_BUSY
//     with Retry-After (see admission.go);
//   - the time limit: the request's context ends after Timeout and its reads
//     stop; the transport, which holds the whole answer when it decides, then
//     answers 503 TIMEOUT instead of a partial one (Transport.Do);
//   - a last-resort recovery from panics outside the resolvers (500 INTERNAL,
//     the details only in the log).
//
// The guard does not buffer responses: the transport writes each answer once,
// a cached one from the cache's own bytes, so a slow reader pins no copy.
//
// Streams bypass all three. A request for a stream (IsStream: a WebSocket
// upgrade or Accept: text/event-stream, the transports of subscriptions)
// reaches next as it came, with the ResponseWriter unwrapped (it can Flush and
// Hijack), no time limit and no admission slot: a streaming transport added to
// the handler must bound its own connections and lifetime.
func (l Limits) Guard(next http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	adm := newAdmission(l.MaxInFlight, l.MaxInFlightPerClient)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &guardWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", fmt.Sprint(p), "path", r.URL.Path, "stack", string(debug.Stack()))
				if gw.wrote {
					panic(http.ErrAbortHandler) // part of an answer is out: cut the connection
				}
				writeError(w, mediaJSON, errs.Internal, "internal error")
			}
		}()
		release, ok := adm.acquire(r.Context(), clientOf(r), l.QueueWait)
		if !ok {
			if r.Context().Err() != nil {
				return // the client went away while it waited
			}
			w.Header().Set("Retry-After", "1")
			media, _ := negotiate(r.Header.Get("Accept"))
			if media == "" {
				media = mediaJSON
			}
			writeError(w, media, errs.ServerBusy,
				"the server is busy: too many requests are running, from this client or in all; try again shortly")
			return
		}
		defer release()
		if l.Timeout <= 0 {
			next.ServeHTTP(gw, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), l.Timeout)
		defer cancel()
		next.ServeHTTP(gw, r.WithContext(ctx))
	})
}

// IsStream reports whether r asks for a stream: a WebSocket upgrade, or
// server-sent events (Accept: text/event-stream). Guard passes streams
// through untouched, and Transport leaves them to a streaming transport.
func IsStream(r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return true
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		// Parse only a media range that names the type (parsing makes a map).
		if mt, _, _ := strings.Cut(part, ";"); !strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			continue
		}
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// guardWriter notes whether any of the response has been written, so that a
// panic is answered 500 only while nothing has.
type guardWriter struct {
	http.ResponseWriter
	wrote bool
}

func (g *guardWriter) WriteHeader(code int) {
	g.wrote = true
	g.ResponseWriter.WriteHeader(code)
}

func (g *guardWriter) Write(p []byte) (int, error) {
	g.wrote = true
	return g.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (g *guardWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// timedOut reports whether an answer made after the request's deadline shows
// it: it carries a TIMEOUT error, or has neither data nor errors. A mutation whose root field
// has data was committed, so its answer is passed on as it is.
func timedOut(resp *graphql.Response, mutation bool) bool {
	data := bytes.TrimSpace(resp.Data)
	timeout := false
	for _, e := range resp.Errors {
		if code, _ := e.Extensions["code"].(string); errs.Code(code) == errs.Timeout {
			timeout = true
		}
	}
	if !timeout {
		return len(resp.Errors) == 0 && (len(data) == 0 || string(data) == "null")
	}
	if mutation {
		var fields map[string]json.RawMessage
		if json.Unmarshal(data, &fields) == nil {
			for _, v := range fields {
				if s := strings.TrimSpace(string(v)); s != "" && s != "null" {
					return false
				}
			}
		}
	}
	return true
}
