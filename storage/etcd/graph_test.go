package etcd

import (
	"reflect"
	"sync"
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

// TestServersStartingTogetherSeedOnce: four servers open and seed an empty
// prefix at once. The compare on a key read missing (the format key, the
// head, the store ID) lets one of each race win: they agree on one store ID
// and the seed is written once, at one version.
func TestServersStartingTogetherSeedOnce(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	const servers = 4
	graphs := make([]*storage.Graph, servers)
	var wg sync.WaitGroup
	for i := range graphs {
		kv := openKV(t, c, p, nil)
		wg.Go(func() {
			g, err := storage.OpenWith(kv, storage.Options{Model: memgraph.Load})
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { g.Close() })
			if _, err := seed.Load(g); err != nil {
				t.Error(err)
			}
			graphs[i] = g
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	last, _ := openGraph(t, p)
	want, err := last.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range graphs {
		if g.StoreID() != last.StoreID() {
			t.Errorf("server %d has store %s, another %s", i, g.StoreID(), last.StoreID())
		}
	}
	// The head moved once for the store's creation and once for the seed:
	// a second seed would have written its changes again.
	again, _ := openGraph(t, p)
	if again.Version() != last.Version() {
		t.Errorf("versions %d and %d", again.Version(), last.Version())
	}
	if _, err := seed.Load(again); err != nil {
		t.Fatal(err)
	}
	if got, _ := again.Stats(); !reflect.DeepEqual(got, want) || again.Version() != last.Version() {
		t.Errorf("a seed of a seeded store changed it: %+v at %d, want %+v at %d", got, again.Version(), want, last.Version())
	}
	t.Logf("%d servers seeded the store once: %+v at version %d", servers, want, last.Version())
}
