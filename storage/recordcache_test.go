package storage_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/storage"
)

// The record cache never serves a record older than the last acknowledged
// write: a read after a write sees it, through every read path.
func TestRecordCacheWriteThenRead(t *testing.T) {
	x := newFixture(t)
	g := x.g
	org := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Cache Org"}, "")
	f := mustAdd(t, g, x.country(org, "US"))
	for i := 0; i < 2; i++ { // twice: the second read comes from the cache
		if n, err := g.Node(org.ID); err != nil || n.Name != "Cache Org" {
			t.Fatalf("Node = %v, %v", n, err)
		}
		if fs, err := g.Facts([]uuid.UUID{f.ID}); err != nil || fs[0] == nil || fs[0].Retraction != nil {
			t.Fatalf("Facts = %v, %v", fs, err)
		}
	}
	name := "Cache Org Renamed"
	if _, err := g.UpdateNode(org.ID, storage.NodePatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if n, err := g.Node(org.ID); err != nil || n.Name != name {
		t.Fatalf("after update, Node = %+v, %v; want the new name", n, err)
	}
	if ns, err := g.Nodes([]uuid.UUID{org.ID}); err != nil || ns[0].Name != name {
		t.Fatalf("after update, Nodes = %v, %v", ns, err)
	}
	if _, err := g.RetractFact(f.ID, "tester", "wrong"); err != nil {
		t.Fatal(err)
	}
	if got, err := g.Fact(f.ID); err != nil || got.Retraction == nil {
		t.Fatalf("after retraction, Fact = %+v, %v; want it retracted", got, err)
	}
	adj, err := g.Adjacent([]storage.AdjQuery{{Node: org.ID, Dir: storage.Out, Retracted: true, Negated: true}})
	if err != nil || len(adj[0]) != 1 || adj[0][0].Retraction == nil {
		t.Fatalf("after retraction, Adjacent = %v, %v", adj, err)
	}
}

// Concurrent writers and readers: two writers each rename their own node
// (so versions move under both), readers read both; every read returns a name
// at least as new as the last write acknowledged before the read began.
func TestRecordCacheConcurrentNeverStale(t *testing.T) {
	g := newGraph(t)
	g.SetClock(func() time.Time { return time.Now().UTC() }) // the test clock is not safe for concurrent writers
	var orgs [2]*storage.Node
	for w := range orgs {
		orgs[w] = mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Org %d 0", w)}, "")
	}
	var acked [2]atomic.Int64
	const writes = 200
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := range orgs {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 1; i <= writes; i++ {
				name := fmt.Sprintf("Org %d %d", w, i)
				if _, err := g.UpdateNode(orgs[w].ID, storage.NodePatch{Name: &name}); err != nil {
					failed.Store(err.Error())
					return
				}
				acked[w].Store(int64(i))
			}
		}(w)
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	reads := atomic.Int64{}
	for r := 0; r < 4; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := [2]int64{acked[0].Load(), acked[1].Load()}
				ns, err := g.Nodes([]uuid.UUID{orgs[0].ID, orgs[1].ID})
				if err != nil {
					failed.Store(err.Error())
					return
				}
				reads.Add(1)
				for w, n := range ns {
					f := strings.Fields(n.Name)
					got, _ := strconv.Atoi(f[len(f)-1])
					if int64(got) < before[w] {
						failed.Store(fmt.Sprintf("read %q after write %d of node %d was acknowledged", n.Name, before[w], w))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rg.Wait()
	if v := failed.Load(); v != nil {
		t.Fatal(v)
	}
	t.Logf("%d reads during %d writes", reads.Load(), 2*writes)
	for w := range orgs {
		if n, _ := g.Node(orgs[w].ID); n.Name != fmt.Sprintf("Org %d %d", w, writes) {
			t.Fatalf("final name %q", n.Name)
		}
	}
}
