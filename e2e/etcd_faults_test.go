package e2e

// Fault tests of servers over a real etcd cluster (issue 12): members and
// servers as separate processes, killed with SIGKILL or stopped while a
// writer records every write it had acknowledged; afterwards every one of
// them is there and `policygraph check -model` finds the cluster clean.
// Tests that take etcd members down run on a cluster of their own
// (etcdtest.New); the others on a prefix of the package's (testenv.Etcd).
// Timeouts are short (-etcd-timeout 1s, -max-staleness 2s), so the suite
// stays cheap; they skip without etcd but fail in CI (etcdtest.Require).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"policygraph/app"
	"policygraph/internal/etcdtest"
	"policygraph/internal/testenv"
)

// checkClean runs `policygraph check -model` against the store the flags
// name (no server needs to run), and fails the test unless it finds no
// problem: records, slugs and the change log in one read of the cluster,
// and the model built from the records against a server's.
func checkClean(t *testing.T, flags []string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := app.Run(t.Context(), append([]string{"check", "-model"}, flags...), testenv.NoEnv, nil, &out, &errb)
	if err != nil || strings.Count(out.String(), ": 0 problems") != 2 {
		t.Errorf("check -model: %v\n%s%s", err, out.String(), errb.String())
	}
}

// healthVersion is the version of a server's read model (/healthz).
func healthVersion(t *testing.T, url string) uint64 {
	t.Helper()
	res, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h struct{ Version uint64 }
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	return h.Version
}

// eventually polls cond every 50ms until it holds, and fails the test when
// it does not within limit (a bound on a hang, not a measurement).
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameVersion waits until the servers' read models are at one version.
func sameVersion(t *testing.T, urls ...string) uint64 {
	t.Helper()
	var v uint64
	eventually(t, 30*time.Second, "the servers reach one version", func() bool {
		v = healthVersion(t, urls[0])
		for _, u := range urls[1:] {
			if healthVersion(t, u) != v {
				return false
			}
		}
		return true
	})
	return v
}

// streamUntil runs the writer against url in the background until it has
// acknowledged at least n more entities, and returns a func that stops it
// and waits for it.
func streamUntil(t *testing.T, w *writer, url, client string, n int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start, _ := w.counts()
	go func() { defer close(done); w.stream(ctx, url, client) }()
	stop = func() { cancel(); <-done }
	eventually(t, 60*time.Second, fmt.Sprintf("%d writes acknowledged by %s", n, client), func() bool {
		e, _ := w.counts()
		return e >= start+n
	})
	return stop
}

// TestEtcdServerKilledDuringWrites: a server (the binary) killed with
// SIGKILL while a writer streams writes to it loses none it acknowledged:
// the other server on the cluster has every one, the killed one restarted
// on its data directory (its model's file) has every one, both at the same
// version, and the cluster checks clean.
func TestEtcdServerKilledDuringWrites(t *testing.T) {
	flags := testenv.EtcdFlags(t)
	dirA := t.TempDir()
	a := testenv.StartBinary(t, dirA, flags...)
	b := testenv.StartBinary(t, t.TempDir(), flags...)

	w := newWriter()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streamed := make(chan struct{})
	go func() { defer close(streamed); w.stream(ctx, a.URL, "a") }()
	eventually(t, 60*time.Second, "20 writes acknowledged", func() bool { e, _ := w.counts(); return e >= 20 })
	if err := a.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-streamed // the writer stops at the first request the dead server does not answer
	<-a.Done

	again := testenv.StartBinary(t, dirA, flags...)
	v := sameVersion(t, again.URL, b.URL)
	w.verify(t, b.URL)
	w.verify(t, again.URL)
	entities, facts := w.counts()
	t.Logf("%d entities and %d facts acknowledged before the kill; both servers at version %d", entities, facts, v)
	for _, p := range []*testenv.Process{again, b} {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	checkClean(t, flags)
}

// TestEtcdMembersFail takes a server's cluster through its members'
// failures while a writer streams writes to it:
//   - the leader killed with SIGKILL (one member of three): writes go on;
//   - a second member stopped (no quorum): a write fails with
//     STORE_UNAVAILABLE within a bound of -etcd-timeout, reads go on from
//     the model with its version in Policygraph-Version, and /readyz says
//     503 once -max-staleness has passed;
//   - the killed member back: writes resume and /readyz is 200 again.
//
// Every write acknowledged on the way is there, and the cluster checks clean.
func TestEtcdMembersFail(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Options{})
	cluster := []string{"-etcd", strings.Join(c.Endpoints(), ","), "-etcd-timeout", "1s"}
	s := testenv.Start(t, append(cluster, "-data", t.TempDir(), "-max-staleness", "2s", "-follow-poll", "200ms")...)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	w := newWriter()
	w.pause = 20 * time.Millisecond
	stop := streamUntil(t, w, s.URL, "before", 10)

	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	before, _ := w.counts()
	eventually(t, 60*time.Second, "writes go on with one member of three killed", func() bool { e, _ := w.counts(); return e >= before+20 })
	stop()
	t.Logf("leader %s killed: %d entities acknowledged after, %d writes refused meanwhile", leader.Name(), func() int { e, _ := w.counts(); return e - before }(), w.errors)

	var other *etcdtest.Member
	for _, m := range c.Members() {
		if m.Running() {
			other = m
			break
		}
	}
	if err := other.Stop(); err != nil {
		t.Fatal(err)
	}
	// A write fails with STORE_UNAVAILABLE, within a bound of the etcd
	// timeout (each of the few requests a write makes has 1s).
	lastVersion := healthVersion(t, s.URL)
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	began := time.Now()
	r, err := s.Do(wctx, testenv.Token, createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": "Written Without A Quorum"}})
	wcancel()
	if err != nil {
		t.Fatalf("a write without a quorum did not answer within 15s (-etcd-timeout 1s): %v", err)
	}
	if r.Acked() || r.Code() != "STORE_UNAVAILABLE" {
		t.Fatalf("a write without a quorum answered %d %q: %s", r.Status, r.Code(), testenv.Clip(r.Raw))
	}
	t.Logf("a write without a quorum failed with STORE_UNAVAILABLE after %s", time.Since(began).Round(time.Millisecond))
	// Reads go on, from the model, at its version.
	read := s.Must(t, "", `{ entities(first: 1) { totalCount } }`, nil)
	if pv := read.Header.Get("Policygraph-Version"); !strings.HasSuffix(pv, fmt.Sprintf(":%d", lastVersion)) {
		t.Errorf("a read without a quorum: Policygraph-Version %q, want the model's version %d", pv, lastVersion)
	}
	w.verify(t, s.URL)
	// Not ready once the store has been out of reach for -max-staleness.
	eventually(t, 30*time.Second, "/readyz says 503 without a quorum", func() bool {
		res, body := getURL(t, s.URL+"/readyz", nil)
		return res.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "max-staleness")
	})
	s.Must(t, "", `{ entities(first: 1) { totalCount } }`, nil)

	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	stop = streamUntil(t, w, s.URL, "after", 10)
	stop()
	eventually(t, 30*time.Second, "/readyz says 200 with the quorum back", func() bool {
		res, _ := getURL(t, s.URL+"/readyz", nil)
		return res.StatusCode == http.StatusOK
	})
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	w.verify(t, s.URL)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	checkClean(t, cluster)
	entities, facts := w.counts()
	t.Logf("%d entities and %d facts acknowledged in all, %d writes refused", entities, facts, w.errors)
}

// TestEtcdRestartBehindCompaction: a server stopped (its model's file at
// version V) while another writes on, keeping a short change log
// (-change-log-versions 5) that prunes version V+1 away, and the cluster
// compacted: started again, the server cannot replay the log from its file,
// re-lists the records instead, and answers what the other server answers,
// at the same version, with every write the other acknowledged.
func TestEtcdRestartBehindCompaction(t *testing.T) {
	cluster := testenv.EtcdFlags(t)
	flags := append(cluster, "-change-log-versions", "5", "-change-log-age", "0")
	dirA := t.TempDir()
	a := testenv.Start(t, append(flags, "-data", dirA)...)
	createTopic(t, a.Client, "written before the stop")
	stoppedAt := healthVersion(t, a.URL)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	b := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	w := newWriter()
	stop := streamUntil(t, w, b.URL, "b", 30)
	stop()
	if first := metric(t, b.URL, "policygraph_change_log_first"); uint64(first) <= stoppedAt+1 {
		t.Fatalf("the change log keeps versions from %v on; the stopped server's file is at %d: not pruned past it", first, stoppedAt)
	}
	rev, err := testenv.Etcd.Cluster(t).Compact(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	again := testenv.Start(t, append(flags, "-data", dirA)...)
	if !strings.Contains(again.Stdout.String(), "read model file not used; building the model from the store") {
		t.Errorf("the restarted server did not re-list the store:\n%s", again.Stdout)
	}
	v := sameVersion(t, again.URL, b.URL)
	w.verify(t, again.URL)
	const q = `{ entities(first: 200, orderBy: NAME) { totalCount nodes { id slug name } } }`
	ra, rb := again.Must(t, "", q, nil), b.Must(t, "", q, nil)
	if ra.Raw != rb.Raw || ra.Header.Get("Policygraph-Version") != rb.Header.Get("Policygraph-Version") {
		t.Errorf("the restarted server answers %s at %s, the other %s at %s", testenv.Clip(ra.Raw), ra.Header.Get("Policygraph-Version"),
			testenv.Clip(rb.Raw), rb.Header.Get("Policygraph-Version"))
	}
	t.Logf("stopped at version %d; the other wrote on to %d; etcd compacted at revision %d", stoppedAt, v, rev)
	checkClean(t, cluster)
}

// TestEtcdServerKilledMidStagedWrite kills a server (the binary) with
// SIGKILL in the middle of a write too big for one etcd transaction (an
// ingest of 4,000 entities: a staged commit), once after it claimed the
// commit but before it published it, and once after it published it (the
// commit point) but before its apply ended (the server stepped with
// SIGSTOP/SIGCONT to stop it there), while a reader polls another server
// throughout and, from the kill on, a writer writes through it; after the
// second kill a new server starts and lists the half-applied store.
// The reader never sees part of the ingest: 0 or all of its entities; the
// ingest is there in the end exactly when it was published; the claim,
// the pending manifest and the staged chunks are gone within the claim's
// lease (10 s) and the janitor's round; every write the other server
// acknowledged is there, and the cluster checks clean.
func TestEtcdServerKilledMidStagedWrite(t *testing.T) {
	flags := testenv.EtcdFlags(t)
	prefix := flags[3]
	cli := testenv.Etcd.Cluster(t).Client(t)
	b := testenv.Start(t, append(flags, "-data", t.TempDir(), "-follow-poll", "100ms")...)
	const n = 4000
	products := func(t *testing.T) int {
		t.Helper()
		var c int
		r := b.Must(t, "", `{ entities(filter: {kinds: [PRODUCT]}, first: 1) { totalCount } }`, nil)
		if err := r.Decode("entities.totalCount", &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for round, at := range []string{"claim", "pending"} {
		t.Run("killed after the "+at, func(t *testing.T) {
			a := testenv.StartBinary(t, t.TempDir(), flags...)
			before := products(t)

			// Watch the pending manifest from now on: was it ever published?
			wctx, wcancel := context.WithCancel(t.Context())
			defer wcancel()
			now, err := cli.Get(wctx, prefix+"pending")
			if err != nil {
				t.Fatal(err)
			}
			pendings := cli.Watch(wctx, prefix+"pending", clientv3.WithRev(now.Header.Revision+1))
			var published atomic.Bool
			go func() {
				for resp := range pendings {
					if putIn(resp) {
						published.Store(true)
					}
				}
			}()

			// The reader, and a writer on the other server.
			rctx, rcancel := context.WithCancel(t.Context())
			seen := map[int]int{}
			var polls int
			read := make(chan struct{})
			go func() {
				defer close(read)
				for rctx.Err() == nil {
					r, err := b.Do(rctx, "", `{ entities(filter: {kinds: [PRODUCT]}, first: 1) { totalCount } }`, nil)
					if err != nil || !r.Acked() {
						continue
					}
					var c int
					r.Decode("entities.totalCount", &c)
					seen[c]++
					polls++
					time.Sleep(5 * time.Millisecond)
				}
			}()
			// Step the server (SIGCONT, 1 ms, SIGSTOP) from the ingest's
			// request on, and kill it once it stands where this round wants
			// it: a watch event comes too late for that (staging and applying
			// take milliseconds).
			pid := a.Cmd.Process.Pid
			syscall.Kill(pid, syscall.SIGSTOP)
			ingested := make(chan string, 1)
			go func() {
				r, err := a.Do(t.Context(), testenv.Token, `mutation($in: IngestSourceInput!) { ingestSource(input: $in) { created { count } } }`,
					map[string]any{"in": map[string]any{"bundle": stagedBundle(round, n), "format": "JSON"}})
				if err == nil {
					ingested <- testenv.Clip(r.Raw)
				}
			}()
			count := func(key string) int64 {
				r, err := cli.Get(t.Context(), prefix+key, clientv3.WithCountOnly())
				if err != nil {
					t.Fatal(err)
				}
				return r.Count
			}
			deadline := time.Now().Add(60 * time.Second)
			for steps := 0; ; steps++ {
				select {
				case r := <-ingested:
					t.Fatalf("the ingest answered before the kill after the %s: %s", at, r)
				default:
				}
				if time.Now().After(deadline) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("the ingest did not reach the %s in %d steps", at, steps)
				}
				claim, pending := count("claim"), count("pending")
				if at == "claim" && claim > 0 && pending == 0 || at == "pending" && pending > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Logf("killed after %d steps of 1 ms", steps)
					break
				}
				syscall.Kill(pid, syscall.SIGCONT)
				time.Sleep(time.Millisecond)
				syscall.Kill(pid, syscall.SIGSTOP)
			}
			if err := <-a.Done; err == nil {
				t.Fatal("the server was not killed: it exited cleanly")
			}
			killedPublished := published.Load()
			pending, err := cli.Get(t.Context(), prefix+"pending", clientv3.WithCountOnly())
			if err != nil {
				t.Fatal(err)
			}
			if at == "pending" && pending.Count == 0 {
				t.Fatal("the server was not killed between its publish and the end of its apply: no pending manifest after the kill")
			}
			if at == "claim" && (pending.Count > 0 || killedPublished) {
				t.Fatal("the server was not killed before its publish: a pending manifest after the kill")
			}
			if at == "pending" {
				// A server started now lists the store while the commit is
				// half applied: it must load all of it (the manifest's
				// write set overlaid on its read), never part.
				c := testenv.Start(t, append(flags, "-data", t.TempDir())...)
				var got int
				c.Must(t, "", `{ entities(filter: {kinds: [PRODUCT]}, first: 1) { totalCount } }`, nil).Decode("entities.totalCount", &got)
				if got != before+n {
					t.Errorf("a server started while the commit was half applied counts %d products, want %d", got, before+n)
				}
			}
			// A writer on the other server from the kill on: its writes wait
			// for the dead server's claim to expire, or find the pending
			// manifest and finish the apply. (Not before: while the server
			// is stepped, stopped most of the time, it holds the claim for
			// long, and writes would wait on it past the writer's client
			// timeout. TestEtcdStagedIngestAmongWrites writes during a
			// staged ingest.)
			w := newWriter()
			stopWriting := streamUntil(t, w, b.URL, "b", 1)
			eventually(t, 30*time.Second, "no claim, no pending manifest, no staged chunk", func() bool {
				for _, k := range []string{"claim", "pending", "s/"} {
					if r, err := cli.Get(t.Context(), prefix+k, clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || r.Count != 0 {
						return false
					}
				}
				return true
			})
			want := before
			if published.Load() {
				want = before + n
			}
			eventually(t, 30*time.Second, fmt.Sprintf("the other server counts %d products", want), func() bool { return products(t) == want })
			stopWriting()
			rcancel()
			<-read
			for c := range seen {
				if c != before && c != before+n {
					t.Errorf("a reader saw %d products, neither %d nor %d: part of the staged write (counts seen: %v)", c, before, before+n, seen)
				}
			}
			w.verify(t, b.URL)
			entities, _ := w.counts()
			t.Logf("killed after the %s (published then: %v, pending manifest left: %v, published in the end: %v); %d polls saw %v; %d writes acknowledged on the other server meanwhile",
				at, killedPublished, pending.Count > 0, published.Load(), polls, seen, entities)
			if at == "pending" && !published.Load() {
				t.Error("killed after the publish, yet no pending manifest was seen")
			}
			checkClean(t, flags)
		})
	}
}

// putIn reports whether a watch response holds a put.
func putIn(resp clientv3.WatchResponse) bool {
	for _, ev := range resp.Events {
		if ev.Type == clientv3.EventTypePut {
			return true
		}
	}
	return false
}

// stagedBundle is a source bundle (JSON) of n products, too many for one
// etcd transaction: its ingest is a staged commit.
func stagedBundle(round, n int) string {
	type entity struct {
		Slug string `json:"slug"`
		Kind string `json:"kind"`
		Name string `json:"name"`
	}
	b := struct {
		Source   map[string]string `json:"source"`
		Entities []entity          `json:"entities"`
	}{Source: map[string]string{"slug": fmt.Sprintf("staged-%d", round), "title": "A catalogue", "language": "en",
		"text": "A catalogue of products, too long for one transaction."}}
	for i := range n {
		b.Entities = append(b.Entities, entity{fmt.Sprintf("staged-%d-product-%d", round, i), "PRODUCT", fmt.Sprintf("Staged %d Product %d", round, i)})
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// TestEtcdStagedIngestAmongWrites: an ingest of 1,500 entities on one
// server (a staged commit: claim, stage, publish) succeeds while a writer
// streams small writes through another server the whole time: the small
// writes wait while the ingest holds the store's claim instead of moving
// the head under it, so the ingest is not starved (it failed with
// CONFLICT, "the graph changed under the write too often", before), and
// every small write is acknowledged and present on both servers.
func TestEtcdStagedIngestAmongWrites(t *testing.T) {
	flags := testenv.EtcdFlags(t)
	a := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	b := testenv.Start(t, append(flags, "-data", t.TempDir())...)
	const n = 1500
	products := func(p *testenv.Process) int {
		var c int
		r := p.Must(t, "", `{ entities(filter: {kinds: [PRODUCT]}, first: 1) { totalCount } }`, nil)
		if err := r.Decode("entities.totalCount", &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := products(a)
	w := newWriter()
	stopWriting := streamUntil(t, w, b.URL, "b", 5)
	r, err := a.Do(t.Context(), testenv.Token, `mutation($in: IngestSourceInput!) { ingestSource(input: $in) { created { count } } }`,
		map[string]any{"in": map[string]any{"bundle": stagedBundle(7, n), "format": "JSON"}})
	if err != nil {
		stopWriting()
		t.Fatal(err)
	}
	during, _ := w.counts()
	// Writes go on after the ingest too.
	eventually(t, 30*time.Second, "more writes after the ingest", func() bool { e, _ := w.counts(); return e >= during+5 })
	stopWriting()
	if !r.Acked() {
		t.Fatalf("the ingest of %d entities among writes on another server: %s", n, testenv.Clip(r.Raw))
	}
	sameVersion(t, a.URL, b.URL)
	for _, p := range []*testenv.Process{a, b} {
		if got := products(p); got != before+n {
			t.Errorf("%s counts %d products, want %d", p.URL, got, before+n)
		}
		w.verify(t, p.URL)
	}
	entities, _ := w.counts()
	w.mu.Lock()
	refused := w.errors
	w.mu.Unlock()
	if refused != 0 {
		t.Errorf("%d of the small writes were refused (%d acknowledged)", refused, entities)
	}
	t.Logf("%d small writes acknowledged on the other server, %d of them before the ingest answered", entities, during)
	checkClean(t, flags)
}
