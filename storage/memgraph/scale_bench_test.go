package memgraph

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
)

// BenchmarkScaleReads times the two reads of issue 11 that grew with the
// graph, on a model of the seed alone and on one of the seed and a
// synthetic graph of N entities, in process (the model's part of what
// `bench -scale` measures over HTTP):
//
//	POLICYGRAPH_SCALE_BENCH=1000000 go test ./storage/memgraph -run '^$' -bench ScaleReads -benchtime 3s
//
// search: SearchTop("thuong"), ten hits, and the ten entities read, as
// storage.Graph.SearchEntities does. walk: one page of 50 of the bench's
// facts walk (nine predicates, 2019-2023), by cursor from the previous page
// (the first 20 pages, then again from the first), each fact read with its
// subject's and object's names, as the GraphQL query asks. Skipped unless
// POLICYGRAPH_SCALE_BENCH names N; the synthetic input is kept in
// MEMGRAPH_SCALE_DIR (default: the temp dir).
func BenchmarkScaleReads(b *testing.B) {
	env := os.Getenv("POLICYGRAPH_SCALE_BENCH")
	if env == "" {
		b.Skip("set POLICYGRAPH_SCALE_BENCH=N (entities) to measure")
	}
	n, err := strconv.Atoi(env)
	if err != nil {
		b.Fatalf("POLICYGRAPH_SCALE_BENCH: %v", err)
	}
	seedRecs := seedRecords(b)
	for _, size := range []int{0, n} {
		name := "seed"
		if size > 0 {
			name = strconv.Itoa(size)
		}
		m := scaleBenchModel(b, seedRecs, size)
		s := m.Latest()
		r := &s.b.wholeRanks
		table := 0
		for _, l := range r.blocks {
			table += 4 * len(l)
		}
		// What the search's index adds to a build or a load, made again
		// here: each whole-name term's rank gathered from its entity's,
		// and the table.
		byEntity := make([]uint32, s.b.nodes.n())
		for i, x := range r.ranks {
			byEntity[s.b.names[s.b.wholeAt+i].iid] = x
		}
		start := time.Now()
		ranks := make([]uint32, len(r.ranks))
		for i := range ranks {
			ranks[i] = byEntity[s.b.names[s.b.wholeAt+i].iid]
		}
		newRankMin(ranks)
		b.Logf("%s: %d entities, %d whole-name terms: search ranks %d bytes, their table %d bytes (the entity ranks they replace: %d bytes), made in %v",
			name, s.b.nodes.n(), len(r.ranks), 4*len(r.ranks), table, 4*s.b.nodes.n(), time.Since(start))
		runtime.GC()
		b.Run(name+"/search", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchSearch(b, s)
			}
		})
		b.Run(name+"/walk", func(b *testing.B) {
			b.ReportAllocs()
			var after uuid.UUID
			page := 0
			for b.Loop() {
				last, more := benchWalkPage(b, s, after)
				page++
				after = last
				if !more || page == 20 {
					after, page = uuid.Nil, 0
				}
			}
		})
		m.Close()
	}
}

// benchWalkPreds are the bench's walk scenario's predicates.
var benchWalkPreds = []storage.Predicate{storage.PredSponsored, storage.PredParticipatedIn, storage.PredSpeakerAt,
	storage.PredMeasure, storage.PredDiscussed, storage.PredHeldIn, storage.PredHeldOn, storage.PredEditionOf, storage.PredOrganizedBy}

// benchSearch is storage.Graph.SearchEntities("thuong", nil, 10) on s:
// SearchTop, or when it cannot answer (fewer than ten whole-name hits, as
// in the seed) the general path's reads: both name-term scans, the hits by
// score, and the entities of the first scores read and sorted.
func benchSearch(b *testing.B, s *Snapshot) {
	const q, limit = "thuong", 10
	hits, ok, err := s.SearchTop(q, nil, limit)
	if err != nil {
		b.Fatal(err)
	}
	if !ok {
		best := map[uuid.UUID]int{}
		raise := func(id uuid.UUID, score int) {
			if score > best[id] {
				best[id] = score
			}
		}
		err := cmp.Or(
			s.NameTerms(q, false, func(_ string, id uuid.UUID) error { raise(id, 1); return nil }),
			s.NameTerms(q, true, func(term string, id uuid.UUID) error {
				if term == q {
					raise(id, 3)
				} else {
					raise(id, 2)
				}
				return nil
			}))
		if err != nil {
			b.Fatal(err)
		}
		hits = hits[:0]
		for id, score := range best {
			hits = append(hits, storage.SearchHit{ID: id, Score: score})
		}
		slices.SortFunc(hits, func(x, y storage.SearchHit) int {
			return cmp.Or(cmp.Compare(y.Score, x.Score), bytes.Compare(x.ID[:], y.ID[:]))
		})
		var names []string
		for i, h := range hits {
			if i > 0 && h.Score != hits[i-1].Score && len(names) >= limit {
				break
			}
			n, err := s.Node(h.ID)
			if err != nil {
				b.Fatal(err)
			}
			names = append(names, n.Name)
		}
		slices.Sort(names)
		return
	}
	for _, h := range hits {
		if _, err := s.Node(h.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWalkPage reads the page after after; it returns the page's last
// fact and whether more follow.
func benchWalkPage(b *testing.B, s *Snapshot, after uuid.UUID) (uuid.UUID, bool) {
	pg, ok, err := s.FactWalk(benchWalkPreds, 2019, 2023, after, 50)
	if err != nil || !ok || len(pg.IDs) == 0 {
		b.Fatalf("FactWalk: ok %v, %d facts, %v", ok, len(pg.IDs), err)
	}
	for _, id := range pg.IDs {
		f, err := s.Fact(id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Node(f.Subject); err != nil {
			b.Fatal(err)
		}
		if f.Object != uuid.Nil {
			if _, err := s.Node(f.Object); err != nil {
				b.Fatal(err)
			}
		}
	}
	return pg.IDs[len(pg.IDs)-1], pg.HasNext
}

// seedGraph is the seed's records, read from a store it was loaded into.
type seedGraph struct {
	nodes []*storage.Node
	texts []storage.SourceText
	facts []*storage.Fact
	revs  []*storage.Revision
	saved []*storage.SavedQuery
}

func seedRecords(tb testing.TB) seedGraph {
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		tb.Fatal(err)
	}
	defer g.Close()
	if _, err := seed.Load(g); err != nil {
		tb.Fatal(err)
	}
	var sg seedGraph
	err = g.Read(func(s storage.Snapshot) error {
		return cmp.Or(
			s.Nodes(func(n *storage.Node) error { sg.nodes = append(sg.nodes, n); return nil }),
			s.SourceTexts(func(id uuid.UUID, text string) error {
				sg.texts = append(sg.texts, storage.SourceText{ID: id, Text: text})
				return nil
			}),
			s.Facts(func(f *storage.Fact) error { sg.facts = append(sg.facts, f); return nil }),
			s.Revisions(uuid.Nil, func(r *storage.Revision) error { sg.revs = append(sg.revs, r); return nil }),
			s.SavedQueries(func(q *storage.SavedQuery) error { sg.saved = append(sg.saved, q); return nil }),
		)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return sg
}

// scaleBenchModel builds a model of the seed and, for n > 0, a synthetic
// graph of n entities (as `bench -scale` loads the seed on the synthetic
// graph).
func scaleBenchModel(tb testing.TB, sg seedGraph, n int) *Model {
	bld := NewBuilder(1)
	for _, nd := range sg.nodes {
		if err := bld.Node(nd); err != nil {
			tb.Fatal(err)
		}
	}
	for _, t := range sg.texts {
		if err := bld.Text(t); err != nil {
			tb.Fatal(err)
		}
	}
	if n > 0 {
		dir := cmp.Or(os.Getenv("MEMGRAPH_SCALE_DIR"), os.TempDir())
		path, err := scaleInput(dir, n)
		if err != nil {
			tb.Fatal(err)
		}
		err = readInput(path, bld.Node, func(id uuid.UUID, t string) error { return bld.Text(storage.SourceText{ID: id, Text: t}) }, bld.Fact)
		if err != nil {
			tb.Fatal(fmt.Errorf("read %s: %w", path, err))
		}
	}
	for _, f := range sg.facts {
		if err := bld.Fact(f); err != nil {
			tb.Fatal(err)
		}
	}
	for _, r := range sg.revs {
		if err := bld.Revision(r); err != nil {
			tb.Fatal(err)
		}
	}
	for _, q := range sg.saved {
		if err := bld.Saved(q); err != nil {
			tb.Fatal(err)
		}
	}
	m, err := bld.Build()
	if err != nil {
		tb.Fatal(err)
	}
	m.SetOptions(Options{Logger: quiet})
	return m
}
