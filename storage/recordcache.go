package storage

import (
	"sync/atomic"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
)

// The decoded-record cache: read transactions keep the *Node and *Fact they
// decode, by ID, so the next request that reads the same record skips the
// Badger Get and the decode (a third of the headline query's CPU before it).
//
// Every entry is tagged with the KV version its snapshot was known to equal,
// and is served only to a read transaction whose snapshot is known to equal
// the same version. A read transaction is "known" at version v when v was read
// before its snapshot was taken and, once the snapshot exists, the version is
// still v and no write of this graph is in progress: then every write that
// committed before the snapshot had also bumped the version before v was read
// (a write bumps the version after its commit, before it returns), and none
// committed after. A transaction that cannot prove that (a write was in
// flight) neither reads nor fills the cache. So the cache never serves a
// record older than the last acknowledged write, nor mixes two snapshots.
// Entries of an older version are simply ignored and age out of the LRU.
//
// Records handed out from the cache are shared: callers must not modify a
// *Node or *Fact they read (the write paths read inside their own read-write
// transaction, which never uses the cache, and clone before they change).

// Sizes of the decoded-record cache (entries).
const (
	recordCacheNodes = 20000
	recordCacheFacts = 50000
)

type recordCache struct {
	writing atomic.Int64 // Graph writes in progress
	nodes   *lru.Cache[uuid.UUID, cachedNode]
	facts   *lru.Cache[uuid.UUID, cachedFact]
}

type cachedNode struct {
	v uint64
	n *Node
}

type cachedFact struct {
	v uint64
	f *Fact
}

func newRecordCache() *recordCache {
	nodes, _ := lru.New[uuid.UUID, cachedNode](recordCacheNodes)
	facts, _ := lru.New[uuid.UUID, cachedFact](recordCacheFacts)
	return &recordCache{nodes: nodes, facts: facts}
}

// cachedTxn is a read-only transaction whose snapshot is known to be version v.
type cachedTxn struct {
	Txn
	c *recordCache
	v uint64
}

// view runs fn in a read-only snapshot, with the record cache when the
// snapshot's version is known (see above).
func (g *Graph) view(fn func(Txn) error) error {
	c := g.rc
	if c == nil {
		return g.kv.View(fn)
	}
	v := g.kv.Version()
	return g.kv.View(func(tx Txn) error {
		if c.writing.Load() == 0 && g.kv.Version() == v {
			tx = &cachedTxn{Txn: tx, c: c, v: v}
		}
		return fn(tx)
	})
}

// update runs fn in a read-write transaction, marked in progress for view.
func (g *Graph) update(fn func(Txn) error) error {
	if c := g.rc; c != nil {
		c.writing.Add(1)
		defer c.writing.Add(-1)
	}
	return g.kv.Update(fn)
}

// SetRecordCache turns the decoded-record cache on or off (on after Open);
// tests of store faults and timing, and benchmarks comparing both, turn it
// off. Not safe concurrently with reads; call before serving.
func (g *Graph) SetRecordCache(on bool) {
	if on && g.rc == nil {
		g.rc = newRecordCache()
	} else if !on {
		g.rc = nil
	}
}
