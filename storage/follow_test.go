package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// hub is one Badger store that several test "servers" share: each opens
// its graph over a sharedKV of the hub, which wakes every Changed channel
// on each commit, as the etcd engine's watch does.
type hub struct {
	kv   storage.KV
	mu   sync.Mutex
	subs map[chan struct{}]*sharedKV
}

func newHub(t *testing.T) *hub {
	t.Helper()
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{kv: kv, subs: map[chan struct{}]*sharedKV{}}
	t.Cleanup(func() { kv.Close() }) // after the graphs' cleanups
	return h
}

func (h *hub) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, s := range h.subs {
		if s.muted.Load() {
			continue
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// sharedKV is a server's view of the hub: a Shared KV. Muted, it gets no
// wake-ups (a server whose watch is cut off).
type sharedKV struct {
	storage.KV
	h     *hub
	muted atomic.Bool
}

func (s *sharedKV) Update(fn func(storage.Txn) error) error {
	err := s.KV.Update(fn)
	if err == nil {
		s.h.notify()
	}
	return err
}

func (s *sharedKV) Changed(ctx context.Context, _ []byte) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.h.mu.Lock()
	s.h.subs[ch] = s
	s.h.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.h.mu.Lock()
		delete(s.h.subs, ch)
		s.h.mu.Unlock()
		close(ch)
	}()
	return ch
}

// Close leaves the hub's store open: the other servers use it.
func (s *sharedKV) Close() error { return nil }

// server opens a graph over the hub, as one of several servers.
func (h *hub) server(t *testing.T, o storage.Options) (*storage.Graph, *sharedKV) {
	t.Helper()
	s := &sharedKV{KV: h.kv, h: h}
	if o.Model == nil {
		o.Model = memgraph.Load
	}
	g, err := storage.OpenWith(s, o)
	if err != nil {
		t.Fatalf("OpenWith: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g, s
}

// reach waits, bounded, until g's model has reached version v.
func reach(t *testing.T, g *storage.Graph, v uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for g.Follow().Model < v {
		if time.Now().After(deadline) {
			t.Fatalf("the graph did not reach version %d: %+v", v, g.Follow())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFollowSharedStore: a write on server A becomes visible on server B,
// which follows the store; B's follow state says where it is.
func TestFollowSharedStore(t *testing.T) {
	h := newHub(t)
	a, _ := h.server(t, storage.Options{})
	b, _ := h.server(t, storage.Options{FollowPoll: time.Hour}) // wake-ups only
	if a.StoreID() != b.StoreID() {
		t.Fatalf("two servers of one store have store IDs %s and %s", a.StoreID(), b.StoreID())
	}
	n, err := a.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, "")
	if err != nil {
		t.Fatal(err)
	}
	reach(t, b, a.Version())
	if got, err := b.NodeBySlug(n.Slug); err != nil || got.ID != n.ID {
		t.Fatalf("B reads %v, %v; want A's node", got, err)
	}
	st := b.Follow()
	if !st.Shared || st.StoreHead != a.Version() || st.Model != a.Version() || st.Lag() != 0 || st.LastContact.IsZero() || st.LastError != nil {
		t.Errorf("B's follow state = %+v", st)
	}
	// And the other way, through the poll alone: B's wake-ups are cut.
	c, cs := h.server(t, storage.Options{FollowPoll: 10 * time.Millisecond})
	cs.muted.Store(true)
	m, err := b.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "OpenAI"}, "")
	if err != nil {
		t.Fatal(err)
	}
	reach(t, c, b.Version())
	if _, err := c.Node(m.ID); err != nil {
		t.Fatalf("C, polling, does not see B's write: %v", err)
	}
}

// TestFollowAcrossAPrunedLog: a server cut off from the store while the
// others wrote more than the change log keeps rebuilds its model from the
// records when it comes back, instead of applying the entries kept over
// the gap: it sees every write.
func TestFollowAcrossAPrunedLog(t *testing.T) {
	h := newHub(t)
	a, _ := h.server(t, storage.Options{Retention: storage.Retention{Versions: 2}})
	b, bs := h.server(t, storage.Options{FollowPoll: time.Hour})
	first, err := a.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Org first"}, "")
	if err != nil {
		t.Fatal(err)
	}
	reach(t, b, a.Version())
	bs.muted.Store(true)
	var created []uuid.UUID
	for i := range 10 {
		n, err := a.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Org %d", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, n.ID)
	}
	if b.Follow().Model >= a.Version() {
		t.Fatalf("B followed while cut off")
	}
	bs.muted.Store(false)
	h.notify()
	reach(t, b, a.Version())
	for _, id := range append(created, first.ID) {
		if _, err := b.Node(id); err != nil {
			t.Errorf("B misses node %s after catching up over a pruned log: %v", id, err)
		}
	}
	if st := b.Follow(); st.Reloads != 1 {
		t.Errorf("B's follow state %+v, want one reload", st)
	}
}

// TestSharedStoreBank: two servers take transfers between accounts at once,
// each through its own committer against one store. Every acknowledged
// transfer is in both, none that failed is, the total never changes,
// versions stay dense (check -model is clean on both), and both end at the
// same version.
func TestSharedStoreBank(t *testing.T) {
	const accounts, start, transfers, workers = 6, 100, 60, 2
	h := newHub(t)
	a, _ := h.server(t, storage.Options{})
	b, _ := h.server(t, storage.Options{})
	src, err := a.CreateNode(&storage.Node{Kind: storage.KindSource, Name: "Ledger"}, "The ledger says so.")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, accounts)
	for i := range ids {
		n, err := a.CreateNode(&storage.Node{Kind: storage.KindEvent, Name: fmt.Sprintf("Account %d", i), Year: 2000 + i}, "")
		if err != nil {
			t.Fatal(err)
		}
		f, err := a.AddFact(&storage.Fact{Subject: n.ID, Predicate: storage.PredMeasure, Measure: "balance",
			Quantity: &storage.Quantity{Amount: start, Bound: storage.BoundExact},
			Evidence: []storage.Evidence{{Source: src.ID, Quote: "The ledger says so."}}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = f.ID
	}
	setup := a.Version()
	reach(t, b, setup)

	var mu sync.Mutex
	want := map[uuid.UUID]float64{}
	for _, id := range ids {
		want[id] = start
	}
	var acked, conflicts atomic.Int64
	var wg sync.WaitGroup
	for _, g := range []*storage.Graph{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), g.Version()))
				for range transfers {
					from, to := ids[r.IntN(accounts)], ids[r.IntN(accounts)]
					if from == to {
						continue
					}
					amount := float64(1 + r.IntN(5))
					err := g.TransferForTest(from, to, amount)
					if errs.CodeOf(err) == errs.Conflict {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						t.Errorf("transfer: %v", err)
						return
					}
					acked.Add(1)
					mu.Lock()
					want[from] -= amount
					want[to] += amount
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	t.Logf("%d transfers acknowledged, %d conflicts", acked.Load(), conflicts.Load())
	if acked.Load() == 0 {
		t.Fatal("no transfer went through")
	}
	head := max(a.Version(), b.Version())
	if head != setup+uint64(acked.Load()) {
		t.Errorf("head %d after %d acknowledged transfers from version %d: versions are not one per write", head, acked.Load(), setup)
	}
	for _, g := range []*storage.Graph{a, b} {
		reach(t, g, head)
		total := 0.0
		for _, id := range ids {
			f, err := g.Fact(id)
			if err != nil {
				t.Fatal(err)
			}
			total += f.Quantity.Amount
			if f.Quantity.Amount != want[id] {
				t.Errorf("account %s holds %v, want %v", id, f.Quantity.Amount, want[id])
			}
		}
		if total != accounts*start {
			t.Errorf("total %v, want %v", total, accounts*start)
		}
		problems, err := g.CheckModel(memgraph.Load, 20)
		if err != nil || len(problems) > 0 {
			t.Errorf("check -model: %v %v", problems, err)
		}
	}
}

// BenchmarkFollowLag measures how long a write acknowledged on server A
// takes to be visible on server B over one shared (Badger) store, woken by
// the store's change notification: p50 and p99 over b.N writes.
//
//	go test ./storage -run '^$' -bench BenchmarkFollowLag -benchtime 2000x
func BenchmarkFollowLag(b *testing.B) {
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		b.Fatal(err)
	}
	defer kv.Close()
	h := &hub{kv: kv, subs: map[chan struct{}]*sharedKV{}}
	open := func() *storage.Graph {
		g, err := storage.OpenWith(&sharedKV{KV: kv, h: h}, storage.Options{Model: memgraph.Load, FollowPoll: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		return g
	}
	a, bg := open(), open()
	defer a.Close()
	defer bg.Close()
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		if _, err := a.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Org %d", i)}, ""); err != nil {
			b.Fatal(err)
		}
		acked, v := time.Now(), a.Version()
		if !bg.WaitVersion(context.Background(), v) {
			b.Fatal("B never reached", v)
		}
		lags = append(lags, time.Since(acked))
	}
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds()), "p99-us")
}
