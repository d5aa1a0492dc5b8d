package storage_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// indexFreeKV is a Badger KV that says it keeps no indexes, as the etcd
// engine does: what the graph writes into it must be records only.
type indexFreeKV struct{ storage.KV }

func (indexFreeKV) IndexFree() {}

// openIndexFree opens the graph over the Badger store in dir, index-free.
func openIndexFree(t *testing.T, dir string) *storage.Graph {
	t.Helper()
	kv, err := badger.Open(badger.Options{Dir: dir})
	if err != nil {
		t.Fatalf("badger.Open: %v", err)
	}
	// A CountingKV around it, as the server wraps its store: the capability
	// must show through the wrapper.
	g, err := storage.OpenWith(&storage.CountingKV{KV: indexFreeKV{kv}}, storage.Options{Model: memgraph.Load})
	if err != nil {
		kv.Close()
		t.Fatalf("OpenWith: %v", err)
	}
	g.SetClock(tickingClock())
	return g
}

// recordKinds are the kinds of key an index-free store may hold.
var recordKinds = []string{"meta", "node", "text", "fact", "saved", "revision", "log"}

// assertRecordsOnly fails the test if the store holds a key of any other kind.
func assertRecordsOnly(t *testing.T, g *storage.Graph) {
	t.Helper()
	seen := map[string]int{}
	err := g.KV().View(func(tx storage.Txn) error {
		return tx.Scan(nil, true, func(k, _ []byte) error {
			key, err := storage.ParseKey(k)
			if err != nil {
				t.Errorf("key %x does not parse: %v", k, err)
				return nil
			}
			seen[key.Kind.String()]++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for kind, n := range seen {
		if !slices.Contains(recordKinds, kind) {
			t.Errorf("an index-free store holds %d %q keys", n, kind)
		}
	}
	if seen["node"] == 0 || seen["fact"] == 0 || seen["log"] == 0 {
		t.Errorf("records missing: %v", seen)
	}
}

func assertChecksClean(t *testing.T, g *storage.Graph) {
	t.Helper()
	rep, err := g.Check()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !rep.OK() {
		t.Errorf("Check found problems: %v", rep.Problems)
	}
	problems, err := g.CheckModel(memgraph.Load, 20)
	if err != nil {
		t.Fatalf("CheckModel: %v", err)
	}
	if len(problems) > 0 {
		t.Errorf("CheckModel found problems: %v", problems)
	}
}

// TestIndexFreeStore runs the graph over a KV that keeps no indexes: the
// seed, writes of every kind and retractions store records, the log and
// meta keys only; reads (from the read model) answer as on an indexed
// store; check is clean; and a restart builds the same graph from the
// records.
func TestIndexFreeStore(t *testing.T) {
	dir := t.TempDir()
	g := openIndexFree(t, dir)
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
	mustAdd(t, g, x.country(x.qualcomm, "US"))
	if _, err := g.RetractNode(x.waic2023.ID, "test", "gone"); err != nil {
		t.Fatalf("RetractNode: %v", err)
	}
	if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "orgs", Query: "{ __typename }"}); err != nil {
		t.Fatalf("PutSavedQuery: %v", err)
	}
	// Reads that an indexed store answers from its indexes.
	if n, err := g.NodeBySlug(x.qualcomm.Slug); err != nil || n.Name != name {
		t.Errorf("NodeBySlug = %v, %v", n, err)
	}
	if hits, err := g.Search("qualcomm tech", 5); err != nil || len(hits) == 0 {
		t.Errorf("Search = %v, %v", hits, err)
	}
	assertRecordsOnly(t, g)
	assertChecksClean(t, g)
	before, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	version := g.Version()
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	g = openIndexFree(t, dir)
	t.Cleanup(func() { g.Close() })
	after, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if g.Version() != version || !equalStats(before, after) {
		t.Errorf("after a restart: version %d stats %+v, want %d %+v", g.Version(), after, version, before)
	}
	if n, err := g.NodeBySlug(x.qualcomm.Slug); err != nil || n.Name != name {
		t.Errorf("after a restart, NodeBySlug = %v, %v", n, err)
	}
	mustAdd(t, g, x.country(x.qualcomm, "VN")) // a write after the restart
	assertRecordsOnly(t, g)
	assertChecksClean(t, g)
}

func equalStats(a, b storage.Stats) bool {
	return a.Nodes == b.Nodes && a.Facts == b.Facts && a.ActiveFacts == b.ActiveFacts && len(a.ByKind) == len(b.ByKind)
}

// TestIndexFreeNeedsModel: a graph over an index-free KV without a read
// model could answer nothing; OpenWith says so.
func TestIndexFreeNeedsModel(t *testing.T) {
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	_, err = storage.OpenWith(indexFreeKV{kv}, storage.Options{})
	if err == nil || !strings.Contains(err.Error(), "read model") {
		t.Fatalf("OpenWith without a model = %v, want an error naming the read model", err)
	}
}

// TestIndexFreeImport imports an export into an index-free store: records
// only, and the graph answers as the one exported.
func TestIndexFreeImport(t *testing.T) {
	src := newGraph(t)
	if _, err := seed.Load(src); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := src.ExportJSONL(&b); err != nil {
		t.Fatal(err)
	}
	g := openIndexFree(t, t.TempDir())
	t.Cleanup(func() { g.Close() })
	if _, err := g.Import(strings.NewReader(b.String())); err != nil {
		t.Fatalf("Import: %v", err)
	}
	assertRecordsOnly(t, g)
	assertChecksClean(t, g)
	want, _ := src.Stats()
	got, _ := g.Stats()
	if !equalStats(want, got) {
		t.Errorf("imported stats %+v, want %+v", got, want)
	}
}

// TestIndexFreeCheckFindsDamage: check on an index-free store still finds
// what it can check there: a stray index key, a gap in the change log.
func TestIndexFreeCheckFindsDamage(t *testing.T) {
	g := openIndexFree(t, t.TempDir())
	t.Cleanup(func() { g.Close() })
	x := newFixtureOn(t, g)
	mustAdd(t, g, x.country(x.qualcomm, "US"))
	gap := g.Version() - 2
	err := g.KV().Update(func(tx storage.Txn) error {
		if err := tx.Delete(binary.BigEndian.AppendUint64([]byte{'L'}, gap)); err != nil {
			return err
		}
		return tx.Set(append([]byte{'s'}, "stray"...), x.qualcomm.ID[:])
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := g.Check()
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rep.Problems)
	for _, want := range []string{"slug entry in a store that keeps no indexes", fmt.Sprintf("versions %d to %d are missing", gap, gap)} {
		if !strings.Contains(got, want) {
			t.Errorf("Check problems %s\nwant one saying %q", got, want)
		}
	}
}
