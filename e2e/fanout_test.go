package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"policygraph/internal/testenv"
)

// envFanOut runs TestSubscriptionFanOut: POLICYGRAPH_FANOUT=1000 measures
// with 1,000 subscribers (after a baseline of 1). It is a measurement, not a
// check: BENCHMARKS.md has its numbers.
const envFanOut = "POLICYGRAPH_FANOUT"

// TestSubscriptionFanOut measures the fan-out of one write to many
// WebSocket subscribers of graphVersion on loopback, against the built
// server: the time from a write's acknowledgement to the last subscriber's
// event (p50, p99 over the writes), and the server's CPU and memory per
// subscriber (from /proc). It runs a baseline of one subscriber first, in
// the same run.
func TestSubscriptionFanOut(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envFanOut))
	if n <= 0 {
		t.Skip("set " + envFanOut + "=1000 to measure the fan-out to 1,000 subscribers")
	}
	const writes = 50
	for _, subs := range []int{1, n} {
		srv := testenv.StartBinary(t, t.TempDir(), "-max-subscriptions", strconv.Itoa(2*n), "-max-conns", strconv.Itoa(4*n+200))
		pid := srv.Cmd.Process.Pid
		ctx := t.Context()
		rss0, _ := procStat(t, pid)
		_, cpu0 := procStat(t, pid)
		// Versions are dense: the warm-up write commits base+1, write i
		// base+2+i. Each subscriber notes when it got each version, and the
		// last to get write i's tells the writer (all[i]).
		base := version(t, srv.Client)
		arrived := make([]atomic.Int64, writes)
		all := make([]chan struct{}, writes)
		for i := range all {
			all[i] = make(chan struct{})
		}
		got := make([]map[uint64]time.Time, subs)
		var ready, warm, done sync.WaitGroup
		var want uint64
		var mu sync.Mutex
		for i := range subs {
			got[i] = make(map[uint64]time.Time, writes)
			ready.Add(1)
			warm.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				w, err := dialWS(ctx, srv.URL, nil, nil)
				if err != nil {
					t.Error(err)
					ready.Done()
					warm.Done()
					return
				}
				first := true
				defer w.c.CloseNow()
				// From base: a subscription that starts after the warm-up
				// write still gets it.
				w.subscribe(t, "1", `subscription($v: String) { graphVersion(since: $v) { version } }`, map[string]any{"v": strconv.FormatUint(base, 10)})
				ready.Done()
				for {
					m, err := w.read()
					if err != nil {
						return
					}
					at := time.Now()
					s := string(m.Payload)
					i0 := strings.Index(s, `"version":"`)
					if i0 < 0 {
						t.Errorf("event %s", s)
						return
					}
					s = s[i0+len(`"version":"`):]
					v, _ := strconv.ParseUint(s[:strings.IndexByte(s, '"')], 10, 64)
					got[i][v] = at
					if k := int(v) - int(base) - 2; k >= 0 && k < writes && arrived[k].Add(1) == int64(subs) {
						close(all[k])
					}
					if first {
						first = false
						warm.Done()
					}
					mu.Lock()
					last := want
					mu.Unlock()
					if v >= last && last > 0 {
						return
					}
				}
			}()
		}
		ready.Wait()
		// Subscribed: the subscription runs once the server answered a
		// first write to each (a write nobody measures).
		createOrg(t, srv.Client, "Warm-up")
		warm.Wait()
		rss1, cpu1 := procStat(t, pid)
		acked := make(map[uint64]time.Time, writes)
		sent := make(map[uint64]time.Time, writes)
		var lastV uint64
		for i := range writes {
			lastV = base + 2 + uint64(i)
			sent[lastV] = time.Now()
			createOrg(t, srv.Client, fmt.Sprintf("Fan-out %d %d", subs, i))
			acked[lastV] = time.Now()
			select { // the next write once every subscriber has this one: each fan-out measured alone
			case <-all[i]:
			case <-ctx.Done():
				t.Fatal("not every subscriber got the write")
			}
		}
		mu.Lock()
		want = lastV
		mu.Unlock()
		createOrg(t, srv.Client, "Last") // wakes subscribers that already passed lastV
		done.Wait()
		_, cpu2 := procStat(t, pid)
		var lat, fromSend []time.Duration
		for v, at := range acked {
			var last time.Time
			for i := range subs {
				if g, ok := got[i][v]; ok && g.After(last) {
					last = g
				} else if !ok {
					t.Errorf("subscriber %d missed version %d", i, v)
				}
			}
			lat = append(lat, last.Sub(at))
			fromSend = append(fromSend, last.Sub(sent[v]))
		}
		slices.Sort(lat)
		slices.Sort(fromSend)
		p := func(l []time.Duration, q float64) time.Duration { return l[int(q*float64(len(l)-1))] }
		t.Logf("%d subscribers, %d writes: write sent to its ack p50 %v; ack to last subscriber's event p50 %v p99 %v (from the write sent: p50 %v p99 %v); server RSS %d KiB before, %d KiB subscribed (%.1f KiB a subscriber); CPU %v subscribing, %v for the writes (%.1f µs a delivered event)",
			subs, writes, p(ackTimes(sent, acked), 0.5), p(lat, 0.5), p(lat, 0.99), p(fromSend, 0.5), p(fromSend, 0.99), rss0/1024, rss1/1024, float64(rss1-rss0)/1024/float64(subs),
			cpu1-cpu0, cpu2-cpu1, float64((cpu2-cpu1).Microseconds())/float64(writes*subs))
		srv.Stop()
	}
}

// procStat reads a process's resident set (bytes) and CPU time (user and
// system) from /proc.
func procStat(t *testing.T, pid int) (rss int64, cpu time.Duration) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	const hz = 100 // USER_HZ
	return pages * int64(os.Getpagesize()), time.Duration(utime+stime) * time.Second / hz
}

// ackTimes is how long each write took to be acknowledged, sorted.
func ackTimes(sent, acked map[uint64]time.Time) []time.Duration {
	var out []time.Duration
	for v, at := range acked {
		out = append(out, at.Sub(sent[v]))
	}
	slices.Sort(out)
	return out
}
