package storage_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"policygraph/errs"
	"policygraph/storage"
)

// freshSizes counts g's store afresh, as a graph opened on it now would.
func freshSizes(t testing.TB, g *storage.Graph) storage.Sizes {
	t.Helper()
	fresh, err := storage.Open(g.KV())
	if err != nil {
		t.Fatal(err)
	}
	s, err := fresh.Sizes()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameSizes compares two Sizes, ignoring groups counted at zero.
func sameSizes(a, b storage.Sizes) bool {
	norm := func(s storage.Sizes) storage.Sizes {
		for k, n := range s.ByKind {
			if n == 0 {
				delete(s.ByKind, k)
			}
		}
		for k, n := range s.ActiveByPredicate {
			if n == 0 {
				delete(s.ActiveByPredicate, k)
			}
		}
		for k, n := range s.CountryHolders {
			if n == 0 {
				delete(s.CountryHolders, k)
			}
		}
		for p, years := range s.ActiveByYear {
			if len(years) == 0 {
				delete(s.ActiveByYear, p)
			}
		}
		return s
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// writeRandomly makes n random writes of every kind: entities created,
// renamed, retracted; facts added (negated, literal, linking), retracted;
// sources with texts of growing length; saved queries.
func writeRandomly(t *testing.T, x *fixture, rng *rand.Rand, n int, tag string) {
	g := x.g
	var orgs []*storage.Node
	var facts []*storage.Fact
	for i := range n {
		switch op := rng.IntN(8); {
		case op == 0 || len(orgs) == 0:
			orgs = append(orgs, mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Org %s %d", tag, i)}, ""))
		case op == 1:
			facts = append(facts, mustAdd(t, g, x.country(orgs[rng.IntN(len(orgs))], []string{"US", "CN", "VN"}[rng.IntN(3)])))
		case op == 2:
			f := x.sponsored(orgs[rng.IntN(len(orgs))], x.waic2023, storage.TierSponsor)
			f.Negated = rng.IntN(3) == 0
			facts = append(facts, mustAdd(t, g, f))
		case op == 3 && len(facts) > 0:
			f := facts[rng.IntN(len(facts))]
			if _, err := g.RetractFact(f.ID, "tester", "wrong"); err != nil && errs.CodeOf(err) != "ALREADY_RETRACTED" {
				t.Fatal(err)
			}
		case op == 4:
			name := fmt.Sprintf("Renamed %s %d", tag, i)
			if _, err := g.UpdateNode(orgs[rng.IntN(len(orgs))].ID, storage.NodePatch{Name: &name}); err != nil && errs.CodeOf(err) != "RETRACTED" {
				t.Fatal(err)
			}
		case op == 5 && len(orgs) > 1 && rng.IntN(4) == 0:
			k := rng.IntN(len(orgs))
			if _, err := g.RetractNode(orgs[k].ID, "tester", "gone"); err != nil {
				t.Fatal(err)
			}
			orgs = append(orgs[:k], orgs[k+1:]...)
		case op == 6:
			mustCreate(t, g, &storage.Node{Kind: storage.KindSource, Name: fmt.Sprintf("Source %s %d", tag, i)}, strings.Repeat("văn bản ", 1+i))
		default:
			if _, err := g.PutSavedQuery(storage.SavedQuery{Name: fmt.Sprintf("q-%s-%d", strings.ToLower(tag), i%5), Query: "{ stats { facts } }"}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCountsFollowWrites: the counts the graph keeps (Stats, Sizes) equal a
// fresh count of the store after writes of every kind.
func TestCountsFollowWrites(t *testing.T) {
	x := newFixture(t)
	if _, err := x.g.Sizes(); err != nil { // counted now; maintained from here
		t.Fatal(err)
	}
	writeRandomly(t, x, rand.New(rand.NewPCG(1, 2)), 300, "a")
	got, err := x.g.Sizes()
	if err != nil {
		t.Fatal(err)
	}
	if want := freshSizes(t, x.g); !sameSizes(got, want) {
		t.Errorf("kept counts %+v\nfresh count %+v", got, want)
	}
	stats, _ := x.g.Stats()
	scan, _ := x.g.ScanStats()
	if fmt.Sprint(stats) != fmt.Sprint(scan) {
		t.Errorf("Stats %+v, a scan %+v", stats, scan)
	}
	if got.MaxSourceText != len(strings.Repeat("văn bản ", 300)) && got.MaxSourceText < len(sourceText) {
		t.Errorf("MaxSourceText %d", got.MaxSourceText)
	}
}

// TestCountsUnderConcurrentWrites: writers run while the graph counts its
// keys for the first time; afterwards the kept counts equal a fresh count
// (no write is missed or counted twice across the first count).
func TestCountsUnderConcurrentWrites(t *testing.T) {
	x := newFixture(t)
	x.g.SetClock(func() time.Time { return time.Now().UTC() }) // the ticking clock is not safe for concurrent writers
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { writeRandomly(t, x, rand.New(rand.NewPCG(uint64(w), 9)), 120, fmt.Sprint("w", w)) })
	}
	for range 5 {
		time.Sleep(5 * time.Millisecond)
		if _, err := x.g.Sizes(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	got, err := x.g.Sizes()
	if err != nil {
		t.Fatal(err)
	}
	if want := freshSizes(t, x.g); !sameSizes(got, want) {
		t.Errorf("kept counts %+v\nfresh count %+v", got, want)
	}
}

// TestFactScanPricesYearRange: a predicate scan over a range of known years
// reads the year index, so it is priced by the facts of those years (counted
// per predicate and year, and kept under writes), not by the predicate's
// facts; a range that takes in year 0 still reads the whole predicate.
func TestFactScanPricesYearRange(t *testing.T) {
	x := newFixture(t)
	g := x.g
	if _, err := g.Sizes(); err != nil { // counted now; maintained from here
		t.Fatal(err)
	}
	undated := mustCreate(t, g, &storage.Node{Kind: storage.KindEvent, Name: "Some meetup"}, "")
	var in2023 []*storage.Fact
	for i, n := range map[*storage.Node]int{x.waic2019: 30, x.waic2023: 3, undated: 5} {
		for j := range n {
			org := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Sponsor %s %d", i.Name, j)}, "")
			f := mustAdd(t, g, x.sponsored(org, i, storage.TierSponsor))
			if i == x.waic2023 {
				in2023 = append(in2023, f)
			}
		}
	}
	sponsored := []storage.Predicate{storage.PredSponsored}
	scan := func(from, to *int) int {
		return g.FactScan(storage.FactQuery{Predicates: sponsored, YearFrom: from, YearTo: to})
	}
	for _, tt := range []struct {
		name     string
		from, to *int
		want     int
	}{
		{"2023 alone", ptr(2023), ptr(2023), 2 * 3},
		{"2019 on", ptr(2019), nil, 2 * 33},
		{"from year 1", ptr(1), nil, 2 * 33},
		{"2020 to 2022", ptr(2020), ptr(2022), 0},
		{"up to 2023 (takes in year 0)", nil, ptr(2023), 2 * 38},
		{"no range", nil, nil, 2 * 38},
	} {
		if got := scan(tt.from, tt.to); got != tt.want {
			t.Errorf("FactScan(SPONSORED, %s) = %d, want %d", tt.name, got, tt.want)
		}
	}
	if _, err := g.RetractFact(in2023[0].ID, "tester", "wrong"); err != nil {
		t.Fatal(err)
	}
	if got := scan(ptr(2023), ptr(2023)); got != 2*2 {
		t.Errorf("after a retraction FactScan(SPONSORED, 2023 alone) = %d, want %d", got, 2*2)
	}
	if got, want := freshSizes(t, g), mustSizes(t, g); !sameSizes(got, want) {
		t.Errorf("fresh count %+v\nkept counts %+v", got, want)
	}
}

func mustSizes(t *testing.T, g *storage.Graph) storage.Sizes {
	t.Helper()
	s, err := g.Sizes()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
