package graph

import (
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// ResponseCache holds the serialized results of queries, each tagged with the
// graph version it was computed at. A write commits a new version, so every
// result computed before it stops matching: nothing stale is ever served.
type ResponseCache struct {
	entries *lru.Cache[string, *cachedResponse]
}

type cachedResponse struct {
	version   uint64
	status    int
	body      []byte
	etag      string
	operation string
	errs      gqlerror.List // of a remembered refusal, for the metrics
}

// NewResponseCache makes a cache of at most size results (least recently used go first).
func NewResponseCache(size int) *ResponseCache {
	c, err := lru.New[string, *cachedResponse](max(size, 1))
	if err != nil {
		panic(err) // only for size <= 0, excluded above
	}
	return &ResponseCache{entries: c}
}

// Get returns the result cached under key if it was computed at version.
func (c *ResponseCache) Get(key string, version uint64) (*cachedResponse, bool) {
	e, ok := c.entries.Get(key)
	if !ok || e.version != version {
		return nil, false
	}
	return e, true
}

// Add caches a result computed at version (the version read before the query ran).
func (c *ResponseCache) Add(key string, version uint64, e *cachedResponse) {
	e.version = version
	c.entries.Add(key, e)
}
