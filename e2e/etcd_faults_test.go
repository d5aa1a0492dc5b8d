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
	"syscall"
	"testing"
	"time"

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
