// Package etcd is policygraph's shared storage engine: the storage.KV over
// an etcd cluster (go.etcd.io/etcd/client/v3), which N stateless servers
// write together. Every server keeps the graph in its read model
// (storage/memgraph) and sends only writes here; the KV is IndexFree (the
// graph writes records, its change log and meta keys, no derived index) and
// Shared (Changed wakes a server when another one wrote).
//
// # Keys
//
// Every key lives under Config.Prefix P:
//
//	P + "k/" + storageKey      the graph's own keys, as package storage writes them
//	P + "b/" + hex(sha256)     a content-addressed chunk of a large value
//	P + "claim"                the claim of a staged commit, on a lease
//	P + "pending"              the manifest of a published staged commit not yet applied
//	P + "s/" + id + "/" + %08d the staged write set of commit id, in chunks
//
// Every value under k/ starts with a tag byte: tagDirect (the value follows)
// or tagIndirect (the length and the sha256 of each chunk under b/ follow),
// so that a value never reads as the other kind.
//
// # Transactions
//
// A View reads at one etcd revision (that of its first request), so it is a
// consistent snapshot: a list at a revision. An Update is optimistic, as
// etcd's own software transactional memory: it reads at one revision, buffers
// its writes (its Gets and Scans see them), and commits with one etcd Txn
// that compares the mod revision of every key it Got, that no staged
// commit is pending and that none is in progress (no claim); a failed
// compare runs it again, bounded, then CONFLICT.
// Scans inside an Update are not guarded: a compare on a range misses the
// keys deleted from it, so a transaction that depends on what it scanned
// must Get a key that every conflicting writer changes too (the graph Gets
// its head key in every write).
//
// A View reads at one revision for as long as it runs: a View that runs
// past the cluster's compaction of that revision fails (rpctypes.ErrCompacted),
// and its caller reads again.
//
// # The staged commit
//
// A write set too big for one etcd request (more than Config.MaxTxnOps
// operations or Config.MaxTxnBytes bytes: the seed, a large retraction, a
// long source text) is committed in steps (staged.go), and made visible to
// every reader and writer at once:
//
//  1. Claim: the writer puts P+"claim" = id on a lease it keeps alive, if no
//     claim exists (one staged commit at a time).
//  2. Stage: it puts the write set (stored forms: large values are already
//     chunks under b/) in chunks under P+"s/"+id+"/", each in a Txn that
//     holds only while the claim is still id.
//  3. Publish: one Txn that holds only if every key the transaction read is
//     unchanged, the claim is still id and nothing is pending, and puts
//     P+"pending" = the manifest. THIS is the commit point.
//  4. Apply: the write set is written into k/ in Txns that each hold only
//     while P+"pending" is this manifest; then one Txn deletes the pending
//     key, the staged chunks and the claim, and the writer revokes its lease.
//
// Why it is atomic:
//
//   - Before the publish Txn nothing of the write set is under k/ (stage
//     chunks live under s/, which no reader reads without a manifest naming
//     them), so no reader sees any of it; a writer that dies before it leaves
//     only s/ chunks, which the janitor deletes once the claim has expired.
//   - From the publish Txn on, a View that finds P+"pending" at its revision
//     reads the staged write set at that same revision and overlays it on
//     every Get and Scan, so it sees all of it whether the apply has written
//     none, part or all of k/. The final apply Txn deletes the pending key
//     in the same revision as the last writes land, so a View at any later
//     revision sees all of it in k/ alone.
//   - Writers: every commit (single or staged) compares Version(pending)==0,
//     so no other write lands while a published commit is half applied; a
//     writer refused by that compare (or finding the pending key when it
//     begins) finishes the apply itself (the same values, in Txns guarded by
//     the same manifest, so a late or duplicate apply writes nothing once
//     the pending key is gone), then runs again. A commit whose writer died
//     after publishing is finished that way, or by the janitor.
//   - The claim fences a writer that lost its lease (stalled past ClaimTTL):
//     its stage Txns and its publish compare Value(claim)==id and fail, so it
//     can never publish a write set staged under a claim another writer took
//     since.
//   - The publish Txn carries the compares of the keys the transaction read,
//     so the staged commit is as serializable as a single one.
//
// A staged commit pauses every other write for its duration: a single-Txn
// commit holds only while no claim exists (CreateRevision(claim)==0), so
// that small writes, however steady, cannot move what a staged writer read
// between its claim and its publish and starve it. A writer refused for a
// claim watches it, and runs again once it is gone: deleted by the apply's
// last Txn, or with its lease when its writer died (ClaimTTL after its last
// keep-alive). It waits ClaimTTL + 2*OpTimeout at most in all, then fails
// with CONFLICT (STORE_UNAVAILABLE if the cluster stops answering). A
// staged writer whose publish failed because a key it read changed before
// it claimed (a write that committed first) keeps its claim for its
// caller's next Update, which runs against the new state and reuses it
// (the graph catches up and runs its batch again), so it publishes next;
// a claim kept that no Update takes within ClaimTTL/2 is released. A
// writer killed in the middle of a staged commit so pauses writes for up
// to ClaimTTL.
//
// Content chunks (b/) that no value names any more (a value overwritten,
// a transaction that did not commit) are left: they are immutable and keyed
// by hash, so leaving them is safe; they cost space only.
package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"policygraph/errs"
	"policygraph/storage"
)

// Defaults of Config.
const (
	DefaultPrefix          = "/policygraph/"
	DefaultDialTimeout     = 5 * time.Second
	DefaultOpTimeout       = 5 * time.Second
	DefaultMaxTxnOps       = 128     // etcd's --max-txn-ops default
	DefaultMaxTxnBytes     = 1 << 20 // under etcd's 1.5 MiB request limit, with headroom
	DefaultChunkBytes      = 256 << 10
	DefaultClaimTTL        = 10 * time.Second
	DefaultJanitorInterval = 5 * time.Second
)

// Config configures Open.
type Config struct {
	// Endpoints are the cluster's members, host:port or URLs.
	Endpoints []string
	// Prefix is where every key lives; DefaultPrefix when empty. Several
	// graphs share a cluster under different prefixes.
	Prefix             string
	Username, Password string
	// TLS is nil for plaintext.
	TLS *tls.Config
	// DialTimeout bounds the first connection; DefaultDialTimeout when 0.
	DialTimeout time.Duration
	// OpTimeout bounds one etcd request: past it (no quorum, no member
	// reachable) the request fails with STORE_UNAVAILABLE. DefaultOpTimeout
	// when 0.
	OpTimeout time.Duration
	// MaxTxnOps and MaxTxnBytes are the largest request this KV sends at
	// once, to match the cluster's --max-txn-ops and --max-request-bytes;
	// a bigger write set takes the staged commit. 0: the defaults.
	MaxTxnOps   int
	MaxTxnBytes int
	// ChunkBytes: a value longer than this is stored as content-addressed
	// chunks of this size. 0: DefaultChunkBytes.
	ChunkBytes int
	// ClaimTTL is the lease of a staged commit's claim: how long after a
	// writer died its claim holds. 0: DefaultClaimTTL.
	ClaimTTL time.Duration
	// JanitorInterval is how often the KV looks for a staged commit whose
	// writer died (finishing a published one, collecting an unpublished
	// one's chunks). 0: DefaultJanitorInterval; negative: no janitor.
	JanitorInterval time.Duration
	Logger          *slog.Logger
}

// KV is the storage.KV over an etcd cluster. It is safe for concurrent use.
type KV struct {
	cli    *clientv3.Client
	cfg    Config
	prefix string // cfg.Prefix
	log    *slog.Logger

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	version atomic.Int64               // the highest revision seen
	unavail atomic.Pointer[errs.Error] // the last STORE_UNAVAILABLE or DISK_FULL, nil once a request succeeds

	// hook, set by tests before the KV is used, is called at the named
	// points of a staged commit: "staged" (before the publish),
	// "published" (before the apply), "applying" (after each apply Txn
	// but the last, by whoever applies). An error stops the commit there
	// as a writer that died would: at "staged" and "published" with no
	// cleanup and no revoke (the claim's lease expires).
	hook func(point string) error

	// claimMu guards held: the claim this KV keeps between a staged commit
	// whose publish lost to a write made before its claim and the Update
	// that runs it again (claim.go).
	claimMu sync.Mutex
	held    *heldClaim

	stats struct {
		commits, staged, conflicts, unavailable, finished, collected, chunked, scanPages atomic.Uint64
	}
}

var (
	_ storage.KV             = (*KV)(nil)
	_ storage.IndexFree      = (*KV)(nil)
	_ storage.Shared         = (*KV)(nil)
	_ storage.Claimer        = (*KV)(nil)
	_ storage.CommitNotifier = (*txn)(nil)
)

// Open connects to the cluster and checks that it answers within
// OpTimeout (STORE_UNAVAILABLE otherwise). It finishes a staged commit
// left published by a writer that died, and starts the janitor.
func Open(ctx context.Context, c Config) (*KV, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.MaxTxnOps <= 0 {
		c.MaxTxnOps = DefaultMaxTxnOps
	}
	if c.MaxTxnOps < 8 {
		return nil, fmt.Errorf("etcd: MaxTxnOps %d: at least 8", c.MaxTxnOps)
	}
	if c.MaxTxnBytes <= 0 {
		c.MaxTxnBytes = DefaultMaxTxnBytes
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = DefaultChunkBytes
	}
	if c.ChunkBytes > c.MaxTxnBytes/2 {
		return nil, fmt.Errorf("etcd: ChunkBytes %d: at most half of MaxTxnBytes (%d)", c.ChunkBytes, c.MaxTxnBytes)
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = DefaultClaimTTL
	}
	if c.JanitorInterval == 0 {
		c.JanitorInterval = DefaultJanitorInterval
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		Username:    c.Username,
		Password:    c.Password,
		TLS:         c.TLS,
		DialTimeout: c.DialTimeout,
		Logger:      zap.NewNop(),
		Context:     ctx,
		// gRPC's default backoff grows to 2 minutes between attempts to
		// reach a member that was down: a cluster back from an outage would
		// stay unavailable to this server that long.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: c.DialTimeout,
		})},
	})
	if err != nil {
		return nil, errs.Errorf(errs.StoreUnavailable, "", "etcd %s: %v", strings.Join(c.Endpoints, ","), err)
	}
	kctx, cancel := context.WithCancel(context.Background())
	k := &KV{cli: cli, cfg: c, prefix: c.Prefix, log: log, ctx: kctx, cancel: cancel}
	if err := k.janitor(); err != nil {
		k.Close()
		return nil, fmt.Errorf("open etcd at %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	if c.JanitorInterval > 0 {
		k.wg.Add(1)
		go k.runJanitor()
	}
	return k, nil
}

// Close stops the janitor and closes the client. Channels from Changed
// close too.
func (k *KV) Close() error {
	k.releaseHeld()
	k.cancel()
	k.wg.Wait()
	return k.cli.Close()
}

// IndexFree implements storage.IndexFree.
func (k *KV) IndexFree() {}

// Version implements storage.KV: the highest etcd revision this KV has
// committed or read at. etcd's revision grows with every write to the
// cluster and survives restarts.
func (k *KV) Version() uint64 { return uint64(k.version.Load()) }

// observe moves Version up to rev.
func (k *KV) observe(rev int64) {
	for {
		v := k.version.Load()
		if rev <= v || k.version.CompareAndSwap(v, rev) {
			return
		}
	}
}

// Writable implements storage.KV: STORE_UNAVAILABLE while the last request
// to the cluster failed for want of a quorum or a reachable member, DISK_FULL
// while the cluster refused a write for its quota (its NOSPACE alarm); nil
// once a request succeeds again.
func (k *KV) Writable() error {
	if e := k.unavail.Load(); e != nil {
		return e
	}
	return nil
}

// Health is a linearizable read of a tiny key within OpTimeout: nil when
// the cluster has a quorum and answers, else STORE_UNAVAILABLE (for
// /readyz).
func (k *KV) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.OpTimeout)
	defer cancel()
	resp, err := k.cli.Get(ctx, k.prefix+"claim", clientv3.WithCountOnly())
	if err != nil {
		return k.fail("health check", err)
	}
	k.ok(resp.Header.Revision)
	return nil
}

// Stats are the KV's counters since Open.
type Stats struct {
	Commits        uint64 // Updates that wrote and committed (staged ones included)
	StagedCommits  uint64 // commits too big for one etcd request
	Conflicts      uint64 // transactions run again for a failed compare
	Unavailable    uint64 // requests failed with STORE_UNAVAILABLE
	FinishedStaged uint64 // published staged commits this KV applied for their writer
	CollectedStage uint64 // unpublished staged commits whose chunks the janitor deleted
	ChunkedValues  uint64 // values written as content-addressed chunks
	ScanPages      uint64 // range requests of scans (a page each)
}

// Stats returns the KV's counters.
func (k *KV) Stats() Stats {
	s := &k.stats
	return Stats{
		Commits: s.commits.Load(), StagedCommits: s.staged.Load(), Conflicts: s.conflicts.Load(),
		Unavailable: s.unavailable.Load(), FinishedStaged: s.finished.Load(),
		CollectedStage: s.collected.Load(), ChunkedValues: s.chunked.Load(), ScanPages: s.scanPages.Load(),
	}
}

// opCtx is the context of one etcd request: it ends after OpTimeout, or
// when the KV closes.
func (k *KV) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(k.ctx, k.cfg.OpTimeout)
}

// ok records a request that succeeded at revision rev.
func (k *KV) ok(rev int64) {
	k.answered()
	k.observe(rev)
}

// answered records that the cluster answered: Writable is nil again.
func (k *KV) answered() {
	if k.unavail.Load() != nil {
		k.unavail.Store(nil)
	}
}

// fail maps an etcd error: no quorum, no reachable member or a timeout
// become STORE_UNAVAILABLE, the NOSPACE alarm DISK_FULL (both remembered for
// Writable); anything else is wrapped with what failed.
func (k *KV) fail(what string, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	switch {
	case errors.Is(err, rpctypes.ErrNoSpace):
		e := &errs.Error{Code: errs.DiskFull, Message: fmt.Sprintf("the etcd cluster is out of space (its NOSPACE alarm): %s refused; compact, defragment and disarm the alarm, or raise --quota-backend-bytes", what)}
		k.unavail.Store(e)
		return e
	case unavailable(err) && k.ctx.Err() == nil:
		k.stats.unavailable.Add(1)
		e := &errs.Error{Code: errs.StoreUnavailable, Message: fmt.Sprintf("the etcd cluster did not answer (%s) within %s: %v", what, k.cfg.OpTimeout, err)}
		k.unavail.Store(e)
		return e
	}
	return fmt.Errorf("etcd %s: %w", what, err)
}

// unavailable reports whether err means the cluster could not be reached,
// had no leader, or did not answer in time.
func unavailable(err error) bool {
	for _, e := range []error{context.DeadlineExceeded, rpctypes.ErrNoLeader, rpctypes.ErrLeaderChanged,
		rpctypes.ErrStopped, rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail,
		rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrTimeoutWaitAppliedIndex, rpctypes.ErrUnhealthy} {
		if errors.Is(err, e) {
			return true
		}
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			return true
		case codes.Unknown:
			// The client's retry interceptor reports a request whose
			// deadline passed while it waited for a member this way.
			return s.Message() == context.DeadlineExceeded.Error()
		}
	}
	return false
}
