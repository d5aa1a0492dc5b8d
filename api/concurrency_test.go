package api_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"policygraph/storage"
)

// TestConcurrentWritersOverHTTP has clients add sponsorships of one edition and
// retract each other's, often the same fact at once, through the handler. Every
// retraction succeeds once, and the edition's sponsorships, its reverse adjacency
// and the indexes agree with the acknowledged writes.
func TestConcurrentWritersOverHTTP(t *testing.T) {
	g := seeded(t)
	a := newAPI(t, g, nil)
	count := func() int {
		facts, err := g.Sponsorships(storage.SponsorshipQuery{Event: storage.SlugID("waic-2019")})
		if err != nil {
			t.Fatal(err)
		}
		return len(facts)
	}
	before := count()
	var mu sync.Mutex
	var added []string
	var adds, retracts, already atomic.Int64
	var wg sync.WaitGroup
	for c := range 12 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for range 25 {
				if rng.IntN(3) > 0 {
					r := a.do(addFactMutation, map[string]any{"in": sponsorship()}, true)
					if r.Code() != "" {
						t.Errorf("addFact: %s", r.Raw)
						continue
					}
					var f struct{ ID string }
					r.Decode("addFact", &f)
					mu.Lock()
					added = append(added, f.ID)
					mu.Unlock()
					adds.Add(1)
					continue
				}
				mu.Lock()
				if len(added) == 0 {
					mu.Unlock()
					continue
				}
				id := added[rng.IntN(len(added))]
				mu.Unlock()
				r := a.do(`mutation($id: ID!) { retractFact(input: {id: $id, reason: "race"}) { id } }`, map[string]any{"id": id}, true)
				switch r.Code() {
				case "":
					retracts.Add(1)
				case "ALREADY_RETRACTED":
					already.Add(1)
				default:
					t.Errorf("retractFact: %s", r.Raw)
				}
			}
		})
	}
	wg.Wait()
	if got, want := count(), before+int(adds.Load()-retracts.Load()); got != want {
		t.Errorf("waic-2019 has %d sponsorships; %d + %d added - %d retracted = %d", got, before, adds.Load(), retracts.Load(), want)
	}
	rep, err := g.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("Check: %v %v", err, rep.Problems)
	}
	t.Logf("%d adds, %d retractions, %d refused as already retracted", adds.Load(), retracts.Load(), already.Load())
}
