package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Following a shared store. Over a Shared KV (etcd) other servers commit
// too; a graph follows them: a goroutine waits on the store's wake-ups for
// the head key (Shared.Changed), and polls every FollowPoll besides (a
// wake-up that a broken watch lost costs one poll, not a stale server), and
// on each it takes the committer's lock and catches the model up from the
// change log (changeLog.catchUp: the entries past the model's version, or a
// rebuild from the records when the log cannot bring it there). Reads keep
// being answered from the model meanwhile, at the version it has.

// DefaultFollowPoll is how often a graph over a shared store reads its head
// without a wake-up.
const DefaultFollowPoll = time.Second

// follower is the following goroutine's state.
type follower struct {
	poll   time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	storeHead atomic.Uint64 // the head last read from the store
	contactNS atomic.Int64  // when the store was last read or written (Unix ns); 0: never

	mu      sync.Mutex
	lastErr error // the last catch-up's error, nil once one succeeds
}

// FollowState is how a graph keeps up with its store, for readiness and
// metrics (Graph.Follow).
type FollowState struct {
	// Shared: the graph follows a store other servers write (Shared KV).
	Shared bool
	// StoreHead is the head last read from (or written to) the store;
	// Model the version the read model has applied. StoreHead - Model is
	// the lag.
	StoreHead, Model uint64
	// LastContact is when the store was last read or written successfully
	// (zero before the first time).
	LastContact time.Time
	// LastError is the last failed catch-up's error; nil once one succeeds.
	LastError error
	// Reloads counts the rebuilds of the model from the records because the
	// change log could not bring it to the head (entries pruned).
	Reloads uint64
}

// Lag is how many versions the model is behind the store's head last seen.
func (s FollowState) Lag() uint64 {
	if s.StoreHead > s.Model {
		return s.StoreHead - s.Model
	}
	return 0
}

// Follow reports how the graph keeps up with its store. Without a read
// model, StoreHead and Model are both the graph's version.
func (g *Graph) Follow() FollowState {
	l := g.cl
	st := FollowState{StoreHead: l.follow.storeHead.Load(), Reloads: l.reloads.Load()}
	_, st.Shared = AsShared(g.kv)
	if ns := l.follow.contactNS.Load(); ns != 0 {
		st.LastContact = time.Unix(0, ns)
	}
	if m := l.readModel(); m != nil {
		st.Model = m.Snapshot().Version()
	} else {
		st.Model = l.head.Load()
	}
	st.StoreHead = max(st.StoreHead, st.Model)
	l.follow.mu.Lock()
	st.LastError = l.follow.lastErr
	l.follow.mu.Unlock()
	return st
}

// noteHead records a head read from the store (kept: the highest).
func (l *changeLog) noteHead(head uint64) {
	for {
		old := l.follow.storeHead.Load()
		if head <= old || l.follow.storeHead.CompareAndSwap(old, head) {
			return
		}
	}
}

// contact records a successful read or write of the store at head.
func (l *changeLog) contact(head uint64) {
	l.noteHead(head)
	l.follow.contactNS.Store(time.Now().UnixNano())
	l.follow.mu.Lock()
	l.follow.lastErr = nil
	l.follow.mu.Unlock()
}

// startFollowing runs the follower over s (OpenWith, with a read model).
func (l *changeLog) startFollowing(s Shared) {
	if l.follow.poll <= 0 {
		l.follow.poll = DefaultFollowPoll
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.follow.cancel, l.follow.done = cancel, make(chan struct{})
	changed := s.Changed(ctx, metaHeadKey)
	go func() {
		defer close(l.follow.done)
		tick := time.NewTicker(l.follow.poll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-changed:
				if !ok {
					changed = nil // the engine stopped watching: the poll goes on
					continue
				}
			case <-tick.C:
			}
			l.followOnce()
		}
	}()
}

// followOnce catches the model up with the store, under the committer's lock.
func (l *changeLog) followOnce() {
	l.mu.Lock()
	err := l.catchUp()
	l.mu.Unlock()
	if err == nil {
		return
	}
	l.follow.mu.Lock()
	same := l.follow.lastErr != nil && l.follow.lastErr.Error() == err.Error()
	l.follow.lastErr = err
	l.follow.mu.Unlock()
	if !same {
		l.log.Warn("cannot catch up with the store; reads go on at the model's version", "version", l.head.Load(), "err", err)
	}
}

// stop ends the follower, if it runs, and waits for it.
func (f *follower) stop() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
	}
}
