package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/api"
	"policygraph/errs"
	"policygraph/internal/synth"
	"policygraph/internal/testenv"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
)

// synthetic is a generated graph of n nodes (about 3n facts; synth.Generate)
// with the article seeded on top, on disk, behind a CountingKV.
func synthetic(t testing.TB, n int) (*storage.Graph, *storage.CountingKV) {
	t.Helper()
	var export bytes.Buffer
	if _, _, err := synth.Generate(&export, n); err != nil {
		t.Fatal(err)
	}
	kv, err := badger.Open(badger.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := &storage.CountingKV{KV: kv}
	g, err := storage.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if _, err := g.Import(&export); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Load(g); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Stats(); err != nil { // count now, as serve does at start
		t.Fatal(err)
	}
	return g, c
}

// aliased repeats field under n aliases.
func aliased(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	return b.String() + " }"
}

// TestScansAreCosted: on a graph of 10,000 nodes and 30,000 facts, under the
// default limits, a count or a scan of the whole graph costs the records it
// reads (30,000 facts and their subjects, 10,000 entities), however little it
// selects, and is refused before it runs when that, alone or summed over
// aliases, is over the limit; the same lists narrowed by an index stay cheap
// and are answered; and stats, under 30 aliases, reads nothing from the store.
func TestScansAreCosted(t *testing.T) {
	g, kv := synthetic(t, 10_000)
	a := newAPI(t, g, nil)
	for _, q := range []string{
		`{ facts(first: 1) { totalCount } }`,
		`{ facts(first: 1, filter: { includeRetracted: true }) { totalCount } }`,
		aliased(2, `entities(first: 1) { totalCount }`), // 10,000 entities read, twice
		aliased(3, `entities(first: 1, filter: { kinds: [ORGANIZATION] }) { totalCount }`),
		`{ factCounts(groupBy: [PREDICATE]) { count } }`,
		`{ timeSeries(filter: { yearFrom: 2016, yearTo: 2023 }) { total } }`,
		`{ factCounts(filter: { subjectKinds: [ORGANIZATION] }, groupBy: []) { count } }`,
		aliased(30, `sponsorships(first: 1) { totalCount }`),
		aliased(30, `facts(first: 1, filter: { predicates: [SPONSORED], negated: false }) { totalCount }`),
		aliased(5, `facts(first: 1, filter: { predicates: [SPONSORED], negated: false, yearFrom: 1 }) { totalCount }`), // every dated sponsorship, 5 times
	} {
		before := kv.Views()
		a.do(q, nil, false).WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
		if read := kv.Views() - before; read != 0 {
			t.Errorf("%.80s: refused, but %d store reads ran", q, read)
		}
	}
	for _, q := range []string{
		`{ facts(first: 5, filter: { subject: "syn-org-100" }) { totalCount nodes { predicate } } }`,
		`{ entities(first: 5, filter: { sponsoredEvent: "syn-series-1-2023" }) { totalCount nodes { name } } }`,
		`{ sponsorships(series: "syn-series-2", first: 5) { totalCount } }`,
		`{ sponsorshipsByYear(series: "waic", sponsorCountry: "US") { year sponsorships { subject { name } } } }`,
		`{ factCounts(filter: { series: "syn-series-3" }, groupBy: [YEAR]) { year count } }`,
		`{ sponsorships(first: 1) { totalCount } }`, // 6,400 sponsorships: a scan this size is allowed
		// One year of sponsorships (800) is read from the year index: priced by that year, 5 times.
		aliased(5, `facts(first: 1, filter: { predicates: [SPONSORED], negated: false, yearFrom: 2023, yearTo: 2023 }) { totalCount }`),
	} {
		a.do(q, nil, false).OK(t)
	}

	stats := aliased(30, `stats { entities facts activeFacts byKind { kind count } factYears(predicates: [SPONSORED, HELD_IN]) { predicate year count } }`)
	a.do(stats, nil, false).OK(t) // the counts are kept in process from here
	before := kv.Views()
	r := a.do(stats, nil, false).OK(t)
	if read := kv.Views() - before; read != 0 {
		t.Errorf("30 aliases of stats ran %d store reads", read)
	}
	want, err := g.ScanStats()
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Entities, Facts, ActiveFacts int }
	if err := r.Decode("a29", &got); err != nil || got.Entities != want.Nodes || got.Facts != want.Facts || got.ActiveFacts != want.ActiveFacts {
		t.Errorf("stats %+v (%v), a scan counts %+v", got, err, want)
	}
	// factYears counts what a year's facts list holds.
	var years struct {
		FactYears []struct {
			Predicate   string
			Year, Count int
		}
	}
	if err := r.Decode("a0", &years); err != nil || len(years.FactYears) == 0 || years.FactYears[0].Predicate != "HELD_IN" {
		t.Fatalf("factYears %+v (%v), want HELD_IN's years first (schema order)", years.FactYears, err)
	}
	for _, c := range years.FactYears {
		var list struct{ TotalCount int }
		q := fmt.Sprintf(`{ facts(first: 1, filter: { predicates: [%s], negated: false, yearFrom: %d, yearTo: %d }) { totalCount } }`, c.Predicate, c.Year, c.Year)
		if err := a.do(q, nil, false).OK(t).Decode("facts", &list); err != nil || list.TotalCount != c.Count {
			t.Errorf("factYears says %s has %d facts of %d, facts lists %d (%v)", c.Predicate, c.Count, c.Year, list.TotalCount, err)
		}
	}
}

// TestCostModelAgreesWithResponseLimit: on the article, queries that repeat
// the source's text (through evidence, aliases, pages of any size) are
// refused by the complexity limit whenever their answer would be over the
// response size limit (the default limits of both), so that the response
// limit, checked only once the answer is made, is a last resort. The largest
// of them, 221 bytes, answers 5 MB without a limit.
func TestCostModelAgreesWithResponseLimit(t *testing.T) {
	g := seeded(t)
	def := api.DefaultLimits()
	limited := newAPI(t, g, nil)
	off := api.Limits{}
	unlimited := newAPI(t, g, &off)
	shapes := []string{
		`facts(first: %d) { nodes { evidence { source { text } } } }`,
		`facts(first: %d) { nodes { evidence { quote source { text } } subject { name } } }`,
		`entities(first: %d) { nodes { facts { evidence { source { text } } } } }`,
		`sponsorships(first: %d) { nodes { evidence { source { text } } } }`,
	}
	admittedMax, refusedMin := 0, -1
	for _, shape := range shapes {
		for _, first := range []int{20, 200} {
			for _, n := range []int{1, 3, 6} {
				q := aliased(n, fmt.Sprintf(shape, first))
				size := len(unlimited.do(q, nil, false).OK(t).Raw)
				r := limited.do(q, nil, false)
				switch r.Code() {
				case "":
					if size > int(def.MaxResponseBytes) {
						t.Errorf("admitted, but answers %d bytes, over the response limit: %s", size, q)
					}
					admittedMax = max(admittedMax, size)
				case string(errs.ComplexityLimit):
					if refusedMin < 0 || size < refusedMin {
						refusedMin = size
					}
				default:
					t.Errorf("%s: %s", q, testenv.Clip(r.Raw))
				}
			}
		}
	}
	t.Logf("largest answer admitted %d bytes; smallest refused %d bytes; response limit %d", admittedMax, refusedMin, def.MaxResponseBytes)
	big := `{ a: facts(first: 200) { nodes { evidence { source { text } } } } b: facts(first: 200, after: null) { nodes { evidence { source { text } } } } c: facts(first: 200, order: DESC) { nodes { evidence { source { text } } } } }`
	limited.do(big, nil, false).WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
}

// expiring is a context whose deadline passes when expire is called; the
// contexts made from it (the guard's) end at once with it, as AfterFunc
// lets them.
type expiring struct {
	context.Context
	mu    sync.Mutex
	done  chan struct{}
	after []func()
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) expire() {
	e.mu.Lock()
	after := e.after
	e.after = nil
	select {
	case <-e.done:
	default:
		close(e.done)
	}
	e.mu.Unlock()
	for _, f := range after {
		f()
	}
}

func (e *expiring) Done() <-chan struct{}                   { return e.done }
func (e *expiring) Deadline() (deadline time.Time, ok bool) { return time.Now().Add(time.Hour), true }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// AfterFunc is what context.WithTimeout uses, when its parent has it, to end
// with its parent synchronously.
func (e *expiring) AfterFunc(f func()) (stop func() bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.after = append(e.after, f)
	return func() bool { return true }
}

// TestResolversReadUnderTheDeadline: each resolver that reads the store reads
// through the request's graph, so that its reads stop when the request's time
// is up. Here the request's deadline passes as the field's first store
// transaction begins: a read bound to it reads no key after that, and the
// request is answered TIMEOUT; one that ignored it (the resolvers that read
// r.Graph did) would read on.
func TestResolversReadUnderTheDeadline(t *testing.T) {
	g, f := seededFaulty(t)
	if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "saved", Query: "{ stats { facts } }"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Stats(); err != nil { // count now, as serve does at start
		t.Fatal(err)
	}
	lim := api.DefaultLimits()
	lim.RefusalDelay = 0
	a := newAPI(t, g, &lim)
	for _, q := range []string{
		`{ entity(slug: "qualcomm") { id } }`,
		`{ organization(slug: "qualcomm") { id } }`,
		`{ savedQueries { name } }`,
		`{ savedQuery(name: "saved") { name } }`,
		`{ facts(first: 1, filter: { subject: "qualcomm" }) { totalCount } }`,
		`{ entities(first: 1, filter: { sponsoredSeries: "waic" }) { totalCount } }`,
		`{ sponsorships(series: "waic", first: 1) { totalCount } }`,
		`{ factCounts(filter: { object: "waic-2023" }, groupBy: []) { count } }`,
		`query($id: ID!) { source(id: $id) { text } }`,
	} {
		t.Run(q, func(t *testing.T) {
			vars := map[string]any{"id": storage.SlugID("waic-2023-article").String()}
			ctx := newExpiring()
			var readsAtExpiry atomic.Int64
			readsAtExpiry.Store(-1)
			cancel := func() { readsAtExpiry.Store(f.gets.Load()); ctx.expire() }
			hook := func() { cancel() }
			if strings.Contains(q, "source(id") {
				// The source itself is loaded first (by the loader, bound to the
				// request): end the request at the text's read, the second.
				n := 0
				hook = func() {
					if n++; n == 2 {
						cancel()
					}
				}
			}
			f.onView.Store(&hook)
			defer f.onView.Store(nil)
			body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/graphql-response+json")
			rec := httptest.NewRecorder()
			a.h.ServeHTTP(rec, req)
			r := decode(t, rec.Result())
			if after := f.gets.Load() - readsAtExpiry.Load(); readsAtExpiry.Load() < 0 || after != 0 {
				t.Errorf("%d keys read after the deadline passed", after)
			}
			if r.Code() != string(errs.Timeout) {
				t.Errorf("the request ended as the field read, yet: %s\n%s", testenv.Clip(r.Raw), a.log.String())
			}
		})
	}
}
