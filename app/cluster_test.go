package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/internal/testenv"
	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// sharedStore is a Badger store that several graphs open, as servers open
// one etcd cluster: a Shared KV whose Changed never fires (the graphs
// poll), and whose change log a test can make unreadable to one of them.
type sharedStore struct {
	storage.KV
	brokenLog *atomic.Bool
}

func (s sharedStore) Changed(ctx context.Context, _ []byte) <-chan struct{} {
	ch := make(chan struct{})
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}

func (s sharedStore) Close() error { return nil } // the test closes the engine

func (s sharedStore) View(fn func(storage.Txn) error) error {
	return s.KV.View(func(tx storage.Txn) error { return fn(brokenLogTxn{tx, s.brokenLog}) })
}

// brokenLogTxn fails every scan of the change log while broken is set.
type brokenLogTxn struct {
	storage.Txn
	broken *atomic.Bool
}

var errBrokenLog = errors.New("the change log does not read (test)")

func (t brokenLogTxn) ScanFrom(prefix, start []byte, keysOnly bool, fn func(k, v []byte) error) error {
	if t.broken.Load() && len(prefix) > 0 && prefix[0] == 'L' {
		return errBrokenLog
	}
	return t.Txn.ScanFrom(prefix, start, keysOnly, fn)
}

// TestReadyzFollowsTheStore: on a store other servers write, /readyz is
// 503 with its reason while the server is behind the store's head by more
// than -max-lag, or has not reached the store for longer than
// -max-staleness, and reads go on being answered; the metrics say where
// the server is.
func TestReadyzFollowsTheStore(t *testing.T) {
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	open := func(broken *atomic.Bool) *storage.Graph {
		g, err := storage.OpenWith(sharedStore{KV: kv, brokenLog: broken}, storage.Options{Model: memgraph.Load, FollowPoll: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	a := open(new(atomic.Bool))
	broken := new(atomic.Bool)
	b := open(broken)
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, string(body)
	}
	h := testenv.Handler(t, b, "-max-lag", "2")
	if code, body := get(h, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz of a server that keeps up: %d %s", code, body)
	}

	// B cannot read the log: it sees the head move, and stays behind.
	broken.Store(true)
	for range 3 {
		if _, err := a.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Org " + time.Now().String()}, ""); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.Follow().StoreHead < a.Version() {
		if time.Now().After(deadline) {
			t.Fatalf("B never saw the head: %+v", b.Follow())
		}
		time.Sleep(time.Millisecond)
	}
	code, body := get(h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"behind"`) || !strings.Contains(body, "-max-lag 2") {
		t.Errorf("/readyz 3 versions behind with -max-lag 2: %d %s", code, body)
	}
	if code, body := get(h, "/graphql?query=%7Bstats%7Bfacts%7D%7D"); code != http.StatusOK {
		t.Errorf("a read while not ready: %d %s", code, body)
	}
	_, metrics := get(h, "/metrics")
	for _, want := range []string{"policygraph_store_lag 3", "policygraph_read_model_reloads_total 0", "policygraph_store_contact_age_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// And a lag within the bound is ready: the log reads again, B catches up.
	broken.Store(false)
	for b.Follow().Model < a.Version() {
		if time.Now().After(deadline) {
			t.Fatalf("B never caught up: %+v", b.Follow())
		}
		time.Sleep(time.Millisecond)
	}
	if code, body := get(h, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz once caught up: %d %s", code, body)
	}

	// Cut off: the store not reached for longer than -max-staleness (here
	// as good as at once, without a clock in the test).
	stale := testenv.Handler(t, b, "-max-staleness", "1ns")
	code, body = get(stale, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"cut off"`) {
		t.Errorf("/readyz with -max-staleness 1ns: %d %s", code, body)
	}
}
