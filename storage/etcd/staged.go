package etcd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"policygraph/storage"
)

// pending is the manifest of a published staged commit.
type pending struct {
	ID        string    `json:"id"`
	Chunks    int       `json:"chunks"`
	Keys      int       `json:"keys"`
	Published time.Time `json:"published"`
	raw       string    // as stored, for the compares that name it
}

func parsePending(raw []byte) (*pending, error) {
	var p pending
	if err := json.Unmarshal(raw, &p); err != nil || p.ID == "" {
		return nil, fmt.Errorf("etcd: a damaged pending manifest %q: %v", raw, err)
	}
	p.raw = string(raw)
	return &p, nil
}

func (k *KV) stageKey(id string) string { return k.prefix + "s/" + id + "/" }

// stageChunks encodes ops (puts and deletes of keys under k/) into chunks of
// at most limit bytes each (one op may make a chunk bigger).
func (k *KV) stageChunks(ops []clientv3.Op, limit int) [][]byte {
	var chunks [][]byte
	var cur []byte
	for _, o := range ops {
		key := string(o.KeyBytes())[len(k.prefix):]
		if len(cur) > 0 && len(cur)+len(key)+len(o.ValueBytes())+20 > limit {
			chunks = append(chunks, cur)
			cur = nil
		}
		cur = binary.AppendUvarint(cur, uint64(len(key)))
		cur = append(cur, key...)
		if o.IsDelete() {
			cur = append(cur, 1)
			continue
		}
		cur = append(cur, 0)
		cur = binary.AppendUvarint(cur, uint64(len(o.ValueBytes())))
		cur = append(cur, o.ValueBytes()...)
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// parseChunk adds the ops of one stage chunk to w.
func (k *KV) parseChunk(w *writeSet, chunk []byte) error {
	bad := errors.New("etcd: a damaged stage chunk")
	for len(chunk) > 0 {
		n, m := binary.Uvarint(chunk)
		if m <= 0 || uint64(len(chunk)-m) < n+1 {
			return bad
		}
		key := k.prefix + string(chunk[m:m+int(n)])
		chunk = chunk[m+int(n):]
		kind := chunk[0]
		chunk = chunk[1:]
		if kind == 1 {
			w.put(key, op{del: true})
			continue
		}
		n, m = binary.Uvarint(chunk)
		if m <= 0 || uint64(len(chunk)-m) < n {
			return bad
		}
		w.put(key, op{val: bytes.Clone(chunk[m : m+int(n)]), encoded: true})
		chunk = chunk[m+int(n):]
	}
	return nil
}

// readStaged reads the write set of p at rev (0: the current revision).
func (k *KV) readStaged(p *pending, rev int64) (*writeSet, error) {
	w := newWriteSet()
	from, end := k.stageKey(p.ID), clientv3.GetPrefixRangeEnd(k.stageKey(p.ID))
	chunks := 0
	for {
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(8))
		cancel()
		if err != nil {
			return nil, k.fail("read a staged commit", err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if err := k.parseChunk(w, kv.Value); err != nil {
				return nil, fmt.Errorf("%s: %w", kv.Key, err)
			}
			chunks++
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if chunks != p.Chunks {
		return nil, fmt.Errorf("etcd: staged commit %s has %d chunks at revision %d, its manifest says %d", p.ID, chunks, rev, p.Chunks)
	}
	return w, nil
}

// errClaimLost is a staged commit whose claim another writer holds now.
var errClaimLost = fmt.Errorf("%w: the staged commit's claim was lost", errConflict)

// stagedCommit commits ops (guarded by cmps) as a staged commit (see the
// package doc) and returns the revision of its publish Txn. It takes the
// claim (or the one this KV kept from its last publish that failed); a
// publish that fails because a key read changed before the claim keeps it.
func (k *KV) stagedCommit(t *txn, cmps []clientv3.Cmp, ops []clientv3.Op) (int64, error) {
	if len(cmps)+3 > k.cfg.MaxTxnOps {
		return 0, fmt.Errorf("etcd: a write that read %d keys: %w", len(cmps), errTooManyReads)
	}
	claim, pendingKey := k.prefix+"claim", k.prefix+"pending"
	h, err := k.claim()
	if err != nil {
		return 0, err
	}
	id := h.id
	died := false // a test hook stopped the commit: no cleanup
	kept := false // the claim is kept for the next Update
	defer func() {
		switch {
		case died:
			k.dropHeld(h) // its lease expires
		case !kept:
			k.revoke(h)
		}
	}()

	// 2. Stage.
	chunks := k.stageChunks(ops, k.cfg.MaxTxnBytes/2)
	unstage := func() {
		ctx, cancel := k.opCtx()
		k.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(claim), "=", id)).
			Then(clientv3.OpDelete(k.stageKey(id), clientv3.WithPrefix())).Commit()
		cancel()
	}
	for i, c := range chunks {
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(claim), "=", id)).
			Then(clientv3.OpPut(fmt.Sprintf("%s%08d", k.stageKey(id), i), string(c))).Commit()
		cancel()
		if err != nil {
			unstage() // the claim goes with its lease, revoked on return
			return 0, k.fail("stage a commit", err)
		}
		if !resp.Succeeded {
			return 0, errClaimLost
		}
	}
	if k.hook != nil {
		if err := k.hook("staged"); err != nil {
			died = true
			return 0, err
		}
	}

	// 3. Publish: the commit point.
	p := &pending{ID: id, Chunks: len(chunks), Keys: len(ops), Published: time.Now().UTC()}
	raw, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	p.raw = string(raw)
	guards := append(cmps,
		clientv3.Compare(clientv3.Value(claim), "=", id),
		clientv3.Compare(clientv3.Version(pendingKey), "=", 0))
	ctx, cancel := k.opCtx()
	resp, err := k.cli.Txn(ctx).If(guards...).Then(clientv3.OpPut(pendingKey, p.raw)).
		Else(clientv3.OpGet(pendingKey), clientv3.OpGet(claim)).Commit()
	cancel()
	if err != nil {
		// The outcome is unknown: leave the stage to the janitor, which
		// collects it only if no manifest names it.
		return 0, k.fail("publish a staged commit", err)
	}
	k.answered()
	if !resp.Succeeded {
		k.observe(resp.Header.Revision)
		unstage()
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			other, err := parsePending(kvs[0].Value)
			if err != nil {
				return 0, err
			}
			return 0, &pendingError{other}
		}
		if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 0 || string(kvs[0].Value) != id {
			return 0, errClaimLost
		}
		// A key read changed before the claim was taken (since, no write
		// commits): keep the claim, so that the write, run again against
		// the new state, publishes before any other.
		kept = true
		k.keepHeld(h)
		return 0, errConflict
	}
	published := resp.Header.Revision
	k.stats.staged.Add(1)
	if k.hook != nil {
		if err := k.hook("published"); err != nil {
			died = true
			return 0, err
		}
	}

	// 4. Apply. The commit is made: an apply that fails here is finished by
	// the next writer or the janitor, so the write is acknowledged.
	applied, err := k.apply(p, ops)
	if err != nil {
		k.log.Warn("etcd: a staged commit is published but not applied yet; the next write or the janitor applies it", "id", id, "err", err)
	}
	return max(published, applied), nil
}

// claim returns the claim this KV kept, or takes the claim: on a new lease
// kept alive, if no claim exists and nothing is pending. It waits for
// another writer's claim to go (claimWait at most, then CONFLICT), and
// returns a *pendingError when a published commit is pending.
func (k *KV) claim() (*heldClaim, error) {
	if h := k.takeHeld(); h != nil {
		return h, nil
	}
	idb := make([]byte, 12)
	rand.Read(idb)
	id := hex.EncodeToString(idb)
	claim, pendingKey := k.prefix+"claim", k.prefix+"pending"
	ctx, cancel := k.opCtx()
	lease, err := k.cli.Grant(ctx, int64((k.cfg.ClaimTTL+time.Second-1)/time.Second))
	cancel()
	if err != nil {
		return nil, k.fail("grant the claim's lease", err)
	}
	aliveCtx, stopAlive := context.WithCancel(k.ctx)
	h := &heldClaim{id: id, lease: lease.ID, stop: stopAlive, inUse: true}
	alive, err := k.cli.KeepAlive(aliveCtx, lease.ID)
	if err != nil {
		k.revoke(h)
		return nil, k.fail("keep the claim's lease alive", err)
	}
	go func() {
		for range alive {
		}
	}()
	deadline := time.Now().Add(k.claimWait())
	for {
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(claim), "=", 0), clientv3.Compare(clientv3.Version(pendingKey), "=", 0)).
			Then(clientv3.OpPut(claim, id, clientv3.WithLease(lease.ID))).
			Else(clientv3.OpGet(pendingKey)).Commit()
		cancel()
		if err != nil {
			k.revoke(h)
			return nil, k.fail("claim a staged commit", err)
		}
		k.ok(resp.Header.Revision)
		if resp.Succeeded {
			return h, nil
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			// A published commit is pending: this write would fail its
			// publish anyway; finish it, and run fn again.
			k.revoke(h)
			p, err := parsePending(kvs[0].Value)
			if err != nil {
				return nil, err
			}
			return nil, &pendingError{p}
		}
		if err := k.waitClaim(resp.Header.Revision, deadline); err != nil {
			k.revoke(h)
			return nil, err
		}
	}
}

// errTooManyReads: a staged commit's publish Txn holds a compare per key
// read, and they must fit one request.
var errTooManyReads = fmt.Errorf("%w: too many keys read for one staged commit", storage.ErrTxnTooBig)

// finish applies a published staged commit of another writer (one that is
// slow, stopped or dead): the same writes, guarded by its manifest, so it is
// harmless when its writer or another finisher applies it too.
func (k *KV) finish(p *pending) error {
	w, err := k.readStaged(p, 0)
	if err != nil {
		// Finished meanwhile (the stage is deleted with the pending key)?
		ctx, cancel := k.opCtx()
		resp, gerr := k.cli.Get(ctx, k.prefix+"pending")
		cancel()
		if gerr == nil && (len(resp.Kvs) == 0 || string(resp.Kvs[0].Value) != p.raw) {
			return nil
		}
		return err
	}
	var ops []clientv3.Op
	for _, key := range w.keys() {
		o := w.ops[key]
		if o.del {
			ops = append(ops, clientv3.OpDelete(key))
		} else {
			ops = append(ops, clientv3.OpPut(key, string(o.val)))
		}
	}
	rev, err := k.apply(p, ops)
	if err != nil {
		return err
	}
	k.observe(rev)
	k.stats.finished.Add(1)
	return nil
}

// apply writes a published commit's ops into k/, in Txns that each hold
// while the pending key is still p, then deletes the pending key, the stage
// and the claim (if still p's) in one Txn. It returns the revision of its
// last Txn, and leaves Version to its caller.
func (k *KV) apply(p *pending, ops []clientv3.Op) (int64, error) {
	var last int64
	pendingKey := k.prefix + "pending"
	guard := clientv3.Compare(clientv3.Value(pendingKey), "=", p.raw)
	send := func(batch []clientv3.Op) (bool, error) {
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Txn(ctx).If(guard).Then(batch...).Commit()
		cancel()
		if err != nil {
			return false, k.fail("apply a staged commit", err)
		}
		k.answered()
		last = resp.Header.Revision
		return resp.Succeeded, nil
	}
	var batch []clientv3.Op
	size := 0
	for _, o := range ops {
		n := opOverhead + len(o.KeyBytes()) + len(o.ValueBytes())
		if len(batch) > 0 && (len(batch)+2 > k.cfg.MaxTxnOps || size+n+len(p.raw) > k.cfg.MaxTxnBytes) {
			if ok, err := send(batch); err != nil || !ok {
				return last, err // !ok: applied and finished by another
			}
			batch, size = nil, 0
		}
		batch = append(batch, o)
		size += n
		if len(batch) == 1 && last != 0 && k.hook != nil {
			if err := k.hook("applying"); err != nil {
				return last, err
			}
		}
	}
	if len(batch) > 0 {
		if ok, err := send(batch); err != nil || !ok {
			return last, err
		}
	}
	claim := k.prefix + "claim"
	_, err := send([]clientv3.Op{
		clientv3.OpDelete(pendingKey),
		clientv3.OpDelete(k.stageKey(p.ID), clientv3.WithPrefix()),
		clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(claim), "=", p.ID)}, []clientv3.Op{clientv3.OpDelete(claim)}, nil),
	})
	return last, err
}

// runJanitor runs janitor every JanitorInterval until Close.
func (k *KV) runJanitor() {
	defer k.wg.Done()
	tick := time.NewTicker(k.cfg.JanitorInterval)
	defer tick.Stop()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-tick.C:
		}
		if err := k.janitor(); err != nil && k.ctx.Err() == nil {
			k.log.Warn("etcd: janitor", "err", err)
		}
	}
}

// janitor finishes a published staged commit whose writer's claim is gone
// (it died after publishing), and deletes the stage of every staged commit
// that neither holds the claim nor is pending (its writer died before
// publishing, or gave up). It also tells Writable that the cluster answers.
func (k *KV) janitor() error {
	claim, pendingKey := k.prefix+"claim", k.prefix+"pending"
	ctx, cancel := k.opCtx()
	resp, err := k.cli.Txn(ctx).Then(clientv3.OpGet(claim), clientv3.OpGet(pendingKey)).Commit()
	cancel()
	if err != nil {
		return k.fail("look for abandoned staged commits", err)
	}
	k.ok(resp.Header.Revision)
	rev := resp.Header.Revision
	var claimID, pendingID string
	var claimMod, pendingMod int64
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		claimID, claimMod = string(kvs[0].Value), kvs[0].ModRevision
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		p, err := parsePending(kvs[0].Value)
		if err != nil {
			return err
		}
		pendingID, pendingMod = p.ID, kvs[0].ModRevision
		if claimID != p.ID {
			if err := k.finish(p); err != nil {
				return err
			}
			return nil // the stages are looked at next time, from a new state
		}
	}
	// The ids staged at rev.
	base := k.prefix + "s/"
	from, end := base, clientv3.GetPrefixRangeEnd(base)
	var ids []string
	for {
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithKeysOnly(), clientv3.WithLimit(scanPage))
		cancel()
		if err != nil {
			return k.fail("look for abandoned staged commits", err)
		}
		for _, kv := range resp.Kvs {
			id, _, _ := strings.Cut(string(kv.Key)[len(base):], "/")
			if len(ids) == 0 || ids[len(ids)-1] != id {
				ids = append(ids, id)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for _, id := range ids {
		if id == claimID || id == pendingID {
			continue
		}
		// Neither claimed nor pending at rev, and still so now: an id is
		// never claimed again, so its stage can only be garbage.
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Txn(ctx).If(
			clientv3.Compare(clientv3.ModRevision(claim), "=", claimMod),
			clientv3.Compare(clientv3.ModRevision(pendingKey), "=", pendingMod),
		).Then(clientv3.OpDelete(k.stageKey(id), clientv3.WithPrefix())).Commit()
		cancel()
		if err != nil {
			return k.fail("delete an abandoned stage", err)
		}
		if !resp.Succeeded {
			return nil // the claim or pending moved: look again next time
		}
		k.stats.collected.Add(1)
		k.log.Info("etcd: deleted the stage of a staged commit whose writer stopped before publishing", "id", id)
	}
	return nil
}
