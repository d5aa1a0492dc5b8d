package api

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"policygraph/internal/bytecache"
)

// The server's caches are bounded by the bytes they hold (see package
// bytecache): a bound on entries bounds nothing when one entry may be a 7 MB
// answer or a 1 MB query. Each also refuses entries over a per-entry bound, so
// that one huge entry cannot push out everything else; what is not cached is
// computed again when asked for.

// ResponseCache holds the serialized results of queries, each tagged with the
// graph version it was computed at. A write commits a new version, so every
// result computed before it stops matching: nothing stale is ever served. The
// first look at a newer version drops every entry of an older one, so stale
// answers are released, not only skipped.
type ResponseCache struct {
	entries *bytecache.Cache[string, *cachedResponse]
	mu      sync.Mutex    // serializes Add against dropping old versions
	newest  atomic.Uint64 // the newest version seen

	maxEntry int64 // the heaviest entry kept
}

type cachedResponse struct {
	version   uint64
	status    int
	body      []byte
	gz        []byte // body gzipped, once a client that accepts gzip asked for it (see gzipForm)
	etag      string
	operation string
	codes     []string // the error codes of a remembered refusal, for the metrics
}

// weight is the bytes an entry holds.
func (e *cachedResponse) weight() int64 {
	n := len(e.body) + len(e.gz) + len(e.etag) + len(e.operation)
	for _, c := range e.codes {
		n += len(c) + 16
	}
	return int64(n)
}

// NewResponseCache makes a cache of at most maxBytes and maxItems results
// (least recently used go first) that does not keep a result heavier than
// maxEntry bytes.
func NewResponseCache(maxBytes, maxEntry int64, maxItems int) *ResponseCache {
	return &ResponseCache{entries: bytecache.New[string, *cachedResponse](maxBytes, maxEntry, maxItems), maxEntry: maxEntry}
}

// Get returns the result cached under key if it was computed at version.
func (c *ResponseCache) Get(key string, version uint64) (*cachedResponse, bool) {
	c.Observe(version)
	e, ok := c.entries.Get(key)
	if !ok || e.version != version {
		return nil, false
	}
	return e, true
}

// Add caches a result computed at version (the version read before the query
// ran). A result of a version older than one already seen is stale: it is
// not kept.
func (c *ResponseCache) Add(key string, version uint64, e *cachedResponse) {
	c.Observe(version)
	c.mu.Lock()
	defer c.mu.Unlock()
	if version < c.newest.Load() {
		return
	}
	e.version = version
	c.entries.Add(key, e, e.weight())
}

// addGzip keeps e's body gzipped, gz, beside it: e again under key, with gz,
// if the two fit in one entry; it reports whether they did. e itself is not
// changed (other requests may be reading it).
func (c *ResponseCache) addGzip(key string, version uint64, e *cachedResponse, gz []byte) bool {
	withGz := *e
	withGz.gz = gz
	if withGz.weight()+bytecache.EntryOverhead > c.maxEntry {
		return false
	}
	c.Add(key, version, &withGz)
	return true
}

// Observe tells the cache that the graph is at version: the first time a
// version newer than any seen is observed, the entries of older ones are
// dropped. The transport calls it after each write, so a write releases what
// it made stale even when no query follows.
func (c *ResponseCache) Observe(version uint64) {
	if version <= c.newest.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version <= c.newest.Load() {
		return
	}
	c.newest.Store(version)
	c.entries.RemoveFunc(func(_ string, e *cachedResponse) bool { return e.version < version })
}

// Bytes is what the cached results weigh.
func (c *ResponseCache) Bytes() int64 { return c.entries.Bytes() }

// MaxBytes is the bound on Bytes.
func (c *ResponseCache) MaxBytes() int64 { return c.entries.MaxBytes() }

// Len is how many results are cached.
func (c *ResponseCache) Len() int { return c.entries.Len() }

// byteCache puts a bytecache.Cache behind gqlgen's graphql.Cache interface,
// which SetQueryCache and the automatic persisted queries take; weigh gives
// an entry's bytes.
type byteCache[T any] struct {
	c     *bytecache.Cache[string, T]
	weigh func(key string, v T) int64
}

var _ graphql.Cache[string] = (*byteCache[string])(nil)

func (b *byteCache[T]) Get(_ context.Context, key string) (T, bool) { return b.c.Get(key) }
func (b *byteCache[T]) Add(_ context.Context, key string, v T)      { b.c.Add(key, v, b.weigh(key, v)) }
func (b *byteCache[T]) Bytes() int64                                { return b.c.Bytes() }
func (b *byteCache[T]) MaxBytes() int64                             { return b.c.MaxBytes() }

// newQueryCache caches parsed query documents by their text. A document holds
// its text (as the source of its positions: the same string as the key) and
// the syntax tree, whose nodes are weighed by a walk of it.
func newQueryCache(maxBytes, maxEntry int64) *byteCache[*ast.QueryDocument] {
	return &byteCache[*ast.QueryDocument]{
		c:     bytecache.New[string, *ast.QueryDocument](maxBytes, maxEntry, 0),
		weigh: func(key string, doc *ast.QueryDocument) int64 { return int64(len(key)) + documentWeight(doc) },
	}
}

// newAPQCache caches the texts of automatic persisted queries by their hash.
func newAPQCache(maxBytes, maxEntry int64) *byteCache[string] {
	return &byteCache[string]{
		c:     bytecache.New[string, string](maxBytes, maxEntry, 0),
		weigh: func(key, query string) int64 { return int64(len(key) + len(query)) },
	}
}

// Bytes an AST node costs in memory, measured (TestDocumentWeight) and rounded up:
// a field with its position, arguments, directives and selection set.
const astNodeBytes = 256

// documentWeight estimates the memory of a parsed document beyond its text:
// astNodeBytes per selection, argument and value, and the names they hold.
func documentWeight(doc *ast.QueryDocument) int64 {
	if doc == nil {
		return 0
	}
	var n int64
	var value func(v *ast.Value)
	value = func(v *ast.Value) {
		if v == nil {
			return
		}
		n += astNodeBytes + int64(len(v.Raw))
		for _, c := range v.Children {
			n += int64(len(c.Name))
			value(c.Value)
		}
	}
	var selections func(ss ast.SelectionSet)
	selections = func(ss ast.SelectionSet) {
		for _, s := range ss {
			n += astNodeBytes
			switch s := s.(type) {
			case *ast.Field:
				n += int64(len(s.Alias) + len(s.Name))
				for _, a := range s.Arguments {
					n += astNodeBytes + int64(len(a.Name))
					value(a.Value)
				}
				for _, d := range s.Directives {
					n += astNodeBytes + int64(len(d.Name))
				}
				selections(s.SelectionSet)
			case *ast.InlineFragment:
				selections(s.SelectionSet)
			case *ast.FragmentSpread:
				n += int64(len(s.Name))
			}
		}
	}
	for _, op := range doc.Operations {
		n += astNodeBytes + int64(len(op.Name))
		for _, v := range op.VariableDefinitions {
			n += astNodeBytes + int64(len(v.Variable))
			value(v.DefaultValue)
		}
		selections(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += astNodeBytes + int64(len(f.Name))
		selections(f.SelectionSet)
	}
	return n
}
