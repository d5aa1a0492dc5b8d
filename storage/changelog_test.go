package storage_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// engines are the two ways a graph runs: reads and writes on the store's
// transactions, and with the read model (the server's way).
var engines = []struct {
	name string
	open func(t testing.TB, kv storage.KV, o storage.Options) *storage.Graph
}{
	{"store", func(t testing.TB, kv storage.KV, o storage.Options) *storage.Graph {
		return openWith(t, kv, o)
	}},
	{"model", func(t testing.TB, kv storage.KV, o storage.Options) *storage.Graph {
		o.Model = memgraph.Load
		return openWith(t, kv, o)
	}},
}

func openWith(t testing.TB, kv storage.KV, o storage.Options) *storage.Graph {
	t.Helper()
	g, err := storage.OpenWith(kv, o)
	if err != nil {
		kv.Close()
		t.Fatalf("OpenWith: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	g.SetClock(tickingClock())
	return g
}

func memKV(t testing.TB) storage.KV {
	t.Helper()
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatalf("badger.Open: %v", err)
	}
	return kv
}

// changes reads the log's entries after version after.
func changes(t *testing.T, g *storage.Graph, after uint64) []*storage.Change {
	t.Helper()
	var out []*storage.Change
	if err := g.Changes(context.Background(), after, false, func(c *storage.Change) error {
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatalf("Changes(%d): %v", after, err)
	}
	return out
}

// TestChangeLogIsDense: every write that changes the graph takes the next
// version, one log entry each, holding the records it put; a write that
// changes nothing takes none.
func TestChangeLogIsDense(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := e.open(t, memKV(t), storage.Options{})
			v0 := g.Version()
			src, err := g.CreateNode(&storage.Node{Kind: storage.KindSource, Name: "A source"}, "Qualcomm sponsored WAIC.")
			if err != nil {
				t.Fatal(err)
			}
			org, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, "")
			if err != nil {
				t.Fatal(err)
			}
			if out, err := g.PutNode(org, ""); err != nil || out != storage.PutUnchanged {
				t.Fatalf("PutNode of the same record = %v, %v", out, err)
			}
			f, err := g.AddFact(&storage.Fact{Subject: org.ID, Predicate: storage.PredCountry, Value: "US",
				Evidence: []storage.Evidence{{Source: src.ID, Quote: "Qualcomm"}}})
			if err != nil {
				t.Fatal(err)
			}
			name := "Qualcomm Inc."
			if _, err := g.UpdateNode(org.ID, storage.NodePatch{Name: &name}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.RetractFact(f.ID, "curator", "test"); err != nil {
				t.Fatal(err)
			}
			if _, err := g.AddFact(&storage.Fact{Subject: org.ID, Predicate: storage.PredCountry, Value: "XX"}); errs.CodeOf(err) == "" {
				t.Fatalf("a bad fact was taken: %v", err)
			}
			if got, want := g.Version(), v0+5; got != want {
				t.Fatalf("Version = %d after 5 writes from %d, want %d", got, v0, want)
			}
			cs := changes(t, g, v0)
			if len(cs) != 5 {
				t.Fatalf("%d log entries, want 5", len(cs))
			}
			for i, c := range cs {
				if c.Version != v0+uint64(i)+1 || c.At.IsZero() || c.Reset {
					t.Errorf("entry %d: version %d at %v reset %v", i, c.Version, c.At, c.Reset)
				}
			}
			if len(cs[0].Nodes) != 1 || cs[0].Nodes[0].ID != src.ID || len(cs[0].Texts) != 1 || cs[0].Texts[0].Text != "Qualcomm sponsored WAIC." {
				t.Errorf("the source's entry: %+v", cs[0])
			}
			if len(cs[2].Facts) != 1 || cs[2].Facts[0].ID != f.ID {
				t.Errorf("the fact's entry: %+v", cs[2])
			}
			if len(cs[3].Nodes) != 1 || cs[3].Nodes[0].Name != name || len(cs[3].Revisions) != 1 {
				t.Errorf("the update's entry: %+v", cs[3])
			}
			if len(cs[4].Facts) != 1 || cs[4].Facts[0].Retraction == nil {
				t.Errorf("the retraction's entry: %+v", cs[4])
			}
			if rest := changes(t, g, v0+3); len(rest) != 2 || rest[0].Version != v0+4 {
				t.Errorf("Changes from the middle: %d entries", len(rest))
			}
		})
	}
}

// TestConcurrentWritersGetDistinctVersions: writers racing each other are
// each acknowledged with a version of their own, every version from the
// first to the head is in the log once, and a read right after a write's
// acknowledgement sees it (read-your-writes).
func TestConcurrentWritersGetDistinctVersions(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := e.open(t, memKV(t), storage.Options{})
			v0 := g.Version()
			const writers, each = 8, 25
			var wg sync.WaitGroup
			errc := make(chan error, writers*each)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						n, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Org " + string(rune('A'+w)) + uuid.NewString()[:8]}, "")
						if err != nil {
							errc <- err
							return
						}
						if _, err := g.Node(n.ID); err != nil {
							errc <- err // the write was acknowledged, so a read sees it
							return
						}
						_ = i
					}
				})
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			if got := g.Version(); got != v0+writers*each {
				t.Fatalf("Version = %d, want %d", got, v0+writers*each)
			}
			seen := map[uuid.UUID]bool{}
			for i, c := range changes(t, g, v0) {
				if c.Version != v0+uint64(i)+1 || len(c.Nodes) != 1 || seen[c.Nodes[0].ID] {
					t.Fatalf("entry %d: version %d, %d nodes", i, c.Version, len(c.Nodes))
				}
				seen[c.Nodes[0].ID] = true
			}
			if len(seen) != writers*each {
				t.Fatalf("%d entries, want %d", len(seen), writers*each)
			}
		})
	}
}

// TestChangesFollow: a follower gets the entries after its version, then
// each new one as it commits, and stops when its context ends.
func TestChangesFollow(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := e.open(t, memKV(t), storage.Options{})
			if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Before"}, ""); err != nil {
				t.Fatal(err)
			}
			from := g.Version() - 1
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan *storage.Change, 10)
			done := make(chan error, 1)
			go func() {
				done <- g.Changes(ctx, from, true, func(c *storage.Change) error { got <- c; return nil })
			}()
			if c := <-got; c.Nodes[0].Name != "Before" {
				t.Fatalf("first entry: %+v", c.Nodes[0])
			}
			if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "After"}, ""); err != nil {
				t.Fatal(err)
			}
			if c := <-got; c.Nodes[0].Name != "After" || c.Version != from+2 {
				t.Fatalf("followed entry: version %d %+v", c.Version, c.Nodes[0])
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Changes after cancel = %v", err)
			}
		})
	}
}

// TestChangeLogRetention: entries past the retention go, and asking for
// changes from before what is kept is VERSION_GONE; from the future,
// INVALID_ARGUMENT.
func TestChangeLogRetention(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := e.open(t, memKV(t), storage.Options{Retention: storage.Retention{Versions: 3}})
			v0 := g.Version()
			for i := range 10 {
				if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Org " + string(rune('a'+i))}, ""); err != nil {
					t.Fatal(err)
				}
			}
			err := g.Changes(context.Background(), v0, false, func(*storage.Change) error { return nil })
			if errs.CodeOf(err) != errs.VersionGone {
				t.Fatalf("Changes from before the retention = %v, want VERSION_GONE", err)
			}
			if cs := changes(t, g, g.Version()-3); len(cs) != 3 {
				t.Fatalf("%d entries kept of the last 3", len(cs))
			}
			err = g.Changes(context.Background(), g.Version()+1, false, func(*storage.Change) error { return nil })
			if errs.CodeOf(err) != errs.InvalidArgument {
				t.Fatalf("Changes from the future = %v, want INVALID_ARGUMENT", err)
			}
			if st := g.LogStats(); st.First == 0 || st.Head-st.First+1 > 4 {
				t.Fatalf("LogStats = %+v: the log keeps more than the retention", st)
			}
		})
	}
}

// TestFormat2StoreUpgrades: a store written before the change log (format
// 2: no head, no entries) opens as format 3 with its head above every
// version it has shown, its graph unchanged, and takes writes on from there.
func TestFormat2StoreUpgrades(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			dir := t.TempDir()
			kv, err := badger.Open(badger.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			g, err := storage.Open(kv)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := seed.Load(g); err != nil {
				t.Fatal(err)
			}
			before := dump(t, g, "Mformat")
			// Make it what format 2 wrote: no log, no head.
			if err := kv.Update(func(tx storage.Txn) error {
				var keys [][]byte
				if err := tx.Scan([]byte{'L'}, true, func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil }); err != nil {
					return err
				}
				for _, k := range append(keys, []byte("Mhead")) {
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
				return tx.Set([]byte("Mformat"), binary.BigEndian.AppendUint32(nil, 2))
			}); err != nil {
				t.Fatal(err)
			}
			shown := kv.Version()
			g.Close()
			kv, err = badger.Open(badger.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			g = e.open(t, kv, storage.Options{})
			if g.Version() < shown {
				t.Fatalf("upgraded store at version %d, below the %d it showed", g.Version(), shown)
			}
			if after := dump(t, g, "Mformat"); after != before {
				t.Fatal("the upgrade changed the graph")
			}
			if err := kv.View(func(tx storage.Txn) error {
				v, err := tx.Get([]byte("Mformat"))
				if err == nil && binary.BigEndian.Uint32(v) != storage.FormatVersion {
					t.Errorf("format %x after the upgrade", v)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			v := g.Version()
			if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "New"}, ""); err != nil {
				t.Fatal(err)
			}
			if cs := changes(t, g, v); len(cs) != 1 || cs[0].Version != v+1 {
				t.Fatalf("the first write after the upgrade: %d entries", len(cs))
			}
		})
	}
}

// TestImportEndsWithAReset: an import is one reset entry above every
// version shown, and a model built before it answers with the imported
// graph after it.
func TestImportEndsWithAReset(t *testing.T) {
	src := seededGraph(t)
	var exp bytes.Buffer
	if err := src.ExportJSONL(&exp); err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := e.open(t, memKV(t), storage.Options{})
			v := g.Version()
			if _, err := g.Import(bytes.NewReader(exp.Bytes())); err != nil {
				t.Fatal(err)
			}
			cs := changes(t, g, v)
			if len(cs) != 1 || !cs[0].Reset || cs[0].Version != g.Version() {
				t.Fatalf("after an import: %+v", cs)
			}
			a, _ := src.Stats()
			b, err := g.Stats()
			if err != nil || a.Nodes != b.Nodes || a.Facts != b.Facts {
				t.Fatalf("imported graph's stats %+v, want %+v (%v)", b, a, err)
			}
		})
	}
}

// TestCloseFailsWaitingWrites: a graph closed while writes wait answers
// them with an error rather than leaving them hanging.
func TestCloseFailsWaitingWrites(t *testing.T) {
	g := engines[1].open(t, memKV(t), storage.Options{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, _ = g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: uuid.NewString()}, "")
		})
	}
	time.Sleep(time.Millisecond)
	g.Close()
	wg.Wait() // returns: every write was answered
}

// TestPinnedReadsSeeOneVersion: the reads of a pinned context see the
// version pinned at its first read, whatever commits meanwhile, and its
// own writes (a mutation's answer reads what it wrote).
func TestPinnedReadsSeeOneVersion(t *testing.T) {
	g := engines[1].open(t, memKV(t), storage.Options{})
	a, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Before"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(storage.Pin(context.Background()))
	defer cancel()
	req := g.WithContext(ctx)
	v := g.PinnedVersion(ctx)
	before, err := req.Stats()
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Meanwhile"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Node(b.ID); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a pinned read saw a later write: %v", err)
	}
	if st, _ := req.Stats(); st.Nodes != before.Nodes || g.PinnedVersion(ctx) != v {
		t.Fatalf("pinned stats moved: %d entities, version %d; pinned %d, %d", st.Nodes, g.PinnedVersion(ctx), before.Nodes, v)
	}
	if _, err := g.Node(b.ID); err != nil {
		t.Fatalf("an unpinned read does not see the write: %v", err)
	}
	c, err := req.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Own"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{a.ID, b.ID, c.ID} {
		if _, err := req.Node(id); err != nil {
			t.Fatalf("after its own write, the pinned context does not read %s: %v", id, err)
		}
	}
}

// TestCommitCatchesUpWithAnotherWriter: when another writer of the store
// (here a second graph on the same store: what a second server over a
// shared store is) moves the log's head, the committer finds the head moved,
// applies the other writer's changes from the log to its model, runs its
// write again against them, and commits after them.
func TestCommitCatchesUpWithAnotherWriter(t *testing.T) {
	kv := memKV(t)
	g := engines[1].open(t, kv, storage.Options{})
	other, err := storage.Open(kv) // no model, no Close: g closes the store
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := other.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// The model has not seen it: same slug, so the write must see theirs to
	// pick a free one, or it would take the slug twice.
	ours, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if ours.Slug == theirs.Slug {
		t.Fatalf("both writes took slug %q: the write ran against a model behind the store", ours.Slug)
	}
	if _, err := g.Node(theirs.ID); err != nil {
		t.Fatalf("the model did not catch up with the other writer: %v", err)
	}
	diffModel(t, g, "after catching up")
}

// TestChangesFromMemoryAndStore: a reader from far behind gets the log
// from the store in batches, then the recent changes from memory, with no
// gap and no duplicate where the two meet, whatever the batch bounds.
func TestChangesFromMemoryAndStore(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := e.open(t, memKV(t), storage.Options{})
			v0 := g.Version()
			const n = 5000 // past the 4,096 kept in memory and many store batches
			if err := g.Batch(func(w *storage.Writer) error { return nil }); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := range n / 4 {
						if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Org " + string(rune('a'+w)) + uuid.NewString()[:6] + string(rune('0'+i%10))}, ""); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			for _, from := range []uint64{v0, v0 + 1, v0 + 255, v0 + 256, v0 + 900, g.Version() - 4096, g.Version() - 10, g.Version() - 1} {
				cs := changes(t, g, from)
				if uint64(len(cs)) != g.Version()-from {
					t.Fatalf("from %d: %d changes, want %d", from, len(cs), g.Version()-from)
				}
				for i, c := range cs {
					if c.Version != from+uint64(i)+1 {
						t.Fatalf("from %d: change %d is version %d", from, i, c.Version)
					}
				}
			}
		})
	}
}

// TestPanickingWriteFailsAlone: a write whose function panics (a bug) fails
// with an error; the committer goes on, and the writes around it commit.
func TestPanickingWriteFailsAlone(t *testing.T) {
	g := engines[1].open(t, memKV(t), storage.Options{})
	err := g.Batch(func(w *storage.Writer) error {
		if _, err := w.PutNode(&storage.Node{ID: uuid.New(), Kind: storage.KindOrganization, Name: "Half written", Slug: "half-written"}, ""); err != nil {
			return err
		}
		var n *storage.Node
		_ = n.Name // nil dereference
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("a panicking write = %v, want its panic as an error", err)
	}
	if _, err := g.NodeBySlug("half-written"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("the panicking write left a record: %v", err)
	}
	if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "After"}, ""); err != nil {
		t.Fatalf("a write after the panic: %v", err)
	}
}

// BenchmarkConcurrentAddFact is the write path under 8 concurrent writers on
// a store on disk with fsync on every commit, as a server runs: without the
// read model each write is its own transaction and fsync (one at a time:
// the log's dense versions); with it the committer commits the writes that
// waited together, one fsync for the batch. It reports writes/s and the
// writes per store transaction.
//
//	go test ./storage -run '^$' -bench ConcurrentAddFact -benchtime 3s -count 3
func BenchmarkConcurrentAddFact(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			kv, err := badger.Open(badger.Options{Dir: b.TempDir(), SyncWrites: true})
			if err != nil {
				b.Fatal(err)
			}
			g := e.open(b, kv, storage.Options{})
			if _, err := seed.Load(g); err != nil {
				b.Fatal(err)
			}
			src := storage.SlugID("waic-2023-article")
			facts, err := g.FindFacts(storage.FactQuery{Subject: storage.SlugID("qualcomm")})
			if err != nil || len(facts) == 0 {
				b.Fatal(err)
			}
			quote := facts[0].Evidence[0].Quote
			before := g.LogStats()
			b.SetParallelism(4) // 8 writers on this 2-core machine
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					f := &storage.Fact{Subject: src, Predicate: storage.PredMentions, Object: storage.SlugID("sensetime"),
						Evidence: []storage.Evidence{{Source: src, Quote: quote}}}
					if _, err := g.AddFact(f); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
			if after := g.LogStats(); after.Batches > before.Batches {
				b.ReportMetric(float64(after.Commits-before.Commits)/float64(after.Batches-before.Batches), "writes/commit")
			}
		})
	}
}
