package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/google/uuid"

	"policygraph/graph/model"
	"policygraph/storage"
)

// Loaders batch the reads of one operation: every node and adjacency asked for
// by the resolvers running at the same time is fetched in one store
// transaction, so traversals make no N+1 reads.
type Loaders struct {
	nodes     batcher[uuid.UUID, *storage.Node]
	adj       batcher[storage.AdjQuery, []*storage.Fact]
	absentees batcher[uuid.UUID, []*storage.Fact]
	// attendance answers Event.attendedWithoutSponsoring and didNotAttend.
	attendance batcher[uuid.UUID, storage.Attendance]
	tierSizes  batcher[storage.TierQuery, *storage.Quantity]
	// The lists of the connections beside typed lists, filtered and ordered:
	// each is its own key (a pointer), so that one level's are one read.
	factLists   batcher[*storage.FactList, []*storage.Fact]
	entityLists batcher[*storage.EntityList, []uuid.UUID]
	// direct is set over a read model: every read answers at once, so
	// nothing waits for a batch (marshalSlice relies on it).
	direct bool
	// log is the operation's logger (subscriptions log what ends them).
	log *slog.Logger
	// ctx is the operation's context (WithLoaders): the model's views read
	// through the loaders under it (model.Reader), with no context of their own.
	ctx context.Context
	// g is the graph the loaders read; bound is g bound to ctx, which
	// direct reads read through (WithLoaders); nil: each read binds g to its
	// own context.
	g, bound *storage.Graph
}

type loadersKey struct{}

// NewLoaders makes the loaders of one operation. A fetch that panics fails
// its batch (every waiter gets an error the presenter answers INTERNAL) and
// is logged to log with its stack; it does not take the process down.
func NewLoaders(g *storage.Graph, log *slog.Logger) *Loaders {
	if log == nil {
		log = slog.Default()
	}
	// With a read model, a store read is a lookup in memory on the request's
	// pinned snapshot (about a microsecond): the loaders read at once instead
	// of waiting for a batch to fill, which cost more than it saved (a
	// goroutine and scheduler turns per batch; see BENCHMARKS.md, "Issue 11:
	// after the read model"). They still remember each key's result.
	//
	// The loaders are one allocation, with plain functions for fetches: made
	// for every operation, seven batchers with a closure and a map each were
	// a tenth of a small read's allocations.
	l := &Loaders{g: g, log: log, direct: g.ReadModel() != nil}
	l.nodes.init(l, (*storage.Graph).Nodes)
	l.adj.init(l, (*storage.Graph).Adjacent)
	l.absentees.init(l, (*storage.Graph).Absentees)
	l.attendance.init(l, (*storage.Graph).Attendance)
	l.tierSizes.init(l, (*storage.Graph).TierSizes)
	l.factLists.init(l, func(g *storage.Graph, ls []*storage.FactList) ([][]*storage.Fact, error) {
		return g.FilterFactLists(derefAll(ls))
	})
	l.entityLists.init(l, func(g *storage.Graph, ls []*storage.EntityList) ([][]uuid.UUID, error) {
		return g.FilterEntityLists(derefAll(ls))
	})
	return l
}

// derefAll is the values ps point to.
func derefAll[T any](ps []*T) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// WithLoaders returns ctx carrying fresh loaders, which read under ctx.
func WithLoaders(ctx context.Context, g *storage.Graph, log *slog.Logger) context.Context {
	l := NewLoaders(g, log)
	l.ctx = ctx
	if l.direct {
		// Every read runs in its resolver's goroutine under a context made
		// from ctx, with ctx's deadline and pinned snapshot: bind g to ctx
		// once, not for each read.
		l.bound = g.WithContext(ctx)
	}
	return context.WithValue(ctx, loadersKey{}, l)
}

func (r *Resolver) loaders(ctx context.Context) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	l := NewLoaders(r.store, nil)
	l.ctx = ctx
	return l
}

// rd is the reader the model's views of this request read through: its
// loaders.
func (r *Resolver) rd(ctx context.Context) model.Reader { return r.loaders(ctx) }

// The loaders are the model's Reader: what the views read, under the
// operation's context, remembered for the operation.
var _ model.Reader = (*Loaders)(nil)

// Node implements model.Reader.
func (l *Loaders) Node(id uuid.UUID) (*storage.Node, error) {
	if id == uuid.Nil {
		return nil, nil
	}
	return l.nodes.Load(l.context(), id)
}

// Nodes implements model.Reader.
func (l *Loaders) Nodes(ids []uuid.UUID) ([]*storage.Node, error) {
	return l.nodes.LoadAll(l.context(), ids)
}

// Active implements model.Reader.
func (l *Loaders) Active(node uuid.UUID, dir storage.Direction, pred storage.Predicate) ([]*storage.Fact, error) {
	return l.adj.Load(l.context(), storage.AdjQuery{Node: node, Dir: dir, Predicate: pred})
}

// TierSize implements model.Reader.
func (l *Loaders) TierSize(q storage.TierQuery) (*storage.Quantity, error) {
	return l.tierSizes.Load(l.context(), q)
}

// liveReader is a model.Reader that reads through g each time, remembering
// nothing: the views in a subscription's events, each of which is answered
// after the changes before it (an operation's loaders would remember what
// the first events read).
type liveReader struct{ g *storage.Graph }

// liveRd is the live reader of a subscription running under ctx.
func (r *Resolver) liveRd(ctx context.Context) model.Reader {
	return liveReader{r.graph(ctx)}
}

// Node implements model.Reader.
func (lr liveReader) Node(id uuid.UUID) (*storage.Node, error) {
	if id == uuid.Nil {
		return nil, nil
	}
	ns, err := lr.g.Nodes([]uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	return ns[0], nil
}

// Nodes implements model.Reader.
func (lr liveReader) Nodes(ids []uuid.UUID) ([]*storage.Node, error) { return lr.g.Nodes(ids) }

// Active implements model.Reader.
func (lr liveReader) Active(node uuid.UUID, dir storage.Direction, pred storage.Predicate) ([]*storage.Fact, error) {
	fs, err := lr.g.Adjacent([]storage.AdjQuery{{Node: node, Dir: dir, Predicate: pred}})
	if err != nil {
		return nil, err
	}
	return fs[0], nil
}

// TierSize implements model.Reader.
func (lr liveReader) TierSize(q storage.TierQuery) (*storage.Quantity, error) {
	qs, err := lr.g.TierSizes([]storage.TierQuery{q})
	if err != nil {
		return nil, err
	}
	return qs[0], nil
}

// context is the context the loaders read under.
func (l *Loaders) context() context.Context {
	if l.ctx == nil {
		return context.Background()
	}
	return l.ctx
}

// batcher collects the keys that concurrent resolvers load into one fetch, and
// remembers each key's result for the rest of the operation.
//
// A batch is fetched once the goroutines that were runnable when it opened
// have had their turn (it yields until no key arrives between two turns),
// not after a timed wait: dataloadgen's 200µs wait cost about 1 ms a loader
// round, because a timer under 1 ms sleeps the idle runtime in epoll_wait
// for a whole millisecond, and the headline query has four rounds.
type batcher[K comparable, V any] struct {
	fetch func(*storage.Graph, []K) ([]V, error)
	// l is the batcher's loaders: their graph, their log, and whether the
	// batcher fetches each key (LoadAll: each call's keys) at once, in the
	// caller's goroutine, without a batch (l.direct: a read model).
	l *Loaders

	mu    sync.Mutex
	open  *batch[K, V]
	known map[K]result[V]
}

type batch[K comparable, V any] struct {
	ctx  context.Context // the first loader's: the store reads run under it
	keys []K
	pos  map[K]int
	done chan struct{}
	vals []V
	err  error
}

type result[V any] struct {
	val V
	err error
}

// A batch closes once no key has arrived for stableYields turns in a row and
// minWait has passed, or once maxWait has. One quiet turn was not enough on a
// busy machine: the resolvers still to add keys may not have been scheduled
// yet (a traversal of 19 sponsors then cost up to 19 reads instead of about 8).
// The waits are measured while yielding, not slept: a timer shorter than a
// millisecond sleeps an idle runtime for a whole one.
const (
	stableYields = 3
	minWait      = 50 * time.Microsecond
	maxWait      = time.Millisecond
)

func (b *batcher[K, V]) init(l *Loaders, fetch func(*storage.Graph, []K) ([]V, error)) {
	b.fetch, b.l = fetch, l
}

// remember records k's result (b.mu held).
func (b *batcher[K, V]) remember(k K, r result[V]) {
	if b.known == nil {
		b.known = map[K]result[V]{}
	}
	b.known[k] = r
}

// add puts k in the open batch (opening one if needed) and returns the batch
// and k's position in it, or the known result.
func (b *batcher[K, V]) add(ctx context.Context, k K) (*batch[K, V], int, result[V], bool) {
	if r, ok := b.known[k]; ok {
		return nil, 0, r, true
	}
	if b.open == nil {
		b.open = &batch[K, V]{ctx: ctx, pos: map[K]int{}, done: make(chan struct{})}
		go b.run(b.open)
	}
	bt := b.open
	i, ok := bt.pos[k]
	if !ok {
		i = len(bt.keys)
		bt.pos[k] = i
		bt.keys = append(bt.keys, k)
	}
	return bt, i, result[V]{}, false
}

func (b *batcher[K, V]) run(bt *batch[K, V]) {
	n, quiet, opened := -1, 0, time.Now()
	for {
		runtime.Gosched()
		b.mu.Lock()
		if len(bt.keys) == n {
			quiet++
		} else {
			quiet = 0
		}
		waited := time.Since(opened)
		if (quiet >= stableYields && waited >= minWait) || waited >= maxWait {
			b.open = nil // later keys open the next batch
			b.mu.Unlock()
			break
		}
		n = len(bt.keys)
		b.mu.Unlock()
	}
	bt.vals, bt.err = b.safeFetch(bt.ctx, bt.keys)
	if bt.err == nil && len(bt.vals) != len(bt.keys) {
		bt.err = errBatchSize
	}
	b.mu.Lock()
	for i, k := range bt.keys {
		r := result[V]{err: bt.err}
		if bt.err == nil {
			r.val = bt.vals[i]
		}
		b.remember(k, r)
	}
	b.mu.Unlock()
	close(bt.done)
}

// errLoaderPanic is what the waiters of a batch whose fetch panicked get: an
// error with no code, which the presenter answers "internal error" (INTERNAL).
var errLoaderPanic = errors.New("loader: the store read panicked")

// safeFetch runs fetch, turning a panic into errLoaderPanic. The fetch runs in
// the batch's own goroutine, outside gqlgen's recovery: a panic there would
// otherwise end the process.
func (b *batcher[K, V]) safeFetch(ctx context.Context, keys []K) (vals []V, err error) {
	defer func() {
		if p := recover(); p != nil {
			b.l.log.ErrorContext(ctx, "panic in loader", "panic", fmt.Sprint(p), "keys", len(keys), "stack", string(debug.Stack()))
			vals, err = nil, errLoaderPanic
		}
	}()
	g := b.l.bound
	if g == nil || !b.l.direct {
		g = b.l.g.WithContext(ctx)
	}
	return b.fetch(g, keys)
}

// Load returns k's value, fetched in a batch with the keys loaded alongside.
func (b *batcher[K, V]) Load(ctx context.Context, k K) (V, error) {
	if b.l.direct {
		b.mu.Lock()
		r, ok := b.known[k]
		b.mu.Unlock()
		if !ok {
			var vals []V
			vals, r.err = b.fetchNow(ctx, []K{k})
			if r.err == nil {
				r.val = vals[0]
			}
		}
		return r.val, r.err
	}
	b.mu.Lock()
	bt, i, r, ok := b.add(ctx, k)
	b.mu.Unlock()
	if ok {
		return r.val, r.err
	}
	select {
	case <-bt.done:
	case <-ctx.Done():
		var zero V
		return zero, storage.ContextError(ctx)
	}
	if bt.err != nil {
		var zero V
		return zero, bt.err
	}
	return bt.vals[i], nil
}

// fetchNow fetches keys in the caller's goroutine (direct) and remembers
// their results.
func (b *batcher[K, V]) fetchNow(ctx context.Context, keys []K) ([]V, error) {
	if err := storage.ContextError(ctx); err != nil {
		return nil, err
	}
	vals, err := b.safeFetch(ctx, keys)
	if err == nil && len(vals) != len(keys) {
		err = errBatchSize
	}
	b.mu.Lock()
	for i, k := range keys {
		r := result[V]{err: err}
		if err == nil {
			r.val = vals[i]
		}
		b.remember(k, r)
	}
	b.mu.Unlock()
	return vals, err
}

// LoadAll returns the values of ks, in order, fetched in one batch.
func (b *batcher[K, V]) LoadAll(ctx context.Context, ks []K) ([]V, error) {
	if b.l.direct {
		out := make([]V, len(ks))
		var missing []K
		var at []int
		b.mu.Lock()
		for j, k := range ks {
			if r, ok := b.known[k]; ok {
				if r.err != nil {
					b.mu.Unlock()
					return nil, r.err
				}
				out[j] = r.val
				continue
			}
			missing, at = append(missing, k), append(at, j)
		}
		b.mu.Unlock()
		if len(missing) > 0 {
			vals, err := b.fetchNow(ctx, missing)
			if err != nil {
				return nil, err
			}
			for i, j := range at {
				out[j] = vals[i]
			}
		}
		return out, nil
	}
	type pending struct {
		bt *batch[K, V]
		i  int
		r  result[V]
	}
	ps := make([]pending, len(ks))
	b.mu.Lock()
	for j, k := range ks {
		bt, i, r, _ := b.add(ctx, k)
		ps[j] = pending{bt, i, r}
	}
	b.mu.Unlock()
	out := make([]V, len(ks))
	for j, p := range ps {
		if p.bt == nil {
			if p.r.err != nil {
				return nil, p.r.err
			}
			out[j] = p.r.val
			continue
		}
		select {
		case <-p.bt.done:
		case <-ctx.Done():
			return nil, storage.ContextError(ctx)
		}
		if p.bt.err != nil {
			return nil, p.bt.err
		}
		out[j] = p.bt.vals[p.i]
	}
	return out, nil
}

var errBatchSize = errors.New("loader: the store returned a different number of results than keys")
