package etcd

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"policygraph/internal/etcdtest"
	"policygraph/storage"
)

// rawCount counts the keys under prefix with a client of its own.
func rawCount(t testing.TB, c *etcdtest.Cluster, prefix string) int64 {
	t.Helper()
	resp, err := c.Client(t).Get(t.Context(), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

// randomBytes are n bytes that do not repeat chunk to chunk.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestLargeValues: values past ChunkBytes (a 2 MiB and a 16 MiB source
// text) are stored as content-addressed chunks, read back whole by Get and
// Scan; the key itself holds a small indirect value.
func TestLargeValues(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	kv := openKV(t, c, p, nil)
	sizes := []int{0, 1, DefaultChunkBytes, DefaultChunkBytes + 1, 2 << 20, 16 << 20}
	values := map[string][]byte{}
	for i, n := range sizes {
		key := fmt.Sprintf("text/%02d", i)
		values[key] = randomBytes(n, uint64(i))
		if err := kv.Update(func(tx storage.Txn) error { return tx.Set([]byte(key), values[key]) }); err != nil {
			t.Fatalf("Set %d bytes: %v", n, err)
		}
	}
	if got := kv.Stats().ChunkedValues; got != 3 {
		t.Errorf("Stats().ChunkedValues = %d, want 3 (the values past %d bytes)", got, DefaultChunkBytes)
	}
	if err := kv.View(func(tx storage.Txn) error {
		for key, want := range values {
			got, err := tx.Get([]byte(key))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Get %s: %d bytes (%v), want %d bytes", key, len(got), err, len(want))
			}
		}
		n := 0
		return tx.Scan([]byte("text/"), false, func(k, v []byte) error {
			n++
			if !bytes.Equal(v, values[string(k)]) {
				t.Errorf("Scan %s: %d bytes, want %d", k, len(v), len(values[string(k)]))
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Client(t).Get(t.Context(), p+"k/text/05")
	if err != nil || len(resp.Kvs) != 1 || len(resp.Kvs[0].Value) > 4<<10 {
		t.Errorf("the 16 MiB value's key holds %v (%v), want a small indirect value", len(resp.Kvs), err)
	}

	// An Update that conflicts runs again, and does not put its chunks
	// again: each chunk under b/ was put once (its etcd version is 1).
	other := openKV(t, c, p, nil)
	big := randomBytes(1<<20+3, 99)
	runs := 0
	if err := kv.Update(func(tx storage.Txn) error {
		runs++
		get(t, tx, "text/00")
		if runs == 1 {
			set(t, other, "text/00", "changed")
		}
		return tx.Set([]byte("text/big"), big)
	}); err != nil || runs != 2 {
		t.Fatalf("an Update that conflicted once: %v after %d runs", err, runs)
	}
	kv.View(func(tx storage.Txn) error {
		if got, err := tx.Get([]byte("text/big")); err != nil || !bytes.Equal(got, big) {
			t.Errorf("the value written after a conflict: %d bytes (%v), want %d", len(got), err, len(big))
		}
		return nil
	})
	chunks, err := c.Client(t).Get(t.Context(), p+"b/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range chunks.Kvs {
		if kv.Version != 1 {
			t.Errorf("chunk %s was put %d times", kv.Key, kv.Version)
		}
	}
}

// bigWrite sets n keys big/NNNNN (and whatever extra sets) in one Update:
// more than one etcd request holds, so a staged commit.
func bigWrite(kv *KV, n int, extra ...string) error {
	return kv.Update(func(tx storage.Txn) error {
		for i := range n {
			if err := tx.Set(fmt.Appendf(nil, "big/%05d", i), bytes.Repeat([]byte{'v'}, 64)); err != nil {
				return err
			}
		}
		for i := 0; i < len(extra); i += 2 {
			if err := tx.Set([]byte(extra[i]), []byte(extra[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
}

// countBig counts the keys under big/ in one View.
func countBig(t testing.TB, kv *KV) int {
	t.Helper()
	n := 0
	if err := kv.View(func(tx storage.Txn) error {
		return tx.Scan([]byte("big/"), true, func(k, v []byte) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// poller counts big/ in Views again and again until stop, and fails the
// test on any count but 0 and want.
func poller(t *testing.T, kv *KV, want int) (stop func() (polls, whole int)) {
	var done atomic.Bool
	var polls, whole int
	var wg sync.WaitGroup
	wg.Go(func() {
		for !done.Load() {
			n := 0
			err := kv.View(func(tx storage.Txn) error {
				return tx.Scan([]byte("big/"), true, func(k, v []byte) error { n++; return nil })
			})
			if err != nil {
				t.Error(err)
				return
			}
			polls++
			if n == want {
				whole++
			} else if n != 0 {
				t.Errorf("a reader saw %d of the %d keys of a staged commit", n, want)
				return
			}
		}
	})
	return func() (int, int) {
		done.Store(true)
		wg.Wait()
		return polls, whole
	}
}

var errStopped = errors.New("the writer stopped (a test hook)")

// TestStagedCommitIsAtomic: a write set of 5,000 keys commits as a staged
// commit, and no reader ever sees part of it: not a reader polling all
// along, not one reading right after the publish (nothing applied yet: the
// overlay answers), not one reading when part of the apply is done.
func TestStagedCommitIsAtomic(t *testing.T) {
	const n = 5000
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	kv, reader := openKV(t, c, p, nil), openKV(t, c, p, nil)
	var atPublish, midApply []int
	var rawAtPublish, rawMidApply []int64
	kv.hook = func(point string) error {
		switch point {
		case "published":
			atPublish = append(atPublish, countBig(t, reader))
			rawAtPublish = append(rawAtPublish, rawCount(t, c, p+"k/big/"))
		case "applying":
			if len(midApply) == 0 {
				midApply = append(midApply, countBig(t, reader))
				rawMidApply = append(rawMidApply, rawCount(t, c, p+"k/big/"))
			}
		}
		return nil
	}
	stop := poller(t, reader, n)
	small := time.Now()
	set(t, kv, "small", "write")
	smallTook := time.Since(small)
	start := time.Now()
	if err := bigWrite(kv, n); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	polls, whole := stop()
	t.Logf("one small commit took %v; the staged commit of %d keys took %v; a reader polled %d times meanwhile (%d saw it whole)", smallTook, n, took, polls, whole)
	if s := kv.Stats(); s.StagedCommits != 1 {
		t.Errorf("Stats = %+v, want one staged commit", s)
	}
	if len(atPublish) != 1 || atPublish[0] != n || rawAtPublish[0] != 0 {
		t.Errorf("right after the publish a reader counted %v (%v under k/), want %d (0 under k/: the overlay answers)", atPublish, rawAtPublish, n)
	}
	if len(midApply) != 1 || midApply[0] != n || rawMidApply[0] == 0 || rawMidApply[0] == n {
		t.Errorf("during the apply a reader counted %v (%v under k/), want %d (part under k/)", midApply, rawMidApply, n)
	}
	if got := countBig(t, reader); got != n {
		t.Errorf("after the commit a reader counts %d, want %d", got, n)
	}
	for _, k := range []string{"pending", "claim", "s/"} {
		if got := rawCount(t, c, p+k); got != 0 {
			t.Errorf("%d keys under %s after the commit", got, k)
		}
	}
}

// TestStagedCommitFinishedByTheNextWriter: a writer stops after its publish
// (before or during its apply); readers see its commit whole meanwhile, and
// the next Update of another server finishes the apply and then commits.
func TestStagedCommitFinishedByTheNextWriter(t *testing.T) {
	const n = 5000
	for _, point := range []string{"published", "applying"} {
		t.Run(point, func(t *testing.T) {
			c := cluster.Cluster(t)
			p := c.Prefix(t)
			writer := openKV(t, c, p, func(c *Config) { c.ClaimTTL = 2 * time.Second })
			next := openKV(t, c, p, nil)
			var once atomic.Bool
			writer.hook = func(at string) error {
				if at == point && once.CompareAndSwap(false, true) {
					return errStopped
				}
				return nil
			}
			err := bigWrite(writer, n)
			if point == "published" && !errors.Is(err, errStopped) {
				t.Fatalf("the stopped writer's Update: %v", err)
			}
			if point == "applying" && err != nil {
				t.Fatalf("a writer that failed during its apply: %v, want nil (the commit is made)", err)
			}
			if got := rawCount(t, c, p+"pending"); got != 1 {
				t.Fatalf("%d pending keys after the writer stopped, want 1", got)
			}
			if got := countBig(t, next); got != n {
				t.Errorf("a reader counts %d while the commit is pending, want %d", got, n)
			}
			set(t, next, "after", "x")
			if s := next.Stats(); s.FinishedStaged != 1 {
				t.Errorf("the next writer's Stats = %+v, want one staged commit finished", s)
			}
			if got := rawCount(t, c, p+"k/big/"); got != n {
				t.Errorf("%d keys under k/big/ after the next write, want %d", got, n)
			}
			for _, k := range []string{"pending", "claim", "s/"} {
				if got := rawCount(t, c, p+k); got != 0 {
					t.Errorf("%d keys under %s after the next write finished the commit", got, k)
				}
			}
		})
	}
}

// TestWriterStartedBeforeThePublish: a writer that read a key before a
// staged commit wrote it, and commits after its publish but before its
// apply, is refused by the compare on the pending key (its own compares
// still hold: nothing is applied); it finishes the staged commit, runs
// again, and sees its value. Without that compare the staged apply would
// overwrite its acknowledged write.
func TestWriterStartedBeforeThePublish(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	staged, other := openKV(t, c, p, nil), openKV(t, c, p, nil)
	published := make(chan struct{})
	staged.hook = func(at string) error {
		if at == "published" {
			close(published)
			return errStopped
		}
		return nil
	}
	done := make(chan error, 1)
	runs := 0
	var wg sync.WaitGroup
	err := other.Update(func(tx storage.Txn) error {
		runs++
		v := get(t, tx, "big/00000")
		if runs == 1 {
			wg.Go(func() { done <- bigWrite(staged, 5000) })
			<-published
		}
		return tx.Set([]byte("big/00000"), []byte("other after "+v))
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, errStopped) {
		t.Fatalf("the staged writer: %v", err)
	}
	set(t, other, "later", "x") // finishes any staged commit still pending
	other.View(func(tx storage.Txn) error {
		if got, want := get(t, tx, "big/00000"), "other after "+string(bytes.Repeat([]byte{'v'}, 64)); got != want {
			t.Errorf("big/00000 = %q, want %q (the write that committed after the staged one)", got, want)
		}
		return nil
	})
	if runs != 2 {
		t.Errorf("the writer ran %d times, want 2", runs)
	}
}

// TestStagedWriterDiesBeforeThePublish: a writer that stops after staging
// its chunks, before its publish, leaves nothing any reader sees; its
// claim expires with its lease, the janitor deletes its chunks, and the
// next staged commit goes through.
func TestStagedWriterDiesBeforeThePublish(t *testing.T) {
	const n = 5000
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	dead := openKV(t, c, p, func(c *Config) { c.ClaimTTL = 2 * time.Second })
	dead.hook = func(at string) error {
		if at == "staged" {
			return errStopped
		}
		return nil
	}
	reader := openKV(t, c, p, nil)
	stop := poller(t, reader, n)
	if err := bigWrite(dead, n); !errors.Is(err, errStopped) {
		t.Fatalf("the dying writer's Update: %v", err)
	}
	if rawCount(t, c, p+"s/") == 0 || rawCount(t, c, p+"claim") != 1 {
		t.Fatalf("no stage or no claim left behind by the dead writer")
	}
	janitor := openKV(t, c, p, func(c *Config) { c.JanitorInterval = 200 * time.Millisecond })
	for deadline := time.Now().Add(time.Minute); rawCount(t, c, p+"s/") != 0 || rawCount(t, c, p+"claim") != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a minute on, %d stage keys and %d claims left", rawCount(t, c, p+"s/"), rawCount(t, c, p+"claim"))
		}
	}
	if got := janitor.Stats().CollectedStage; got != 1 {
		t.Errorf("the janitor collected %d stages, want 1", got)
	}
	if got := countBig(t, reader); got != 0 {
		t.Errorf("a reader counts %d keys of a commit never published", got)
	}
	if err := bigWrite(janitor, n); err != nil {
		t.Fatal(err)
	}
	polls, whole := stop()
	t.Logf("a reader polled %d times, %d saw the later commit whole", polls, whole)
	if got := countBig(t, reader); got != n {
		t.Errorf("after the next staged commit a reader counts %d, want %d", got, n)
	}
}

// TestJanitorFinishesAnAbandonedCommit: a writer dies after its publish and
// no server writes after it: once its claim has expired, the janitor of
// another server applies the commit, and a server that opens later finds
// it applied.
func TestJanitorFinishesAnAbandonedCommit(t *testing.T) {
	const n = 1000
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	// The dying writer's own janitor must not be the one that finishes
	// the commit (its KV stays open here, as a process's would not).
	dead := openKV(t, c, p, func(c *Config) { c.ClaimTTL, c.JanitorInterval = 2*time.Second, 24*time.Hour })
	dead.hook = func(at string) error {
		if at == "published" {
			return errStopped
		}
		return nil
	}
	if err := bigWrite(dead, n); !errors.Is(err, errStopped) {
		t.Fatalf("the dying writer's Update: %v", err)
	}
	janitor := openKV(t, c, p, func(c *Config) { c.JanitorInterval = 200 * time.Millisecond })
	for deadline := time.Now().Add(time.Minute); rawCount(t, c, p+"pending") != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a minute on, the abandoned commit is still pending")
		}
	}
	// The janitor counts the commit once its last Txn (which deletes
	// pending) has returned: wait for the count, bounded by tries.
	for i := 0; i < 100 && janitor.Stats().FinishedStaged == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := janitor.Stats().FinishedStaged; got != 1 {
		t.Errorf("the janitor finished %d staged commits, want 1", got)
	}
	for _, k := range []string{"claim", "s/"} {
		if got := rawCount(t, c, p+k); got != 0 {
			t.Errorf("%d keys under %s after the janitor finished the commit", got, k)
		}
	}
	if got := rawCount(t, c, p+"k/big/"); got != n {
		t.Errorf("%d keys under k/big/, want %d", got, n)
	}
}
