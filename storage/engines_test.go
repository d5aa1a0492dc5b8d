package storage_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"policygraph/internal/etcdtest"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/etcd"
	"policygraph/storage/memgraph"
)

// etcdCluster is the package's etcd cluster, started by the first test that
// runs on the etcd engine (see kvEngines).
var etcdCluster etcdtest.Shared

func TestMain(m *testing.M) { os.Exit(etcdCluster.Main(m)) }

// kvEngines are the store's engines, for the tests that run on each: a
// fresh in-memory Badger store, and a fresh prefix of the package's etcd
// cluster (an etcd test skips without etcd, see etcdtest.Require). A graph
// over either runs with the read model, as a server runs it (the etcd
// engine keeps no indexes, so it needs one).
var kvEngines = []struct {
	name string
	kv   func(t testing.TB) storage.KV
}{
	{"badger", memKV},
	{"etcd", etcdKV},
}

// etcdKV opens the etcd engine on a prefix of the test's own; the graph over
// it closes it.
func etcdKV(t testing.TB) storage.KV {
	t.Helper()
	c := etcdCluster.Cluster(t)
	kv, err := etcd.Open(t.Context(), etcd.Config{Endpoints: c.Endpoints(), Prefix: c.Prefix(t)})
	if err != nil {
		t.Fatalf("etcd.Open: %v", err)
	}
	return kv
}

// onEngines runs body once per engine (kvEngines), as a subtest named after
// it, with a function that opens a new graph with the read model over a
// fresh store of that engine, closed when the test ends.
func onEngines(t *testing.T, body func(t *testing.T, open func(testing.TB) *storage.Graph)) {
	for _, e := range kvEngines {
		t.Run(e.name, func(t *testing.T) {
			body(t, func(t testing.TB) *storage.Graph {
				t.Helper()
				return openWith(t, e.kv(t), storage.Options{Model: memgraph.Load})
			})
		})
	}
}

// TestEnginesSeedCheckExportImport: on each engine, the seeded graph with
// writes, retractions and a saved query on top checks clean (records, the
// change log, the model against one built from the records); its export
// imports into a new store of the same engine, which exports the same
// lines and checks clean too.
func TestEnginesSeedCheckExportImport(t *testing.T) {
	var stats []storage.Stats // each engine's, to compare (the fixture's IDs are random: the exports differ)
	onEngines(t, func(t *testing.T, open func(testing.TB) *storage.Graph) {
		g := open(t)
		if _, err := seed.Load(g); err != nil {
			t.Fatalf("seed: %v", err)
		}
		x := newFixtureOn(t, g)
		f := mustAdd(t, g, x.sponsored(x.qualcomm, x.waic2023, storage.TierSponsor))
		if _, err := g.RetractFact(f.ID, "test", "wrong"); err != nil {
			t.Fatalf("RetractFact: %v", err)
		}
		name := "Qualcomm Technologies"
		if _, err := g.UpdateNode(x.qualcomm.ID, storage.NodePatch{Name: &name, By: "test"}); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
		if _, err := g.RetractNode(x.waic2023.ID, "test", "gone"); err != nil {
			t.Fatalf("RetractNode: %v", err)
		}
		if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "orgs", Query: "{ __typename }"}); err != nil {
			t.Fatalf("PutSavedQuery: %v", err)
		}
		assertChecksClean(t, g)

		var b strings.Builder
		if err := g.ExportJSONL(&b); err != nil {
			t.Fatalf("ExportJSONL: %v", err)
		}
		imported := open(t)
		if _, err := imported.Import(strings.NewReader(b.String())); err != nil {
			t.Fatalf("Import: %v", err)
		}
		assertChecksClean(t, imported)
		var again strings.Builder
		if err := imported.ExportJSONL(&again); err != nil {
			t.Fatalf("ExportJSONL of the import: %v", err)
		}
		if again.String() != b.String() {
			t.Errorf("the imported store exports %d bytes, the source %d: not the same graph", again.Len(), b.Len())
		}
		st, err := g.Stats()
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, st)
	})
	if len(stats) == 2 && fmt.Sprint(stats[0]) != fmt.Sprint(stats[1]) {
		t.Errorf("the engines hold different graphs after the same writes:\n%+v\n%+v", stats[0], stats[1])
	}
}
