package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// etcd is this package's shared cluster, for the tests that leave it whole.
var etcd Shared

func TestMain(m *testing.M) { os.Exit(etcd.Main(m)) }

// ctxFor returns a context that ends with the test or after d.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestPutGetThroughEveryMember writes through the 3.7 client and reads the
// value back through each member on its own.
func TestPutGetThroughEveryMember(t *testing.T) {
	c := etcd.Cluster(t)
	t.Logf("etcd %s (%s), members %v", c.Version(), c.Binary(), c.Endpoints())
	if got := len(c.Members()); got != DefaultMembers {
		t.Fatalf("%d members, want %d", got, DefaultMembers)
	}
	ctx := ctxFor(t, 30*time.Second)
	key := c.Prefix(t) + "greeting"
	put, err := c.Client(t).Put(ctx, key, "xin chào")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Members() {
		// A linearizable read through a member waits until that member has
		// applied everything committed before it.
		resp, err := m.Client(t).Get(ctx, key)
		if err != nil {
			t.Fatalf("get through %s: %v", m.Name(), err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "xin chào" || resp.Kvs[0].ModRevision != put.Header.Revision {
			t.Errorf("get through %s = %v, want the value put at revision %d", m.Name(), resp.Kvs, put.Header.Revision)
		}
	}
}

// TestPrefixIsolatesAndEmpties checks that each test's prefix is its own
// and that its keys are gone once the test ends.
func TestPrefixIsolatesAndEmpties(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, 30*time.Second)
	var first, second string
	t.Run("first", func(t *testing.T) {
		first = c.Prefix(t)
		second = c.Prefix(t)
		if _, err := c.Client(t).Put(ctx, first+"k", "v"); err != nil {
			t.Fatal(err)
		}
	})
	if first == second || strings.HasPrefix(first, second) || strings.HasPrefix(second, first) {
		t.Fatalf("prefixes %q and %q overlap", first, second)
	}
	resp, err := c.Client(t).Get(ctx, first, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Errorf("%d keys left under %s after its test ended", resp.Count, first)
	}
}

// TestKillMemberWritesGoOn kills one member of three with SIGKILL, the
// leader or a follower, while a writer goes on, then restarts it and checks
// that it holds every acknowledged write.
func TestKillMemberWritesGoOn(t *testing.T) {
	for _, victim := range []string{"follower", "leader"} {
		t.Run(victim, func(t *testing.T) {
			c := New(t, Options{})
			ctx := ctxFor(t, 2*time.Minute)
			cli := c.Client(t)
			leader, err := c.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m := leader
			if victim == "follower" {
				m = c.Member((indexOf(c, leader) + 1) % len(c.Members()))
			}
			prefix := c.Prefix(t)
			var acked []string
			write := func(i int) {
				t.Helper()
				key := fmt.Sprintf("%sk%04d", prefix, i)
				// A write in flight while the leader dies may fail (the
				// leader changed: a deadline, or etcd's "request timed
				// out"). With a follower killed, only a write the client
				// sent on the killed member's connection as it died may
				// fail, with a connection error: the client retries no
				// mutation on its own. The writer tries again, bounded; a
				// put of the same value again is harmless, so the
				// acknowledged keys stay exact.
				for attempt := 1; ; attempt++ {
					wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := cli.Put(wctx, key, "v")
					cancel()
					if err == nil {
						acked = append(acked, key)
						return
					}
					if attempt == 5 || (victim == "follower" && !connectionLost(err)) {
						t.Fatalf("write %d (attempt %d) with member %s killed: %v", i, attempt, m.Name(), err)
					}
					t.Logf("write %d, attempt %d, with member %s killed: %v", i, attempt, m.Name(), err)
				}
			}
			for i := range 20 {
				write(i)
			}
			pid := m.Pid()
			if err := m.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("member %s (pid %d) is still there after Kill: %v", m.Name(), pid, err)
			}
			for i := 20; i < 60; i++ {
				write(i)
			}
			if err := m.Start(); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			resp, err := m.Client(t).Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Kvs) != len(acked) {
				t.Fatalf("restarted member %s holds %d keys, want the %d acknowledged", m.Name(), len(resp.Kvs), len(acked))
			}
			for i, kv := range resp.Kvs {
				if string(kv.Key) != acked[i] {
					t.Fatalf("restarted member %s: key %d is %s, want %s", m.Name(), i, kv.Key, acked[i])
				}
			}
		})
	}
}

// connectionLost reports whether err is the client's own error for a
// connection that broke under a request (code Unavailable, not from etcd),
// as "error reading from server: EOF" when the member at its end was killed.
func connectionLost(err error) bool {
	var etcdErr rpctypes.EtcdError
	return !errors.As(err, &etcdErr) && status.Code(err) == codes.Unavailable
}

func indexOf(c *Cluster, m *Member) int {
	for i, o := range c.Members() {
		if o == m {
			return i
		}
	}
	return -1
}

// TestQuorumLoss stops two members of three: a write fails by its deadline,
// a serializable read on the last member still answers with the last
// acknowledged value, and so does a transaction of compares alone, and once
// one member is back writes succeed again.
func TestQuorumLoss(t *testing.T) {
	c := New(t, Options{})
	ctx := ctxFor(t, 2*time.Minute)
	cli := c.Client(t)
	key := c.Prefix(t) + "k"
	if _, err := cli.Put(ctx, key, "before"); err != nil {
		t.Fatal(err)
	}
	survivor := c.Member(0)
	// The survivor must have applied "before" for the serializable read
	// below: a linearizable read through it waits for that.
	if _, err := survivor.Client(t).Get(ctx, key); err != nil {
		t.Fatal(err)
	}
	// A watch that requires a leader is how a server learns it is cut off
	// from the cluster: it ends with ErrNoLeader once its member has none.
	// It must be open before the quorum goes: a client whose watch stream
	// is refused for want of a leader retries the stream, and its channel
	// stays open.
	wch := survivor.Client(t).Watch(clientv3.WithRequireLeader(ctx), key, clientv3.WithCreatedNotify())
	if resp := <-wch; !resp.Created {
		t.Fatalf("watch not created: %v", resp.Err())
	}
	for _, m := range c.Members()[1:] {
		if err := m.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case resp, ok := <-wch:
		if !ok || !errors.Is(resp.Err(), rpctypes.ErrNoLeader) {
			t.Fatalf("a watch requiring a leader, without a quorum: closed %v, %v, events %v; want %v", !ok, resp.Err(), resp.Events, rpctypes.ErrNoLeader)
		}
	case <-ctx.Done():
		t.Fatal("a watch requiring a leader went on without a quorum")
	}

	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := cli.Put(wctx, key, "during")
	cancel()
	if !unavailable(err) {
		t.Fatalf("a write without a quorum returned %v, want a deadline or unavailability error", err)
	}
	t.Logf("a write without a quorum: %v", err)

	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = survivor.Client(t).Get(rctx, key)
	cancel()
	if !unavailable(err) {
		t.Fatalf("a linearizable read without a quorum returned %v, want a deadline or unavailability error", err)
	}
	t.Logf("a linearizable read without a quorum: %v", err)

	resp, err := survivor.Client(t).Get(ctx, key, clientv3.WithSerializable())
	if err != nil {
		t.Fatalf("a serializable read without a quorum: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "before" {
		t.Fatalf("a serializable read without a quorum = %v, want the value before", resp.Kvs)
	}

	// A transaction of compares alone is read-only and counts as
	// serializable (it has no range request to make it linearizable): the
	// member answers it from its own state, with no quorum, so on a
	// follower it can miss an acknowledged write. Checking a version with
	// it proves nothing; a Get in it makes it linearizable again.
	isBefore := clientv3.Compare(clientv3.Value(key), "=", "before")
	txn, err := survivor.Client(t).Txn(ctx).If(isBefore).Commit()
	if err != nil || !txn.Succeeded {
		t.Fatalf("a compare-only transaction without a quorum: %v, succeeded %v; want it answered by the member alone", err, txn != nil && txn.Succeeded)
	}
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = survivor.Client(t).Txn(tctx).If(isBefore).Then(clientv3.OpGet(key)).Commit()
	cancel()
	if !unavailable(err) {
		t.Fatalf("a transaction with a Get, without a quorum, returned %v, want a deadline or unavailability error", err)
	}

	if err := c.Member(1).Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, key, "after"); err != nil {
		t.Fatalf("a write with two members of three back: %v", err)
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Member(2).Client(t).Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "after" {
		t.Fatalf("the last member back reads %v, want the value after", resp.Kvs)
	}
}

// unavailable reports whether err is what a client sees from a cluster
// without a quorum: a deadline, etcd's "no leader", or one of its "request
// timed out" errors (code Unavailable). The deadline may be the client's own
// or the server's, which holds the same deadline (gRPC sends it along) and
// can answer first: etcd 3.4 sends it as a status of code Unknown saying
// "context deadline exceeded", which the client passes on as it is.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rpctypes.ErrNoLeader) {
		return true
	}
	switch code(err) {
	case codes.DeadlineExceeded, codes.Unavailable:
		return true
	}
	return status.Convert(err).Message() == context.DeadlineExceeded.Error()
}

// TestUnavailable checks unavailable against the errors seen from 3.4.23 and
// 3.7.3 without a quorum, and against errors that mean something else.
func TestUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"the client's deadline", context.DeadlineExceeded, true},
		{"the client's deadline, wrapped", fmt.Errorf("put: %w", context.DeadlineExceeded), true},
		{"the server's deadline (3.4)", status.Error(codes.Unknown, context.DeadlineExceeded.Error()), true},
		{"a deadline status", status.Error(codes.DeadlineExceeded, "etcdserver: context deadline exceeded"), true},
		{"no leader", rpctypes.ErrNoLeader, true},
		{"request timed out", rpctypes.ErrTimeout, true},
		{"timed out, connection lost", rpctypes.ErrTimeoutDueToConnectionLost, true},
		{"timed out, leader failure", rpctypes.ErrTimeoutDueToLeaderFail, true},
		{"no error", nil, false},
		{"canceled", context.Canceled, false},
		{"compacted", rpctypes.ErrCompacted, false},
		{"too many operations", rpctypes.ErrTooManyOps, false},
		{"another Unknown status", status.Error(codes.Unknown, "something else"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := unavailable(tt.err); got != tt.want {
				t.Errorf("unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestConnectionLost checks connectionLost against the error seen when a
// follower was killed under a write, and against etcd's own errors.
func TestConnectionLost(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"the connection's end was killed", status.Error(codes.Unavailable, "error reading from server: EOF"), true},
		{"wrapped", fmt.Errorf("put: %w", status.Error(codes.Unavailable, "connection reset by peer")), true},
		{"etcd timed out (code Unavailable)", rpctypes.ErrTimeoutDueToLeaderFail, false},
		{"no leader (code Unavailable)", rpctypes.ErrNoLeader, false},
		{"a deadline", context.DeadlineExceeded, false},
		{"no error", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := connectionLost(tt.err); got != tt.want {
				t.Errorf("connectionLost(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestCompactCutsHistory checks Compact: an older revision can no longer be
// read or watched from.
func TestCompactCutsHistory(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, 30*time.Second)
	cli := c.Client(t)
	key := c.Prefix(t) + "k"
	first, err := cli.Put(ctx, key, "1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, key, "2"); err != nil {
		t.Fatal(err)
	}
	rev, err := c.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev <= first.Header.Revision {
		t.Fatalf("compacted at %d, want past %d", rev, first.Header.Revision)
	}
	if _, err := cli.Get(ctx, key, clientv3.WithRev(first.Header.Revision)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Errorf("a read at a compacted revision returned %v, want %v", err, rpctypes.ErrCompacted)
	}
	wresp := <-cli.Watch(ctx, key, clientv3.WithRev(first.Header.Revision))
	if !errors.Is(wresp.Err(), rpctypes.ErrCompacted) || wresp.CompactRevision != rev {
		t.Errorf("a watch from a compacted revision: err %v, compact revision %d; want %v at %d", wresp.Err(), wresp.CompactRevision, rpctypes.ErrCompacted, rev)
	}
}

// TestCloseLeavesNoProcess checks that Close ends every member's process.
func TestCloseLeavesNoProcess(t *testing.T) {
	Require(t)
	ctx := ctxFor(t, time.Minute)
	c, err := Start(ctx, Options{Members: 1})
	if err != nil {
		t.Fatal(err)
	}
	pid, dir := c.Member(0).Pid(), c.Dir()
	if pid == 0 {
		t.Fatal("a started member has no process")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the member's process group %d is still there after Close: %v", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's own directory %s is still there after Close: %v", dir, err)
	}
}

// recordingTB is a testing.TB that records Fatal and Skip instead of
// ending the test, to test Require's decision.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recordingTB) Skip(args ...any)  { r.skip = fmt.Sprint(args...) }

// TestRequireWithoutEtcd checks that a machine without etcd skips the tests,
// and fails them when POLICYGRAPH_REQUIRE_TOOLS=1.
func TestRequireWithoutEtcd(t *testing.T) {
	t.Setenv(EnvBinary, "/nonexistent/etcd")
	for _, tt := range []struct {
		require   string
		wantFatal bool
	}{{"", false}, {"1", true}} {
		t.Run("require="+tt.require, func(t *testing.T) {
			t.Setenv(EnvRequireTools, tt.require)
			r := &recordingTB{TB: t}
			Require(r)
			got := r.skip
			if tt.wantFatal {
				got = r.fatal
			}
			want := "are skipped"
			if tt.wantFatal {
				want = EnvRequireTools + "=1 makes this a failure"
			}
			if got == "" || (r.fatal != "") != tt.wantFatal || !strings.Contains(got, "etcd-server") || !strings.Contains(got, want) {
				t.Errorf("Require without etcd: fatal %q, skip %q; want a %s naming etcd-server and saying %q", r.fatal, r.skip, map[bool]string{true: "failure", false: "skip"}[tt.wantFatal], want)
			}
		})
	}
}
