package memgraph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"testing"

	"github.com/google/uuid"

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

// records is a whole graph as an export lists it.
type records struct {
	nodes map[uuid.UUID]*storage.Node
	texts map[uuid.UUID]string
	facts map[uuid.UUID]*storage.Fact
	saved map[string]*storage.SavedQuery
	order []storage.Record
}

func exportOf(t testing.TB, g *storage.Graph) records {
	t.Helper()
	r := records{nodes: map[uuid.UUID]*storage.Node{}, texts: map[uuid.UUID]string{}, facts: map[uuid.UUID]*storage.Fact{},
		saved: map[string]*storage.SavedQuery{}}
	var b bytes.Buffer
	if err := g.ExportJSONL(&b); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&b)
	for {
		var rec storage.Record
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		r.order = append(r.order, rec)
		switch {
		case rec.Node != nil:
			r.nodes[rec.Node.ID] = rec.Node
		case rec.Text != nil:
			r.texts[rec.Text.ID] = rec.Text.Text
		case rec.Fact != nil:
			r.facts[rec.Fact.ID] = rec.Fact
		}
	}
	qs, err := g.SavedQueries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		r.saved[q.Name] = q
	}
	return r
}

// buildFrom builds a model of an export.
func buildFrom(t testing.TB, r records, version uint64) *Model {
	t.Helper()
	b := NewBuilder(version)
	for _, rec := range r.order {
		var err error
		switch {
		case rec.Node != nil:
			err = b.Node(rec.Node)
		case rec.Text != nil:
			err = b.Text(rec.Text.ID, rec.Text.Text)
		case rec.Fact != nil:
			err = b.Fact(rec.Fact)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range r.saved {
		if err := b.Saved(q); err != nil {
			t.Fatal(err)
		}
	}
	m, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	m.SetOptions(Options{Logger: quiet})
	return m
}

// changeBetween is the change that takes a graph from export a to export b:
// every record b holds that a does not hold alike.
func changeBetween(a, b records, version uint64) Change {
	c := Change{Version: version}
	for id, n := range b.nodes {
		if !reflect.DeepEqual(a.nodes[id], n) {
			c.Nodes = append(c.Nodes, n)
		}
	}
	for id, text := range b.texts {
		if old, ok := a.texts[id]; !ok || old != text {
			c.Texts = append(c.Texts, storage.SourceText{ID: id, Text: text})
		}
	}
	for id, f := range b.facts {
		if !reflect.DeepEqual(a.facts[id], f) {
			c.Facts = append(c.Facts, f)
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

// TestModelAnswersAsTheStore holds the model to the store it models: on the
// seed and a synthetic graph, then after writes through storage.Graph (a
// rename, retractions of a fact and of an entity with its facts, new
// entities, facts and texts, saved queries) fed to the model as changes,
// every question storage answers from its indexes gets the same answer
// from the model.
func TestModelAnswersAsTheStore(t *testing.T) {
	g := newStore(t, 1000)
	prev := exportOf(t, g)
	m := buildFrom(t, prev, 1)
	t.Cleanup(m.Close)
	compareWithStore(t, "after the load", g, m.Snapshot(), prev, nil)

	org := storage.SlugID("syn-org-3")
	src := storage.SlugID("syn-source-0")
	text, err := g.SourceText(src)
	if err != nil {
		t.Fatal(err)
	}
	newName, year := "Thượng Hải Robotics Renamed", 2031
	var sponsored uuid.UUID
	writes := []struct {
		name  string
		write func() error
	}{
		{"a rename", func() error {
			_, err := g.UpdateNode(org, storage.NodePatch{Name: &newName, Aliases: []string{"THR", "Đại Long"}})
			return err
		}},
		{"an event's year", func() error {
			_, err := g.UpdateNode(storage.SlugID("syn-series-0-2016"), storage.NodePatch{Year: &year})
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
		{"a saved query deleted", func() error { return g.DeleteSavedQuery("a") }},
	}
	for i, w := range writes {
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		next := exportOf(t, g)
		c := changeBetween(prev, next, uint64(i+2))
		if err := m.Apply(c); err != nil {
			t.Fatalf("%s: Apply: %v", w.name, err)
		}
		prev = next
		touched := map[uuid.UUID]bool{}
		for _, n := range c.Nodes {
			touched[n.ID] = true
		}
		for _, f := range c.Facts {
			touched[f.Subject], touched[f.Object] = true, true
		}
		compareWithStore(t, "after "+w.name, g, m.Snapshot(), prev, touched)
	}
	if err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	compareWithStore(t, "after a compaction", g, m.Snapshot(), prev, nil)
}

// compareWithStore asks g and s the same questions. With touched, only the
// adjacency of the entities in it, and of one in eight others, is compared.
func compareWithStore(t *testing.T, when string, g *storage.Graph, s *Snapshot, r records, touched map[uuid.UUID]bool) {
	t.Helper()
	check := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %s: %v", when, what, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %s:\n model %v\n store %v", when, what, got, want)
		}
	}
	collect := func(scan func(fn func(uuid.UUID) error) error) []uuid.UUID {
		var ids []uuid.UUID
		if err := scan(func(id uuid.UUID) error { ids = append(ids, id); return nil }); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	for id, n := range r.nodes {
		got, err := s.Node(id)
		check("node "+n.Slug, js(got), js(n), err)
		slugID, err := s.SlugID(n.Slug)
		check("slug "+n.Slug, slugID, id, err)
		text, err := s.SourceText(id)
		check("text of "+n.Slug, text, r.texts[id], err)
		if touched != nil && !touched[id] && id[0]%8 != 0 {
			continue
		}
		for _, dir := range []storage.Direction{storage.Out, storage.In} {
			for _, pred := range []storage.Predicate{"", storage.PredSponsored, storage.PredCountry} {
				facts, err := g.Adjacent([]storage.AdjQuery{{Node: id, Dir: dir, Predicate: pred, Negated: true, Retracted: true}})
				if err != nil {
					t.Fatal(err)
				}
				var want, got []string
				for _, f := range facts[0] {
					other := f.Object
					if dir == storage.In {
						other = f.Subject
					}
					st := Active
					if f.Retraction != nil {
						st = Retracted
					} else if f.Negated {
						st = Negated
					}
					want = append(want, fmt.Sprint(f.ID, f.Predicate, other, st))
				}
				err = s.Adjacent(id, dir, pred, func(e AdjEntry) error {
					got = append(got, fmt.Sprint(e.Fact, e.Predicate, e.Other, e.State))
					return nil
				})
				check(fmt.Sprintf("adjacent %s %v %s", n.Slug, dir, pred), got, want, err)
			}
		}
	}
	for id, f := range r.facts {
		got, err := s.Fact(id)
		check("fact "+id.String(), js(got), js(f), err)
	}
	for _, k := range storage.Kinds {
		want, err := g.NodeIDsByKind(k)
		check("kind "+string(k), collect(func(fn func(uuid.UUID) error) error { return s.NodesByKind(k, fn) }), want, err)
		for _, y := range [][2]int{{0, 9999}, {2018, 2020}, {2031, 2031}} {
			want, err := g.NodeIDsByYear(k, y[0], y[1])
			check(fmt.Sprint("node years ", k, y), collect(func(fn func(uuid.UUID) error) error { return s.NodesByYear(k, y[0], y[1], fn) }), want, err)
		}
	}
	for _, p := range predList {
		want, err := g.FactIDsByPredicate(p, nil, nil)
		check("predicate "+string(p), collect(func(fn func(uuid.UUID) error) error { return s.FactsByPredicate(p, fn) }), want, err)
		for _, y := range [][2]int{{0, 9999}, {2018, 2020}, {2023, 2023}} {
			want, err := g.FactIDsByPredicate(p, &y[0], &y[1])
			check(fmt.Sprint("fact years ", p, y), collect(func(fn func(uuid.UUID) error) error { return s.FactsByYear(p, y[0], y[1], fn) }), want, err)
		}
	}
	for _, v := range []string{"US", "CN", "VN", "ZZ"} {
		want, err := g.SubjectsByValue(storage.PredCountry, v)
		var got []uuid.UUID
		seen := map[uuid.UUID]bool{}
		if err == nil {
			err = s.SubjectsByValue(storage.PredCountry, v, func(subj, _ uuid.UUID) error {
				if !seen[subj] {
					seen[subj] = true
					got = append(got, subj)
				}
				return nil
			})
		}
		check("country "+v, got, want, err)
	}
	for _, q := range []string{"thuong", "Thượng Hải", "robotics", "nova", "hội nghị", "trí tuệ", "conference 1", "thr", "dai long", "x"} {
		want, err := g.Search(q, 0)
		got, err2 := searchSnapshot(s, q)
		check("search "+q, got, want, cmp.Or(err, err2))
	}
	want, err := g.Sizes()
	check("sizes", s.Sizes(), want, err)
	wantSaved, err := g.SavedQueries()
	var gotSaved []*storage.SavedQuery
	if err == nil {
		err = s.SavedQueries(func(q *storage.SavedQuery) error { gotSaved = append(gotSaved, q); return nil })
	}
	check("saved queries", js(gotSaved), js(wantSaved), err)
}

// searchSnapshot is storage.Graph.Search over a snapshot's NameTerms.
func searchSnapshot(s *Snapshot, text string) ([]storage.SearchHit, error) {
	q := storage.Fold(text)
	if q == "" {
		return nil, nil
	}
	best := map[uuid.UUID]int{}
	raise := func(id uuid.UUID, score int) {
		best[id] = max(best[id], score)
	}
	if err := s.NameTerms(q, func(_ string, id uuid.UUID) error { raise(id, 1); return nil }); err != nil {
		return nil, err
	}
	err := s.NameTerms("^"+q, func(term string, id uuid.UUID) error {
		if term == "^"+q {
			raise(id, 3)
		} else {
			raise(id, 2)
		}
		return nil
	})
	hits := make([]storage.SearchHit, 0, len(best))
	for id, score := range best {
		hits = append(hits, storage.SearchHit{ID: id, Score: score})
	}
	slices.SortFunc(hits, func(a, b storage.SearchHit) int {
		if a.Score != b.Score {
			return b.Score - a.Score
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return hits, err
}
