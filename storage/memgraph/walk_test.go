package memgraph

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"policygraph/storage"
)

// TestFactWalkMatchesAScan holds the walk index, cut at cursors and merged
// with the overlay's changes, to the walk's definition computed from the
// records: a random graph through random changes (new facts and entities,
// retractions, renames that move a subject's facts, year and negation
// changes), read from the overlay and again after compactions; for several
// predicate sets, year ranges and page sizes, the pages walked by cursor
// hold exactly the walk's facts in order, with its total and hasNext, and a
// cursor outside the walk is not found.
func TestFactWalkMatchesAScan(t *testing.T) {
	changes := 1500
	if testing.Short() {
		changes = 500
	}
	w := newWorld(13, 400, 3000)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: -1, Logger: quiet})
	t.Cleanup(m.Close)
	predSets := [][]storage.Predicate{{storage.PredSponsored},
		{storage.PredSponsored, storage.PredParticipatedIn, storage.PredMentions, storage.PredHeldIn, storage.PredMeasure}, nil}
	for _, p := range storage.Predicates {
		predSets[2] = append(predSets[2], p.Predicate)
	}
	check := func(what string, s *Snapshot) {
		t.Helper()
		walked := 0
		for _, preds := range predSets {
			for _, years := range [][2]int{{2016, 2024}, {2018, 2020}, {2020, 2020}, {1, 1 << 20}, {2021, 2019}} {
				from, to := years[0], years[1]
				want := w.walk(preds, from, to)
				for _, n := range []int{1, 7, 50} {
					name := fmt.Sprintf("%s: %d predicates %d-%d by %d", what, len(preds), from, to, n)
					var got []uuid.UUID
					after := uuid.Nil
					for {
						pg, ok, err := s.FactWalk(preds, from, to, after, n)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if !ok {
							break // a predicate without a walk index: the general path answers
						}
						if after != uuid.Nil && !pg.AfterFound {
							t.Fatalf("%s: the cursor %s, a fact of the walk, not found", name, after)
						}
						if pg.Total != len(want) {
							t.Fatalf("%s: total %d, want %d", name, pg.Total, len(want))
						}
						got = append(got, pg.IDs...)
						if wantNext := len(got) < len(want); pg.HasNext != wantNext || len(pg.IDs) > n {
							t.Fatalf("%s: %d facts, hasNext %v after %d of %d", name, len(pg.IDs), pg.HasNext, len(got), len(want))
						}
						if !pg.HasNext {
							if !slices.Equal(got, want) {
								t.Fatalf("%s: walked\n%v\nwant\n%v", name, got, want)
							}
							walked++
							break
						}
						after = pg.IDs[len(pg.IDs)-1]
					}
				}
				// A fact outside the walk is no cursor of it.
				for _, id := range w.factIDs[:50] {
					if slices.Contains(want, id) {
						continue
					}
					pg, ok, err := s.FactWalk(preds, from, to, id, 10)
					if err != nil || ok && (pg.AfterFound || len(pg.IDs) > 0) {
						t.Fatalf("%s: after %s, not in the walk: found %v, %d facts, %v", what, id, pg.AfterFound, len(pg.IDs), err)
					}
				}
			}
		}
		if walked == 0 {
			t.Fatalf("%s: no walk answered from the index", what)
		}
	}
	check("built", m.Latest())
	for i := 1; i <= changes; i++ {
		if err := m.Apply(w.change()); err != nil {
			t.Fatal(err)
		}
		if i%250 == 0 {
			check(fmt.Sprintf("after %d changes", i), m.Latest())
			if err := m.Compact(); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("after %d changes, compacted", i), m.Latest())
		}
	}
}

// walk is the walk of preds over the years [from, to], by definition: the
// facts not retracted nor negated, of one of preds, of a year in range, by
// (year, their subject's folded name, ID).
func (w *world) walk(preds []storage.Predicate, from, to int) []uuid.UUID {
	type keyed struct {
		year int
		name string
		id   uuid.UUID
	}
	var all []keyed
	for _, f := range w.facts {
		if f.Retraction != nil || f.Negated || f.Year <= 0 || f.Year < from || f.Year > to || !slices.Contains(preds, f.Predicate) {
			continue
		}
		all = append(all, keyed{f.Year, storage.Fold(w.nodes[f.Subject].Name), f.ID})
	}
	slices.SortFunc(all, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.year, b.year), strings.Compare(a.name, b.name), bytes.Compare(a.id[:], b.id[:]))
	})
	out := make([]uuid.UUID, len(all))
	for i, k := range all {
		out[i] = k.id
	}
	return out
}
