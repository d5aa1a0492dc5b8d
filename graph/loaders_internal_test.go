package graph

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// goroutineID is the running goroutine's number, from its stack header.
func goroutineID() uint64 {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	b, _ = bytes.CutPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}

// TestLoadersReadAtOnceWithAReadModel: on a graph with a read model the
// loaders fetch in the resolver's own goroutine, at once, without opening a
// batch that waits for other keys (in memory the wait cost more than the
// read), and remember each key's result for the rest of the operation.
func TestLoadersReadAtOnceWithAReadModel(t *testing.T) {
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := storage.OpenWith(kv, storage.Options{Model: memgraph.Load})
	if err != nil {
		kv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if _, err := seed.Load(g); err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, slug := range []string{"qualcomm", "sensetime", "waic-2023"} {
		n, err := g.NodeBySlug(slug)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}

	l := NewLoaders(g, nil)
	var fetches, elsewhere atomic.Int64
	caller := goroutineID()
	fetch := l.nodes.fetch
	l.nodes.fetch = func(g *storage.Graph, keys []uuid.UUID) ([]*storage.Node, error) {
		fetches.Add(1)
		if goroutineID() != caller {
			elsewhere.Add(1)
		}
		return fetch(g, keys)
	}
	ctx := storage.Pin(context.Background())
	n, err := l.nodes.Load(ctx, ids[0])
	if err != nil || n == nil || n.Slug != "qualcomm" {
		t.Fatalf("Load: %v %v", n, err)
	}
	if _, err := l.nodes.Load(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	all, err := l.nodes.LoadAll(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range all {
		if n == nil || n.ID != ids[i] {
			t.Fatalf("LoadAll[%d] = %v, want %s", i, n, ids[i])
		}
	}
	// One fetch for the first key, none for it again, one for the other two.
	if got := fetches.Load(); got != 2 {
		t.Errorf("%d fetches, want 2 (each key once)", got)
	}
	if got := elsewhere.Load(); got != 0 {
		t.Errorf("%d fetches ran in another goroutine than the resolver's (a batch)", got)
	}
}
