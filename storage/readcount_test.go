package storage_test

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/memgraph"
)

// countingModel is the read model with its snapshots' Node reads counted.
type countingModel struct {
	storage.ReadModel
	nodes *atomic.Int64
}

func (m countingModel) Snapshot() storage.Snapshot {
	return countingSnapshot{m.ReadModel.Snapshot(), m.nodes}
}

type countingSnapshot struct {
	storage.Snapshot
	nodes *atomic.Int64
}

// facts counts the Fact reads of every countingSnapshot.
var facts atomic.Int64

func (s countingSnapshot) Fact(id uuid.UUID) (*storage.Fact, error) {
	facts.Add(1)
	return s.Snapshot.Fact(id)
}

func (s countingSnapshot) Node(id uuid.UUID) (*storage.Node, error) {
	s.nodes.Add(1)
	return s.Snapshot.Node(id)
}

func (s countingSnapshot) Sizes() storage.Sizes { return s.Snapshot.(storage.Sizer).Sizes() }

// countingGraph is a graph on the read model whose snapshots count their
// Node reads in nodes (and their Fact reads in facts).
func countingGraph(t *testing.T, nodes *atomic.Int64) *storage.Graph {
	return openTestGraph(t, storage.Options{Model: func(v uint64, records func(storage.RecordSink) error) (storage.ReadModel, error) {
		m, err := memgraph.Load(v, records)
		if err != nil {
			return nil, err
		}
		return countingModel{m, nodes}, nil
	}})
}

// TestSponsoredFilterReadsNoFact: the sponsoredSeries and sponsoredEvent
// filters read each candidate's sponsorships from its adjacency, which holds
// the event: no fact is read (but for a tier), where each sponsorship was
// decoded before (the sanctioned-sponsors scenario).
func TestSponsoredFilterReadsNoFact(t *testing.T) {
	var nodes atomic.Int64
	g := countingGraph(t, &nodes)
	if _, err := seed.Load(g); err != nil {
		t.Fatal(err)
	}
	for _, q := range []storage.EntityQuery{
		{Kinds: []storage.Kind{storage.KindOrganization}, SponsoredSeries: slugID(t, g, "waic")},
		{Kinds: []storage.Kind{storage.KindOrganization}, SponsoredEvent: slugID(t, g, "waic-2023")},
	} {
		facts.Store(0)
		ids, err := g.Entities(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) < 10 {
			t.Fatalf("%d sponsors, want the seed's (10 or more)", len(ids))
		}
		if n := facts.Load(); n != 0 {
			t.Errorf("%d facts read to filter %d sponsors", n, len(ids))
		}
	}
}

// TestSearchEntitiesReadsOnlyWhatItKeeps: search answers by score first, so
// once the best-scored hits fill the limit it reads no entity of a lower
// score: at a million nodes "thuong" has tens of thousands of word-prefix
// hits, and reading each took the search 1.6 s. The answers are the ones a
// search reading every hit gives (the same search with no limit, cut).
func TestSearchEntitiesReadsOnlyWhatItKeeps(t *testing.T) {
	var nodes atomic.Int64
	g := countingGraph(t, &nodes)
	// 4 whole-name prefix matches (score 2), one retracted (not a hit); 60
	// word-prefix hits (score 1).
	var retract *storage.Node
	for i, name := range []string{"Thuongmai Delta", "Thuongmai Alpha", "Thuong Long Name Co", "Thuongmai Beta"} {
		n := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: name}, "")
		if i == 0 {
			retract = n
		}
	}
	if _, err := g.RetractNode(retract.ID, "test", "a test"); err != nil {
		t.Fatalf("RetractNode: %v", err)
	}
	for i := range 60 {
		mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Company %02d Thuong", i)}, "")
	}
	names := func(hits []storage.EntityHit) []string {
		var out []string
		for _, h := range hits {
			out = append(out, fmt.Sprintf("%s/%d", h.Node.Name, h.Score))
		}
		return out
	}
	all, err := g.SearchEntities("thuong", nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 63 {
		t.Fatalf("%d hits, want 63: %v", len(all), names(all))
	}
	for _, limit := range []int{0, 1, 2, 3, 4, 10, 63, 64, math.MaxInt} {
		nodes.Store(0)
		got, err := g.SearchEntities("thuong", nil, limit)
		if err != nil {
			t.Fatal(err)
		}
		want := all[:min(limit, len(all))]
		if !slices.Equal(names(got), names(want)) {
			t.Errorf("limit %d: %v, want %v", limit, names(got), names(want))
		}
		// The 3 score-2 hits are read; the 60 of score 1 only when the
		// limit reaches past them.
		if reads := nodes.Load(); limit <= 3 && reads != 3 {
			t.Errorf("limit %d: %d entities read, want the 3 best-scored only", limit, reads)
		}
	}
}

// SearchTop passes the read model's top-k search through (storage.TopSearcher).
func (s countingSnapshot) SearchTop(q string, kinds []storage.Kind, limit int) ([]storage.SearchHit, bool, error) {
	if ts, ok := s.Snapshot.(storage.TopSearcher); ok {
		return ts.SearchTop(q, kinds, limit)
	}
	return nil, false, nil
}

// TestSearchTopReadsOnlyTheLimit: with the entities in the read model's
// base, a search whose whole-name hits fill its limit reads limit entities,
// not every hit of the best score (40 here), and answers what the full
// search answers, cut.
func TestSearchTopReadsOnlyTheLimit(t *testing.T) {
	var nodes atomic.Int64
	g := countingGraph(t, &nodes)
	for i := range 40 {
		mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Thuongmai %02d", 40-i)}, "")
	}
	if err := g.ReadModel().(countingModel).ReadModel.(*memgraph.Model).Compact(); err != nil {
		t.Fatal(err)
	}
	all, err := g.SearchEntities("thuong", nil, 1000) // more than the whole names: the full search
	if err != nil || len(all) != 40 {
		t.Fatalf("%d hits, %v", len(all), err)
	}
	nodes.Store(0)
	got, err := g.SearchEntities("thuong", nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	if reads := nodes.Load(); reads != 3 {
		t.Errorf("%d entities read, want 3", reads)
	}
	for i, h := range got {
		if h.Node.ID != all[i].Node.ID || h.Score != all[i].Score {
			t.Errorf("hit %d: %s/%d, want %s/%d", i, h.Node.Name, h.Score, all[i].Node.Name, all[i].Score)
		}
	}
}
