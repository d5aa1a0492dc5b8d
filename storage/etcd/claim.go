package etcd

import (
	"context"
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"policygraph/errs"
)

// The claim (P+"claim") means "a staged commit is in progress; others
// wait". A single-Txn commit holds only while no claim exists, so that no
// small write moves what a staged writer read between its claim and its
// publish: without that, a steady stream of small writes on other servers
// fails every publish and starves a big write. A writer refused for a
// claim waits for it to go (claimWait), then runs again.
//
// A staged writer whose publish failed because a key it read changed
// before it claimed keeps its claim (heldClaim) for its caller's next
// Update, which runs against the new state and reuses it, so that it is
// not starved either: the graph catches up and runs its batch again. A
// claim kept that no Update takes within claimLinger is released.

// claimLinger is how long a claim kept after a failed publish waits for the
// next Update of its KV.
func (k *KV) claimLinger() time.Duration { return k.cfg.ClaimTTL / 2 }

// claimWait bounds how long one Update waits for other writers' claims
// to go: the lease of a claim whose writer died (ClaimTTL), and OpTimeout
// twice for etcd to expire it and for this writer's own requests.
func (k *KV) claimWait() time.Duration { return k.cfg.ClaimTTL + 2*k.cfg.OpTimeout }

// heldClaim is a claim this KV holds, on a lease it keeps alive.
type heldClaim struct {
	id    string
	lease clientv3.LeaseID
	stop  context.CancelFunc // ends the keep-alive
	inUse bool               // an Update is using it
	timer *time.Timer        // releases it once kept unused past claimLinger
}

// claimError is a commit refused because another writer holds the claim at
// revision rev.
type claimError struct{ rev int64 }

func (e *claimError) Error() string { return "etcd: a staged commit of another writer holds the claim" }

// takeHeld returns the claim this KV kept after a failed publish, marked in
// use, or nil.
func (k *KV) takeHeld() *heldClaim {
	k.claimMu.Lock()
	defer k.claimMu.Unlock()
	h := k.held
	if h == nil || h.inUse {
		return nil
	}
	h.inUse = true
	if h.timer != nil {
		h.timer.Stop()
	}
	return h
}

// keepHeld keeps h for the next Update, for claimLinger at most.
func (k *KV) keepHeld(h *heldClaim) {
	k.claimMu.Lock()
	defer k.claimMu.Unlock()
	h.inUse = false
	k.held = h
	h.timer = time.AfterFunc(k.claimLinger(), func() {
		k.claimMu.Lock()
		unused := k.held == h && !h.inUse
		if unused {
			k.held = nil
		}
		k.claimMu.Unlock()
		if unused {
			k.log.Debug("etcd: released a claim no write took", "id", h.id)
			k.revoke(h)
		}
	})
}

// dropHeld forgets h: its claim is gone or its lease is left to expire.
func (k *KV) dropHeld(h *heldClaim) {
	k.claimMu.Lock()
	if k.held == h {
		k.held = nil
	}
	k.claimMu.Unlock()
	h.stop()
}

// revoke forgets h and revokes its lease, which deletes the claim if it
// is still h's.
func (k *KV) revoke(h *heldClaim) {
	k.dropHeld(h)
	ctx, cancel := k.opCtx()
	k.cli.Revoke(ctx, h.lease)
	cancel()
}

// Claim implements storage.Claimer: it takes the claim (waiting for
// another writer's to go, claimWait at most, and finishing a published
// commit pending) and keeps it for this KV's next Update, which commits
// under it and releases it; Release or claimLinger release it unused.
func (k *KV) Claim() error {
	for finishes := 0; ; finishes++ {
		h, err := k.claim()
		var pe *pendingError
		if errors.As(err, &pe) {
			if finishes >= maxPendingFinishes {
				return errs.Errorf(errs.Conflict, "", "staged commits of other writers kept this write waiting; try again")
			}
			if err := k.finish(pe.p); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		k.keepHeld(h)
		return nil
	}
}

// Release implements storage.Claimer: it releases the claim this KV keeps,
// unless an Update is using it.
func (k *KV) Release() { k.releaseHeld() }

// releaseHeld revokes a claim kept and not in use (Release, Close).
func (k *KV) releaseHeld() {
	k.claimMu.Lock()
	h := k.held
	if h != nil && h.inUse {
		h = nil
	}
	k.claimMu.Unlock()
	if h != nil {
		if h.timer != nil {
			h.timer.Stop()
		}
		k.revoke(h)
	}
}

// waitClaim waits until the claim seen at revision rev is gone (deleted at
// the end of its staged commit's apply, or with its lease), or deadline:
// then CONFLICT; STORE_UNAVAILABLE when the cluster does not answer.
func (k *KV) waitClaim(rev int64, deadline time.Time) error {
	claim := k.prefix + "claim"
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errs.Errorf(errs.Conflict, "", "a large write (a staged commit) held the store for more than %s; try again", k.claimWait())
		}
		if k.ctx.Err() != nil {
			return errs.Errorf(errs.StoreUnavailable, "", "the store is closing")
		}
		// Watch for the claim's deletion, and look again every second in
		// case the watch broke.
		wctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(k.ctx), min(left, time.Second))
		gone := false
		for resp := range k.cli.Watch(wctx, claim, clientv3.WithRev(rev+1)) {
			if resp.Err() != nil {
				break
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					gone = true
				}
			}
			if gone {
				break
			}
		}
		cancel()
		if gone {
			return nil
		}
		ctx, cancel := k.opCtx()
		resp, err := k.cli.Get(ctx, claim, clientv3.WithCountOnly())
		cancel()
		if err != nil {
			return k.fail("wait for a staged commit's claim", err)
		}
		k.ok(resp.Header.Revision)
		if resp.Count == 0 {
			return nil
		}
		rev = resp.Header.Revision
	}
}
