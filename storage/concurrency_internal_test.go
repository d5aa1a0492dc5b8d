package storage

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/errs"

	"github.com/google/uuid"
)

const concurrencyText = "Qualcomm sponsored the event. Many firms did."

// sponsorshipWorld is a graph with editions, sponsors, and per edition a MEASURE
// fact "sponsors" that every write keeps equal to its active SPONSORED facts.
type sponsorshipWorld struct {
	g        *Graph
	source   uuid.UUID
	editions []uuid.UUID
	orgs     []uuid.UUID
	measure  map[uuid.UUID]uuid.UUID // edition -> its MEASURE fact
}

func newSponsorshipWorld(t testing.TB, editions, orgs int) *sponsorshipWorld {
	t.Helper()
	g := newTestGraph(t)
	w := &sponsorshipWorld{g: g, measure: map[uuid.UUID]uuid.UUID{}}
	src, err := g.CreateNode(&Node{Kind: KindSource, Name: "Source"}, concurrencyText)
	if err != nil {
		t.Fatal(err)
	}
	w.source = src.ID
	for i := range editions {
		n, err := g.CreateNode(&Node{Kind: KindEvent, Name: fmt.Sprintf("Edition %d", i), Year: 2000 + i}, "")
		if err != nil {
			t.Fatal(err)
		}
		w.editions = append(w.editions, n.ID)
		m, err := g.AddFact(&Fact{Subject: n.ID, Predicate: PredMeasure, Measure: "sponsors", Quantity: &Quantity{Amount: 0, Bound: BoundExact}, Evidence: w.ev()})
		if err != nil {
			t.Fatal(err)
		}
		w.measure[n.ID] = m.ID
	}
	for i := range orgs {
		n, err := g.CreateNode(&Node{Kind: KindOrganization, Name: fmt.Sprintf("Org %d", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		w.orgs = append(w.orgs, n.ID)
	}
	return w
}

func (w *sponsorshipWorld) ev() []Evidence {
	return []Evidence{{Source: w.source, Quote: "Qualcomm sponsored the event."}}
}

// sponsor adds an org's sponsorship of an edition and bumps the edition's count,
// in one transaction; fact IDs are fixed per (org, edition), so two clients adding
// the same sponsorship race for one record.
func (w *sponsorshipWorld) sponsor(org, edition uuid.UUID) error {
	id := uuid.NewSHA1(Namespace, append(org[:], edition[:]...))
	return w.g.update(func(wr writer) error {
		old, err := wr.Fact(id)
		switch {
		case err == nil && old.Active():
			return errs.Errorf(errs.AlreadyExists, "id", "already sponsoring")
		case err == nil: // withdrawn before: sponsor again, in place of the old record
		case errs.CodeOf(err) != errs.NotFound:
			return err
		}
		f := &Fact{ID: id, Subject: org, Predicate: PredSponsored, Object: edition, Tier: TierSponsor, Evidence: w.ev(), CreatedAt: w.g.now()}
		if err := validateFact(wr, f); err != nil {
			return err
		}
		if err := wr.setFact(old, f); err != nil {
			return err
		}
		return w.bump(wr, edition, +1)
	})
}

// withdraw retracts an org's sponsorship and lowers the count, in one transaction.
func (w *sponsorshipWorld) withdraw(org, edition uuid.UUID) error {
	id := uuid.NewSHA1(Namespace, append(org[:], edition[:]...))
	return w.g.update(func(wr writer) error {
		f, err := wr.Fact(id)
		if err != nil {
			return err
		}
		if f.Retraction != nil {
			return errs.Errorf(errs.AlreadyRetracted, "id", "already withdrawn")
		}
		if _, err := retractFactTx(wr, f, &Retraction{By: "test", At: w.g.now(), Reason: "withdrawn"}); err != nil {
			return err
		}
		return w.bump(wr, edition, -1)
	})
}

func (w *sponsorshipWorld) bump(wr writer, edition uuid.UUID, by float64) error {
	m, err := wr.Fact(w.measure[edition])
	if err != nil {
		return err
	}
	bumped := cloneFact(m)
	bumped.Quantity.Amount += by
	return wr.setFact(m, bumped)
}

// invariant checks, in one snapshot, that every edition's sponsor count equals
// its active SPONSORED facts, its active reverse adjacency entries, and its
// predicate and year index entries.
func (w *sponsorshipWorld) invariant() error {
	return w.g.kv.View(func(tx Txn) error {
		s := &kvSnapshot{tx: tx}
		byRecord := map[uuid.UUID]int{}
		inPred, inYear := map[uuid.UUID]int{}, map[uuid.UUID]int{}
		var facts []*Fact
		if err := tx.Scan(kindPrefix(prefixFact), true, func(k, _ []byte) error {
			f, err := s.Fact(keyID(k))
			if err != nil {
				return err
			}
			facts = append(facts, f)
			return nil
		}); err != nil {
			return err
		}
		byID := map[uuid.UUID]*Fact{}
		for _, f := range facts {
			byID[f.ID] = f
			if f.Predicate == PredSponsored && f.Active() {
				byRecord[f.Object]++
			}
		}
		if err := tx.Scan(predPrefix(PredSponsored), true, func(k, _ []byte) error {
			f := byID[keyID(k)]
			if f == nil {
				return fmt.Errorf("predicate index entry for a missing fact %s", keyID(k))
			}
			inPred[f.Object]++
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Scan(yearPrefix(PredSponsored), true, func(k, _ []byte) error {
			if f := byID[keyID(k)]; f != nil {
				inYear[f.Object]++
			}
			return nil
		}); err != nil {
			return err
		}
		for _, e := range w.editions {
			adj, err := otherEndsTx(s, e, In, PredSponsored)
			if err != nil {
				return err
			}
			m := byID[w.measure[e]]
			n := int(m.Quantity.Amount)
			if byRecord[e] != n || len(adj) != n || inPred[e] != n || inYear[e] != n {
				return fmt.Errorf("edition %s: count %d, active facts %d, reverse adjacency %d, predicate index %d, year index %d",
					e, n, byRecord[e], len(adj), inPred[e], inYear[e])
			}
		}
		return nil
	})
}

// TestConcurrentSponsorsKeepTheCount has many goroutines add and withdraw the
// same sponsorships at once, each write also moving the edition's count. No
// update is lost (conflicts are retried), no sponsorship counts twice, and the
// count matches the records and indexes in every snapshot, during and after.
func TestConcurrentSponsorsKeepTheCount(t *testing.T) {
	w := newSponsorshipWorld(t, 3, 6)
	const workers, ops = 16, 150
	var added, withdrawn, refused, conflicts atomic.Int64
	stop := make(chan struct{})
	var checks atomic.Int64
	var checkErr atomic.Value
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := w.invariant(); err != nil {
					checkErr.Store(err)
					return
				}
				checks.Add(1)
			}
		})
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for range ops {
				org, ed := w.orgs[rng.IntN(len(w.orgs))], w.editions[rng.IntN(len(w.editions))]
				var err error
				if rng.IntN(2) == 0 {
					if err = w.sponsor(org, ed); err == nil {
						added.Add(1)
					}
				} else if err = w.withdraw(org, ed); err == nil {
					withdrawn.Add(1)
				}
				switch errs.CodeOf(err) {
				case "":
					if err != nil {
						t.Errorf("write: %v", err)
					}
				case errs.AlreadyExists, errs.AlreadyRetracted, errs.NotFound:
					refused.Add(1)
				case errs.Conflict:
					conflicts.Add(1)
				default:
					t.Errorf("write: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if err, _ := checkErr.Load().(error); err != nil {
		t.Fatalf("invariant broken during the writes: %v", err)
	}
	if err := w.invariant(); err != nil {
		t.Fatalf("invariant broken after the writes: %v", err)
	}
	total := 0
	for _, e := range w.editions {
		m, err := w.g.Fact(w.measure[e])
		if err != nil {
			t.Fatal(err)
		}
		total += int(m.Quantity.Amount)
	}
	if want := int(added.Load() - withdrawn.Load()); total != want {
		t.Errorf("counts sum to %d; %d adds minus %d withdrawals is %d: an update was lost", total, added.Load(), withdrawn.Load(), want)
	}
	rep, err := w.g.Check()
	if err != nil || !rep.OK() {
		t.Errorf("Check: %v %v", err, rep.Problems)
	}
	t.Logf("%d adds, %d withdrawals, %d refused as duplicates, %d gave up on conflicts; invariant held in %d snapshots",
		added.Load(), withdrawn.Load(), refused.Load(), conflicts.Load(), checks.Load())
	if added.Load() == 0 || withdrawn.Load() == 0 {
		t.Error("the workers wrote nothing")
	}
}

// TestConcurrentRetractOnce: many clients retract the same fact at once; one wins,
// the others learn it was already retracted, and the indexes lose it exactly once.
func TestConcurrentRetractOnce(t *testing.T) {
	w := newSponsorshipWorld(t, 1, 1)
	if err := w.sponsor(w.orgs[0], w.editions[0]); err != nil {
		t.Fatal(err)
	}
	var wins, already atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			err := w.withdraw(w.orgs[0], w.editions[0])
			switch errs.CodeOf(err) {
			case "":
				if err == nil {
					wins.Add(1)
				}
			case errs.AlreadyRetracted:
				already.Add(1)
			}
			if err != nil && errs.CodeOf(err) != errs.AlreadyRetracted {
				t.Errorf("withdraw: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || already.Load() != 31 {
		t.Errorf("%d retractions won and %d were refused; want 1 and 31", wins.Load(), already.Load())
	}
	if err := w.invariant(); err != nil {
		t.Fatal(err)
	}
	// The public API behaves the same.
	f, err := w.g.AddFact(&Fact{Subject: w.orgs[0], Predicate: PredParticipatedIn, Object: w.editions[0], Evidence: w.ev()})
	if err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	for range 16 {
		wg.Go(func() {
			_, err := w.g.RetractFact(f.ID, "test", "dup")
			if err == nil {
				ok.Add(1)
			} else if errs.CodeOf(err) != errs.AlreadyRetracted {
				t.Errorf("RetractFact: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("RetractFact succeeded %d times", ok.Load())
	}
	if rep, err := w.g.Check(); err != nil || !rep.OK() {
		t.Errorf("Check: %v %v", err, rep.Problems)
	}
}
