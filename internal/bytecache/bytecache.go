// Package bytecache is a least-recently-used cache bounded by the bytes its
// entries hold, not by their number: policygraph's caches hold values of any
// size (a query's text, its parsed form, a serialized answer), so a bound on
// entries bounds nothing.
//
// It is written here rather than taken from a library because none in the
// module graph fits: hashicorp/golang-lru counts entries only, and ristretto
// (which weighs entries by cost) admits them asynchronously and may drop an
// Add, so a request repeated at once can miss, which makes "a repeated request
// costs no store read" neither guaranteed nor testable. This cache is
// synchronous and exact: an Add is visible to the next Get, and Bytes never
// exceeds the bound.
package bytecache

import "sync"

// EntryOverhead is what an entry costs beyond the weight its caller gives: the
// map slot, the list links and the key header, rounded up.
const EntryOverhead = 96

// Cache is an LRU cache of at most MaxBytes (and, when set, at most a number of
// entries), refusing entries over MaxEntry. It is safe for concurrent use. The
// zero value is not usable; call New.
type Cache[K comparable, V any] struct {
	mu       sync.Mutex
	maxBytes int64
	maxEntry int64
	maxItems int
	used     int64
	items    map[K]*entry[K, V]
	root     entry[K, V] // sentinel: root.next is the most recent, root.prev the least
}

type entry[K comparable, V any] struct {
	key        K
	val        V
	weight     int64
	prev, next *entry[K, V]
}

// New makes a cache of at most maxBytes, and at most maxItems entries unless
// maxItems is 0, that refuses an entry heavier than maxEntry (0: than
// maxBytes). A maxBytes of 0 or less makes a cache that holds nothing.
func New[K comparable, V any](maxBytes, maxEntry int64, maxItems int) *Cache[K, V] {
	if maxEntry <= 0 || maxEntry > maxBytes {
		maxEntry = maxBytes
	}
	c := &Cache[K, V]{maxBytes: maxBytes, maxEntry: maxEntry, maxItems: max(maxItems, 0), items: map[K]*entry[K, V]{}}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// Get returns the value cached under k and marks it recently used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.val, true
}

// Add caches v under k, weighing weight bytes (EntryOverhead is added), and
// evicts the least recently used entries until the cache fits its bound. It
// returns false, caching nothing, when the entry is heavier than the per-entry
// bound; an older value under k is then dropped, so Get never returns it.
func (c *Cache[K, V]) Add(k K, v V, weight int64) bool {
	weight = max(weight, 0) + EntryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.items[k]; ok {
		c.remove(old)
	}
	if weight > c.maxEntry {
		return false
	}
	e := &entry[K, V]{key: k, val: v, weight: weight}
	c.items[k] = e
	c.pushFront(e)
	c.used += weight
	for c.used > c.maxBytes || (c.maxItems > 0 && len(c.items) > c.maxItems) {
		c.remove(c.root.prev)
	}
	return true
}

// RemoveFunc drops every entry for which drop returns true, and returns how
// many it dropped. It holds the cache's lock while it runs: drop must be quick.
func (c *Cache[K, V]) RemoveFunc(drop func(K, V) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for e := c.root.next; e != &c.root; {
		next := e.next
		if drop(e.key, e.val) {
			c.remove(e)
			n++
		}
		e = next
	}
	return n
}

// Len is the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Bytes is the weight of the entries, overheads included.
func (c *Cache[K, V]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// MaxBytes is the bound on Bytes.
func (c *Cache[K, V]) MaxBytes() int64 { return c.maxBytes }

// MaxEntry is the heaviest entry the cache takes, EntryOverhead included.
func (c *Cache[K, V]) MaxEntry() int64 { return c.maxEntry }

func (c *Cache[K, V]) remove(e *entry[K, V]) {
	c.unlink(e)
	delete(c.items, e.key)
	c.used -= e.weight
}

func (c *Cache[K, V]) unlink(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *Cache[K, V]) pushFront(e *entry[K, V]) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}
