package memgraph

import (
	"testing"

	"policygraph/storage"
)

// TestNodeCache: an entity of the base is decoded once and then shared (the
// same record for every read, on every snapshot of the base); a change to it
// is read from the overlay, never from the cache, while snapshots taken
// before the change keep answering the old record; after a compaction the
// new base answers the change.
func TestNodeCache(t *testing.T) {
	w := newWorld(3, 200, 400)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: 1 << 30, Logger: quiet})
	t.Cleanup(m.Close)
	var n *storage.Node
	for _, x := range w.nodes {
		if x.Retraction == nil {
			n = x
			break
		}
	}
	before := m.Latest()
	a, err := before.Node(n.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Latest().Node(n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("an entity of the base was decoded again: the second read is another record")
	}
	if a.Name != n.Name {
		t.Fatalf("Name %q, want %q", a.Name, n.Name)
	}

	renamed := *n
	renamed.Name = n.Name + " Renamed"
	w.version++
	if err := m.Apply(storage.Change{Version: w.version, Nodes: []*storage.Node{&renamed}}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Snapshot{"after the change": m.Latest()} {
		got, err := s.Node(n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != renamed.Name {
			t.Errorf("%s: Name %q, want %q", name, got.Name, renamed.Name)
		}
	}
	if got, err := before.Node(n.ID); err != nil || got.Name != n.Name {
		t.Errorf("the snapshot before the change: %v %v, want Name %q", got, err, n.Name)
	}
	if err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := m.Latest().Node(n.ID)
		if err != nil || got.Name != renamed.Name {
			t.Errorf("after compaction: %v %v, want Name %q", got, err, renamed.Name)
		}
	}
	if got, err := before.Node(n.ID); err != nil || got.Name != n.Name {
		t.Errorf("the snapshot before the change, after compaction: %v %v, want Name %q", got, err, n.Name)
	}
}

// TestFactCache is TestNodeCache for facts: a base fact is decoded once and
// shared; its retraction is read from the overlay, never from the cache,
// while a snapshot from before it keeps the active record; a compaction's
// new base answers the retraction.
func TestFactCache(t *testing.T) {
	w := newWorld(3, 200, 400)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: 1 << 30, Logger: quiet})
	t.Cleanup(m.Close)
	var f *storage.Fact
	for _, x := range w.facts {
		if x.Retraction == nil {
			f = x
			break
		}
	}
	before := m.Latest()
	a, err := before.Fact(f.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Latest().Fact(f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("a fact of the base was decoded again: the second read is another record")
	}
	retracted := *f
	retracted.Retraction = &storage.Retraction{By: "tester", Reason: "test", At: f.CreatedAt}
	w.version++
	if err := m.Apply(storage.Change{Version: w.version, Facts: []*storage.Fact{&retracted}}); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Latest().Fact(f.ID); err != nil || got.Retraction == nil {
		t.Errorf("after the retraction: %+v %v, want it retracted", got, err)
	}
	if got, err := before.Fact(f.ID); err != nil || got.Retraction != nil {
		t.Errorf("the snapshot before the retraction: %+v %v, want it active", got, err)
	}
	if err := m.Compact(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got, err := m.Latest().Fact(f.ID); err != nil || got.Retraction == nil {
			t.Errorf("after compaction: %+v %v, want it retracted", got, err)
		}
	}
}
