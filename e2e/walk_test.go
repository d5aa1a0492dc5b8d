package e2e

import (
	"testing"

	"policygraph/internal/testenv"
	"policygraph/storage/memgraph"
)

// TestWalkPricedByItsPage: a page of a walk (facts by predicates and years,
// the default order, forward) is priced by what it reads from the read
// model's walk index, not by every fact of its predicates, so a limit that
// refuses the scan of the whole list lets the page through; the same list
// in another order, which needs the whole list, is still refused.
func TestWalkPricedByItsPage(t *testing.T) {
	g := testenv.SeededModel(t)
	if err := g.ReadModel().(*memgraph.Model).Compact(); err != nil {
		t.Fatal(err)
	}
	srv := testenv.Serve(t, testenv.Handler(t, g, "-max-complexity", "60"))
	const walk = `query($order: SortOrder) { facts(filter: {predicates: [SPONSORED, PARTICIPATED_IN, SPEAKER_AT, MEASURE, DISCUSSED, HELD_IN, HELD_ON, EDITION_OF, ORGANIZED_BY], yearFrom: 2019, yearTo: 2023}, first: 1, order: $order) { totalCount nodes { id } } }`
	r := srv.Post(t, "", walk, nil).OK(t)
	if n, _ := testenv.Value(r.Data, "facts.totalCount").(float64); n < 50 {
		t.Errorf("totalCount %v, want the seed's walk (57 facts)", n)
	}
	srv.Post(t, "", walk, map[string]any{"order": "DESC"}).WantError(t, 200, "COMPLEXITY_LIMIT_EXCEEDED")
}
