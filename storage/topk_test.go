package storage_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/memgraph"
)

// TestSearchTopAnswersAsTheFullSearch: SearchEntities on the read model's
// base, which keeps the k best whole-name hits from the name index
// (memgraph's SearchTop) instead of reading and sorting every hit, answers
// exactly what the store's full search answers (a graph without a read
// model, the same seed): for every prefix of every word of every name in
// the seed, several limits, with and without a kind filter; and once the
// overlay holds renames (the general path then answers).
func TestSearchTopAnswersAsTheFullSearch(t *testing.T) {
	model := newGraph(t)
	plain := openTestGraph(t, storage.Options{})
	for _, g := range []*storage.Graph{model, plain} {
		if _, err := seed.Load(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := model.ReadModel().(*memgraph.Model).Compact(); err != nil {
		t.Fatal(err)
	}
	var queries []string
	ns, err := plain.Entities(storage.EntityQuery{})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := plain.Nodes(ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		for _, w := range strings.Fields(storage.Fold(n.Name)) {
			for l := 1; l <= min(len(w), 4); l++ {
				if !slices.Contains(queries, w[:l]) {
					queries = append(queries, w[:l])
				}
			}
		}
	}
	queries = append(queries, "thuong", "Thượng Hải", "qualcomm", "zzz")
	check := func(t *testing.T) {
		for _, q := range queries {
			for _, limit := range []int{1, 3, 10} {
				for _, kinds := range [][]storage.Kind{nil, {storage.KindOrganization}, {storage.KindPlace, storage.KindEvent}} {
					got, err := model.SearchEntities(q, kinds, limit)
					if err != nil {
						t.Fatal(err)
					}
					want, err := plain.SearchEntities(q, kinds, limit)
					if err != nil {
						t.Fatal(err)
					}
					if g, w := hitsString(got), hitsString(want); g != w {
						t.Fatalf("search %q %v limit %d:\n got %s\nwant %s", q, kinds, limit, g, w)
					}
				}
			}
		}
	}
	t.Run("base", check)
	for _, g := range []*storage.Graph{model, plain} {
		n, err := g.NodeBySlug("qualcomm")
		if err != nil {
			t.Fatal(err)
		}
		name := "Sea " + n.Name
		if _, err := g.UpdateNode(n.ID, storage.NodePatch{Name: &name}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("overlay", check)
}

func hitsString(hs []storage.EntityHit) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s:%d ", h.Node.Name, h.Score)
	}
	return b.String()
}
