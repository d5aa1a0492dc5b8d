package etcd

import (
	"reflect"
	"testing"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/memgraph"
)

// openGraph opens a graph with a read model over a KV of its own on prefix.
func openGraph(t *testing.T, prefix string) (*storage.Graph, *KV) {
	t.Helper()
	c := cluster.Cluster(t)
	kv := openKV(t, c, prefix, nil)
	g, err := storage.OpenWith(kv, storage.Options{Model: memgraph.Load})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g, kv
}

// TestGraphOverEtcd: the graph with a read model over the etcd KV seeds
// the article (a write set far past one etcd request while the graph writes
// its index keys too: a staged commit), and a second server's graph on the
// same prefix loads the same graph; a later write is seen by a third.
func TestGraphOverEtcd(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	g, kv := openGraph(t, p)
	rep, err := seed.Load(g)
	if err != nil {
		t.Fatal(err)
	}
	want, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %+v: %+v; KV stats %+v", rep, want, kv.Stats())
	if want.Nodes == 0 || want.Facts == 0 {
		t.Fatalf("the seed wrote nothing: %+v", want)
	}
	g2, _ := openGraph(t, p)
	if got, err := g2.Stats(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("a second graph on the prefix: %+v (%v), want %+v", got, err, want)
	}
	// Seeding again from the second server changes nothing.
	if _, err := seed.Load(g2); err != nil {
		t.Fatal(err)
	}
	n, err := g2.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Tổ chức thử nghiệm"}, "")
	if err != nil {
		t.Fatal(err)
	}
	g3, _ := openGraph(t, p)
	got, err := g3.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got.Nodes != want.Nodes+1 || got.Facts != want.Facts {
		t.Errorf("a third graph after a seed again and one node more: %+v, want %d nodes, %d facts", got, want.Nodes+1, want.Facts)
	}
	if back, err := g3.Node(n.ID); err != nil || back.Name != n.Name {
		t.Errorf("the new node read by a third graph: %+v, %v", back, err)
	}
}
