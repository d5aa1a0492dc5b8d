package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/api"
	"policygraph/seed"
	"policygraph/storage"
)

const testToken = "test-token"

// A quote that is verbatim in the seed article, for writes that need evidence.
const articleQuote = "Tại WAIC năm 2019, IBM, Microsoft và Amazon Web Services đều là đối tác chiến lược"

// seeded opens an in-memory store holding the seed article and its facts.
func seeded(t testing.TB) *storage.Graph {
	t.Helper()
	kv, err := storage.OpenBadger(storage.BadgerOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if _, err := seed.Load(g); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return g
}

// server is the /graphql handler wired as the route table wires it.
type server struct {
	t   testing.TB
	g   *storage.Graph
	h   http.Handler
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newAPI(t testing.TB, g *storage.Graph, limits *api.Limits) *server {
	t.Helper()
	return newAPIWith(t, g, api.Options{Limits: limits})
}

// newAPIWith is newAPI with more options; the token, introspection and logger are set here.
func newAPIWith(t testing.TB, g *storage.Graph, o api.Options) *server {
	t.Helper()
	logs := &syncBuffer{}
	o.Token, o.Introspection, o.Logger = testToken, true, slog.New(slog.NewJSONHandler(logs, nil))
	h := api.NewHandler(g, o)
	return &server{t: t, g: g, h: api.Authenticate(testToken)(h), log: logs}
}

// response is a GraphQL response as the tests read it.
type response struct {
	Status int
	Header http.Header
	Raw    string
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// code is the extensions.code of the first error, or "".
func (r *response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// raw sends a body to /graphql as it is.
func (a *server) raw(method, contentType string, body []byte, auth bool) *response {
	a.t.Helper()
	req := httptest.NewRequest(method, "/graphql", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// The GraphQL-over-HTTP media type whose status codes tell refusals apart
	// (under application/json a refused request is 200, as the specification says).
	req.Header.Set("Accept", "application/graphql-response+json")
	if auth {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return decode(a.t, rec.Result())
}

func decode(t testing.TB, res *http.Response) *response {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	out := &response{Status: res.StatusCode, Header: res.Header, Raw: string(b)}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("response is not JSON (status %d): %v\n%s", res.StatusCode, err, clip(string(b)))
	}
	return out
}

func clip(s string) string {
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}

// do sends a query with variables; auth adds the write token.
func (a *server) do(query string, vars map[string]any, auth bool) *response {
	a.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		a.t.Fatal(err)
	}
	return a.raw(http.MethodPost, "application/json", body, auth)
}

// ok fails the test unless the response has data and no errors.
func (r *response) ok(t testing.TB) *response {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 || r.Data == nil {
		t.Fatalf("status %d, errors: %s", r.Status, clip(r.Raw))
	}
	return r
}

// wantError fails the test unless the response is refused with the status and code.
func (r *response) wantError(t testing.TB, status int, code string) {
	t.Helper()
	if r.Status != status || r.code() != code {
		t.Fatalf("got status %d code %q, want %d %q: %s", r.Status, r.code(), status, code, clip(r.Raw))
	}
	if len(r.Errors) == 0 || strings.TrimSpace(r.Errors[0].Message) == "" {
		t.Fatalf("error without a message: %s", r.Raw)
	}
}

// nest builds a cheap query levels+2 fields deep: an organization's parent's parent...
func nest(levels int) string {
	return "{ organization(slug: \"qualcomm\") { " + strings.Repeat("parent { ", levels) + "id" + strings.Repeat(" }", levels) + " } }"
}

// faultKV wraps a KV to inject faults: a delay on every Get, a panic in
// View, a func run as each View starts (onView, before its snapshot is
// taken) and one run inside each (inView, once it is).
type faultKV struct {
	storage.KV
	getDelay  atomic.Int64 // nanoseconds
	gets      atomic.Int64 // keys read: Gets and keys scanned
	panicView atomic.Bool
	onView    atomic.Pointer[func()]
	inView    atomic.Pointer[func()]
}

func (f *faultKV) View(fn func(storage.Txn) error) error {
	if f.panicView.Load() {
		panic("injected fault: /secret/path/store.go:42 disk on fire")
	}
	if h := f.onView.Load(); h != nil {
		(*h)()
	}
	return f.KV.View(func(tx storage.Txn) error {
		if h := f.inView.Load(); h != nil {
			(*h)()
		}
		return fn(faultTxn{tx, f})
	})
}

type faultTxn struct {
	storage.Txn
	f *faultKV
}

// ScanFrom counts each key it reads as a get.
func (t faultTxn) ScanFrom(prefix, start []byte, keysOnly bool, fn func(key, val []byte) error) error {
	return t.Txn.ScanFrom(prefix, start, keysOnly, func(k, v []byte) error {
		t.f.gets.Add(1)
		return fn(k, v)
	})
}

func (t faultTxn) Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error {
	return t.ScanFrom(prefix, prefix, keysOnly, fn)
}

func (t faultTxn) Get(key []byte) ([]byte, error) {
	t.f.gets.Add(1)
	if d := t.f.getDelay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return t.Txn.Get(key)
}

// seededFaulty is seeded with its store behind a faultKV.
func seededFaulty(t testing.TB) (*storage.Graph, *faultKV) {
	t.Helper()
	kv, err := storage.OpenBadger(storage.BadgerOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	f := &faultKV{KV: kv}
	g, err := storage.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	g.SetRecordCache(false) // every read reaches the faulty store
	if _, err := seed.Load(g); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return g, f
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// httptest_NewChunked is a POST of body with no Content-Length, as a chunked upload is.
func httptest_NewChunked(body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/graphql", io.NopCloser(bytes.NewReader(body)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	return req
}
