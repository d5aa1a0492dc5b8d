package storage_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"policygraph/storage/badger"
	"policygraph/storage/memgraph"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// clockStart is the fixed time test graphs start their clock at.
var clockStart = time.Date(2023, 7, 3, 15, 51, 0, 0, time.UTC)

func init() {
	// The internal tests' engine (export_test.go): they cannot import the
	// Badger engine, which imports package storage; this package can.
	storage.NewTestKV = func(t testing.TB) storage.KV {
		t.Helper()
		kv, err := badger.Open(badger.Options{InMemory: true})
		if err != nil {
			t.Fatalf("open an in-memory Badger: %v", err)
		}
		return kv
	}
}

// newGraph opens a graph on a fresh in-memory Badger, with the read model
// (as a server runs it), closed when the test ends. Its clock starts at
// clockStart and advances one second per reading. (engines, in
// changelog_test.go, opens one either way.)
func newGraph(t testing.TB) *storage.Graph {
	t.Helper()
	return openTestGraph(t, storage.Options{Model: memgraph.Load})
}

func openTestGraph(t testing.TB, o storage.Options) *storage.Graph {
	t.Helper()
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatalf("badger.Open: %v", err)
	}
	g, err := storage.OpenWith(kv, o)
	if err != nil {
		kv.Close()
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	g.SetClock(tickingClock())
	return g
}

func tickingClock() func() time.Time {
	now := clockStart
	return func() time.Time {
		now = now.Add(time.Second)
		return now
	}
}

// dump renders every key and value of the store, in key order, one pair a
// line, but the store ID (every store has its own), the change log (the
// graph's history, not its state: an imported copy has none; its own tests
// read it) and the keys in skip.
func dump(t testing.TB, g *storage.Graph, skip ...string) string {
	t.Helper()
	var b strings.Builder
	err := g.KV().View(func(tx storage.Txn) error {
		return tx.Scan(nil, false, func(k, v []byte) error {
			if string(k) == "Mstore" || string(k) == "Mhead" || k[0] == 'L' || slices.Contains(skip, string(k)) {
				return nil
			}
			fmt.Fprintf(&b, "%q = %q\n", k, v)
			return nil
		})
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return b.String()
}

// snapshot is what a rejected write must leave as it was.
type snapshot struct {
	stats   storage.Stats
	keys    string
	version uint64
}

func takeSnapshot(t testing.TB, g *storage.Graph) snapshot {
	t.Helper()
	s, err := g.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return snapshot{stats: s, keys: dump(t, g), version: g.Version()}
}

// assertUnchanged fails the test if g differs from before.
func assertUnchanged(t testing.TB, g *storage.Graph, before snapshot) {
	t.Helper()
	after := takeSnapshot(t, g)
	if fmt.Sprint(after.stats) != fmt.Sprint(before.stats) {
		t.Errorf("Stats changed by a rejected write:\nbefore %+v\nafter  %+v", before.stats, after.stats)
	}
	if after.keys != before.keys {
		t.Errorf("store changed by a rejected write:\nbefore:\n%s\nafter:\n%s", before.keys, after.keys)
	}
}

// wantCode fails the test unless err is an *errs.Error with the code (and,
// when field is not empty, the field).
func wantCode(t testing.TB, err error, code errs.Code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *errs.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("got code %s (%v), want %s", e.Code, err, code)
	}
	if field != "" && e.Field != field {
		t.Errorf("got field %q (%v), want %q", e.Field, err, field)
	}
}

func mustCreate(t testing.TB, g *storage.Graph, n *storage.Node, text string) *storage.Node {
	t.Helper()
	out, err := g.CreateNode(n, text)
	if err != nil {
		t.Fatalf("CreateNode(%s %q): %v", n.Kind, n.Name, err)
	}
	return out
}

func mustAdd(t testing.TB, g *storage.Graph, f *storage.Fact) *storage.Fact {
	t.Helper()
	out, err := g.AddFact(f)
	if err != nil {
		t.Fatalf("AddFact(%s): %v", f.Predicate, err)
	}
	return out
}

func date(t testing.TB, s string) *storage.Date {
	t.Helper()
	d, err := storage.ParseDate(s)
	if err != nil {
		t.Fatalf("ParseDate(%q): %v", s, err)
	}
	return &d
}

func ptr[T any](v T) *T { return &v }

// sourceText is the text of the fixture's SOURCE. It has a non-breaking space
// (U+00A0) after "8.7," and curly quotation marks around "đối tác ưu tú".
const sourceText = "Kéo dài từ ngày 6.7 đến 8.7,\u00a0WAIC chủ yếu có các công ty và diễn giả Trung Quốc. " +
	"Qualcomm là công ty Mỹ duy nhất tài trợ cho sự kiện này với tư cách 1 trong 22 “đối tác ưu tú”. " +
	"Một số tên tuổi quốc tế lớn không tham gia WAIC, trong đó có OpenAI. " +
	"Tại WAIC năm 2019, IBM là đối tác chiến lược. " +
	"WAIC đã được tổ chức hàng năm tại thành phố Thượng Hải kể từ 2018."

// Quotes of sourceText.
const (
	quoteDates    = "Kéo dài từ ngày 6.7 đến 8.7,\u00a0WAIC"
	quoteQualcomm = "Qualcomm là công ty Mỹ duy nhất tài trợ cho sự kiện này với tư cách 1 trong 22 “đối tác ưu tú”."
	quoteOpenAI   = "không tham gia WAIC, trong đó có OpenAI"
	quoteIBM      = "Tại WAIC năm 2019, IBM là đối tác chiến lược."
	quoteShanghai = "tại thành phố Thượng Hải kể từ 2018"
)

// fixture is a small graph drawn from the WAIC article.
type fixture struct {
	g                              *storage.Graph
	src, other                     *storage.Node
	qualcomm, openai, ibm          *storage.Node
	waic2019, waic2023, waicSeries *storage.Node
	shanghai, us                   *storage.Node
	liuHe                          *storage.Node
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureOn(t, newGraph(t))
}

// newFixtureOn is newFixture on the graph g.
func newFixtureOn(t testing.TB, g *storage.Graph) *fixture {
	t.Helper()
	x := &fixture{g: g}
	x.src = mustCreate(t, g, &storage.Node{Kind: storage.KindSource, Name: "Test article", Language: "vi"}, sourceText)
	x.other = mustCreate(t, g, &storage.Node{Kind: storage.KindSource, Name: "Other article"}, "Nothing here but this sentence.")
	x.qualcomm = mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, "")
	x.openai = mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "OpenAI"}, "")
	x.ibm = mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "IBM"}, "")
	x.waicSeries = mustCreate(t, g, &storage.Node{Kind: storage.KindEventSeries, Name: "World Artificial Intelligence Conference", Aliases: []string{"WAIC"}}, "")
	x.waic2019 = mustCreate(t, g, &storage.Node{Kind: storage.KindEvent, Name: "WAIC 2019", Year: 2019}, "")
	x.waic2023 = mustCreate(t, g, &storage.Node{Kind: storage.KindEvent, Name: "WAIC 2023", Year: 2023}, "")
	x.shanghai = mustCreate(t, g, &storage.Node{Kind: storage.KindPlace, Name: "Shanghai", PlaceType: "CITY",
		Labels:  []storage.Label{{Lang: "en", Text: "Shanghai"}, {Lang: "vi", Text: "Thượng Hải"}},
		Aliases: []string{"thành phố Thượng Hải"}}, "")
	x.us = mustCreate(t, g, &storage.Node{Kind: storage.KindPlace, Name: "United States", PlaceType: "COUNTRY", Code: "US"}, "")
	x.liuHe = mustCreate(t, g, &storage.Node{Kind: storage.KindPerson, Name: "Lưu Hạc"}, "")
	return x
}

// ev is evidence from the fixture's source.
func (x *fixture) ev(quote string) []storage.Evidence {
	return []storage.Evidence{{Source: x.src.ID, Quote: quote}}
}

// sponsored is a valid SPONSORED fact.
func (x *fixture) sponsored(org, event *storage.Node, tier storage.Tier) *storage.Fact {
	return &storage.Fact{Subject: org.ID, Predicate: storage.PredSponsored, Object: event.ID, Tier: tier, Evidence: x.ev(quoteQualcomm)}
}

// country is a valid COUNTRY fact.
func (x *fixture) country(n *storage.Node, code string) *storage.Fact {
	return &storage.Fact{Subject: n.ID, Predicate: storage.PredCountry, Value: code, Evidence: x.ev(quoteQualcomm)}
}

func ids(nodes ...*storage.Node) []uuid.UUID {
	out := make([]uuid.UUID, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

func factIDs(facts []*storage.Fact) []uuid.UUID {
	out := make([]uuid.UUID, len(facts))
	for i, f := range facts {
		out[i] = f.ID
	}
	return out
}

func equalIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameSet reports whether a and b hold the same IDs, in any order.
func sameSet(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[uuid.UUID]int{}
	for _, id := range a {
		m[id]++
	}
	for _, id := range b {
		m[id]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
