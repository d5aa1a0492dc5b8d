package storage

import (
	"context"
	"errors"
	"sync/atomic"
)

// KV is the seam between the graph and its store: an ordered, transactional
// key-value store. Each engine is a package of its own: storage/badger (the
// embedded default) now; any store with serializable transactions and
// ordered prefix scans (a distributed one included) can take its place.
type KV interface {
	// View runs fn in a read-only snapshot.
	View(fn func(Txn) error) error
	// Update runs fn in a read-write transaction and commits it. On a conflict with a
	// concurrent transaction it runs fn again, a bounded number of times, then returns
	// an *errs.Error with code CONFLICT.
	Update(fn func(Txn) error) error
	// Version is a number that grows with every committed write; it survives restarts.
	Version() uint64
	// Writable returns nil if the store takes writes now, or an *errs.Error with
	// code DISK_FULL (which Update returns too) while it refuses them.
	Writable() error
	Close() error
}

// Txn is one transaction of a KV. Values passed to fns are valid only during the call.
type Txn interface {
	// Get returns a copy of the value at key, or ErrKeyMissing.
	Get(key []byte) ([]byte, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// Scan calls fn for each key with the prefix, in key order, until fn returns
	// ErrStop (then Scan returns nil) or another error. With keysOnly, val is nil.
	Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error
	// ScanFrom is Scan starting at the first key >= start (start must have the prefix).
	ScanFrom(prefix, start []byte, keysOnly bool, fn func(key, val []byte) error) error
}

// CommitNotifier is a Txn that can run funcs once it has committed, before
// its KV's Version moves past the commit (Badger's can): state kept beside
// the store, such as the graph's counts, is then never behind a version a
// reader has seen. OnCommit reports whether it took f (a read-only
// transaction does not: nothing commits).
type CommitNotifier interface {
	OnCommit(f func()) bool
}

// IndexFree is a KV that keeps only the graph's records, its change log and
// meta keys: no slug, index or adjacency keys (the etcd engine, where a
// derived index per key would not fit a cluster's quota). A Graph over one
// writes records only and needs a read model (Options.Model), which derives
// every index in memory.
type IndexFree interface {
	KV
	IndexFree()
}

// Shared is a KV that other servers write too (the etcd engine). Changed
// returns a channel that receives a value, coalesced, whenever key may have
// changed, and also when the engine lost track of it (a watch that broke or
// was compacted) so that the reader looks again; the channel is closed once
// ctx ends. A Graph over a Shared KV follows the change log with it.
type Shared interface {
	KV
	Changed(ctx context.Context, key []byte) <-chan struct{}
}

// Claimer is a Shared KV that can reserve the store for its own next write:
// Claim waits until no other writer holds the reservation (bounded: then
// an *errs.Error) and takes it; until this KV's next Update commits, or
// Release, every other writer of the store waits. The committer claims
// when a batch found the head moved twice in a row, so that a write that
// loses every race with steady small writes on other servers (a big one,
// slow to run and to stage) is not starved: it runs once more against the
// caught-up state while nobody else can commit. Release is harmless when
// nothing is held.
type Claimer interface {
	KV
	Claim() error
	Release()
}

// ErrKeyMissing is returned by Txn.Get for an absent key.
var ErrKeyMissing = errors.New("key missing")

// ErrTxnTooBig is returned (wrapped) by a write transaction that grew past
// what the engine commits at once.
var ErrTxnTooBig = errors.New("transaction too big")

// ErrStop ends a scan early without error: a Txn's Scan, and a Snapshot's
// callbacks, stop and return nil when their fn returns it.
var ErrStop = errors.New("stop scan")

// BulkWriter takes writes outside transactions, batching them for speed;
// nothing is guaranteed visible or durable until Flush returns. It is an
// engine's capability: a KV that is a BulkLoader makes one.
type BulkWriter interface {
	Set(key, value []byte) error
	// Flush writes what is pending and waits for it; then the KV's Version is
	// above every version read before.
	Flush() error
	// Cancel drops the writer; what was flushed stays.
	Cancel()
}

// BulkLoader is a KV that can load data outside transactions (Badger's
// StreamWriter). Import uses it when the KV has it and transactions
// otherwise, so the KV seam stays narrow.
type BulkLoader interface {
	NewBulkWriter() BulkWriter
}

// CountingKV counts the transactions run on a KV: how many reads and writes a
// request cost, for metrics and for tests that prove a cached answer cost none.
type CountingKV struct {
	KV
	views, updates atomic.Uint64
}

// View implements KV.
func (c *CountingKV) View(fn func(Txn) error) error {
	c.views.Add(1)
	return c.KV.View(fn)
}

// Update implements KV.
func (c *CountingKV) Update(fn func(Txn) error) error {
	c.updates.Add(1)
	return c.KV.Update(fn)
}

// Views is how many read transactions have run.
func (c *CountingKV) Views() uint64 { return c.views.Load() }

// Updates is how many write transactions have run.
func (c *CountingKV) Updates() uint64 { return c.updates.Load() }

// Unwrap returns the KV counted, so that its capabilities (IndexFree,
// Shared) show through (see IsIndexFree, AsShared).
func (c *CountingKV) Unwrap() KV { return c.KV }

// unwrapped walks through wrappers of a KV (those with Unwrap() KV) and
// returns the first KV for which is reports true.
func unwrapped[T any](kv KV) (T, bool) {
	for kv != nil {
		if t, ok := kv.(T); ok {
			return t, true
		}
		u, ok := kv.(interface{ Unwrap() KV })
		if !ok {
			break
		}
		kv = u.Unwrap()
	}
	var zero T
	return zero, false
}

// IsIndexFree reports whether kv, or the KV it wraps, is IndexFree.
func IsIndexFree(kv KV) bool {
	_, ok := unwrapped[IndexFree](kv)
	return ok
}

// AsShared returns kv, or the KV it wraps, as a Shared, if it is one.
func AsShared(kv KV) (Shared, bool) { return unwrapped[Shared](kv) }
