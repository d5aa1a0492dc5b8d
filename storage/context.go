package storage

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"

	"policygraph/errs"
)

// scanCheckEvery is how many keys a scan reads between two looks at the context.
const scanCheckEvery = 64

// WithContext returns a view of the graph whose reads and writes stop, with an
// *errs.Error TIMEOUT, once ctx is done: every Get and every 64th key of a scan looks
// at ctx. A write stopped that way is not committed. The view shares the store.
func (g *Graph) WithContext(ctx context.Context) *Graph {
	if ctx == nil || ctx.Done() == nil && pinOf(ctx) == nil {
		return g
	}
	c := *g
	c.kv = ctxKV{KV: g.kv, ctx: ctx}
	c.ctx = ctx
	c.pin = pinOf(ctx)
	return &c
}

// ctxErr is the error of the context g is bound to (WithContext), or nil:
// reads that need no store transaction check it themselves.
func (g *Graph) ctxErr() error {
	if g.ctx == nil {
		return nil
	}
	return ContextError(g.ctx)
}

// ContextError maps a done context's error to an *errs.Error TIMEOUT (or nil).
func ContextError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &errs.Error{Code: errs.Timeout, Message: "the request took too long and was stopped; ask for less (fewer or narrower fields, a smaller first)"}
	}
	return &errs.Error{Code: errs.Timeout, Message: "the request was cancelled"}
}

// ctxKV is a KV whose transactions give up once ctx is done.
type ctxKV struct {
	KV
	ctx context.Context
}

func (c ctxKV) View(fn func(Txn) error) error {
	if err := ContextError(c.ctx); err != nil {
		return err
	}
	return c.KV.View(func(tx Txn) error { return fn(&ctxTxn{Txn: tx, ctx: c.ctx}) })
}

func (c ctxKV) Update(fn func(Txn) error) error {
	if err := ContextError(c.ctx); err != nil {
		return err
	}
	return c.KV.Update(func(tx Txn) error { return fn(&ctxTxn{Txn: tx, ctx: c.ctx}) })
}

type ctxTxn struct {
	Txn
	ctx context.Context
}

func (t *ctxTxn) OnCommit(f func()) bool {
	oc, ok := t.Txn.(CommitNotifier)
	return ok && oc.OnCommit(f)
}

// err is the context's error as an *errs.Error TIMEOUT, or nil.
func (t *ctxTxn) err() error { return ContextError(t.ctx) }

func (t *ctxTxn) Get(key []byte) ([]byte, error) {
	if err := ContextError(t.ctx); err != nil {
		return nil, err
	}
	return t.Txn.Get(key)
}

func (t *ctxTxn) Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error {
	return t.ScanFrom(prefix, prefix, keysOnly, fn)
}

func (t *ctxTxn) ScanFrom(prefix, start []byte, keysOnly bool, fn func(key, val []byte) error) error {
	if err := ContextError(t.ctx); err != nil {
		return err
	}
	n := 0
	return t.Txn.ScanFrom(prefix, start, keysOnly, func(k, v []byte) error {
		if n++; n%scanCheckEvery == 0 {
			if err := ContextError(t.ctx); err != nil {
				return err
			}
		}
		return fn(k, v)
	})
}

// ctxSnapshot is a Snapshot (the read model's) that gives up once ctx is
// done: every scanCheckEvery-th record read or scanned looks at ctx, as a
// store transaction's keys do (ctxTxn).
type ctxSnapshot struct {
	Snapshot
	ctx context.Context
	n   int
	// adjFn is the callback of the Adjacent running now, which adjTick (the
	// method value tickAdj, made once) calls: a request makes many small
	// adjacency reads through one snapshot, and wrapping each callback in a
	// closure was an allocation apiece.
	adjFn, adjTick func(AdjEntry) error
}

func (s *ctxSnapshot) tickAdj(e AdjEntry) error {
	if err := s.tick(); err != nil {
		return err
	}
	return s.adjFn(e)
}

// tick counts a record read, and every scanCheckEvery-th looks at ctx.
func (s *ctxSnapshot) tick() error {
	if s.n++; s.n%scanCheckEvery != 0 {
		return nil
	}
	return ContextError(s.ctx)
}

// capability is what s can do beyond a Snapshot (a TopSearcher, a
// FactWalker, a KindCounter…), looked for through the context wrapper, which
// forwards only the Snapshot's methods.
func capability[C any](s Snapshot) (C, bool) {
	if cs, ok := s.(*ctxSnapshot); ok {
		s = cs.Snapshot
	}
	c, ok := s.(C)
	return c, ok
}

// each wraps a scan's callback with tick.
func each[T any](s *ctxSnapshot, fn func(T) error) func(T) error {
	return func(v T) error {
		if err := s.tick(); err != nil {
			return err
		}
		return fn(v)
	}
}

// Sizes implements Sizer, when the wrapped snapshot does.
func (s *ctxSnapshot) Sizes() Sizes { return s.Snapshot.(Sizer).Sizes() }

func (s *ctxSnapshot) Node(id uuid.UUID) (*Node, error) {
	if err := s.tick(); err != nil {
		return nil, err
	}
	return s.Snapshot.Node(id)
}

func (s *ctxSnapshot) Fact(id uuid.UUID) (*Fact, error) {
	if err := s.tick(); err != nil {
		return nil, err
	}
	return s.Snapshot.Fact(id)
}

func (s *ctxSnapshot) Adjacent(node uuid.UUID, dir Direction, pred Predicate, fn func(AdjEntry) error) error {
	if s.adjTick == nil {
		s.adjTick = s.tickAdj
	}
	outer := s.adjFn // fn may read adjacency in turn
	s.adjFn = fn
	defer func() { s.adjFn = outer }()
	return s.Snapshot.Adjacent(node, dir, pred, s.adjTick)
}

func (s *ctxSnapshot) NodesByKind(kind Kind, fn func(uuid.UUID) error) error {
	return s.Snapshot.NodesByKind(kind, each(s, fn))
}

func (s *ctxSnapshot) NodesByYear(kind Kind, from, to int, fn func(uuid.UUID) error) error {
	return s.Snapshot.NodesByYear(kind, from, to, each(s, fn))
}

func (s *ctxSnapshot) FactsByPredicate(pred Predicate, fn func(uuid.UUID) error) error {
	return s.Snapshot.FactsByPredicate(pred, each(s, fn))
}

func (s *ctxSnapshot) FactsByYear(pred Predicate, from, to int, fn func(uuid.UUID) error) error {
	return s.Snapshot.FactsByYear(pred, from, to, each(s, fn))
}

func (s *ctxSnapshot) SubjectsByValue(pred Predicate, value string, fn func(subject, fact uuid.UUID) error) error {
	return s.Snapshot.SubjectsByValue(pred, value, func(subject, fact uuid.UUID) error {
		if err := s.tick(); err != nil {
			return err
		}
		return fn(subject, fact)
	})
}

func (s *ctxSnapshot) NameTerms(prefix string, whole bool, fn func(string, uuid.UUID) error) error {
	return s.Snapshot.NameTerms(prefix, whole, func(term string, id uuid.UUID) error {
		if err := s.tick(); err != nil {
			return err
		}
		return fn(term, id)
	})
}

func (s *ctxSnapshot) Nodes(fn func(*Node) error) error { return s.Snapshot.Nodes(each(s, fn)) }
func (s *ctxSnapshot) Facts(fn func(*Fact) error) error { return s.Snapshot.Facts(each(s, fn)) }
func (s *ctxSnapshot) FactIDs(fn func(uuid.UUID) error) error {
	return s.Snapshot.FactIDs(each(s, fn))
}

// A request's reads see one version of the graph: Pin marks its context, and
// every Graph.WithContext view of it reads the snapshot of the read model
// pinned on the first read (or by PinnedVersion), however many writes commit
// meanwhile. The request's own writes move the pin to the version they
// made, so that it reads them (a mutation's answer). Without a read model a
// pin does nothing: each read is a store transaction of its own.
type pin struct {
	mu sync.Mutex
	s  Snapshot
	// written is the version the request's last write produced (0: none).
	written uint64
}

// wrote records that the request's write produced version v (0: the write
// changed nothing).
func (p *pin) wrote(v uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.written = max(p.written, v)
}

// WrittenVersion is the version the last write of the request whose context
// ctx is (made by Pin) produced: what its response reports, so that its
// client can ask any server for at least that version. 0 when it wrote
// nothing (or ctx has no pin).
func WrittenVersion(ctx context.Context) uint64 {
	p := pinOf(ctx)
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.written
}

// WaitVersion waits until the graph's version (with a read model, the
// version the model has applied) is at least v, and reports whether it is;
// false once ctx ends first.
func (g *Graph) WaitVersion(ctx context.Context, v uint64) bool {
	for {
		head := g.cl.head.Load()
		if head >= v {
			return true
		}
		select {
		case <-g.cl.wait(head):
		case <-ctx.Done():
			return g.cl.head.Load() >= v
		}
	}
}

type pinKey struct{}

// Pin returns ctx marked so that reads through it see one snapshot.
func Pin(ctx context.Context) context.Context {
	if _, ok := ctx.Value(pinKey{}).(*pin); ok {
		return ctx
	}
	return context.WithValue(ctx, pinKey{}, &pin{})
}

func pinOf(ctx context.Context) *pin {
	p, _ := ctx.Value(pinKey{}).(*pin)
	return p
}

// get returns the pinned snapshot, pinning the model's latest if none is.
func (p *pin) get(m ReadModel) Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.s == nil {
		p.s = m.Snapshot()
	}
	return p.s
}

// moveTo pins the model's latest snapshot, if it is newer than the pinned one.
func (p *pin) moveTo(m ReadModel) {
	s := m.Snapshot()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.s == nil || s.Version() > p.s.Version() {
		p.s = s
	}
}

// PinnedVersion pins the latest snapshot for ctx (made by Pin) if none is,
// and returns the version its reads see: what a response cache keys the
// answer on. Without a pin or a read model, it is the graph's version.
func (g *Graph) PinnedVersion(ctx context.Context) uint64 {
	m := g.cl.readModel()
	p := pinOf(ctx)
	if m == nil || p == nil {
		return g.Version()
	}
	return p.get(m).Version()
}
