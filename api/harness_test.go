package api_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/api"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

const testToken = testenv.Token

// seeded is testenv.Seeded: the seed in an in-memory store.
var seeded = testenv.Seeded

// server is the /graphql handler wired as the route table wires it.
type server struct {
	t   testing.TB
	g   *storage.Graph
	h   http.Handler
	c   *testenv.Client
	log *testenv.LineWriter
}

func newAPI(t testing.TB, g *storage.Graph, limits *api.Limits) *server {
	t.Helper()
	return newAPIWith(t, g, api.Options{Limits: limits})
}

// newAPIWith is newAPI with more options; the token, introspection and logger are set here.
func newAPIWith(t testing.TB, g *storage.Graph, o api.Options) *server {
	t.Helper()
	logs := testenv.NewLineWriter()
	o.Token, o.Introspection, o.Logger = testToken, true, slog.New(slog.NewJSONHandler(logs, nil))
	h := api.NewHandler(g, o)
	return serve(t, g, api.Authenticate(testToken)(h), logs)
}

// serve is the server of h over g, which logs into logs.
func serve(t testing.TB, g *storage.Graph, h http.Handler, logs *testenv.LineWriter) *server {
	// The GraphQL-over-HTTP media type whose status codes tell refusals apart
	// (under application/json a refused request is 200, as the specification says).
	c := &testenv.Client{Handler: h, Accept: "application/graphql-response+json"}
	return &server{t: t, g: g, h: h, c: c, log: logs}
}

// raw sends a body to /graphql as it is.
func (a *server) raw(method, contentType string, body []byte, auth bool) *testenv.Response {
	a.t.Helper()
	req := httptest.NewRequest(method, "/graphql", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	r, err := a.c.Send(req)
	if err != nil {
		a.t.Fatal(err)
	}
	return r
}

// do sends a query with variables; auth adds the write token.
func (a *server) do(query string, vars map[string]any, auth bool) *testenv.Response {
	a.t.Helper()
	token := ""
	if auth {
		token = testToken
	}
	return a.c.Post(a.t, token, query, vars)
}

// decode reads a recorded answer.
func decode(t testing.TB, res *http.Response) *testenv.Response {
	t.Helper()
	r, err := testenv.ReadResponse(res)
	if err != nil {
		t.Fatal(err)
	}
	return r
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

// seededFaulty is seeded with its store behind a faultKV, and no record
// cache: every read reaches the faulty store.
func seededFaulty(t testing.TB) (*storage.Graph, *faultKV) {
	t.Helper()
	var f *faultKV
	g := testenv.Store(t, func(kv storage.KV) storage.KV { f = &faultKV{KV: kv}; return f })
	g.SetRecordCache(false)
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
