package etcdtest

// Measurements of etcd on this machine, for docs/etcd-measurements.md. The
// benchmarks run only with -bench; the other measurements are tests that
// run only with POLICYGRAPH_ETCD_MEASURE=1, as they take minutes and assert
// nothing but that etcd answered:
//
//	go test ./internal/etcdtest -run '^$' -bench . -benchtime 5s
//	POLICYGRAPH_ETCD_MEASURE=1 go test ./internal/etcdtest -run Measure -v
//
// POLICYGRAPH_ETCD_BIN=path/to/etcd measures another etcd.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The record a commit writes: about the size of a node or fact record.
const (
	recordValueBytes = 250
	logValueBytes    = 300
)

func measuring(t *testing.T) {
	t.Helper()
	if os.Getenv("POLICYGRAPH_ETCD_MEASURE") != "1" {
		t.Skip("a measurement: set POLICYGRAPH_ETCD_MEASURE=1 to run it")
	}
}

// BenchmarkCommit measures commits of one record with its log entry and the
// new version, from W writers with a client each (W servers with one
// committer each). version-key: the engine's commit, guarded by a compare
// on the version key; a writer that lost the race reads the current version
// from the transaction's Else and tries again (lost/op counts those tries).
// no-compare: the same writes unguarded, on keys of each writer's own, for
// etcd's raw transaction rate. One op is one commit; every one is synced by
// a majority of the members before it is acknowledged.
func BenchmarkCommit(b *testing.B) {
	c := etcd.Cluster(b)
	b.Logf("etcd %s", c.Version())
	record := strings.Repeat("r", recordValueBytes)
	entry := strings.Repeat("l", logValueBytes)
	for _, pattern := range []string{"version-key", "no-compare"} {
		for _, writers := range []int{1, 2, 4, 8, 16, 32} {
			b.Run(fmt.Sprintf("%s/writers=%d", pattern, writers), func(b *testing.B) {
				p := c.Prefix(b)
				vk := p + "version"
				ctx := b.Context()
				clients := make([]*clientv3.Client, writers)
				for i := range clients {
					clients[i] = c.Client(b)
				}
				if _, err := clients[0].Put(ctx, vk, versionValue(0)); err != nil {
					b.Fatal(err)
				}
				var (
					tickets   atomic.Int64
					lost      atomic.Int64
					mu        sync.Mutex
					latencies []time.Duration
					wg        sync.WaitGroup
				)
				tickets.Store(int64(b.N))
				b.ResetTimer()
				start := time.Now()
				for w, cli := range clients {
					wg.Go(func() {
						var mine []time.Duration
						defer func() {
							mu.Lock()
							latencies = append(latencies, mine...)
							mu.Unlock()
						}()
						cur := uint64(0)
						for n := 0; tickets.Add(-1) >= 0; n++ {
							began := time.Now()
							for {
								var (
									resp *clientv3.TxnResponse
									err  error
								)
								if pattern == "no-compare" {
									resp, err = cli.Txn(ctx).Then(
										clientv3.OpPut(fmt.Sprintf("%srec/%d/%d", p, w, n), record),
										clientv3.OpPut(fmt.Sprintf("%slog/%d/%d", p, w, n), entry),
									).Commit()
								} else {
									next := versionValue(cur + 1)
									resp, err = cli.Txn(ctx).
										If(clientv3.Compare(clientv3.Value(vk), "=", versionValue(cur))).
										Then(
											clientv3.OpPut(fmt.Sprintf("%srec/%d/%d", p, w, n), record),
											clientv3.OpPut(p+"log/"+next, entry),
											clientv3.OpPut(vk, next)).
										Else(clientv3.OpGet(vk)).
										Commit()
								}
								if err != nil {
									b.Error(err)
									return
								}
								if resp.Succeeded {
									cur++
									break
								}
								lost.Add(1)
								got := resp.Responses[0].GetResponseRange().Kvs[0].Value
								if cur, err = strconv.ParseUint(string(got), 10, 64); err != nil {
									b.Error(err)
									return
								}
							}
							mine = append(mine, time.Since(began))
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				slices.Sort(latencies)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
				b.ReportMetric(float64(lost.Load())/float64(b.N), "lost/op")
				if len(latencies) > 0 {
					b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
				}
			})
		}
	}
}

// BenchmarkGroupCommit measures one writer committing R records in each
// version-key transaction (a group commit of R writes, or a chunk of a large
// change): records/s is what one committer gets through one version key.
func BenchmarkGroupCommit(b *testing.B) {
	c := etcd.Cluster(b)
	record := strings.Repeat("r", recordValueBytes)
	for _, records := range []int{1, 10, 50, 125} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			p := c.Prefix(b)
			cli := c.Client(b)
			ctx := b.Context()
			vk := p + "version"
			cur := uint64(0)
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				next := versionValue(cur + 1)
				ops := []clientv3.Op{clientv3.OpPut(p+"log/"+next, strings.Repeat("l", logValueBytes)), clientv3.OpPut(vk, next)}
				for i := range records {
					ops = append(ops, clientv3.OpPut(fmt.Sprintf("%srec/%d/%d", p, cur, i), record))
				}
				cmp := clientv3.Compare(clientv3.Version(vk), "=", 0)
				if cur > 0 {
					cmp = clientv3.Compare(clientv3.Value(vk), "=", versionValue(cur))
				}
				resp, err := cli.Txn(ctx).If(cmp).Then(ops...).Commit()
				if err != nil || !resp.Succeeded {
					b.Fatalf("commit %d: %v", cur+1, err)
				}
				cur++
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
			b.ReportMetric(float64(b.N*records)/elapsed.Seconds(), "records/s")
		})
	}
}

// BenchmarkWatchLag measures how long after a put is sent a watcher on
// another member receives it: the floor of replication lag between two
// servers, each on its own member.
func BenchmarkWatchLag(b *testing.B) {
	c := etcd.Cluster(b)
	p := c.Prefix(b)
	writer := c.clientFor(b, c.Member(0).ClientURL())
	watcher := c.clientFor(b, c.Member(1).ClientURL())
	ctx := b.Context()
	wch := watcher.Watch(ctx, p, clientv3.WithPrefix())
	// The watch is set up once a first event arrives.
	if _, err := writer.Put(ctx, p+"warm", "x"); err != nil {
		b.Fatal(err)
	}
	<-wch
	var lags []time.Duration
	for i := 0; b.Loop(); i++ {
		sent := time.Now()
		if _, err := writer.Put(ctx, fmt.Sprintf("%sk%d", p, i), "v"); err != nil {
			b.Fatal(err)
		}
		resp := <-wch
		if resp.Err() != nil || len(resp.Events) != 1 {
			b.Fatalf("watch: %v, %d events", resp.Err(), len(resp.Events))
		}
		lags = append(lags, time.Since(sent))
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
}

// memberFootprint is one member's disk and heap.
type memberFootprint struct {
	dbSize, dbInUse, dirBytes, heapAlloc, rss int64
}

// footprint reads a member's backend size from its status, the size of its
// data directory (WAL, snapshots and backend), and its heap after a forced
// GC (through pprof, which the member must run with --enable-pprof).
func footprint(ctx context.Context, t *testing.T, cli *clientv3.Client, m *Member) memberFootprint {
	t.Helper()
	st, err := cli.Status(ctx, m.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	f := memberFootprint{dbSize: st.DbSize, dbInUse: st.DbSizeInUse}
	filepath.WalkDir(m.DataDir(), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				f.dirBytes += fi.Size()
			}
		}
		return nil
	})
	gc, err := http.Get(m.ClientURL() + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	gc.Body.Close()
	metrics := scrape(t, m.ClientURL()+"/metrics")
	f.heapAlloc = int64(metrics["go_memstats_heap_alloc_bytes"])
	f.rss = int64(metrics["process_resident_memory_bytes"])
	return f
}

// scrape reads the unlabelled samples of a Prometheus text page.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// measuredKey is a record key of the engine's likely shape: a prefix, a
// kind byte and a 16-byte ID in hex (47 bytes).
func measuredKey(i int) string { return fmt.Sprintf("/policygraph/n/%032x", i) }

// load puts n keys from index from, 100 a transaction.
func load(ctx context.Context, t *testing.T, cli *clientv3.Client, from, n int, value string) {
	t.Helper()
	for i := from; i < from+n; i += 100 {
		var ops []clientv3.Op
		for j := i; j < i+100 && j < from+n; j++ {
			ops = append(ops, clientv3.OpPut(measuredKey(j), value))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			t.Fatalf("load keys %d..: %v", i, err)
		}
	}
}

// TestMeasureFootprint loads 100k and then 200k keys of ~130-byte and
// ~250-byte values into a fresh 3-member cluster and reports each member's
// disk and heap per 1,000 keys, from the growth between the two loads. The
// heap is read twice: right after the load, when it still holds the raft log
// entries since the last snapshot (every --snapshot-count entries, plus 5,000
// kept for followers to catch up), and after a restart of the member, which
// holds the key index and only the log since the last snapshot: with
// --snapshot-count 100 here, what a member settles at with a long history.
func TestMeasureFootprint(t *testing.T) {
	measuring(t)
	const step = 100_000
	for _, size := range []int{130, 250} {
		t.Run(fmt.Sprintf("value=%dB", size), func(t *testing.T) {
			c := New(t, Options{Args: []string{"--enable-pprof", "--snapshot-count", "100"}})
			ctx := ctxFor(t, 10*time.Minute)
			cli := c.Client(t)
			value := strings.Repeat("v", size)
			var loaded, restarted [3][]memberFootprint
			for k := range 3 {
				if k > 0 {
					load(ctx, t, cli, (k-1)*step, step, value)
				}
				for _, m := range c.Members() {
					// A linearizable read through each member: it has applied all.
					if _, err := m.Client(t).Get(ctx, "x"); err != nil {
						t.Fatal(err)
					}
				}
				for _, m := range c.Members() {
					loaded[k] = append(loaded[k], footprint(ctx, t, cli, m))
				}
				for _, m := range c.Members() {
					if err := m.Stop(); err != nil {
						t.Fatal(err)
					}
					if err := m.Start(); err != nil {
						t.Fatal(err)
					}
					if err := c.WaitHealthy(ctx); err != nil {
						t.Fatal(err)
					}
				}
				for _, m := range c.Members() {
					restarted[k] = append(restarted[k], footprint(ctx, t, cli, m))
				}
			}
			per1k := func(a, b int64) float64 { return float64(b-a) / (step / 1000) }
			for i, m := range c.Members() {
				z, one, two := loaded[0][i], loaded[1][i], loaded[2][i]
				rz, rone, rtwo := restarted[0][i], restarted[1][i], restarted[2][i]
				t.Logf("etcd %s, key %d B, value %d B, member %s: at 0/100k/200k keys: backend %d/%d/%d B (in use %d/%d/%d), data dir %d/%d/%d B, heap after the load %d/%d/%d B, after a restart %d/%d/%d B, RSS after a restart %d/%d/%d B",
					c.Version(), len(measuredKey(0)), size, m.Name(),
					z.dbSize, one.dbSize, two.dbSize, z.dbInUse, one.dbInUse, two.dbInUse,
					z.dirBytes, one.dirBytes, two.dirBytes, z.heapAlloc, one.heapAlloc, two.heapAlloc,
					rz.heapAlloc, rone.heapAlloc, rtwo.heapAlloc, rz.rss, rone.rss, rtwo.rss)
				t.Logf("  per 1k keys (second 100k / first 100k): backend %.0f / %.0f B; heap after the load %.0f / %.0f B; heap after a restart %.0f / %.0f B; RSS after a restart %.0f / %.0f B",
					per1k(one.dbSize, two.dbSize), per1k(z.dbSize, one.dbSize),
					per1k(one.heapAlloc, two.heapAlloc), per1k(z.heapAlloc, one.heapAlloc),
					per1k(rone.heapAlloc, rtwo.heapAlloc), per1k(rz.heapAlloc, rone.heapAlloc),
					per1k(rone.rss, rtwo.rss), per1k(rz.rss, rone.rss))
			}
		})
	}
}

// TestMeasureQuota fills a one-member cluster with a 64 MiB backend quota
// with 250-byte values until NOSPACE, and reports how many keys it held.
func TestMeasureQuota(t *testing.T) {
	measuring(t)
	const quota = 64 << 20
	c := New(t, Options{Members: 1, QuotaBackendBytes: quota})
	ctx := ctxFor(t, 10*time.Minute)
	cli := c.Client(t)
	value := strings.Repeat("v", recordValueBytes)
	n := 0
	for ; ; n += 100 {
		var ops []clientv3.Op
		for j := n; j < n+100; j++ {
			ops = append(ops, clientv3.OpPut(measuredKey(j), value))
		}
		_, err := cli.Txn(ctx).Then(ops...).Commit()
		if errors.Is(err, rpctypes.ErrNoSpace) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	st, err := cli.Status(ctx, c.Member(0).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd %s: %d keys of %d+%d B fit a %d MiB quota (backend %d B, in use %d B at NOSPACE): %.0f B a key; a 2 GiB quota holds ~%.1fM such keys, 8 GiB ~%.1fM",
		c.Version(), n, len(measuredKey(0)), recordValueBytes, quota>>20, st.DbSize, st.DbSizeInUse, float64(quota)/float64(n),
		float64(n)*32/1e6, float64(n)*128/1e6)
}

// TestMeasureLargestValue finds the largest value one put may carry under
// the default --max-request-bytes.
func TestMeasureLargestValue(t *testing.T) {
	measuring(t)
	c := etcd.Cluster(t)
	ctx := ctxFor(t, time.Minute)
	cli := c.Client(t)
	key := c.Prefix(t) + "big"
	lo, hi := 1<<20, defaultMaxRequestBytes+1 // lo fits, hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		_, err := cli.Put(ctx, key, string(bytes.Repeat([]byte{'x'}, mid)))
		switch {
		case err == nil:
			lo = mid
		case errors.Is(err, rpctypes.ErrRequestTooLarge):
			hi = mid
		default:
			t.Fatal(err)
		}
	}
	t.Logf("etcd %s: the largest value a put of a %d-byte key carries is %d B (max-request-bytes %d, overhead %d B)",
		c.Version(), len(key), lo, defaultMaxRequestBytes, defaultMaxRequestBytes-lo)
}

// TestMeasureFailover kills the leader of three while a writer writes with
// a one-second deadline per attempt, and reports how long writes failed;
// then stops two of three and reports what an undeadlined write does.
func TestMeasureFailover(t *testing.T) {
	measuring(t)
	c := New(t, Options{})
	ctx := ctxFor(t, 5*time.Minute)
	cli := c.Client(t)
	p := c.Prefix(t)
	for round := range 3 {
		leader, err := c.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(ctx, p+"k", "before"); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		if err := leader.Kill(); err != nil {
			t.Fatal(err)
		}
		failed := 0
		for {
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := cli.Put(wctx, p+"k", "after")
			cancel()
			if err == nil {
				break
			}
			failed++
		}
		t.Logf("etcd %s, round %d: leader %s killed; the first write succeeded %v later, after %d failed attempts of 1s deadline", c.Version(), round, leader.Name(), time.Since(killed).Round(time.Millisecond), failed)
		if err := c.Heal(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range c.Members()[1:] {
		if err := m.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	_, err := cli.Put(wctx, p+"k", "no quorum")
	cancel()
	t.Logf("etcd %s, no quorum: a write with a 60s deadline returned after %v: %v", c.Version(), time.Since(began).Round(time.Millisecond), err)
}

// TestMeasureCompareOnlyTxn counts how often a transaction of compares
// alone, sent right after an acknowledged put through a client of every
// member, misses that put (a member answers it from its own state, which
// may lag), against the same transaction with a Get in Then (linearizable).
// The count depends on the machine's load: it is a rate, not a bound.
func TestMeasureCompareOnlyTxn(t *testing.T) {
	measuring(t)
	const rounds = 500
	c := etcd.Cluster(t)
	ctx := ctxFor(t, 5*time.Minute)
	cli := c.Client(t)
	key := c.Prefix(t) + "k"
	var compareOnly, withGet int
	for range rounds {
		put, err := cli.Put(ctx, key, "v")
		if err != nil {
			t.Fatal(err)
		}
		isPut := clientv3.Compare(clientv3.ModRevision(key), "=", put.Header.Revision)
		resp, err := cli.Txn(ctx).If(isPut).Commit()
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Succeeded {
			compareOnly++
		}
		resp, err = cli.Txn(ctx).If(isPut).Then(clientv3.OpGet(key, clientv3.WithCountOnly())).Commit()
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Succeeded {
			withGet++
		}
	}
	t.Logf("etcd %s: of %d put-then-compare rounds, a compare-only transaction missed the put %d times, one with a Get %d times",
		c.Version(), rounds, compareOnly, withGet)
}
