package memgraph

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/internal/synth"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
)

var quiet = slog.New(slog.DiscardHandler)

// newStore opens a graph on an in-memory Badger holding the seed and a
// synthetic graph of n entities.
func newStore(t testing.TB, n int) *storage.Graph {
	t.Helper()
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	var b bytes.Buffer
	if _, _, err := synth.Generate(&b, n); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Import(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Load(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// records is a whole graph as the store's snapshot lists it.
type records struct {
	nodes map[uuid.UUID]*storage.Node
	texts map[uuid.UUID]string
	facts map[uuid.UUID]*storage.Fact
	revs  map[[2]any]*storage.Revision // by (entity, seq)
	saved map[string]*storage.SavedQuery
	// In the store's order, to hand to a builder or to probe with.
	nodeIDs, factIDs []uuid.UUID
	slugs            []string
}

// recordsOf reads every record of g through its storage.Snapshot.
func recordsOf(t testing.TB, g *storage.Graph) records {
	t.Helper()
	r := records{nodes: map[uuid.UUID]*storage.Node{}, texts: map[uuid.UUID]string{}, facts: map[uuid.UUID]*storage.Fact{},
		revs: map[[2]any]*storage.Revision{}, saved: map[string]*storage.SavedQuery{}}
	err := g.Read(func(s storage.Snapshot) error {
		return cmp.Or(
			s.Nodes(func(n *storage.Node) error {
				r.nodes[n.ID] = n
				r.nodeIDs, r.slugs = append(r.nodeIDs, n.ID), append(r.slugs, n.Slug)
				return nil
			}),
			s.SourceTexts(func(id uuid.UUID, text string) error { r.texts[id] = text; return nil }),
			s.Facts(func(f *storage.Fact) error { r.facts[f.ID] = f; r.factIDs = append(r.factIDs, f.ID); return nil }),
			s.Revisions(uuid.Nil, func(rev *storage.Revision) error { r.revs[[2]any{rev.Node, rev.Seq}] = rev; return nil }),
			s.SavedQueries(func(q *storage.SavedQuery) error { r.saved[q.Name] = q; return nil }),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// loadFrom builds a model of g's records with Load, as the graph will.
func loadFrom(t testing.TB, g *storage.Graph, version uint64) *Model {
	t.Helper()
	rm, err := Load(version, func(sink storage.RecordSink) error {
		return g.Read(func(s storage.Snapshot) error {
			return cmp.Or(
				s.Nodes(sink.Node),
				s.SourceTexts(func(id uuid.UUID, text string) error { return sink.Text(storage.SourceText{ID: id, Text: text}) }),
				s.Facts(sink.Fact),
				s.Revisions(uuid.Nil, sink.Revision),
				s.SavedQueries(sink.Saved),
			)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	m := rm.(*Model)
	m.SetOptions(Options{Logger: quiet})
	t.Cleanup(m.Close)
	return m
}

// changeBetween is the change that takes a graph from records a to records
// b: every record b holds that a does not hold alike.
func changeBetween(a, b records, version uint64) storage.Change {
	c := storage.Change{Version: version}
	for _, id := range b.nodeIDs {
		if n := b.nodes[id]; !reflect.DeepEqual(a.nodes[id], n) {
			c.Nodes = append(c.Nodes, n)
		}
	}
	for id, text := range b.texts {
		if old, ok := a.texts[id]; !ok || old != text {
			c.Texts = append(c.Texts, storage.SourceText{ID: id, Text: text})
		}
	}
	for _, id := range b.factIDs {
		if f := b.facts[id]; !reflect.DeepEqual(a.facts[id], f) {
			c.Facts = append(c.Facts, f)
		}
	}
	for k, r := range b.revs {
		if !reflect.DeepEqual(a.revs[k], r) {
			c.Revisions = append(c.Revisions, r)
		}
	}
	for name, q := range b.saved {
		if !reflect.DeepEqual(a.saved[name], q) {
			c.Saved = append(c.Saved, q)
		}
	}
	for name := range a.saved {
		if _, ok := b.saved[name]; !ok {
			c.DeleteSaved = append(c.DeleteSaved, name)
		}
	}
	return c
}

// TestModelAnswersAsTheStore holds the model to the store it models,
// through storage.Snapshot, the interface every read goes through: the
// store's snapshot (g.Read) and the model's are asked every question of
// every method (answers), and must answer alike, errors included. On the
// seed and a synthetic graph loaded with Load, then after each of a series
// of writes through storage.Graph (renames and other entity updates that
// leave revisions, retractions of facts and entities, new entities, facts
// and texts, saved queries put and deleted) applied to the model as a
// Change, and put into a Draft of the model before it, then after a
// compaction; and a model loaded afresh at the end answers alike too.
func TestModelAnswersAsTheStore(t *testing.T) {
	g := newStore(t, 400)
	prev := recordsOf(t, g)
	m := loadFrom(t, g, 1)
	slugs := slices.Clone(prev.slugs) // every slug ever used: old ones must stay unknown
	compareWithStore(t, "after the load", g, m.Snapshot(), prev, slugs)

	org := storage.SlugID("syn-org-3")
	src := storage.SlugID("syn-source-0")
	text, err := g.SourceText(src)
	if err != nil {
		t.Fatal(err)
	}
	newName, year, desc, year2 := "Thượng Hải Robotics Renamed", 2031, "Một mô tả.", 2019
	var sponsored uuid.UUID
	writes := []struct {
		name  string
		write func() error
	}{
		{"a rename", func() error {
			_, err := g.UpdateNode(org, storage.NodePatch{Name: &newName, Aliases: []string{"THR", "Đại Long"}, By: "editor"})
			return err
		}},
		{"an event's year", func() error {
			_, err := g.UpdateNode(storage.SlugID("syn-series-0-2016"), storage.NodePatch{Year: &year})
			return err
		}},
		{"a second and third update of one entity", func() error {
			if _, err := g.UpdateNode(org, storage.NodePatch{Description: &desc, By: "editor"}); err != nil {
				return err
			}
			_, err := g.UpdateNode(org, storage.NodePatch{Labels: []storage.Label{{Lang: "vi", Text: "Rô bốt Thượng Hải"}}, By: "other"})
			return err
		}},
		{"a fact retracted", func() error {
			facts, err := g.Adjacent([]storage.AdjQuery{{Node: org, Dir: storage.Out, Predicate: storage.PredCountry}})
			if err != nil {
				return err
			}
			_, err = g.RetractFact(facts[0][0].ID, "test", "wrong country")
			return err
		}},
		{"an entity retracted with its facts", func() error {
			_, err := g.RetractNode(storage.SlugID("syn-org-5"), "test", "withdrawn")
			return err
		}},
		{"a new source and facts quoting it", func() error {
			n, err := g.CreateNode(&storage.Node{Kind: storage.KindSource, Name: "Báo cáo mới", Slug: "new-report"}, "Một câu mới. Hai câu mới.")
			if err != nil {
				return err
			}
			f, err := g.AddFact(&storage.Fact{Subject: org, Predicate: storage.PredSponsored, Object: storage.SlugID("syn-series-0-2020"),
				Tier: storage.TierElitePartner, Evidence: []storage.Evidence{{Source: n.ID, Quote: "Hai câu mới."}}})
			sponsored = f.ID
			return err
		}},
		{"a new entity with a year, then updated", func() error {
			n, err := g.CreateNode(&storage.Node{Kind: storage.KindEvent, Name: "Hội nghị Mới 2030", Slug: "new-event", Year: 2030}, "")
			if err != nil {
				return err
			}
			_, err = g.UpdateNode(n.ID, storage.NodePatch{Year: &year2, Aliases: []string{"HNM"}, By: "editor"})
			return err
		}},
		{"a new country", func() error {
			_, err := g.AddFact(&storage.Fact{Subject: org, Predicate: storage.PredCountry, Value: "VN",
				Evidence: []storage.Evidence{{Source: src, Quote: text[:40]}}})
			return err
		}},
		{"the new sponsorship retracted", func() error {
			_, err := g.RetractFact(sponsored, "test", "not a sponsor")
			return err
		}},
		{"saved queries", func() error {
			if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "a", Query: "{ stats { nodes } }"}); err != nil {
				return err
			}
			_, err := g.PutSavedQuery(storage.SavedQuery{Name: "b", Query: "{ stats { facts } }"})
			return err
		}},
		{"a saved query replaced and one deleted", func() error {
			if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "b", Query: "{ stats { nodes facts } }"}); err != nil {
				return err
			}
			return g.DeleteSavedQuery("a")
		}},
	}
	for i, w := range writes {
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		next := recordsOf(t, g)
		c := changeBetween(prev, next, uint64(i+2))
		for _, n := range next.nodes {
			if !slices.Contains(slugs, n.Slug) {
				slugs = append(slugs, n.Slug)
			}
		}
		// A draft of the model before the change, with the change put in,
		// answers as the store after it; the model's snapshot does not move.
		before := m.Snapshot()
		d := m.Draft()
		if err := d.Put(c); err != nil {
			t.Fatalf("%s: Put: %v", w.name, err)
		}
		if d.Version() != before.Version() {
			t.Fatalf("%s: the draft is at version %d, started at %d", w.name, d.Version(), before.Version())
		}
		compareWithStore(t, "a draft with "+w.name, g, d, next, slugs)
		if m.Snapshot() != before {
			t.Fatalf("%s: a Put moved the model", w.name)
		}
		if err := m.Apply(c); err != nil {
			t.Fatalf("%s: Apply: %v", w.name, err)
		}
		prev = next
		compareWithStore(t, "after "+w.name, g, m.Snapshot(), prev, slugs)
	}
	if len(prev.revs) < 5 {
		t.Fatalf("the writes left %d revisions: the test lost its point", len(prev.revs))
	}
	if err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	compareWithStore(t, "after a compaction", g, m.Snapshot(), prev, slugs)
	compareWithStore(t, "loaded afresh", g, loadFrom(t, g, m.Snapshot().Version()).Snapshot(), prev, slugs)
}

// compareWithStore asks the store's snapshot and s every question answers
// asks, and fails at the first answer that differs; then compares s's Sizes
// with the graph's.
func compareWithStore(t *testing.T, when string, g *storage.Graph, s storage.Snapshot, r records, slugs []string) {
	t.Helper()
	var want string
	if err := g.Read(func(kv storage.Snapshot) error { want = answers(t, kv, r, slugs); return nil }); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, when, answers(t, s, r, slugs), want)
	wantSizes, err := g.Sizes()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(storage.Sizer).Sizes(); !reflect.DeepEqual(got, wantSizes) {
		t.Fatalf("%s: Sizes:\n model %+v\n store %+v", when, got, wantSizes)
	}
}

// answers renders, one a line, the answer of s to every question of every
// method of storage.Snapshot (but Version, which is the store's own) about
// the records r and beyond them: every ID and slug, missing ones, every
// kind and predicate and unknown ones, year ranges open, empty and odd,
// literal values, name prefixes, and each scan stopped early. Two
// snapshots with the same answers answer alike.
func answers(t testing.TB, s storage.Snapshot, r records, slugs []string) string {
	t.Helper()
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	errStr := func(err error) string {
		var e *errs.Error
		if errors.As(err, &e) {
			return fmt.Sprintf("error %s %q %q", e.Code, e.Field, e.Message)
		}
		if err != nil {
			t.Fatalf("an error that is not an *errs.Error: %v", err)
		}
		return "ok"
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	nodeIDs := append(slices.Clone(r.nodeIDs), uuid.Nil, uuid.MustParse("00000000-0000-0000-0000-000000000001"), storage.SlugID("no-such-entity"))
	factIDs := append(slices.Clone(r.factIDs), uuid.Nil, storage.SlugID("no-such-fact"))
	preds := append(slices.Clone(predList), "", "NOPE", "COUNTRY\x00")
	for _, id := range nodeIDs {
		n, err := s.Node(id)
		line("node %s %s %s", id, js(n), errStr(err))
		text, err := s.SourceText(id)
		line("text %s %q %s", id, text, errStr(err))
		for _, dir := range []storage.Direction{storage.Out, storage.In} {
			for _, p := range preds {
				must("Adjacent", s.Adjacent(id, dir, p, func(e storage.AdjEntry) error {
					line("adj %s %v %s: %s %s %d", id, dir, p, e.Fact, e.Other, e.State)
					return nil
				}))
			}
		}
		for _, v := range []string{"US", "CN", "VN", "", "ZZ"} {
			has, err := s.HasValue(id, storage.PredCountry, v)
			line("hasvalue %s %s %v %s", id, v, has, errStr(err))
		}
		must("Revisions", s.Revisions(id, func(rev *storage.Revision) error { line("revision %s %s", id, js(rev)); return nil }))
	}
	for _, id := range factIDs {
		f, err := s.Fact(id)
		line("fact %s %s %s", id, js(f), errStr(err))
		if err == nil && f.Value != "" {
			for _, p := range []storage.Predicate{f.Predicate, "", storage.PredCountry} {
				has, err := s.HasValue(f.Subject, p, f.Value)
				line("hasvalue %s %s %s %v %s", f.Subject, p, f.Value, has, errStr(err))
			}
		}
	}
	for _, slug := range append(slices.Clone(slugs), "no-such-slug", "", "syn") {
		id, err := s.SlugID(slug)
		line("slug %q %s %s", slug, id, errStr(err))
	}
	years := [][2]int{{0, 9999}, {math.MinInt, math.MaxInt}, {2018, 2020}, {2020, 2020}, {2031, 2031}, {-5, 2017},
		{2030, 2010}, {2024, 1 << 20}, {-10, -1}, {1 << 16, 1<<16 + 3000}, {1<<16 + 2020, 1 << 20}, {10000, 20000}}
	for _, k := range append(slices.Clone(storage.Kinds), "NOPE", "") {
		must("NodesByKind", s.NodesByKind(k, func(id uuid.UUID) error { line("kind %s %s", k, id); return nil }))
		for _, y := range years {
			must("NodesByYear", s.NodesByYear(k, y[0], y[1], func(id uuid.UUID) error { line("nodeyear %s %v %s", k, y, id); return nil }))
		}
	}
	values := []string{"US", "CN", "VN", "", "ZZ", "U", "US\x00"}
	for _, f := range r.facts {
		if f.Value != "" && !slices.Contains(values, f.Value) {
			values = append(values, f.Value)
		}
	}
	slices.Sort(values)
	for _, p := range preds {
		must("FactsByPredicate", s.FactsByPredicate(p, func(id uuid.UUID) error { line("pred %s %s", p, id); return nil }))
		for _, y := range years {
			must("FactsByYear", s.FactsByYear(p, y[0], y[1], func(id uuid.UUID) error { line("year %s %v %s", p, y, id); return nil }))
		}
		for _, v := range values {
			must("SubjectsByValue", s.SubjectsByValue(p, v, func(subj, fact uuid.UUID) error {
				line("value %s %q %s %s", p, v, subj, fact)
				return nil
			}))
		}
	}
	prefixes := []string{"", "^", " ", "x", "thuong", "thuong h", "thuong hai robotics renamed", "robotics", "nova", "hoi nghi",
		"tri tue", "conference 1", "thr", "dai long", "syn", "syn org 1", "hnm", "1", "20", "a\x00", "\x00", "zzzz"}
	for c := 'a'; c <= 'z'; c++ {
		prefixes = append(prefixes, string(c))
	}
	for _, n := range r.nodes {
		if f := storage.Fold(n.Name); len(f) > 4 && n.ID[0]%16 == 0 {
			prefixes = append(prefixes, f[:4], f)
		}
	}
	slices.Sort(prefixes)
	prefixes = slices.Compact(prefixes)
	for _, prefix := range prefixes {
		for _, whole := range []bool{false, true} {
			must("NameTerms", s.NameTerms(prefix, whole, func(term string, id uuid.UUID) error {
				line("term %q %v %q %s", prefix, whole, term, id)
				return nil
			}))
		}
	}
	must("Nodes", s.Nodes(func(n *storage.Node) error { line("all node %s", js(n)); return nil }))
	must("Facts", s.Facts(func(f *storage.Fact) error { line("all fact %s", js(f)); return nil }))
	must("FactIDs", s.FactIDs(func(id uuid.UUID) error { line("all fact ID %s", id); return nil }))
	must("SourceTexts", s.SourceTexts(func(id uuid.UUID, text string) error { line("all text %s %q", id, text); return nil }))
	must("Revisions", s.Revisions(uuid.Nil, func(rev *storage.Revision) error { line("all revision %s", js(rev)); return nil }))
	for _, name := range []string{"a", "b", "c", ""} {
		q, err := s.SavedQuery(name)
		line("saved %q %s %s", name, js(q), errStr(err))
	}
	must("SavedQueries", s.SavedQueries(func(q *storage.SavedQuery) error { line("all saved %s", js(q)); return nil }))

	// Each scan stopped at its second call, by storage.ErrStop or an error
	// wrapping it, returns nil; another error comes back as is.
	boom := errors.New("boom")
	for _, end := range []error{storage.ErrStop, fmt.Errorf("enough: %w", storage.ErrStop), boom} {
		scans := map[string]func(stop func() error) error{
			"Adjacent": func(stop func() error) error {
				return s.Adjacent(org3, storage.Out, "", func(storage.AdjEntry) error { return stop() })
			},
			"NodesByKind": func(stop func() error) error {
				return s.NodesByKind(storage.KindOrganization, func(uuid.UUID) error { return stop() })
			},
			"NodesByYear": func(stop func() error) error {
				return s.NodesByYear(storage.KindEvent, 0, 9999, func(uuid.UUID) error { return stop() })
			},
			"FactsByPredicate": func(stop func() error) error {
				return s.FactsByPredicate(storage.PredSponsored, func(uuid.UUID) error { return stop() })
			},
			"FactsByYear": func(stop func() error) error {
				return s.FactsByYear(storage.PredSponsored, 0, 9999, func(uuid.UUID) error { return stop() })
			},
			"SubjectsByValue": func(stop func() error) error {
				return s.SubjectsByValue(storage.PredCountry, "US", func(_, _ uuid.UUID) error { return stop() })
			},
			"NameTerms": func(stop func() error) error {
				return s.NameTerms("", false, func(string, uuid.UUID) error { return stop() })
			},
			"Nodes":       func(stop func() error) error { return s.Nodes(func(*storage.Node) error { return stop() }) },
			"Facts":       func(stop func() error) error { return s.Facts(func(*storage.Fact) error { return stop() }) },
			"FactIDs":     func(stop func() error) error { return s.FactIDs(func(uuid.UUID) error { return stop() }) },
			"SourceTexts": func(stop func() error) error { return s.SourceTexts(func(uuid.UUID, string) error { return stop() }) },
			"Revisions": func(stop func() error) error {
				return s.Revisions(uuid.Nil, func(*storage.Revision) error { return stop() })
			},
			"SavedQueries": func(stop func() error) error {
				return s.SavedQueries(func(*storage.SavedQuery) error { return stop() })
			},
		}
		for _, name := range slices.Sorted(maps.Keys(scans)) {
			calls := 0
			err := scans[name](func() error {
				if calls++; calls == 2 {
					return end
				}
				return nil
			})
			switch {
			case calls < 2 && err != nil, calls == 2 && end == boom && !errors.Is(err, boom), end != boom && err != nil:
				t.Fatalf("%s ended by %v returned %v", name, end, err)
			}
			line("stopped %s by %v: %d calls, %v", name, end, calls, err)
		}
	}
	return b.String()
}

var org3 = storage.SlugID("syn-org-3")
