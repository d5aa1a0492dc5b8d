package etcd

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/storage"
)

// bumpHead is a write as the graph makes them: it reads the counter "head"
// and moves it by one, beside its own sets, so that any two writes
// conflict. It returns the head it wrote.
func bumpHead(kv *KV, sets func(tx storage.Txn) error) (int, error) {
	var wrote int
	err := kv.Update(func(tx storage.Txn) error {
		h := 0
		v, err := tx.Get([]byte("head"))
		switch {
		case errors.Is(err, storage.ErrKeyMissing):
		case err != nil:
			return err
		default:
			if h, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
		wrote = h + 1
		if err := tx.Set([]byte("head"), []byte(strconv.Itoa(wrote))); err != nil {
			return err
		}
		return sets(tx)
	})
	return wrote, err
}

// TestStagedCommitAmongSmallWriters: a staged commit of 5,000 keys goes
// through while two other KVs on the prefix commit small writes in a loop
// the whole time, all of them on the same head key: the small writers
// wait while the staged writer holds the claim, so they cannot move the
// head between its claim and its publish, and every small write succeeds
// too. Before the claim fenced single-Txn commits, the staged commit lost
// its publish to them until CONFLICT.
func TestStagedCommitAmongSmallWriters(t *testing.T) {
	const n = 5000
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	big := openKV(t, c, p, nil)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var small atomic.Int64
	started := make(chan struct{}, 2)
	for w := range 2 {
		kv := openKV(t, c, p, nil)
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, err := bumpHead(kv, func(tx storage.Txn) error {
					return tx.Set(fmt.Appendf(nil, "small/%d/%05d", w, i), []byte("x"))
				}); err != nil {
					t.Errorf("small writer %d, write %d: %v", w, i, err)
					return
				}
				if small.Add(1) == 2*5 {
					started <- struct{}{}
				}
			}
		})
	}
	<-started // the small writers are going
	head, err := bumpHead(big, func(tx storage.Txn) error {
		for i := range n {
			if err := tx.Set(fmt.Appendf(nil, "big/%05d", i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	during := small.Load()
	time.Sleep(200 * time.Millisecond) // let the small writers go on past it
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("the staged commit among small writers: %v (stats %+v)", err, big.Stats())
	}
	if got := countBig(t, big); got != n {
		t.Errorf("%d keys of the staged commit, want %d", got, n)
	}
	var final int
	var smallKeys int
	big.View(func(tx storage.Txn) error {
		final, _ = strconv.Atoi(get(t, tx, "head"))
		return tx.Scan([]byte("small/"), true, func(k, v []byte) error { smallKeys++; return nil })
	})
	if int64(smallKeys) != small.Load() || int64(final) != small.Load()+1 {
		t.Errorf("head %d and %d small keys after %d small writes and one staged one: a write is lost", final, smallKeys, small.Load())
	}
	t.Logf("the staged commit wrote head %d; %d small writes acknowledged (%d by its end); big KV stats %+v", head, small.Load(), during, big.Stats())
	for _, k := range []string{"pending", "claim", "s/"} {
		if got := rawCount(t, c, p+k); got != 0 {
			t.Errorf("%d keys under %s after the commits", got, k)
		}
	}
}

// TestSmallWriterWaitsForADeadClaim: a staged writer stops after staging
// (the claim held, its lease no longer kept alive); a small write on
// another KV waits for the claim rather than committing under it, and
// goes through once the lease has expired and the janitor collected the
// stage, within claimWait (else it would fail with CONFLICT).
func TestSmallWriterWaitsForADeadClaim(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	short := func(c *Config) { c.ClaimTTL = 2 * time.Second; c.JanitorInterval = 200 * time.Millisecond }
	dead := openKV(t, c, p, func(c *Config) { c.ClaimTTL = 2 * time.Second })
	dead.hook = func(at string) error {
		if at == "staged" {
			return errStopped
		}
		return nil
	}
	if err := bigWrite(dead, 1000); !errors.Is(err, errStopped) {
		t.Fatalf("the dying writer's Update: %v", err)
	}
	if rawCount(t, c, p+"claim") != 1 {
		t.Fatal("no claim left behind by the dead writer")
	}
	other := openKV(t, c, p, short)
	var claimsAtCommit int64 = -1
	if err := other.Update(func(tx storage.Txn) error {
		tx.(storage.CommitNotifier).OnCommit(func() { claimsAtCommit = rawCount(t, c, p+"claim") })
		return tx.Set([]byte("small"), []byte("after the claim"))
	}); err != nil {
		t.Fatalf("the small write: %v", err)
	}
	if claimsAtCommit != 0 {
		t.Errorf("the small write committed while %d claims were held", claimsAtCommit)
	}
	for deadline := time.Now().Add(time.Minute); rawCount(t, c, p+"s/") != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a minute on, the dead writer's stage is still there")
		}
	}
	if got := countBig(t, other); got != 0 {
		t.Errorf("a reader counts %d keys of a commit never published", got)
	}
}
