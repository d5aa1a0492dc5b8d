package memgraph

import (
	"maps"
	"slices"
	"sync/atomic"
	"testing"

	"policygraph/errs"
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

// TestNodeCacheByID: the base's caches are slotted by record ID and read by
// ID (Snapshot.Node and Fact answer a cached record without the ID table).
// Records whose IDs share a slot each answer as themselves, read in any
// order and again; an ID the base does not hold, whose slot holds a cached
// record, is NOT_FOUND, not that record.
func TestNodeCacheByID(t *testing.T) {
	w := newWorld(5, 300, 600)
	m := w.build(t)
	t.Cleanup(m.Close)
	s := m.Latest()
	// The base's entities grouped by slot: a 300-entity base has 512 slots,
	// so many slots hold several.
	bySlot := map[*atomic.Pointer[cached[storage.Node]]][]*storage.Node{}
	for _, n := range w.nodes {
		p := s.b.decoded.slot(n.ID)
		bySlot[p] = append(bySlot[p], n)
	}
	shared := 0
	for _, ns := range bySlot {
		if len(ns) < 2 {
			continue
		}
		shared++
		for range 2 {
			for _, n := range append(ns, ns[0]) {
				got, err := s.Node(n.ID)
				if err != nil {
					t.Fatalf("Node(%s): %v", n.ID, err)
				}
				if got.ID != n.ID || got.Name != n.Name {
					t.Fatalf("Node(%s) = %s %q, want %q: another record of its slot", n.ID, got.ID, got.Name, n.Name)
				}
			}
		}
		// An ID of no entity in the same slot (same last four bytes): not found.
		stranger := ns[0].ID
		stranger[0] ^= 0xff
		if _, ok := w.nodes[stranger]; ok {
			continue
		}
		if got, err := s.Node(stranger); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("Node of an unknown ID sharing %s's slot: %v %v, want NOT_FOUND", ns[0].ID, got, err)
		}
	}
	if shared == 0 {
		t.Fatal("no two entities share a slot: the test tests nothing")
	}
	// Facts, through a read of each fact twice in a shuffled order.
	ids := slices.Collect(maps.Keys(w.facts))
	for range 2 {
		w.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids {
			got, err := s.Fact(id)
			if err != nil {
				t.Fatalf("Fact(%s): %v", id, err)
			}
			if got.ID != id || got.Subject != w.facts[id].Subject {
				t.Fatalf("Fact(%s) = %s (subject %s), want subject %s", id, got.ID, got.Subject, w.facts[id].Subject)
			}
		}
	}
}
