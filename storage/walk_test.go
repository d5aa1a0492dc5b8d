package storage_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/memgraph"
)

// TestFactPageWalksAsFindFacts: a walk paged from the read model's walk
// index (FactPage) gives, page by page, exactly the facts, totals and
// hasNext of the whole list FindFacts answers, cut at each cursor; on the
// seed, and again after writes the overlay holds (facts added at other
// years and subjects, facts retracted, subjects renamed to sort first and
// last), so that the merge of the base's index with the overlay is checked.
func TestFactPageWalksAsFindFacts(t *testing.T) {
	g := newGraph(t)
	if _, err := seed.Load(g); err != nil {
		t.Fatal(err)
	}
	walk := []storage.Predicate{storage.PredSponsored, storage.PredParticipatedIn, storage.PredSpeakerAt, storage.PredMeasure,
		storage.PredDiscussed, storage.PredHeldIn, storage.PredHeldOn, storage.PredEditionOf, storage.PredOrganizedBy}
	check := func(t *testing.T) {
		t.Helper()
		for _, preds := range [][]storage.Predicate{walk, {storage.PredSponsored}, {storage.PredParticipatedIn, storage.PredSponsored, storage.PredSponsored}} {
			for _, years := range [][2]int{{2019, 2023}, {2023, 2023}, {1, 3000}, {2024, 2019}} {
				from, to := years[0], years[1]
				q := storage.FactQuery{Predicates: preds, YearFrom: &from, YearTo: &to}
				all, err := g.FindFacts(q)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]uuid.UUID, len(all))
				for i, f := range all {
					want[i] = f.ID
				}
				for _, n := range []int{1, 7, 50} {
					name := fmt.Sprintf("%v %d-%d by %d", preds, from, to, n)
					var got []uuid.UUID
					after := uuid.Nil
					for pages := 0; ; pages++ {
						facts, pg, ok, err := g.FactPage(q, after, n)
						if err != nil || !ok {
							t.Fatalf("%s: FactPage ok=%v err=%v", name, ok, err)
						}
						if after != uuid.Nil && !pg.AfterFound {
							t.Fatalf("%s: the cursor %s, a fact of the walk, not found", name, after)
						}
						if pg.Total != len(want) {
							t.Fatalf("%s: total %d, want %d", name, pg.Total, len(want))
						}
						for i, f := range facts {
							if f.ID != pg.IDs[i] {
								t.Fatalf("%s: fact %d is %s, its ID %s", name, i, f.ID, pg.IDs[i])
							}
						}
						got = append(got, pg.IDs...)
						if wantNext := len(got) < len(want); pg.HasNext != wantNext {
							t.Fatalf("%s: page %d hasNext %v, want %v", name, pages, pg.HasNext, wantNext)
						}
						if !pg.HasNext || len(pg.IDs) == 0 {
							break
						}
						after = pg.IDs[len(pg.IDs)-1]
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s: walked\n%v\nwant\n%v", name, got, want)
					}
				}
			}
		}
	}
	compact := func() {
		t.Helper()
		if err := g.ReadModel().(*memgraph.Model).Compact(); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("seed, in the overlay", check)
	compact()
	t.Run("seed, in the base", check)

	sponsored, err := g.FindFacts(storage.FactQuery{Predicates: []storage.Predicate{storage.PredSponsored}})
	if err != nil || len(sponsored) < 6 {
		t.Fatalf("%d sponsorships, %v", len(sponsored), err)
	}
	// Facts added: copies of sponsorships with another sponsor and year.
	for i := range 5 {
		f := *sponsored[i]
		f.ID, f.Subject, f.Year = uuid.Nil, sponsored[len(sponsored)-1-i].Subject, 2019+i
		f.Retraction, f.DisputedBy = nil, nil
		if _, err := g.AddFact(&f); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	// Facts retracted.
	for _, f := range sponsored[5:7] {
		if _, err := g.RetractFact(f.ID, "test", "walk"); err != nil {
			t.Fatalf("retract: %v", err)
		}
	}
	// Subjects renamed to sort first and last.
	for i, name := range []string{"AAA first now", "zzz last now"} {
		subj := sponsored[len(sponsored)/2+i].Subject
		if _, err := g.UpdateNode(subj, storage.NodePatch{Name: &name}); err != nil {
			t.Fatalf("rename: %v", err)
		}
	}
	t.Run("after writes, in the overlay", check)
	compact()
	t.Run("after writes, in the base", check)

	// A retracted fact is no cursor of the walk.
	from := 1
	_, pg, ok, err := g.FactPage(storage.FactQuery{Predicates: []storage.Predicate{storage.PredSponsored}, YearFrom: &from}, sponsored[5].ID, 10)
	if err != nil || !ok || pg.AfterFound || len(pg.IDs) != 0 {
		t.Errorf("after a retracted fact: ok=%v found=%v %d IDs, %v", ok, pg.AfterFound, len(pg.IDs), err)
	}
}
