package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"policygraph/api"
	"policygraph/errs"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// gauge reads the gauge name{cache=label} from reg.
func gauge(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cache" && l.GetValue() == label {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{cache=%q}", name, label)
	return 0
}

// countingSeeded is seeded, with the CountingKV that counts its store's
// transactions.
func countingSeeded(t testing.TB) (*storage.Graph, *storage.CountingKV) {
	t.Helper()
	g := testenv.Seeded(t)
	return g, g.KV().(*storage.CountingKV)
}

// padded is a valid query of about n bytes: one aliased field after a long
// comment (names are bounded at 1 KiB, comments only by the body limit).
func padded(i, n int) string {
	return fmt.Sprintf("#%s\n{ a%d: stats { entities } }", strings.Repeat("x", max(n-30, 1)), i)
}

// TestCachesAreBoundedByBytes floods every cache of the endpoint with
// distinct entries, large and small, and checks that each holds no more bytes
// than its bound, that each holds something (it is used at all), and that an
// answer over the per-entry bound is not kept.
func TestCachesAreBoundedByBytes(t *testing.T) {
	g, kv := countingSeeded(t)
	reg := prometheus.NewRegistry()
	lim := api.DefaultLimits()
	lim.RefusalDelay = 0
	lim.MaxComplexity = 0 // the large answers below are what is measured here
	a := newAPIWith(t, g, api.Options{Limits: &lim, Metrics: api.NewMetrics(reg), CacheSize: 1000,
		CacheBytes: 1 << 20, QueryCacheBytes: 256 << 10, APQCacheBytes: 64 << 10, RefusalCacheBytes: 64 << 10})
	for i := range 150 {
		a.do(padded(i, 12_000), nil, false).OK(t) // parsed-query and response caches
		q := padded(i, 2_000)
		body, _ := json.Marshal(map[string]any{"query": q, "extensions": map[string]any{
			"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(q)}}})
		a.raw(http.MethodPost, "application/json", body, false).OK(t) // the APQ cache
		a.do("#"+strings.Repeat("y", 2_000)+"\n{ x"+fmt.Sprint(i)+": "+nest(20)[1:], nil, false).
			WantError(t, http.StatusBadRequest, string(errs.DepthLimit)) // the refusal cache
	}
	for _, c := range []string{"response", "query", "apq", "refusal"} {
		held, bound := gauge(t, reg, "policygraph_cache_bytes", c), gauge(t, reg, "policygraph_cache_max_bytes", c)
		t.Logf("%s cache: %.0f of %.0f bytes", c, held, bound)
		if held > bound || held == 0 {
			t.Errorf("%s cache holds %.0f bytes; want more than 0, at most %.0f", c, held, bound)
		}
	}

	// An answer over 1/16 of the response cache is not kept: asking again
	// reads the store again. A small one is kept: asking again reads nothing.
	big := `{ facts(first: 30) { nodes { evidence { source { text } } } } }`
	small := `{ event(slug: "waic-2023") { name } }`
	for _, c := range []struct {
		query  string
		cached bool
	}{{big, false}, {small, true}} {
		r := a.do(c.query, nil, false).OK(t)
		before := kv.Views()
		a.do(c.query, nil, false).OK(t)
		if cached := kv.Views() == before; cached != c.cached {
			t.Errorf("%d-byte answer cached = %v, want %v", len(r.Raw), cached, c.cached)
		}
	}
}

// TestWriteReleasesStaleAnswers: a write drops the cached answers it made
// stale at once, not only when a later query skips them: the cache's bytes
// fall to nothing and the heap gives back what they held.
func TestWriteReleasesStaleAnswers(t *testing.T) {
	g := seeded(t)
	reg := prometheus.NewRegistry()
	lim := api.DefaultLimits()
	lim.MaxComplexity = 0 // big answers, to see them in the heap
	a := newAPIWith(t, g, api.Options{Limits: &lim, Metrics: api.NewMetrics(reg), CacheSize: 1000})
	heap := func() int64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := heap()
	for i := range 20 { // 20 answers of 1.8 MB, each spelled apart
		a.do(`{ facts(filter: {includeNegated: true}, first: 200) { nodes { evidence { source { text } } } }`+strings.Repeat(" ", i)+`}`, nil, false).OK(t)
	}
	filled := heap()
	if held := gauge(t, reg, "policygraph_cache_bytes", "response"); held < 20*1_700_000 {
		t.Fatalf("the response cache holds %.0f bytes after 20 answers of 1.8 MB", held)
	}
	a.do(`mutation { createEntity(input: {kind: TOPIC, name: "Cache release"}) { id } }`, nil, true).OK(t)
	after := heap()
	t.Logf("heap: %d MB before, %d MB with the answers cached, %d MB after the write", before>>20, filled>>20, after>>20)
	if held := gauge(t, reg, "policygraph_cache_bytes", "response"); held != 0 {
		t.Errorf("after a write the response cache still holds %.0f bytes of stale answers", held)
	}
	if after-before > (filled-before)/4 {
		t.Errorf("after a write the heap holds %d MB more than before the answers were cached (%d MB with them)", (after-before)>>20, (filled-before)>>20)
	}
	runtime.KeepAlive(a) // the handler, and its cache, live on: only the answers may go
}

// slowWriter is a client that reads nothing: its first Write blocks until
// release is closed, as a write to a connection with a full receive window does.
type slowWriter struct {
	header  http.Header
	status  int
	wrote   chan struct{}
	release chan struct{}
	once    sync.Once
}

func newSlowWriter(release chan struct{}) *slowWriter {
	return &slowWriter{header: http.Header{}, wrote: make(chan struct{}), release: release}
}

func (s *slowWriter) Header() http.Header  { return s.header }
func (s *slowWriter) WriteHeader(code int) { s.status = code }
func (s *slowWriter) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.wrote) })
	<-s.release
	return len(p), nil
}

// TestSlowReadersPinNoCopy: many clients that do not read ask for one cached
// answer of 1.7 MB. Each is written from the cache's own bytes, so while they
// all wait the heap holds about one copy, not one per client (the guard used
// to buffer every whole answer per request).
func TestSlowReadersPinNoCopy(t *testing.T) {
	const readers = 40
	g := seeded(t)
	lim := api.DefaultLimits()
	lim.MaxComplexity = 0
	lim.MaxInFlight, lim.MaxInFlightPerClient = readers, readers
	a := newAPIWith(t, g, api.Options{Limits: &lim, CacheSize: 1000})
	const q = `{ facts(first: 200) { nodes { evidence { source { text } } } } }`
	size := len(a.do(q, nil, false).OK(t).Raw)                            // now cached
	body, _ := json.Marshal(map[string]any{"query": q, "variables": nil}) // the bytes a.do sent: the same cache key

	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	release := make(chan struct{})
	var wg sync.WaitGroup
	writers := make([]*slowWriter, readers)
	for i := range writers {
		writers[i] = newSlowWriter(release)
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/graphql-response+json") // as a.do asked: the cached answer
		wg.Go(func() { a.h.ServeHTTP(writers[i], req) })
	}
	for _, w := range writers {
		<-w.wrote // every client is being written to, and reads nothing
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	close(release)
	wg.Wait()
	held := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d slow readers of a %d-byte answer hold %d bytes", readers, size, held)
	if held > int64(readers*size/4) {
		t.Errorf("%d slow readers of a %d-byte cached answer hold %d bytes: a copy each", readers, size, held)
	}
	for _, w := range writers {
		if w.status != http.StatusOK {
			t.Fatalf("status %d", w.status)
		}
	}
}

// TestResponseSizeLimit: a query whose answer is over MaxResponseBytes is
// refused with RESPONSE_TOO_LARGE; a mutation's answer, committed, is not.
func TestResponseSizeLimit(t *testing.T) {
	g := seeded(t)
	lim := api.DefaultLimits()
	lim.MaxComplexity = 0 // the response limit is the last line: test it alone
	lim.MaxResponseBytes = 100_000
	a := newAPI(t, g, &lim)
	// The first facts (year 0, by subject name) are inferred COUNTRY facts with three quotes each: two fit.
	a.do(`{ facts(first: 2) { nodes { evidence { source { text } } } } }`, nil, false).OK(t)
	r := a.do(`{ facts(first: 50) { nodes { evidence { source { text } } } } }`, nil, false)
	r.WantError(t, http.StatusBadRequest, string(errs.ResponseTooLarge))
	if r.Data != nil || len(r.Raw) > 1000 {
		t.Errorf("the refusal carries data: %s", testenv.Clip(r.Raw))
	}
	text := strings.Repeat("Một đoạn văn bản dài. ", 8000) // 200 kB, over the limit
	a.do(`mutation($t: String!) { addSource(input: {title: "Long", language: "vi", text: $t}) { text } }`,
		map[string]any{"t": text}, true).OK(t)
}

// TestStreamsBypassTheGuard: a request for a stream reaches the handler with
// no time limit and a writer it can flush, and what it streams after the time
// limit has passed is not replaced; any other request runs under the limit.
func TestStreamsBypassTheGuard(t *testing.T) {
	lim := api.Limits{Timeout: 1, MaxInFlight: 1, MaxInFlightPerClient: 1}
	h := lim.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, limited := r.Context().Deadline()
		if !api.IsStream(r) {
			fmt.Fprintf(w, "limited=%v", limited)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d limited=%v\n\n", i, limited)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("a stream cannot flush: %v", err)
			}
		}
	}), nil)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(header, value string) string {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set(header, value)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String()
	}
	if got := get("Accept", "text/event-stream"); got != "data: 0 limited=false\n\ndata: 1 limited=false\n\ndata: 2 limited=false\n\n" {
		t.Errorf("stream: %q", got)
	}
	if got := get("Accept", "application/json"); got != "limited=true" {
		t.Errorf("plain request: %q", got)
	}
}

// TestResponseCacheIsNeverOlderThanTheLastWrite: a query whose snapshot was
// taken before a write, and which finishes after the write is acknowledged,
// must not leave its answer where a query asked after the write finds it.
// The transport reads the graph's version before the query runs, so that
// answer is cached under the old version and never served at the new one;
// reading the version after the query (the answer then cached under the new
// version) fails here.
func TestResponseCacheIsNeverOlderThanTheLastWrite(t *testing.T) {
	g, f := seededFaulty(t)
	a := newAPIWith(t, g, api.Options{CacheSize: 1000})
	for round := range 3 {
		// A query not asked before: the first asking misses the cache.
		q := fmt.Sprintf(`query Round%d { organization(slug: "transwarp") { aliases } }`, round)
		alias := fmt.Sprint("alias-", round)
		paused, resume := make(chan struct{}), make(chan struct{})
		hook := func() { // once, in the first read's snapshot
			close(paused)
			<-resume
		}
		var once atomic.Bool
		pause := func() {
			if once.CompareAndSwap(false, true) {
				hook()
			}
		}
		f.inView.Store(&pause)
		stale := make(chan *testenv.Response, 1)
		go func() { stale <- a.do(q, nil, false) }() // its snapshot: before the write
		select {
		case <-paused:
		case r := <-stale:
			t.Fatalf("the query read nothing: %s", r.Raw)
		}
		f.inView.Store(nil)
		id := storage.SlugID("transwarp")
		if _, err := g.UpdateNode(id, storage.NodePatch{Aliases: []string{alias}}); err != nil {
			t.Fatal(err)
		}
		// The write is acknowledged; the query that began before it finishes now.
		close(resume)
		if r := <-stale; strings.Contains(r.Raw, alias) {
			t.Fatalf("round %d: a snapshot taken before the write saw it: %s", round, r.Raw)
		}
		for range 2 {
			if r := a.do(q, nil, false).OK(t); !strings.Contains(r.Raw, alias) {
				t.Fatalf("round %d: asked after the write was acknowledged, answered %s", round, r.Raw)
			}
		}
	}
}
