package etcd

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Changed implements storage.Shared: the channel receives a value,
// coalesced, after every change of key (and of the pending key: a staged
// commit is visible from its publish, before its apply writes key), and
// also whenever the KV lost track of them (a watch broken by a lost member
// or leader, or refused because etcd compacted the revision it asked for),
// so that the reader reads again: it reads current state, which the graph's
// own change log describes, so etcd's compaction never loses a change for
// it. Watches start after Version and are made again, with backoff, from
// the revision after the last event seen (from the current revision after a
// compaction, read before the wake-up is sent). The channel closes once ctx
// ends or the KV closes.
func (k *KV) Changed(ctx context.Context, key []byte) <-chan struct{} {
	ch := make(chan struct{}, 1)
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(k.ctx, cancel)
	from := k.version.Load() + 1
	var wg sync.WaitGroup
	for _, w := range []string{k.prefix + "k/" + string(key), k.prefix + "pending"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.watch(ctx, w, from, notify)
		}()
	}
	go func() {
		wg.Wait()
		stop()
		cancel()
		close(ch)
	}()
	return ch
}

// watch calls notify for every change of key from revision from on, and
// after every break of the watch, until ctx ends.
func (k *KV) watch(ctx context.Context, key string, from int64, notify func()) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		compacted := false
		for resp := range k.cli.Watch(wctx, key, clientv3.WithRev(from)) {
			if err := resp.Err(); err != nil {
				compacted = errors.Is(err, rpctypes.ErrCompacted) || resp.CompactRevision != 0
				if ctx.Err() == nil {
					k.log.Debug("etcd: watch broken", "key", key, "err", err)
				}
				break
			}
			if n := len(resp.Events); n > 0 {
				from = resp.Events[n-1].Kv.ModRevision + 1
				backoff = 50 * time.Millisecond
				notify()
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if compacted {
			// Read the current revision first: the reader, woken after it,
			// reads a state at least that new, and the watch goes on from it.
			octx, ocancel := k.opCtx()
			resp, err := k.cli.Get(octx, key, clientv3.WithCountOnly())
			ocancel()
			if err == nil {
				k.ok(resp.Header.Revision)
				from = resp.Header.Revision + 1
			} else {
				k.fail("watch again after a compaction", err)
			}
		}
		notify()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
