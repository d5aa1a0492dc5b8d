package etcdtest

// The behaviours of etcd that the etcd engine (issue 12) is designed around,
// checked against the real server the harness runs (Debian's 3.4 in CI; any
// other through POLICYGRAPH_ETCD_BIN) through the 3.7 client. If one of
// these fails on a new etcd, the engine's design must be looked at again;
// docs/etcd-measurements.md says what each one means for it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// etcd's defaults that the engine must stay within.
const (
	defaultMaxTxnOps       = 128
	defaultMaxRequestBytes = 1572864 // 1.5 MiB
)

// code is the gRPC code of an error: etcd's own errors (rpctypes.EtcdError,
// to which the client turns a server's status) carry theirs.
func code(err error) codes.Code {
	var e rpctypes.EtcdError
	if errors.As(err, &e) {
		return e.Code()
	}
	return status.Code(err)
}

func puts(prefix string, n int, value string) []clientv3.Op {
	ops := make([]clientv3.Op, n)
	for i := range ops {
		ops[i] = clientv3.OpPut(fmt.Sprintf("%s%05d", prefix, i), value)
	}
	return ops
}

// TestTxnOperationLimit: at most 128 operations in each of a transaction's
// compares, its Then and its Else, counted apart.
func TestTxnOperationLimit(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, 30*time.Second)
	cli := c.Client(t)
	p := c.Prefix(t)
	absent := clientv3.Compare(clientv3.Version(p+"version"), "=", 0)
	cmps := func(n int) []clientv3.Cmp {
		cs := make([]clientv3.Cmp, n)
		for i := range cs {
			cs[i] = clientv3.Compare(clientv3.Version(fmt.Sprintf("%scmp%05d", p, i)), "=", 0)
		}
		return cs
	}
	for _, tt := range []struct {
		name      string
		cmps      []clientv3.Cmp
		then, els []clientv3.Op
		wantErr   error
	}{
		{"128 puts and a compare", []clientv3.Cmp{absent}, puts(p+"a", defaultMaxTxnOps, "v"), nil, nil},
		{"128 puts in Then and 128 in Else", []clientv3.Cmp{absent}, puts(p+"b", defaultMaxTxnOps, "v"), puts(p+"c", defaultMaxTxnOps, "v"), nil},
		{"128 compares and 128 puts", cmps(defaultMaxTxnOps), puts(p+"d", defaultMaxTxnOps, "v"), nil, nil},
		{"129 puts", []clientv3.Cmp{absent}, puts(p+"e", defaultMaxTxnOps+1, "v"), nil, rpctypes.ErrTooManyOps},
		{"129 compares", cmps(defaultMaxTxnOps + 1), puts(p+"f", 1, "v"), nil, rpctypes.ErrTooManyOps},
		{"129 puts in Else", []clientv3.Cmp{absent}, nil, puts(p+"g", defaultMaxTxnOps+1, "v"), rpctypes.ErrTooManyOps},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cli.Txn(ctx).If(tt.cmps...).Then(tt.then...).Else(tt.els...).Commit()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("txn: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				t.Logf("error: %v (gRPC code %s)", err, code(err))
			}
		})
	}
}

// TestTxnSameKeyTwice: a transaction's branch may not write one key twice,
// nor put a key inside a range it deletes; the two branches are apart.
func TestTxnSameKeyTwice(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, 30*time.Second)
	cli := c.Client(t)
	p := c.Prefix(t)
	always := clientv3.Compare(clientv3.Version(p+"version"), "=", 0)
	for _, tt := range []struct {
		name      string
		then, els []clientv3.Op
		wantErr   error
	}{
		{"put twice", []clientv3.Op{clientv3.OpPut(p+"k", "1"), clientv3.OpPut(p+"k", "2")}, nil, rpctypes.ErrDuplicateKey},
		{"delete and put", []clientv3.Op{clientv3.OpDelete(p + "k"), clientv3.OpPut(p+"k", "2")}, nil, rpctypes.ErrDuplicateKey},
		{"put inside a deleted range", []clientv3.Op{clientv3.OpDelete(p+"r/", clientv3.WithPrefix()), clientv3.OpPut(p+"r/x", "2")}, nil, rpctypes.ErrDuplicateKey},
		{"delete twice", []clientv3.Op{clientv3.OpDelete(p + "k"), clientv3.OpDelete(p + "k")}, nil, nil},
		{"get and put", []clientv3.Op{clientv3.OpGet(p + "k"), clientv3.OpPut(p+"k", "2")}, nil, nil},
		{"put in Then and in Else", []clientv3.Op{clientv3.OpPut(p+"k", "1")}, []clientv3.Op{clientv3.OpPut(p+"k", "2")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cli.Txn(ctx).If(always).Then(tt.then...).Else(tt.els...).Commit()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("txn: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				t.Logf("error: %v (gRPC code %s)", err, code(err))
			}
		})
	}
}

// TestRequestSizeLimit: a request is at most --max-request-bytes (1.5 MiB by
// default), checked by the server; past the client's own 2 MiB send limit
// the client refuses it before sending.
func TestRequestSizeLimit(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, 30*time.Second)
	cli := c.Client(t)
	key := c.Prefix(t) + "big"
	for _, tt := range []struct {
		name     string
		size     int
		wantErr  error
		wantCode codes.Code
	}{
		{"1.5 MiB less 1 KiB", defaultMaxRequestBytes - 1024, nil, codes.OK},
		{"1.5 MiB", defaultMaxRequestBytes, rpctypes.ErrRequestTooLarge, codes.InvalidArgument},
		{"2 MiB", 2 << 20, nil, codes.ResourceExhausted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cli.Put(ctx, key, string(bytes.Repeat([]byte{'x'}, tt.size)))
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("put of %d bytes: %v, want %v", tt.size, err, tt.wantErr)
			}
			if got := code(err); got != tt.wantCode {
				t.Fatalf("put of %d bytes: %v (code %s), want code %s", tt.size, err, got, tt.wantCode)
			}
			if err != nil {
				t.Logf("error: %v (gRPC code %s)", err, code(err))
			}
		})
	}
}

// TestRangeCompareMissesDeletes: a compare on a key range tests only the keys
// that exist. "Every key under P was last modified before revision R" stays
// true after a key under P is deleted (the delete goes unseen) and becomes
// false once one is put. So a range compare cannot stand for "nothing under
// P changed since R"; one version key compared per commit can.
func TestRangeCompareMissesDeletes(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, 30*time.Second)
	cli := c.Client(t)
	p := c.Prefix(t)
	for _, k := range []string{"a", "b"} {
		if _, err := cli.Put(ctx, p+"r/"+k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	read, err := cli.Get(ctx, p+"r/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	unchanged := clientv3.Compare(clientv3.ModRevision(p+"r/").WithPrefix(), "<", read.Header.Revision+1)
	// The transaction writes (outside the range), as a commit does, so that
	// the leader's apply loop evaluates its compare: a compare-only
	// transaction is answered from one member's local state (TestQuorumLoss),
	// which may not have applied the last put yet.
	txn := func() bool {
		t.Helper()
		resp, err := cli.Txn(ctx).If(unchanged).Then(clientv3.OpPut(p+"marker", "")).Commit()
		if err != nil {
			t.Fatal(err)
		}
		return resp.Succeeded
	}
	if !txn() {
		t.Fatal("the range compare fails with nothing changed")
	}
	if _, err := cli.Delete(ctx, p+"r/a"); err != nil {
		t.Fatal(err)
	}
	if !txn() {
		t.Error("the range compare saw a delete; etcd changed: look at the engine's design again")
	}
	if _, err := cli.Put(ctx, p+"r/c", "v"); err != nil {
		t.Fatal(err)
	}
	if txn() {
		t.Error("the range compare missed a put inside the range")
	}
}

// commit is the engine's commit: the change for version v+1 goes in if the
// version key still says v, with the log entry and the new version, in one
// transaction.
func commit(ctx context.Context, cli *clientv3.Client, p string, v uint64, ops ...clientv3.Op) (bool, error) {
	vk := p + "version"
	var cmp clientv3.Cmp
	if v == 0 {
		cmp = clientv3.Compare(clientv3.Version(vk), "=", 0)
	} else {
		cmp = clientv3.Compare(clientv3.Value(vk), "=", versionValue(v))
	}
	ops = append(ops,
		clientv3.OpPut(fmt.Sprintf("%slog/%s", p, versionValue(v+1)), "change"),
		clientv3.OpPut(vk, versionValue(v+1)))
	resp, err := cli.Txn(ctx).If(cmp).Then(ops...).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// versionValue is a version as 20 decimal digits, so that byte order is
// number order in keys and compares.
func versionValue(v uint64) string { return fmt.Sprintf("%020d", v) }

func readVersion(ctx context.Context, cli *clientv3.Client, p string) (uint64, error) {
	resp, err := cli.Get(ctx, p+"version")
	if err != nil || len(resp.Kvs) == 0 {
		return 0, err
	}
	return strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
}

// TestVersionKeyCommits: writers on separate clients race with a compare on
// one version key: every version is committed exactly once, with its log
// entry, and a writer that lost sees Succeeded false and tries again.
func TestVersionKeyCommits(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, time.Minute)
	p := c.Prefix(t)
	const writers, each = 4, 10
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won       = map[uint64]int{}
		conflicts int
	)
	for w := range writers {
		cli := c.Client(t)
		wg.Go(func() {
			for i := 0; i < each; {
				v, err := readVersion(ctx, cli, p)
				if err != nil {
					t.Error(err)
					return
				}
				ok, err := commit(ctx, cli, p, v, clientv3.OpPut(fmt.Sprintf("%srec/w%d-%d", p, w, i), "record"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if ok {
					won[v+1]++
					i++
				} else {
					conflicts++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d commits, %d lost races", writers*each, conflicts)
	for v := uint64(1); v <= writers*each; v++ {
		if won[v] != 1 {
			t.Errorf("version %d committed %d times", v, won[v])
		}
	}
	cli := c.Client(t)
	logs, err := cli.Get(ctx, p+"log/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := readVersion(ctx, cli, p); err != nil || v != writers*each || logs.Count != writers*each {
		t.Errorf("version %d (%v), %d log entries; want %d of each", v, err, logs.Count, writers*each)
	}
}

// TestListAtRevisionThenWatch: the model's feed. A paged list at one
// revision sees none of the writes made while it pages; a watch from the
// next revision then delivers each of those writes once, in order; a
// progress request tells the watcher how far the cluster is, and a watch
// from a compacted revision is refused with ErrCompacted, which means
// "list again".
func TestListAtRevisionThenWatch(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, time.Minute)
	cli := c.Client(t)
	p := c.Prefix(t)
	for _, op := range puts(p+"k", 25, "before") {
		if _, err := cli.Do(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	first, err := cli.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithLimit(10))
	if err != nil {
		t.Fatal(err)
	}
	rev := first.Header.Revision
	listed := first.Kvs
	more := first.More
	// Writes between pages: the list at rev must not see them.
	for i := range 5 {
		if _, err := cli.Put(ctx, fmt.Sprintf("%sk%05d", p, i), "after"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx, p+"k99999", "after"); err != nil {
		t.Fatal(err)
	}
	for more {
		from := string(listed[len(listed)-1].Key) + "\x00"
		page, err := cli.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(p)), clientv3.WithRev(rev), clientv3.WithLimit(10))
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, page.Kvs...)
		more = page.More
	}
	if len(listed) != 25 {
		t.Fatalf("the list at revision %d has %d keys, want 25", rev, len(listed))
	}
	for _, kv := range listed {
		if string(kv.Value) != "before" {
			t.Fatalf("the list at revision %d sees a later write: %s=%s", rev, kv.Key, kv.Value)
		}
	}

	wch := cli.Watch(ctx, p, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	var events []*clientv3.Event
	for len(events) < 6 {
		resp, ok := <-wch
		if !ok || resp.Err() != nil {
			t.Fatalf("watch from %d: closed %v, %v", rev+1, !ok, resp.Err())
		}
		events = append(events, resp.Events...)
	}
	for i, ev := range events {
		if ev.Type != mvccpb.PUT || string(ev.Kv.Value) != "after" || (i > 0 && ev.Kv.ModRevision <= events[i-1].Kv.ModRevision) {
			t.Fatalf("watch event %d: %v %s=%s at %d", i, ev.Type, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
		}
	}
	last := events[len(events)-1].Kv.ModRevision

	// A progress request answers with an empty response at the revision the
	// watch has seen up to (a write elsewhere moves it on).
	other, err := cli.Put(ctx, c.Prefix(t)+"elsewhere", "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		resp, ok := <-wch
		if !ok || resp.Err() != nil {
			t.Fatalf("watch: closed %v, %v", !ok, resp.Err())
		}
		if len(resp.Events) > 0 {
			t.Fatalf("watch: unexpected events %v", resp.Events)
		}
		if resp.IsProgressNotify() {
			if resp.Header.Revision < last {
				t.Fatalf("a progress notification at %d, before the last event at %d", resp.Header.Revision, last)
			}
			t.Logf("progress notification at %d (last event %d, a later write elsewhere at %d)", resp.Header.Revision, last, other.Header.Revision)
			break
		}
	}

	compacted, err := c.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp := <-cli.Watch(ctx, p, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	if !errors.Is(resp.Err(), rpctypes.ErrCompacted) || resp.CompactRevision != compacted {
		t.Fatalf("a watch from %d after a compaction at %d: %v (compact revision %d), want %v", rev+1, compacted, resp.Err(), resp.CompactRevision, rpctypes.ErrCompacted)
	}
	if _, err := cli.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithRev(rev)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("a list at %d after a compaction at %d: %v, want %v", rev, compacted, err, rpctypes.ErrCompacted)
	}
}

// TestLeaseClaimExpires: a key put under a lease (a chunked write's claim)
// is deleted when its holder stops keeping the lease alive, as a crashed
// server does, and a watcher sees the delete.
func TestLeaseClaimExpires(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, time.Minute)
	p := c.Prefix(t)
	watcher := c.Client(t)
	holder, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	lease, err := holder.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The holder keeps the lease alive while it holds the claim, so the
	// claim outlives its TTL however slow the steps below are.
	alive, err := holder.KeepAlive(ctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range alive { // closed when the holder closes
		}
	}()
	put, err := holder.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(p+"claim"), "=", 0)).
		Then(clientv3.OpPut(p+"claim", "server-a", clientv3.WithLease(lease.ID))).
		Commit()
	if err != nil || !put.Succeeded {
		t.Fatalf("take the claim: %v, succeeded %v", err, put != nil && put.Succeeded)
	}
	// A second claimant loses while the claim is held.
	again, err := watcher.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(p+"claim"), "=", 0)).
		Then(clientv3.OpPut(p+"claim", "server-b")).
		Commit()
	if err != nil || again.Succeeded {
		t.Fatalf("a second claim while the first is held: %v, succeeded %v", err, again != nil && again.Succeeded)
	}
	wch := watcher.Watch(ctx, p+"claim", clientv3.WithRev(put.Header.Revision+1))
	holder.Close() // the holder "crashes": no more keep-alives, no revoke
	resp, ok := <-wch
	if !ok || resp.Err() != nil || len(resp.Events) != 1 || resp.Events[0].Type != mvccpb.DELETE {
		t.Fatalf("watching the claim after its holder stopped: closed %v, %v, events %v; want its delete", !ok, resp.Err(), resp.Events)
	}
	got, err := watcher.Get(ctx, p+"claim")
	if err != nil || len(got.Kvs) != 0 {
		t.Fatalf("the claim after its lease expired: %v, %v", got.Kvs, err)
	}
}

// TestQuotaNoSpace: past --quota-backend-bytes a write fails with
// ErrNoSpace and the cluster raises the NOSPACE alarm; reads and deletes go
// on; compacting, defragmenting and disarming the alarm let writes in again.
func TestQuotaNoSpace(t *testing.T) {
	const quota = 8 << 20
	c := New(t, Options{Members: 1, QuotaBackendBytes: quota})
	ctx := ctxFor(t, 2*time.Minute)
	cli := c.Client(t)
	p := c.Prefix(t)
	value := string(bytes.Repeat([]byte{'x'}, 10<<10))
	var (
		written int
		err     error
	)
	for written = 0; written < 4*quota/len(value); written++ {
		if _, err = cli.Put(ctx, fmt.Sprintf("%s%06d", p, written), value); err != nil {
			break
		}
	}
	if !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Fatalf("after %d puts of %d bytes into a %d-byte quota: %v, want %v", written, len(value), quota, err, rpctypes.ErrNoSpace)
	}
	t.Logf("%d values of %d bytes fit a %d MiB quota; then: %v", written, len(value), quota>>20, err)
	alarms, err := cli.AlarmList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(alarms.Alarms) != 1 || alarms.Alarms[0].Alarm != etcdserverpb.AlarmType_NOSPACE {
		t.Fatalf("alarms %v, want NOSPACE", alarms.Alarms)
	}
	if _, err := cli.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		t.Errorf("a read under the NOSPACE alarm: %v", err)
	}
	if _, err := cli.Put(ctx, p+"tiny", "x"); !errors.Is(err, rpctypes.ErrNoSpace) {
		t.Errorf("a small put under the NOSPACE alarm: %v, want %v", err, rpctypes.ErrNoSpace)
	}
	if _, err := cli.Delete(ctx, p, clientv3.WithPrefix()); err != nil {
		t.Fatalf("a delete under the NOSPACE alarm: %v", err)
	}
	if _, err := c.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Defragment(ctx, c.Member(0).ClientURL()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: alarms.Alarms[0].MemberID, Alarm: etcdserverpb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, p+"tiny", "x"); err != nil {
		t.Errorf("a put after compact, defragment and disarm: %v", err)
	}
}

// TestWatchDeliversATransactionWhole: the events of one transaction, as
// large as etcd takes (128 puts, near 1.5 MiB), reach a watcher in one
// response, all at one revision, so a model can apply a commit whole.
func TestWatchDeliversATransactionWhole(t *testing.T) {
	c := etcd.Cluster(t)
	ctx := ctxFor(t, time.Minute)
	p := c.Prefix(t)
	cli := c.Client(t)
	wch := c.Member(1).Client(t).Watch(ctx, p, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	if resp := <-wch; !resp.Created {
		t.Fatalf("watch not created: %v", resp.Err())
	}
	value := string(bytes.Repeat([]byte{'x'}, 11<<10))
	txn, err := cli.Txn(ctx).Then(puts(p+"k", defaultMaxTxnOps, value)...).Commit()
	if err != nil {
		t.Fatal(err)
	}
	resp := <-wch
	if resp.Err() != nil || len(resp.Events) != defaultMaxTxnOps {
		t.Fatalf("the first response after a %d-put transaction: %v, %d events; want all %d", defaultMaxTxnOps, resp.Err(), len(resp.Events), defaultMaxTxnOps)
	}
	for _, ev := range resp.Events {
		if ev.Kv.ModRevision != txn.Header.Revision {
			t.Fatalf("an event at revision %d, want the transaction's %d", ev.Kv.ModRevision, txn.Header.Revision)
		}
	}
}
