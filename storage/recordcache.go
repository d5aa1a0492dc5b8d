package storage

import (
	"sync/atomic"
	"unsafe"

	"github.com/google/uuid"

	"policygraph/internal/bytecache"
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
// The cache is bounded by bytes (see package bytecache), each record weighed
// by the memory it takes decoded (nodeWeight, factWeight).
//
// Records handed out from the cache are shared: callers must not modify a
// *Node or *Fact they read (the write paths read inside their own read-write
// transaction, which never uses the cache, and clone before they change).

// DefaultRecordCacheBytes bounds the decoded-record cache unless
// SetRecordCacheBytes says otherwise: two fifths for entities, the rest for facts.
const DefaultRecordCacheBytes = 64 << 20

type recordCache struct {
	writing atomic.Int64 // Graph writes in progress
	nodes   *bytecache.Cache[uuid.UUID, cachedNode]
	facts   *bytecache.Cache[uuid.UUID, cachedFact]
}

// nodeWeight and factWeight are the memory of a decoded record, for the
// cache's byte bound: its struct and what it points to, each string rounded up
// as the allocator rounds it (TestRecordWeight checks them against measured
// memory). Decoding copies every string out of the encoding.
func nodeWeight(n *Node) int64 {
	w := int64(unsafe.Sizeof(*n)) + strBytes(string(n.Kind), n.Slug, n.Name, n.Description, n.OrgType, n.PlaceType,
		n.Code, n.ProductType, n.Status, n.Programme, n.Title, n.TitleEn, n.Author, n.Publisher, n.PublisherNote,
		n.Language, n.URL, n.CreatedBy)
	w += int64(len(n.Labels)) * int64(unsafe.Sizeof(Label{}))
	for _, l := range n.Labels {
		w += strBytes(l.Lang, l.Text)
	}
	w += int64(len(n.Aliases))*int64(unsafe.Sizeof("")) + strBytes(n.Aliases...)
	if n.PublishedAt != nil {
		w += int64(unsafe.Sizeof(*n.PublishedAt))
	}
	return w + retractionBytes(n.Retraction)
}

func factWeight(f *Fact) int64 {
	w := int64(unsafe.Sizeof(*f)) + strBytes(string(f.Predicate), f.Value, f.Measure, string(f.Tier), f.Role, f.CreatedBy)
	if f.Quantity != nil {
		w += int64(unsafe.Sizeof(*f.Quantity)) + strBytes(string(f.Quantity.Bound), f.Quantity.Unit) + 8
	}
	for _, d := range []*Date{f.Date, f.Start, f.End} {
		if d != nil {
			w += int64(unsafe.Sizeof(*d)) + strBytes(string(d.Precision))
		}
	}
	w += int64(len(f.Evidence)) * int64(unsafe.Sizeof(Evidence{}))
	for _, e := range f.Evidence {
		w += strBytes(e.Quote, e.Gloss, e.Note)
	}
	return w + retractionBytes(f.Retraction)
}

func retractionBytes(r *Retraction) int64 {
	if r == nil {
		return 0
	}
	return int64(unsafe.Sizeof(*r)) + strBytes(r.By, r.Reason)
}

// strBytes is what the strings' bytes take on the heap: nothing for an empty
// one, at least 8 bytes, and up to an eighth more for the size class.
func strBytes(ss ...string) int64 {
	var n int64
	for _, s := range ss {
		if l := int64(len(s)); l > 0 {
			n += max(8, l+l/8+8)
		}
	}
	return n
}

type cachedNode struct {
	v uint64
	n *Node
}

type cachedFact struct {
	v uint64
	f *Fact
}

func newRecordCache(bytes int64) *recordCache {
	nodes := bytes * 2 / 5
	return &recordCache{
		nodes: bytecache.New[uuid.UUID, cachedNode](nodes, nodes/64, 0),
		facts: bytecache.New[uuid.UUID, cachedFact](bytes-nodes, (bytes-nodes)/64, 0),
	}
}

// view runs fn on a snapshot: the read model's latest, or, without one, one
// read-only transaction's, with the record cache when the snapshot's version
// is known (see above).
func (g *Graph) view(fn func(Snapshot) error) error {
	if m := g.cl.readModel(); m != nil {
		if err := g.ctxErr(); err != nil {
			return err
		}
		var s Snapshot
		if g.pin != nil {
			s = g.pin.get(m)
		} else {
			s = m.Snapshot()
		}
		if g.ctx != nil {
			s = &ctxSnapshot{Snapshot: s, ctx: g.ctx}
		}
		return stopped(fn(s))
	}
	c := g.rc
	head := g.cl.head.Load()
	v := g.kv.Version()
	return g.kv.View(func(tx Txn) error {
		s := &kvSnapshot{tx: tx, v: head, cv: v}
		if c != nil && c.writing.Load() == 0 && g.kv.Version() == v {
			s.cache = c
		}
		return fn(s)
	})
}

// update runs a write: with a read model, through the committer (commit.go);
// without, as one read-write transaction, one at a time, that appends the
// write's change log entry, marked in progress for view, and that adds what
// it changed to the graph's counts (counts.go) once it has committed, before
// the store's Version moves past it.
func (g *Graph) update(fn func(w writer) error) error {
	if m := g.cl.readModel(); m != nil {
		v, err := g.cl.submit(g.ctx, fn)
		if err == nil && g.pin != nil {
			g.pin.moveTo(m) // the request reads its own write
			g.pin.wrote(v)
		}
		return err
	}
	if c := g.rc; c != nil {
		c.writing.Add(1)
		defer c.writing.Add(-1)
	}
	g.counts.writes.RLock()
	defer g.counts.writes.RUnlock()
	g.cl.mu.Lock()
	defer g.cl.mu.Unlock()
	var last *countDelta
	var change *Change // the write's log entry; nil when it changed nothing
	committed := func(d *countDelta) {
		g.counts.apply(d)
		if change != nil {
			g.cl.remember(change)
			g.cl.moved(change.Version)
		}
	}
	hooked := false
	err := g.kv.Update(func(tx Txn) error {
		d := &countDelta{groups: map[countGroup]int{}}
		last, change = d, nil
		rec := newChangeRec()
		if err := fn(&kvWriter{kvSnapshot: kvSnapshot{tx: &countingTxn{Txn: tx, d: d}}, rec: rec}); err != nil {
			return err
		}
		if !rec.empty() {
			head, _, err := readHead(tx)
			if err != nil {
				return err
			}
			rec.c.Version, rec.c.At = head+1, g.cl.now()
			if err := appendEntry(tx, &rec.c); err != nil {
				return err
			}
			if err := g.cl.prune(tx, head+1); err != nil {
				return err
			}
			change = &rec.c
		}
		oc, ok := tx.(CommitNotifier)
		hooked = ok && oc.OnCommit(func() { committed(d) })
		return nil
	})
	if err == nil && !hooked {
		committed(last) // a store without commit hooks: just after
	}
	if err == nil && change != nil && g.pin != nil {
		g.pin.wrote(change.Version)
	}
	return err
}

// SetRecordCache turns the decoded-record cache on or off (on after Open);
// tests of store faults and timing, and benchmarks comparing both, turn it
// off. Not safe concurrently with reads; call before serving.
func (g *Graph) SetRecordCache(on bool) {
	if on && g.rc == nil {
		g.rc = newRecordCache(DefaultRecordCacheBytes)
	} else if !on {
		g.rc = nil
	}
}

// SetRecordCacheBytes replaces the decoded-record cache with an empty one of
// at most n bytes (0 or less: none). Like SetRecordCache, call it before serving.
func (g *Graph) SetRecordCacheBytes(n int64) {
	if n <= 0 {
		g.rc = nil
		return
	}
	g.rc = newRecordCache(n)
}
