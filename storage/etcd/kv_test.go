package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"policygraph/errs"
	"policygraph/internal/etcdtest"
	"policygraph/storage"
)

// cluster is this package's shared etcd cluster (3 members).
var cluster etcdtest.Shared

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

// openKV opens a KV on c under prefix, closed when the test ends; cfg
// changes the Config first.
func openKV(t testing.TB, c *etcdtest.Cluster, prefix string, cfg func(*Config)) *KV {
	t.Helper()
	conf := Config{Endpoints: c.Endpoints(), Prefix: prefix, JanitorInterval: -1}
	if cfg != nil {
		cfg(&conf)
	}
	kv, err := Open(t.Context(), conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	return kv
}

func set(t testing.TB, kv storage.KV, pairs ...string) {
	t.Helper()
	if err := kv.Update(func(tx storage.Txn) error {
		for i := 0; i < len(pairs); i += 2 {
			if err := tx.Set([]byte(pairs[i]), []byte(pairs[i+1])); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// scan returns "key=val" for every key under prefix from start.
func scan(t testing.TB, tx storage.Txn, prefix, start string, keysOnly bool) []string {
	t.Helper()
	var got []string
	if err := tx.ScanFrom([]byte(prefix), []byte(start), keysOnly, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func get(t testing.TB, tx storage.Txn, key string) string {
	t.Helper()
	v, err := tx.Get([]byte(key))
	if errors.Is(err, storage.ErrKeyMissing) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// TestKVContract: Get, Set, Delete, Scan and ScanFrom in key order
// (binary keys too), ErrStop, read-your-writes inside an Update, and that
// nothing of an Update that failed is written.
func TestKVContract(t *testing.T) {
	c := cluster.Cluster(t)
	kv := openKV(t, c, c.Prefix(t), nil)
	set(t, kv, "a/2", "two", "a/1", "one", "a/\x00", "zero", "a/\xff", "ff", "b/1", "other", "a", "bare")

	if err := kv.View(func(tx storage.Txn) error {
		if got, want := scan(t, tx, "a/", "a/", false), []string{"a/\x00=zero", "a/1=one", "a/2=two", "a/\xff=ff"}; !slices.Equal(got, want) {
			t.Errorf("Scan a/ = %q, want %q", got, want)
		}
		if got, want := scan(t, tx, "a/", "a/2", true), []string{"a/2=", "a/\xff="}; !slices.Equal(got, want) {
			t.Errorf("ScanFrom a/2 keys only = %q, want %q", got, want)
		}
		n := 0
		if err := tx.Scan([]byte("a/"), false, func(k, v []byte) error {
			if n++; n == 2 {
				return storage.ErrStop
			}
			return nil
		}); err != nil || n != 2 {
			t.Errorf("Scan stopped by ErrStop: %v after %d keys", err, n)
		}
		if got := get(t, tx, "a/1"); got != "one" {
			t.Errorf("Get a/1 = %q", got)
		}
		if got := get(t, tx, "a/3"); got != "<missing>" {
			t.Errorf("Get a/3 = %q", got)
		}
		if err := tx.Set([]byte("x"), []byte("y")); err == nil {
			t.Error("Set in a View succeeded")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Read-your-writes: the Update's Gets and Scans see its own sets and
	// deletes, merged in key order with what is committed.
	if err := kv.Update(func(tx storage.Txn) error {
		tx.Set([]byte("a/15"), []byte("fifteen"))
		tx.Set([]byte("a/1"), []byte("uno"))
		tx.Delete([]byte("a/2"))
		tx.Set([]byte("a/3"), []byte("three"))
		if got, want := scan(t, tx, "a/", "a/", false), []string{"a/\x00=zero", "a/1=uno", "a/15=fifteen", "a/3=three", "a/\xff=ff"}; !slices.Equal(got, want) {
			t.Errorf("Scan in the Update = %q, want %q", got, want)
		}
		if got := get(t, tx, "a/2"); got != "<missing>" {
			t.Errorf("Get of a key deleted in the Update = %q", got)
		}
		if got := get(t, tx, "a/3"); got != "three" {
			t.Errorf("Get of a key set in the Update = %q", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A failed Update writes nothing.
	boom := errors.New("boom")
	if err := kv.Update(func(tx storage.Txn) error {
		tx.Set([]byte("a/9"), []byte("nine"))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want %v", err, boom)
	}
	if err := kv.View(func(tx storage.Txn) error {
		if got, want := scan(t, tx, "a/", "a/", false), []string{"a/\x00=zero", "a/1=uno", "a/15=fifteen", "a/3=three", "a/\xff=ff"}; !slices.Equal(got, want) {
			t.Errorf("Scan after the Updates = %q, want %q", got, want)
		}
		if got, want := scan(t, tx, "", "", true), []string{"a=", "a/\x00=", "a/1=", "a/15=", "a/3=", "a/\xff=", "b/1="}; !slices.Equal(got, want) {
			t.Errorf("Scan of everything = %q, want %q", got, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestViewIsOneRevision: a View's Gets and its paged Scans (more keys than
// a page) all read at one revision, whatever commits meanwhile.
func TestViewIsOneRevision(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	kv, other := openKV(t, c, p, nil), openKV(t, c, p, nil)
	const n = 3*scanPage/2 + 7
	for i := 0; i < n; i += 100 {
		var pairs []string
		for j := i; j < min(i+100, n); j++ {
			pairs = append(pairs, fmt.Sprintf("r/%05d", j), "old")
		}
		set(t, kv, pairs...)
	}
	if err := kv.View(func(tx storage.Txn) error {
		if got := get(t, tx, "r/00000"); got != "old" {
			t.Fatalf("Get = %q", got)
		}
		set(t, other, "r/00000", "new", fmt.Sprintf("r/%05d", n-1), "new", "r/99999", "new")
		seen := 0
		if err := tx.Scan([]byte("r/"), false, func(k, v []byte) error {
			if seen++; string(v) != "old" {
				t.Errorf("the View sees a later write: %s=%s", k, v)
			}
			return nil
		}); err != nil {
			return err
		}
		if seen != n {
			t.Errorf("the View's Scan saw %d keys, want %d", seen, n)
		}
		if got := get(t, tx, "r/99999"); got != "<missing>" {
			t.Errorf("the View sees a key put after it began: %q", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateRetriesConflicts: 8 writers (each with a KV of its own, as 8
// servers) increment one counter; every increment that Update acknowledged
// is in the end value, and none was lost to a race.
func TestUpdateRetriesConflicts(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	const writers, each = 8, 15
	key := []byte("counter")
	var wg sync.WaitGroup
	errc := make(chan error, writers*each)
	kvs := make([]*KV, writers)
	for i := range kvs {
		kvs[i] = openKV(t, c, p, nil)
	}
	for _, kv := range kvs {
		wg.Go(func() {
			for range each {
				errc <- kv.Update(func(tx storage.Txn) error {
					n := 0
					v, err := tx.Get(key)
					switch {
					case errors.Is(err, storage.ErrKeyMissing):
					case err != nil:
						return err
					default:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					return tx.Set(key, []byte(strconv.Itoa(n+1)))
				})
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	var conflicts uint64
	for _, kv := range kvs {
		conflicts += kv.Stats().Conflicts
	}
	t.Logf("%d increments, %d conflicts retried", writers*each, conflicts)
	if err := kvs[0].View(func(tx storage.Txn) error {
		if got, want := get(t, tx, string(key)), strconv.Itoa(writers*each); got != want {
			t.Errorf("counter = %s, want %s", got, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestConflictOnAKeyRead: a key an Update Got that another server changes
// before the commit makes it run again, and again, until CONFLICT; a key
// only set (a blind write) is not guarded.
func TestConflictOnAKeyRead(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	kv, other := openKV(t, c, p, nil), openKV(t, c, p, nil)
	set(t, kv, "head", "1")
	runs := 0
	if err := kv.Update(func(tx storage.Txn) error {
		runs++
		v := get(t, tx, "head")
		if runs == 1 {
			set(t, other, "head", "2")
		}
		return tx.Set([]byte("seen"), []byte(v))
	}); err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("fn ran %d times, want 2 (a conflict, then a clean run)", runs)
	}
	kv.View(func(tx storage.Txn) error {
		if got := get(t, tx, "seen"); got != "2" {
			t.Errorf("seen = %q, want the value of the run that committed, 2", got)
		}
		return nil
	})
	// A missing key read is guarded too (CreateRevision == 0).
	runs = 0
	err := kv.Update(func(tx storage.Txn) error {
		runs++
		get(t, tx, "absent")
		set(t, other, "absent", strconv.Itoa(runs))
		return tx.Set([]byte("x"), []byte("y"))
	})
	if errs.CodeOf(err) != errs.Conflict || runs != maxConflictRetries+1 {
		t.Errorf("an Update whose read key always changes: %v after %d runs, want CONFLICT after %d", err, runs, maxConflictRetries+1)
	}
	if kv.Stats().Conflicts < maxConflictRetries {
		t.Errorf("Stats().Conflicts = %d", kv.Stats().Conflicts)
	}
}

// TestVersionGrows: Version grows with every commit and does not go back
// across a reopen (it is etcd's revision).
func TestVersionGrows(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	kv := openKV(t, c, p, nil)
	v0 := kv.Version()
	set(t, kv, "k", "1")
	v1 := kv.Version()
	set(t, kv, "k", "2")
	v2 := kv.Version()
	if v0 == 0 || v1 <= v0 || v2 <= v1 {
		t.Errorf("versions %d, %d, %d: want growing", v0, v1, v2)
	}
	kv.Close()
	if again := openKV(t, c, p, nil); again.Version() < v2 {
		t.Errorf("Version after a reopen %d, before %d", again.Version(), v2)
	}
}

// TestOnCommit: an Update's OnCommit funcs run once it committed, before
// Version moves past the commit; not when fn fails; a View takes none.
func TestOnCommit(t *testing.T) {
	c := cluster.Cluster(t)
	kv := openKV(t, c, c.Prefix(t), nil)
	var ran []uint64
	if err := kv.Update(func(tx storage.Txn) error {
		if !tx.(storage.CommitNotifier).OnCommit(func() { ran = append(ran, kv.Version()) }) {
			t.Error("an Update's OnCommit took nothing")
		}
		return tx.Set([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || ran[0] >= kv.Version() {
		t.Errorf("OnCommit ran %d times, at version %v; Version after the Update %d", len(ran), ran, kv.Version())
	}
	kv.Update(func(tx storage.Txn) error {
		tx.(storage.CommitNotifier).OnCommit(func() { t.Error("OnCommit ran for a failed Update") })
		tx.Set([]byte("k"), []byte("w"))
		return errors.New("fail")
	})
	kv.View(func(tx storage.Txn) error {
		if tx.(storage.CommitNotifier).OnCommit(func() {}) {
			t.Error("a View's OnCommit took a func")
		}
		return nil
	})
}

// wake waits for a value on ch, failing the test after a minute.
func wake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel closed", what)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s: no wake-up in a minute", what)
	}
}

// TestChanged: a write of the key by another server wakes the watcher; a
// watch from a compacted revision wakes it too (read again) and then
// follows from the current revision; the channel closes with ctx.
func TestChanged(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	kv, other := openKV(t, c, p, nil), openKV(t, c, p, nil)
	ctx, cancel := context.WithCancel(t.Context())
	ch := kv.Changed(ctx, []byte("head"))
	set(t, other, "head", "1")
	wake(t, ch, "a write by another server")

	// A watcher whose start revision etcd compacted away.
	stale := openKV(t, c, p, nil)
	for i := range 3 {
		set(t, other, "head", strconv.Itoa(i+2))
	}
	if _, err := c.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(t.Context())
	defer scancel()
	sch := stale.Changed(sctx, []byte("head"))
	wake(t, sch, "a watch from a compacted revision")
	set(t, other, "head", "9")
	wake(t, sch, "a write after the re-watch")
	wake(t, ch, "the first watcher, after more writes")

	cancel()
	for range ch {
	}
}

// TestUnavailable: with no member answering, or a majority down, Update,
// View and Health fail with STORE_UNAVAILABLE within the bound (OpTimeout),
// Writable says so; all works again once the members are back.
func TestUnavailable(t *testing.T) {
	const opTimeout = 1500 * time.Millisecond
	check := func(t *testing.T, kv *KV) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- kv.Update(func(tx storage.Txn) error { return tx.Set([]byte("k"), []byte("v")) }) }()
		select {
		case err := <-done:
			if errs.CodeOf(err) != errs.StoreUnavailable {
				t.Errorf("Update without a quorum: %v, want STORE_UNAVAILABLE", err)
			}
		case <-time.After(time.Minute): // far past the bound: only a hang fails this
			t.Fatal("Update without a quorum hangs")
		}
		if err := kv.View(func(storage.Txn) error { return nil }); errs.CodeOf(err) != errs.StoreUnavailable {
			t.Errorf("View without a quorum: %v", err)
		}
		if errs.CodeOf(kv.Writable()) != errs.StoreUnavailable {
			t.Errorf("Writable without a quorum: %v", kv.Writable())
		}
		if err := kv.Health(t.Context()); errs.CodeOf(err) != errs.StoreUnavailable {
			t.Errorf("Health without a quorum: %v", err)
		}
		if kv.Stats().Unavailable == 0 {
			t.Error("Stats().Unavailable = 0")
		}
	}
	recovered := func(t *testing.T, kv *KV) {
		t.Helper()
		// The client reconnects on its own, within its backoff (at most 2s
		// between attempts); a minute is far past it.
		var err error
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if err = kv.Update(func(tx storage.Txn) error { return tx.Set([]byte("k"), []byte("after")) }); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("a write a minute after the cluster is back: %v", err)
		}
		if err := kv.Writable(); err != nil {
			t.Errorf("Writable once the cluster is back: %v", err)
		}
		if err := kv.Health(t.Context()); err != nil {
			t.Errorf("Health once the cluster is back: %v", err)
		}
	}
	t.Run("no member", func(t *testing.T) {
		c := etcdtest.New(t, etcdtest.Options{Members: 1})
		kv := openKV(t, c, c.Prefix(t), func(c *Config) { c.OpTimeout = opTimeout })
		set(t, kv, "k", "before")
		if err := c.Member(0).Stop(); err != nil {
			t.Fatal(err)
		}
		check(t, kv)
		if _, err := Open(t.Context(), Config{Endpoints: c.Endpoints(), Prefix: c.Prefix(t), OpTimeout: opTimeout}); errs.CodeOf(err) != errs.StoreUnavailable {
			t.Errorf("Open with no member up: %v, want STORE_UNAVAILABLE", err)
		}
		if err := c.Heal(t.Context()); err != nil {
			t.Fatal(err)
		}
		recovered(t, kv)
	})
	t.Run("two of three members down", func(t *testing.T) {
		c := cluster.Cluster(t)
		kv := openKV(t, c, c.Prefix(t), func(c *Config) { c.OpTimeout = opTimeout })
		set(t, kv, "k", "before")
		t.Cleanup(func() { c.Heal(context.Background()) })
		for _, m := range c.Members()[1:] {
			if err := m.Kill(); err != nil {
				t.Fatal(err)
			}
		}
		check(t, kv)
		if err := c.Heal(t.Context()); err != nil {
			t.Fatal(err)
		}
		recovered(t, kv)
	})
}

// TestQuotaIsDiskFull: past the cluster's --quota-backend-bytes (its
// NOSPACE alarm) an Update fails with DISK_FULL, and Writable says so.
func TestQuotaIsDiskFull(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Options{Members: 1, QuotaBackendBytes: 8 << 20})
	kv := openKV(t, c, c.Prefix(t), nil)
	value := bytes.Repeat([]byte{'x'}, 200<<10)
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		err = kv.Update(func(tx storage.Txn) error { return tx.Set(fmt.Appendf(nil, "v/%04d", i), value) })
	}
	if errs.CodeOf(err) != errs.DiskFull {
		t.Fatalf("writes past the quota: %v, want DISK_FULL", err)
	}
	if errs.CodeOf(kv.Writable()) != errs.DiskFull {
		t.Errorf("Writable past the quota: %v, want DISK_FULL", kv.Writable())
	}
}

// TestChangedWhenTheWatchIsLost: a watch through a member that loses its
// quorum is canceled by etcd (the KV watches with WithRequireLeader); the
// watcher is woken (it may have missed changes) and watches again, and
// follows the writes once the cluster is back.
func TestChangedWhenTheWatchIsLost(t *testing.T) {
	c := cluster.Cluster(t)
	p := c.Prefix(t)
	t.Cleanup(func() { c.Heal(context.Background()) })
	kv := openKV(t, c, p, func(conf *Config) { conf.Endpoints = []string{c.Member(0).ClientURL()} })
	ch := kv.Changed(t.Context(), []byte("head"))
	set(t, kv, "head", "1")
	wake(t, ch, "a write")
	for _, m := range c.Members()[1:] {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	wake(t, ch, "the watch's member lost its leader")
	if err := c.Heal(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := openKV(t, c, p, nil)
	set(t, other, "head", "2")
	for {
		wake(t, ch, "a write once the cluster is back")
		var v string
		if err := kv.View(func(tx storage.Txn) error { v = get(t, tx, "head"); return nil }); err == nil && v == "2" {
			break
		}
	}
}
