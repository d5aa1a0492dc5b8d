package memgraph

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"policygraph/storage"
)

// TestRankMin holds the range-minimum index to a scan: for ranks of every
// length up to several levels of blocks, with few distinct values (ties)
// and many, the position of the smallest rank of every range (leftmost on
// a tie), and every range's positions in rank order.
func TestRankMin(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{0, 1, 2, 63, 64, 65, 127, 128, 129, 200, 64*5 + 7, 64 * 9, 64*17 + 1, 3000} {
		for _, distinct := range []int{3, 1 << 30} {
			ranks := make([]uint32, n)
			for i := range ranks {
				ranks[i] = uint32(rng.IntN(distinct))
			}
			r := newRankMin(ranks)
			ranges := [][2]int{}
			if n <= 200 {
				for lo := range n {
					for hi := lo + 1; hi <= n; hi++ {
						ranges = append(ranges, [2]int{lo, hi})
					}
				}
			} else {
				ranges = append(ranges, [2]int{0, n}, [2]int{1, n - 1}, [2]int{63, 64*3 + 1})
				for range 3000 {
					lo := rng.IntN(n)
					ranges = append(ranges, [2]int{lo, lo + 1 + rng.IntN(n-lo)})
				}
			}
			for _, x := range ranges {
				lo, hi := x[0], x[1]
				want := lo
				for i := lo; i < hi; i++ {
					if ranks[i] < ranks[want] {
						want = i
					}
				}
				if got := r.min(lo, hi); got != want {
					t.Fatalf("n %d: min(%d, %d) = %d (rank %d), want %d (rank %d)", n, lo, hi, got, ranks[got], want, ranks[want])
				}
			}
			for _, x := range ranges[:min(len(ranges), 300)] {
				lo, hi := x[0], x[1]
				var got []int
				r.inOrder(lo, hi, func(i int) bool { got = append(got, i); return true })
				want := make([]int, 0, hi-lo)
				for i := lo; i < hi; i++ {
					want = append(want, i)
				}
				slices.SortStableFunc(want, func(a, b int) int { return cmp.Compare(ranks[a], ranks[b]) })
				if !slices.Equal(got, want) {
					t.Fatalf("n %d: inOrder(%d, %d) = %v, want %v", n, lo, hi, got, want)
				}
				// Stopped early, it yields a prefix of the order.
				stop := (hi - lo + 1) / 2
				got = got[:0]
				r.inOrder(lo, hi, func(i int) bool { got = append(got, i); return len(got) < stop })
				if !slices.Equal(got, want[:stop]) {
					t.Fatalf("n %d: inOrder(%d, %d) stopped after %d = %v, want %v", n, lo, hi, stop, got, want[:stop])
				}
			}
		}
	}
}

// TestSearchTopMatchesAScan holds SearchTop to the search's definition
// computed from the records: a random graph whose names share syllables
// (so whole-name ranges span many blocks of the rank index), thousands of
// random changes (new entities, renames that move names and aliases,
// retractions, new slugs), compacted now and then, and read back from a
// model file; after each step, for prefixes long and short, limits and kind
// filters, SearchTop answers exactly the first hits of a scan of every
// entity's names, and declines (ok false) only when the overlay has
// touched an entity or the whole names do not fill the limit (new facts do not
// touch one).
func TestSearchTopMatchesAScan(t *testing.T) {
	changes := 2400
	if testing.Short() {
		changes = 600
	}
	w := newWorld(11, 2000, 3000)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: -1, Logger: quiet})
	t.Cleanup(m.Close)
	queries := []string{"thuong", "thuong h", "thuong hai", "nova", "nova helix", "a", "t", "h", "l", "lab 1", "1", "4", "ai",
		"quantum orion", "viet", "zz"}
	kindSets := [][]storage.Kind{nil, {storage.KindOrganization}, {storage.KindPerson, storage.KindEvent}}
	check := func(what string, s *Snapshot, fresh bool) {
		t.Helper()
		answered := 0
		named := w.named()
		for _, q := range queries {
			for _, limit := range []int{1, 3, 10, 40} {
				for _, kinds := range kindSets {
					want, wholes := named.search(q, kinds, limit)
					got, ok, err := s.SearchTop(q, kinds, limit)
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						if fresh && wholes >= limit {
							t.Fatalf("%s: search %q %v limit %d declined with %d whole-name hits and no overlay", what, q, kinds, limit, wholes)
						}
						continue
					}
					answered++
					if wholes < limit {
						t.Fatalf("%s: search %q %v limit %d answered with %d whole-name hits", what, q, kinds, limit, wholes)
					}
					if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
						t.Fatalf("%s: search %q %v limit %d:\n got %s\nwant %s", what, q, kinds, limit, g, w)
					}
				}
			}
		}
		if fresh && answered == 0 {
			t.Fatalf("%s: SearchTop answered no search", what)
		}
	}
	check("built", m.Latest(), true)
	for i := 1; i <= changes; i++ {
		if err := m.Apply(w.change()); err != nil {
			t.Fatal(err)
		}
		if i%400 == 0 {
			check(fmt.Sprintf("after %d changes", i), m.Latest(), false)
			if err := m.Compact(); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("after %d changes, compacted", i), m.Latest(), true)
			// New facts leave the names as they are: the base still answers.
			w.version++
			f := w.newFact(uuid.Nil)
			w.putFact(f)
			if err := m.Apply(storage.Change{Version: w.version, Facts: []*storage.Fact{f}}); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("after %d changes, compacted, and a fact", i), m.Latest(), true)
		}
	}
	loaded, _, err := ReadSnapshot(savedBytes(t, m.Latest(), uuid.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loaded.Close)
	check("read from a file", loaded.Latest(), true)
}

// named is the world's entities not retracted, with their name-index terms.
type named []struct {
	n     *storage.Node
	terms []string
}

func (w *world) named() named {
	var out named
	for _, n := range w.nodes {
		if n.Retraction == nil {
			out = append(out, struct {
				n     *storage.Node
				terms []string
			}{n, nameTerms(n)})
		}
	}
	return out
}

// search is a search's first limit hits from the entities' names, by the
// definition (storage.Graph.SearchEntities): the entities not retracted,
// of kinds, scored 3 for an exact folded name (or label, alias), 2 for a
// name that starts with q, 1 for a word of one that does; by score, then
// name length, name, ID. wholes counts the hits of score 2 and 3.
func (ns named) search(q string, kinds []storage.Kind, limit int) (hits []storage.SearchHit, wholes int) {
	type scored struct {
		n     *storage.Node
		score int
	}
	var all []scored
	for _, e := range ns {
		n := e.n
		if len(kinds) > 0 && !slices.Contains(kinds, n.Kind) {
			continue
		}
		score := 0
		for _, term := range e.terms {
			switch {
			case term == "^"+q:
				score = max(score, 3)
			case strings.HasPrefix(term, "^"+q):
				score = max(score, 2)
			case term[0] != '^' && strings.HasPrefix(term, q):
				score = max(score, 1)
			}
		}
		if score > 0 {
			all = append(all, scored{n, score})
			if score >= 2 {
				wholes++
			}
		}
	}
	slices.SortFunc(all, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(len(a.n.Name), len(b.n.Name)),
			strings.Compare(a.n.Name, b.n.Name), bytes.Compare(a.n.ID[:], b.n.ID[:]))
	})
	for _, s := range all[:min(limit, len(all))] {
		hits = append(hits, storage.SearchHit{ID: s.n.ID, Score: s.score})
	}
	return hits, wholes
}
