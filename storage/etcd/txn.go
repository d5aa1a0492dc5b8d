package etcd

import (
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"policygraph/errs"
	"policygraph/storage"
)

// Bounds of Update's retries.
const (
	maxConflictRetries = 16 // failed compares on the keys read
	maxPendingFinishes = 8  // staged commits of others finished before this one
	scanPage           = 512
	// A scan's pages grow from scanPage up to maxScanPage keys while a page
	// holds less than scanPageBytes: etcd counts every key left in the range
	// to answer each page (3.4 and 3.5 walk their index for the total), so a
	// scan of N keys in pages of P costs N*N/P; 512-key pages listed 160k keys
	// at 38k keys/s, 10k at 183k/s.
	maxScanPage   = 16384
	scanPageBytes = 2 << 20
	opOverhead    = 32 // bytes an operation costs in a request beside its key and value
)

// op is one write of a write set: a put of val, or a delete.
type op struct {
	val     []byte
	del     bool
	encoded bool // val is the stored form (an overlay's), not the value
}

// writeSet is a transaction's buffered writes, or a pending staged commit's
// write set overlaid on a View, keyed by full etcd key.
type writeSet struct {
	ops    map[string]op
	sorted []string // the keys in order; nil when a write added one
}

func newWriteSet() *writeSet { return &writeSet{ops: map[string]op{}} }

func (w *writeSet) put(key string, o op) {
	if _, ok := w.ops[key]; !ok {
		w.sorted = nil
	}
	w.ops[key] = o
}

func (w *writeSet) keys() []string {
	if w.sorted == nil {
		w.sorted = make([]string, 0, len(w.ops))
		for k := range w.ops {
			w.sorted = append(w.sorted, k)
		}
		slices.Sort(w.sorted)
	}
	return w.sorted
}

// txn is a View's or an Update's transaction. Every read is at rev.
type txn struct {
	kv        *KV
	update    bool
	rev       int64
	overlay   *writeSet                  // a View's: the write set of a staged commit pending at rev, or nil
	reads     map[string]int64           // an Update's: the mod revision of each key Got, 0 for a missing one
	writes    *writeSet                  // an Update's buffered writes
	chunksPut map[[sha256.Size]byte]bool // an Update's: the value chunks put by its runs so far
	committed []func()
}

// begin fixes the transaction's revision with a linearizable read of the
// pending key, and returns the pending manifest if there is one.
func (k *KV) begin(update bool) (*txn, *pending, error) {
	ctx, cancel := k.opCtx()
	resp, err := k.cli.Get(ctx, k.prefix+"pending")
	cancel()
	if err != nil {
		return nil, nil, k.fail("begin a transaction", err)
	}
	k.ok(resp.Header.Revision)
	t := &txn{kv: k, update: update, rev: resp.Header.Revision}
	if update {
		t.reads = map[string]int64{}
		t.writes = newWriteSet()
	}
	if len(resp.Kvs) == 0 {
		return t, nil, nil
	}
	p, err := parsePending(resp.Kvs[0].Value)
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}

// View implements storage.KV: fn reads at one etcd revision. When a staged
// commit is published but not yet fully applied at that revision, its write
// set is overlaid on every Get and Scan, so the View sees all of it.
func (k *KV) View(fn func(storage.Txn) error) error {
	t, p, err := k.begin(false)
	if err != nil {
		return err
	}
	if p != nil {
		if t.overlay, err = k.readStaged(p, t.rev); err != nil {
			return err
		}
	}
	return fn(t)
}

// Update implements storage.KV. fn reads at one revision and its writes are
// buffered; the commit is one etcd Txn that holds if no key fn Got has
// changed since and no staged commit is pending (else fn runs again, at
// most maxConflictRetries times, then CONFLICT), or a staged commit when the
// write set is too big for one request. Scans are not guarded: see the
// package doc. A staged commit of another writer that is pending is
// finished (applied) first, then fn runs.
func (k *KV) Update(fn func(storage.Txn) error) error {
	conflicts, finishes := 0, 0
	backoff := 4 * time.Millisecond
	var claimDeadline time.Time // set when a claim first makes this write wait
	chunksPut := map[[sha256.Size]byte]bool{}
	for {
		t, p, err := k.begin(true)
		if err != nil {
			return err
		}
		t.chunksPut = chunksPut
		if p != nil {
			if finishes++; finishes > maxPendingFinishes {
				return errs.Errorf(errs.Conflict, "", "staged commits of other writers kept this write waiting; try again")
			}
			if err := k.finish(p); err != nil {
				return err
			}
			continue
		}
		if err := fn(t); err != nil {
			return err
		}
		if len(t.writes.ops) == 0 {
			for _, f := range t.committed {
				f()
			}
			return nil
		}
		rev, err := t.commit()
		var pe *pendingError
		var ce *claimError
		switch {
		case err == nil:
			k.stats.commits.Add(1)
			for _, f := range t.committed {
				f()
			}
			k.ok(rev)
			return nil
		case errors.As(err, &pe):
			if finishes++; finishes > maxPendingFinishes {
				return errs.Errorf(errs.Conflict, "", "staged commits of other writers kept this write waiting; try again")
			}
			if err := k.finish(pe.p); err != nil {
				return err
			}
		case errors.As(err, &ce):
			// A staged commit is in progress: wait for it, then run again
			// (what fn read is stale once it has committed).
			if claimDeadline.IsZero() {
				claimDeadline = time.Now().Add(k.claimWait())
			}
			if err := k.waitClaim(ce.rev, claimDeadline); err != nil {
				return err
			}
		case errors.Is(err, errConflict):
			k.stats.conflicts.Add(1)
			if conflicts++; conflicts > maxConflictRetries {
				return errs.Errorf(errs.Conflict, "", "the write conflicted with concurrent writes %d times; try again", conflicts)
			}
			// Full jitter: writers that lost together spread apart.
			time.Sleep(rand.N(backoff) + time.Millisecond)
			backoff = min(backoff*2, 256*time.Millisecond)
		default:
			return err
		}
	}
}

// errConflict is a commit whose compares failed: a key read has changed.
var errConflict = errors.New("etcd: a key read has changed")

// pendingError is a commit refused because a staged commit is pending.
type pendingError struct{ p *pending }

func (e *pendingError) Error() string { return "etcd: a staged commit is pending" }

// commit sends the buffered writes: in one Txn when they fit one request,
// else as a staged commit. It returns the revision committed at.
func (t *txn) commit() (int64, error) {
	k := t.kv
	cmps := t.compares()
	var ops []clientv3.Op
	size := 0
	for _, key := range t.writes.keys() {
		o := t.writes.ops[key]
		size += opOverhead + len(key)
		if o.del {
			ops = append(ops, clientv3.OpDelete(key))
			continue
		}
		stored, err := k.encode(o.val, t.chunksPut)
		if err != nil {
			return 0, err
		}
		size += len(stored)
		ops = append(ops, clientv3.OpPut(key, string(stored)))
	}
	for key := range t.reads {
		size += opOverhead + len(key)
	}
	// +3: the compares on pending and on the claim, and the claim's delete.
	if len(cmps)+3+len(ops) > k.cfg.MaxTxnOps || size > k.cfg.MaxTxnBytes {
		return k.stagedCommit(t, cmps, ops)
	}
	claim := k.prefix + "claim"
	cmps = append(cmps, clientv3.Compare(clientv3.Version(k.prefix+"pending"), "=", 0))
	// No staged commit may be in progress (the claim; see claim.go), unless
	// it is this KV's own, kept after its publish failed: this write then
	// commits under it and releases it.
	h := k.takeHeld()
	if h != nil {
		cmps = append(cmps, clientv3.Compare(clientv3.Value(claim), "=", h.id))
		ops = append(ops, clientv3.OpDelete(claim))
	} else {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(claim), "=", 0))
	}
	ctx, cancel := k.opCtx()
	resp, err := k.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(k.prefix+"pending"), clientv3.OpGet(claim)).Commit()
	cancel()
	if err != nil {
		if h != nil {
			k.revoke(h)
		}
		return 0, k.fail("commit", err)
	}
	k.answered() // Version moves once the OnCommit funcs ran
	if resp.Succeeded {
		if h != nil {
			k.revoke(h)
		}
		return resp.Header.Revision, nil
	}
	k.observe(resp.Header.Revision)
	claimKvs := resp.Responses[1].GetResponseRange().Kvs
	if h != nil {
		if len(claimKvs) > 0 && string(claimKvs[0].Value) == h.id {
			k.keepHeld(h)
		} else {
			k.dropHeld(h)
		}
	}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		p, err := parsePending(kvs[0].Value)
		if err != nil {
			return 0, err
		}
		return 0, &pendingError{p}
	}
	if len(claimKvs) > 0 && (h == nil || string(claimKvs[0].Value) != h.id) {
		return 0, &claimError{rev: resp.Header.Revision}
	}
	return 0, errConflict
}

// compares are the guards on the keys the transaction read.
func (t *txn) compares() []clientv3.Cmp {
	keys := make([]string, 0, len(t.reads))
	for key := range t.reads {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	var cmps []clientv3.Cmp
	for _, key := range keys {
		if rev := t.reads[key]; rev == 0 {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
		} else {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", rev))
		}
	}
	return cmps
}

// OnCommit implements storage.CommitNotifier: an Update's funcs run once it
// has committed, before Version moves past the commit.
func (t *txn) OnCommit(f func()) bool {
	if !t.update {
		return false
	}
	t.committed = append(t.committed, f)
	return true
}

func (t *txn) key(key []byte) string { return t.kv.prefix + "k/" + string(key) }

// Get implements storage.Txn.
func (t *txn) Get(key []byte) ([]byte, error) {
	full := t.key(key)
	if o, ok := t.buffered(full); ok {
		return t.value(full, o)
	}
	k := t.kv
	ctx, cancel := k.opCtx()
	resp, err := k.cli.Get(ctx, full, clientv3.WithRev(t.rev))
	cancel()
	if err != nil {
		return nil, k.fail("get", err)
	}
	if t.update {
		var rev int64
		if len(resp.Kvs) > 0 {
			rev = resp.Kvs[0].ModRevision
		}
		t.reads[full] = rev
	}
	if len(resp.Kvs) == 0 {
		return nil, storage.ErrKeyMissing
	}
	return k.decode(full, resp.Kvs[0].Value)
}

// buffered returns the transaction's own write of key (an Update's), or the
// pending staged commit's (a View's).
func (t *txn) buffered(full string) (op, bool) {
	w := t.writes
	if w == nil {
		w = t.overlay
	}
	if w == nil {
		return op{}, false
	}
	o, ok := w.ops[full]
	return o, ok
}

func (t *txn) value(full string, o op) ([]byte, error) {
	switch {
	case o.del:
		return nil, storage.ErrKeyMissing
	case o.encoded:
		return t.kv.decode(full, o.val)
	}
	return o.val, nil
}

// Set implements storage.Txn.
func (t *txn) Set(key, value []byte) error {
	if !t.update {
		return errors.New("etcd: Set in a View")
	}
	t.writes.put(t.key(key), op{val: slices.Clone(value)})
	return nil
}

// Delete implements storage.Txn.
func (t *txn) Delete(key []byte) error {
	if !t.update {
		return errors.New("etcd: Delete in a View")
	}
	t.writes.put(t.key(key), op{del: true})
	return nil
}

// Scan implements storage.Txn.
func (t *txn) Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error {
	return t.ScanFrom(prefix, prefix, keysOnly, fn)
}

// ScanFrom implements storage.Txn: pages of scanPage keys at the
// transaction's revision, merged in key order with its buffered writes (an
// Update's) or the pending staged commit (a View's).
func (t *txn) ScanFrom(prefix, start []byte, keysOnly bool, fn func(key, val []byte) error) error {
	err := t.scan(prefix, start, keysOnly, fn)
	if errors.Is(err, storage.ErrStop) {
		return nil
	}
	return err
}

func (t *txn) scan(prefix, start []byte, keysOnly bool, fn func(key, val []byte) error) error {
	k := t.kv
	base := k.prefix + "k/"
	end := clientv3.GetPrefixRangeEnd(base + string(prefix))
	from := base + string(start)
	// The buffered or overlaid keys in [from, end).
	var extra []string
	if w := t.writes; w != nil || t.overlay != nil {
		if w == nil {
			w = t.overlay
		}
		all := w.keys()
		i := sort.SearchStrings(all, from)
		j := sort.SearchStrings(all, end)
		extra = all[i:max(i, j)]
	}
	emit := func(full string, stored []byte, o *op) error {
		if o != nil {
			if o.del {
				return nil
			}
			if keysOnly {
				return fn([]byte(full[len(base):]), nil)
			}
			v, err := t.value(full, *o)
			if err != nil {
				return err
			}
			return fn([]byte(full[len(base):]), v)
		}
		if keysOnly {
			return fn([]byte(full[len(base):]), nil)
		}
		v, err := k.decode(full, stored)
		if err != nil {
			return err
		}
		return fn([]byte(full[len(base):]), v)
	}
	flushExtra := func(below string, all bool) error {
		for len(extra) > 0 && (all || extra[0] < below) {
			key := extra[0]
			extra = extra[1:]
			o, _ := t.buffered(key)
			if err := emit(key, nil, &o); err != nil {
				return err
			}
		}
		return nil
	}
	for page := int64(scanPage); ; {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithRev(t.rev), clientv3.WithLimit(page)}
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Get(ctx, from, opts...)
		cancel()
		if err != nil {
			return k.fail("scan", err)
		}
		k.stats.scanPages.Add(1)
		size := 0
		for _, kv := range resp.Kvs {
			size += len(kv.Key) + len(kv.Value)
			key := string(kv.Key)
			if err := flushExtra(key, false); err != nil {
				return err
			}
			if len(extra) > 0 && extra[0] == key {
				extra = extra[1:]
				o, _ := t.buffered(key)
				if err := emit(key, nil, &o); err != nil {
					return err
				}
				continue
			}
			if err := emit(key, kv.Value, nil); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return flushExtra("", true)
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		if size < scanPageBytes && page < maxScanPage {
			// For values of like size the next page holds about twice
			// these bytes; values are at most a chunk (256 KiB, larger
			// ones are chunked), so a page of small values followed by
			// large ones can still grow past scanPageBytes.
			page *= 2
		}
	}
}
