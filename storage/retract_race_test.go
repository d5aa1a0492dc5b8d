package storage_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// TestRetractNodeRacingAddFact: facts added about an entity while it is being
// retracted either land before the retraction (and are retracted with it) or are
// refused; a retracted entity never keeps an active fact. Badger only detects
// read-write conflicts, and a retraction's adjacency scan does not see a fact
// inserted into its range, so the two must meet on a key (see guardKey).
func TestRetractNodeRacingAddFact(t *testing.T) {
	x := newFixture(t)
	g := x.g
	g.SetClock(func() time.Time { return time.Now().UTC() }) // the ticking clock is not safe for concurrent writers
	const trials, writers, perWriter = 200, 6, 3
	bad := 0
	for trial := range trials {
		org := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Racer %d", trial)}, "")
		var mu sync.Mutex
		var added []uuid.UUID
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				for i := range perWriter {
					// The entity as subject and as object, with and without an object.
					var f *storage.Fact
					switch (w + i) % 4 {
					case 0:
						f = x.sponsored(org, x.waic2023, storage.TierSponsor)
					case 1:
						f = x.country(org, "US")
					case 2:
						f = &storage.Fact{Subject: x.qualcomm.ID, Predicate: storage.PredSubsidiaryOf, Object: org.ID, Evidence: x.ev(quoteQualcomm)}
					case 3:
						f = &storage.Fact{Subject: x.waic2019.ID, Predicate: storage.PredOrganizedBy, Object: org.ID, Evidence: x.ev(quoteIBM)}
					}
					out, err := g.AddFact(f)
					switch {
					case err == nil:
						mu.Lock()
						added = append(added, out.ID)
						mu.Unlock()
					case errs.CodeOf(err) == errs.InvalidArgument, errs.CodeOf(err) == errs.Conflict:
						// refused: the entity was retracted first, or the write gave up
					default:
						t.Errorf("AddFact: %v", err)
					}
				}
			})
		}
		wg.Go(func() {
			<-start
			if _, err := g.RetractNode(org.ID, "test", "race"); err != nil {
				t.Errorf("RetractNode: %v", err)
			}
		})
		close(start)
		wg.Wait()
		facts, err := g.Facts(added)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, f := range facts {
			if f.Retraction == nil {
				active++
			}
		}
		if active > 0 {
			if bad++; bad <= 3 {
				t.Errorf("trial %d: the entity is retracted but %d of the %d facts added about it are active", trial, active, len(added))
			}
		}
	}
	rep, err := g.Check()
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("Check found %d problems: %v", len(rep.Problems), rep.Problems)
	}
	if bad > 0 {
		t.Errorf("%d of %d trials left a retracted entity with active facts", bad, trials)
	}
}
