package storage_test

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"policygraph/storage"
	"policygraph/storage/memgraph"
)

// diffModel compares the graph's read model, as it stands after the writes
// it applied, with the store's own indexes and with a model built afresh
// from the store's records, at one version.
func diffModel(t *testing.T, g *storage.Graph, when string) {
	t.Helper()
	live := g.ReadModel().Snapshot()
	err := g.ReadStore(func(store storage.Snapshot) error {
		if live.Version() != store.Version() {
			t.Fatalf("%s: the model is at version %d, the store at %d", when, live.Version(), store.Version())
		}
		diffs, err := storage.DiffSnapshots(store, live, 10)
		if err != nil {
			return err
		}
		if len(diffs) > 0 {
			t.Fatalf("%s: the model drifted from the store:\n%s", when, strings.Join(diffs, "\n"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	problems, err := g.CheckModel(memgraph.Load, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("%s: a model built afresh from the store differs, or the log does:\n%s", when, strings.Join(problems, "\n"))
	}
}

// TestModelDoesNotDrift: thousands of random writes of every kind (adds,
// negations, retractions of facts and entities, renames with their
// revisions, sources, saved queries), from concurrent writers, leave the
// model answering exactly as the store and as a model rebuilt from it.
func TestModelDoesNotDrift(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	x := newFixtureOn(t, engines[1].open(t, memKV(t), storage.Options{}))
	diffModel(t, x.g, "after the fixture")
	const writers = 4
	for round := range 3 {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				writeRandomly(t, x, rand.New(rand.NewPCG(uint64(round), uint64(w))), n/writers/3, string(rune('a'+w))+string(rune('0'+round)))
			})
		}
		wg.Wait()
		diffModel(t, x.g, "after round "+string(rune('1'+round)))
		if round == 1 {
			if err := x.g.ReadModel().(*memgraph.Model).Compact(); err != nil {
				t.Fatal(err)
			}
			diffModel(t, x.g, "after a compaction")
		}
	}
}

// TestLogReplaysToTheSameModel: a model that replays the whole change log
// from an empty graph answers as one loaded from the store's records (what
// a server that restarts, or follows another's log, relies on).
func TestLogReplaysToTheSameModel(t *testing.T) {
	x := newFixtureOn(t, engines[1].open(t, memKV(t), storage.Options{}))
	writeRandomly(t, x, rand.New(rand.NewPCG(7, 7)), 400, "r")
	replayed, err := memgraph.Load(0, func(storage.RecordSink) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes(t, x.g, 0) {
		if err := replayed.Apply(*c); err != nil {
			t.Fatalf("replay of version %d: %v", c.Version, err)
		}
	}
	if replayed.Snapshot().Version() != x.g.Version() {
		t.Fatalf("replayed to version %d, the graph is at %d", replayed.Snapshot().Version(), x.g.Version())
	}
	diffs, err := storage.DiffSnapshots(x.g.ReadModel().Snapshot(), replayed.Snapshot(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("the replayed model differs from the loaded one:\n%s", strings.Join(diffs, "\n"))
	}
}

// dropFirstFact is a RecordSink that loses the first fact it is given.
type dropFirstFact struct {
	storage.RecordSink
	dropped bool
}

func (d *dropFirstFact) Fact(f *storage.Fact) error {
	if !d.dropped {
		d.dropped = true
		return nil
	}
	return d.RecordSink.Fact(f)
}

// TestCheckModelFindsADifference: CheckModel (check -model) reports a
// model that lacks a record, and a log with a missing version: the checks
// the drift tests rely on can fail.
func TestCheckModelFindsADifference(t *testing.T) {
	g := seededGraph(t)
	lossy := func(v uint64, records func(storage.RecordSink) error) (storage.ReadModel, error) {
		return memgraph.Load(v, func(sink storage.RecordSink) error { return records(&dropFirstFact{RecordSink: sink}) })
	}
	problems, err := g.CheckModel(lossy, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 || !strings.Contains(problems[0], "is missing") {
		t.Fatalf("a model without a fact: problems %q", problems)
	}
	v := g.Version()
	if err := g.KV().Update(func(tx storage.Txn) error {
		return tx.Delete(binary.BigEndian.AppendUint64([]byte{'L'}, v-1))
	}); err != nil {
		t.Fatal(err)
	}
	problems, err = g.CheckModel(memgraph.Load, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "missing") {
		t.Fatalf("a log with a version deleted: problems %q", problems)
	}
}
