package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"policygraph/errs"
)

// How writes commit (issue 11). Every write is a function of a writer
// (write.go, saved.go) that reads the graph, decides, and sets whole records.
//
// With a read model (Options.Model), one goroutine, the committer, runs the
// writes: it takes the writes waiting, runs each against a Draft of the
// model at the log's head V (a write that fails leaves the draft as it was),
// and commits those that succeeded in one store transaction: their records
// with their index and adjacency keys, one change log entry each, versions
// V+1, V+2, ..., and the head, after checking that the head is still V. One
// fsync so covers many writes (the group commit a store gives concurrent
// transactions), while versions stay dense. Then it applies the changes to
// the model, in order, and only then answers the writers: a write is
// acknowledged once a read sees it. Writes run one after another against
// the latest state, so they never conflict with each other; the check of
// the head is what a store shared by several servers needs (etcd: one
// compare on the version key), and when it fails the committer catches the
// model up from the log and runs the batch again, a bounded number of times.
//
// Without a read model (storage's own tests, and tools that read a store
// once), a write is one store transaction, run one at a time under a lock,
// that appends its entry and moves the head itself.

// Options tune a Graph.
type Options struct {
	// Model builds the read model that answers every read; nil reads the
	// store's transactions directly.
	Model ModelLoader
	// Retention is how much of the change log is kept.
	Retention Retention
	// Logger receives the committer's errors; nil means slog.Default().
	Logger *slog.Logger
	// ModelCache, with Model, saves the read model to files and starts
	// from the newest one instead of a full build (modelcache.go).
	ModelCache ModelCache
	// ModelSaveEvery bounds how often a compaction leads to a save; 0
	// means DefaultModelSaveEvery.
	ModelSaveEvery time.Duration
	// FollowPoll is how often a graph over a Shared KV reads the store's
	// head even without a wake-up from it (follow.go); 0 means
	// DefaultFollowPoll.
	FollowPoll time.Duration
}

// Retention says which change log entries are kept: an entry goes once it is
// both more than Versions versions behind the head and older than Age. Zero
// values keep everything by that measure (both zero: keep every entry).
type Retention struct {
	Versions uint64
	Age      time.Duration
}

// DefaultRetention keeps the last 100,000 changes and a week of them.
var DefaultRetention = Retention{Versions: 100_000, Age: 7 * 24 * time.Hour}

// maxBatch bounds the writes one commit takes.
const maxBatch = 256

// commitRetries bounds how often a batch runs again after the head moved.
const commitRetries = 3

// changeLog is the graph's write path and change log state, shared by the
// graph's WithContext views.
type changeLog struct {
	kv KV
	// indexFree: kv keeps records only (IsIndexFree); the model derives the rest.
	indexFree bool
	loader    ModelLoader
	cache     ModelCache
	saver     *saver // with cache, the background writer of model files
	// model is the read model (nil without one); reload replaces it.
	model  atomic.Pointer[modelRef]
	retain Retention
	log    *slog.Logger
	now    func() time.Time

	// mu serializes writes without a model, and, with one, is held by the
	// committer around each batch (and by Import, which writes around it).
	mu sync.Mutex

	head  atomic.Uint64
	first atomic.Uint64 // the oldest entry kept, 0 when none

	// recent are the latest changes, in version order (changelog.go).
	recentMu sync.RWMutex
	recent   []*Change
	changed  atomic.Pointer[chan struct{}]

	reqs    chan *commitReq
	stop    chan struct{}
	stopped chan struct{}
	closed  atomic.Bool

	// Counters for metrics.
	commits, batches atomic.Uint64

	// The follower's state (follow.go).
	follow  follower
	reloads atomic.Uint64

	closeOnce sync.Once // Graph.Close's
	closeErr  error
}

type modelRef struct{ ReadModel }

// readModel returns the read model, or nil.
func (l *changeLog) readModel() ReadModel {
	if r := l.model.Load(); r != nil {
		return r.ReadModel
	}
	return nil
}

// commitReq is a write waiting for the committer.
type commitReq struct {
	ctx  context.Context
	fn   func(w writer) error
	done chan error
	// answered is set once done has the outcome (the committer's own).
	answered bool
	// version is the version the write produced (0: it changed nothing),
	// set before it is answered.
	version uint64
}

// answer gives the write its outcome, once.
func (r *commitReq) answer(err error) {
	if !r.answered {
		r.answered = true
		r.done <- err
	}
}

func newChangeLog(kv KV, o Options, now func() time.Time) *changeLog {
	l := &changeLog{kv: kv, indexFree: IsIndexFree(kv), loader: o.Model, cache: o.ModelCache, retain: o.Retention, log: o.Logger, now: now}
	l.follow.poll = o.FollowPoll
	if l.log == nil {
		l.log = slog.Default()
	}
	ch := make(chan struct{})
	l.changed.Store(&ch)
	return l
}

// moved publishes a new head and wakes those waiting for it.
func (l *changeLog) moved(head uint64) {
	l.head.Store(head)
	ch := make(chan struct{})
	old := l.changed.Swap(&ch)
	close(*old)
}

// wait returns a channel closed once the head moves past v (at once when it
// has).
func (l *changeLog) wait(v uint64) <-chan struct{} {
	ch := *l.changed.Load()
	if l.head.Load() > v {
		c := make(chan struct{})
		close(c)
		return c
	}
	return ch
}

// start runs the committer.
func (l *changeLog) start() {
	l.reqs = make(chan *commitReq, maxBatch)
	l.stop = make(chan struct{})
	l.stopped = make(chan struct{})
	go l.run()
}

// close stops the committer once the writes it took are done; writes
// waiting get an error.
func (l *changeLog) close() {
	if l.reqs == nil || !l.closed.CompareAndSwap(false, true) {
		return
	}
	l.follow.stop()
	close(l.stop)
	<-l.stopped
}

var errClosed = errors.New("the graph is closed")

func (l *changeLog) run() {
	defer close(l.stopped)
	for {
		var r *commitReq
		select {
		case r = <-l.reqs:
		case <-l.stop:
			for {
				select {
				case r := <-l.reqs:
					r.answer(errClosed)
				default:
					return
				}
			}
		}
		batch := []*commitReq{r}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		l.commitBatch(batch)
	}
}

// submit hands a write to the committer and waits for its outcome: the
// version it produced (0 when it changed nothing) or its error.
func (l *changeLog) submit(ctx context.Context, fn func(w writer) error) (uint64, error) {
	if l.closed.Load() {
		return 0, errClosed
	}
	if ctx == nil {
		ctx = context.Background()
	}
	r := &commitReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return 0, ContextError(ctx)
	case <-l.stop:
		return 0, errClosed
	}
	// Once taken, the write's outcome is the committer's to say: it checks
	// the context before it runs and before it commits. A write that went
	// into the queue as the committer stopped is answered here.
	select {
	case err := <-r.done:
		return r.version, err
	case <-l.stopped:
		select {
		case err := <-r.done:
			return r.version, err
		default:
			return 0, errClosed
		}
	}
}

// pendingWrite is a write of a batch that ran without an error.
type pendingWrite struct {
	r   *commitReq
	rec *changeRec
}

// commitBatch runs and commits one batch of writes; see the top of the file.
func (l *changeLog) commitBatch(batch []*commitReq) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	claimer, canClaim := unwrapped[Claimer](l.kv)
	claimed := false
	for try := 0; ; try++ {
		var done bool
		done, err = l.tryBatch(batch)
		if done || !errors.Is(err, errHeadMoved) || try == commitRetries {
			break
		}
		// The second time the head moved under the batch, reserve the
		// store before catching up (a Claimer's): the next try then runs
		// against a head nobody else can move. Without it a batch slower
		// than the gap between another server's writes (an ingest of
		// thousands of entities) never commits.
		if canClaim && !claimed && try >= 1 {
			if err = claimer.Claim(); err != nil {
				break
			}
			claimed = true
		}
		if err = l.catchUp(); err != nil {
			break
		}
	}
	if claimed {
		claimer.Release() // nothing, when the commit took the claim
	}
	err = conflictError(err)
	for _, r := range batch {
		r.answer(err)
	}
}

// conflictError is what a write is told when its batch kept finding the
// head moved (err otherwise).
func conflictError(err error) error {
	if errors.Is(err, errHeadMoved) {
		return &errs.Error{Code: errs.Conflict, Message: "the graph changed under the write too often; try again"}
	}
	return err
}

// errHeadMoved is a commit that found the log's head past the version its
// writes ran against.
var errHeadMoved = errors.New("the change log's head moved")

// tryBatch runs the batch's writes against a draft of the model and commits
// those that succeeded. It answers every write it settles (those that failed,
// and all of them once committed) and reports done; on an error no write of
// the batch is committed and the ones still pending are left to the caller.
func (l *changeLog) tryBatch(batch []*commitReq) (done bool, err error) {
	model := l.readModel()
	d := model.Draft()
	base := d.Version()
	var ok []pendingWrite
	for _, r := range batch {
		if r.answered {
			continue
		}
		if err := ContextError(r.ctx); err != nil {
			r.answer(err)
			continue
		}
		f := d.Fork()
		rec := newChangeRec()
		if err := runWrite(r.fn, &modelWriter{Draft: f, rec: rec}); err != nil {
			r.answer(err)
			continue
		}
		if rec.empty() {
			r.answer(nil) // nothing changed: no version
			continue
		}
		d = f
		ok = append(ok, pendingWrite{r, rec})
	}
	if len(ok) == 0 {
		return true, nil
	}
	now := l.now()
	for i, p := range ok {
		p.rec.c.Version, p.rec.c.At = base+uint64(i)+1, now
	}
	// Writes whose context ended while the batch ran are not committed.
	kept := ok[:0]
	for _, p := range ok {
		if err := ContextError(p.r.ctx); err != nil {
			p.r.answer(err)
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) != len(ok) {
		// Their versions were taken: run the rest again, so that versions
		// stay dense and every write sees the ones before it.
		rest := make([]*commitReq, len(kept))
		for i, p := range kept {
			rest[i] = p.r
		}
		return l.tryBatch(rest)
	}
	if err := l.persist(base, ok); err != nil {
		if errors.Is(err, ErrTxnTooBig) && len(ok) > 1 {
			// One at a time: each write is then as big as it is alone.
			for _, p := range ok {
				if _, err := l.tryBatch([]*commitReq{p.r}); err != nil {
					p.r.answer(conflictError(err))
				}
			}
			return true, nil
		}
		return false, err
	}
	l.batches.Add(1)
	for _, p := range ok {
		if err := model.Apply(p.rec.c); err != nil {
			// The model refused what its draft took: it no longer matches
			// the store. Rebuild it from the store, which holds the write.
			l.log.Error("read model refused a committed change; rebuilding it from the store", "version", p.rec.c.Version, "err", err)
			if err := l.reload(); err != nil {
				l.log.Error("read model rebuild failed", "err", err)
			}
			break
		}
	}
	l.commits.Add(uint64(len(ok)))
	l.contact(base + uint64(len(ok)))
	for _, p := range ok {
		l.remember(&p.rec.c)
	}
	l.moved(base + uint64(len(ok)))
	for _, p := range ok {
		p.r.version = p.rec.c.Version
		p.r.answer(nil)
	}
	return true, nil
}

// runWrite runs a write's function; a panic in it (a bug) fails that write
// alone, as an error, instead of the committer and with it the server.
func runWrite(fn func(w writer) error, w writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(w)
}

// persist stores the writes' changes and their log entries in one store
// transaction, if the head is still base.
func (l *changeLog) persist(base uint64, ws []pendingWrite) error {
	return l.kv.Update(func(tx Txn) error {
		head, _, err := readHead(tx)
		if err != nil {
			return err
		}
		if head != base {
			return errHeadMoved
		}
		w := &kvWriter{kvSnapshot: kvSnapshot{tx: tx}, indexFree: l.indexFree}
		for _, p := range ws {
			for _, op := range p.rec.ops {
				if err := op(w); err != nil {
					return err
				}
			}
			if err := appendEntry(tx, &p.rec.c); err != nil {
				return err
			}
		}
		return l.prune(tx, base+uint64(len(ws)))
	})
}

// appendEntry stores c's log entry and makes its version the head.
func appendEntry(tx Txn, c *Change) error {
	b, err := encodeChange(c)
	if err != nil {
		return fmt.Errorf("encode change %d: %w", c.Version, err)
	}
	if err := tx.Set(logKey(c.Version), b); err != nil {
		return err
	}
	return setHead(tx, c.Version)
}

// pruneStep bounds the entries one commit deletes.
const pruneStep = 64

// prune deletes up to pruneStep of the oldest entries the retention no
// longer keeps, given the head the transaction leaves.
func (l *changeLog) prune(tx Txn, head uint64) error {
	r := l.retain
	if r.Versions == 0 && r.Age == 0 {
		return nil
	}
	first := l.first.Load()
	if first == 0 {
		first = head // the first entry is this commit's (or we do not know: look)
		if f, err := firstLogged(tx); err != nil {
			return err
		} else if f != 0 {
			first = f
		}
	}
	if r.Versions > 0 && head-first < r.Versions {
		l.first.Store(first)
		return nil
	}
	cut := l.now().Add(-r.Age)
	n, v := 0, first
	err := tx.ScanFrom(kindPrefix(prefixLog), logKey(first), false, func(k, val []byte) error {
		c, _, err := decodeChangeHeader(val)
		if err != nil {
			return err
		}
		if n == pruneStep || c.Version >= head || (r.Versions > 0 && head-c.Version < r.Versions) ||
			(r.Age > 0 && !c.At.Before(cut)) {
			return ErrStop
		}
		n++
		v = c.Version + 1
		return tx.Delete(k)
	})
	if err != nil {
		return err
	}
	l.first.Store(v)
	return nil
}

// catchUp applies the log's entries past the model's version to the model:
// what another writer of the store committed. It reads the head and the
// entries in one View (one snapshot of the store). It never applies a gap:
// when the entry after the model's version is gone (pruned by the
// retention while this server was behind: VERSION_GONE, as /changes says),
// when one is missing further on, or when the store's head is behind the
// model (a store restored under it), it rebuilds the model from the
// records instead, as on a reset entry. The caller holds l.mu.
func (l *changeLog) catchUp() error {
	model := l.readModel()
	from := model.Snapshot().Version()
	var head uint64
	err := l.kv.View(func(tx Txn) error {
		var err error
		if head, _, err = readHead(tx); err != nil {
			return err
		}
		l.noteHead(head) // known even if the model cannot get there: the lag
		if head < from {
			return fmt.Errorf("%w: the store's head %d is behind the model's version %d", errGap, head, from)
		}
		return l.applyLog(tx, model, from, head)
	})
	if errors.Is(err, errGap) {
		l.reloads.Add(1)
		l.log.Warn("the change log cannot bring the read model to the store's head; rebuilding it from the records",
			"code", errs.VersionGone, "err", err)
		return l.reload()
	}
	if errors.Is(err, errReset) {
		return l.reload()
	}
	if err != nil {
		return fmt.Errorf("catch up with the change log: %w", err)
	}
	l.contact(head)
	if head != l.head.Load() {
		l.moved(head)
	}
	return nil
}

// applyLog applies the log entries (from, head] that tx reads to model, in
// order: errReset at a reset entry, errGap when one is missing.
func (l *changeLog) applyLog(tx Txn, model ReadModel, from, head uint64) error {
	next := from + 1
	err := scanLog(tx, from, head, func(c *Change) error {
		if c.Reset {
			return errReset
		}
		if c.Version != next {
			return fmt.Errorf("%w: version %d is gone from the change log (the next kept is %d)", errGap, next, c.Version)
		}
		if err := model.Apply(*c); err != nil {
			return err
		}
		l.remember(c)
		next++
		return nil
	})
	if err == nil && next != head+1 {
		err = fmt.Errorf("%w: the change log ends at %d, the head is %d", errGap, next-1, head)
	}
	return err
}

// errGap is a change log that cannot bring the model to the head.
var errGap = errors.New("gap in the change log")

var errReset = errors.New("the graph was reset")

// reload builds the model again from the store's records.
func (l *changeLog) reload() error {
	m, head, err := loadModel(l.kv, l.loader)
	if err != nil {
		return err
	}
	if old := l.model.Swap(&modelRef{m}); old != nil {
		old.Close()
	}
	l.follow.storeHead.Store(head) // the store's, even if it went back (a restore)
	l.contact(head)
	l.moved(head)
	return nil
}

// changeRec records what a write changed: the Change for the log and the
// model, and the store operations that make it.
type changeRec struct {
	c   Change
	ops []func(w *kvWriter) error
	// Where each record is in c: a record set twice keeps its last value at
	// its first place.
	nodes, facts, texts map[uuid.UUID]int
}

func newChangeRec() *changeRec { return &changeRec{} }

func (r *changeRec) empty() bool { return r.c.Empty() }

func place[T any](list *[]T, at *map[uuid.UUID]int, id uuid.UUID, v T) {
	if *at == nil {
		*at = map[uuid.UUID]int{}
	}
	if i, ok := (*at)[id]; ok {
		(*list)[i] = v
		return
	}
	(*at)[id] = len(*list)
	*list = append(*list, v)
}

func (r *changeRec) node(old, n *Node, text string) {
	place(&r.c.Nodes, &r.nodes, n.ID, n)
	if text != "" {
		place(&r.c.Texts, &r.texts, n.ID, SourceText{ID: n.ID, Text: text})
	}
	r.ops = append(r.ops, func(w *kvWriter) error { return w.setNode(old, n, text) })
}

func (r *changeRec) fact(old, f *Fact) {
	place(&r.c.Facts, &r.facts, f.ID, f)
	r.ops = append(r.ops, func(w *kvWriter) error { return w.setFact(old, f) })
}

func (r *changeRec) revision(rv *Revision) {
	r.c.Revisions = append(r.c.Revisions, rv)
	r.ops = append(r.ops, func(w *kvWriter) error { return w.setRevision(rv) })
}

func (r *changeRec) saved(q *SavedQuery) {
	r.c.DeleteSaved = without(r.c.DeleteSaved, q.Name)
	r.c.Saved = append(withoutSaved(r.c.Saved, q.Name), q)
	r.ops = append(r.ops, func(w *kvWriter) error { return w.setSaved(q) })
}

func (r *changeRec) deleteSaved(name string) {
	r.c.Saved = withoutSaved(r.c.Saved, name)
	r.c.DeleteSaved = append(without(r.c.DeleteSaved, name), name)
	r.ops = append(r.ops, func(w *kvWriter) error { return w.deleteSaved(name) })
}

func without(names []string, name string) []string {
	out := names[:0]
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

func withoutSaved(qs []*SavedQuery, name string) []*SavedQuery {
	out := qs[:0]
	for _, q := range qs {
		if q.Name != name {
			out = append(out, q)
		}
	}
	return out
}

// modelWriter is the writer of a write the committer runs: it reads the
// draft, which sees what the write has set so far, and records the change.
type modelWriter struct {
	Draft
	rec *changeRec
}

var _ writer = (*modelWriter)(nil)

func (w *modelWriter) setNode(old, n *Node, text string) error {
	c := Change{Nodes: []*Node{n}}
	if text != "" {
		c.Texts = []SourceText{{ID: n.ID, Text: text}}
	}
	if err := w.Put(c); err != nil {
		return err
	}
	w.rec.node(old, n, text)
	return nil
}

func (w *modelWriter) setFact(old, f *Fact) error {
	if err := w.Put(Change{Facts: []*Fact{f}}); err != nil {
		return err
	}
	w.rec.fact(old, f)
	return nil
}

func (w *modelWriter) setRevision(r *Revision) error {
	if err := w.Put(Change{Revisions: []*Revision{r}}); err != nil {
		return err
	}
	w.rec.revision(r)
	return nil
}

func (w *modelWriter) setSaved(q *SavedQuery) error {
	if err := w.Put(Change{Saved: []*SavedQuery{q}}); err != nil {
		return err
	}
	w.rec.saved(q)
	return nil
}

func (w *modelWriter) deleteSaved(name string) error {
	if err := w.Put(Change{DeleteSaved: []string{name}}); err != nil {
		return err
	}
	w.rec.deleteSaved(name)
	return nil
}

// guardNode has nothing to guard: the committer runs writes one at a time.
func (w *modelWriter) guardNode(uuid.UUID) error { return nil }

// loadModel builds a read model of the store's records, all read in one
// transaction, at the head that transaction sees.
func loadModel(kv KV, loader ModelLoader) (m ReadModel, head uint64, err error) {
	err = kv.View(func(tx Txn) error {
		var err error
		if head, _, err = readHead(tx); err != nil {
			return err
		}
		m, err = loader(head, func(sink RecordSink) error { return scanRecords(tx, sink) })
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("build the read model: %w", err)
	}
	return m, head, nil
}

// scanRecords hands every record of the store to sink: nodes, then source
// texts, then facts, then revisions and saved queries.
func scanRecords(tx Txn, sink RecordSink) error {
	scan := func(kind KeyKind, fn func(k, v []byte) error) error {
		return tx.Scan(kindPrefix(kind), false, fn)
	}
	err := scan(prefixNode, func(k, v []byte) error {
		n, err := decodeNode(v)
		if err != nil {
			return fmt.Errorf("decode node %s: %w", keyID(k), err)
		}
		return sink.Node(n)
	})
	if err != nil {
		return err
	}
	if err := scan(prefixText, func(k, v []byte) error {
		return sink.Text(SourceText{ID: keyID(k), Text: string(v)})
	}); err != nil {
		return err
	}
	if err := scan(prefixFact, func(k, v []byte) error {
		f, err := decodeFact(v)
		if err != nil {
			return fmt.Errorf("decode fact %s: %w", keyID(k), err)
		}
		return sink.Fact(f)
	}); err != nil {
		return err
	}
	if err := scan(prefixRevision, func(k, v []byte) error {
		r, err := decodeRevision(v)
		if err != nil {
			return fmt.Errorf("decode revision %x: %w", k, err)
		}
		return sink.Revision(r)
	}); err != nil {
		return err
	}
	return scan(prefixSaved, func(k, v []byte) error {
		q := new(SavedQuery)
		if err := json.Unmarshal(v, q); err != nil {
			return fmt.Errorf("decode saved query %q: %w", k[1:], err)
		}
		return sink.Saved(q)
	})
}

// reset appends a reset entry, numbered above the head, the store's engine
// version and above, after a write around the log (Import, with l.mu
// held), and rebuilds the read model. Versions are dense from one reset to
// the next; a reset may skip some, and a reader of the log reads the whole
// graph again there anyway.
func (l *changeLog) reset(above uint64) error {
	var v uint64
	err := l.kv.Update(func(tx Txn) error {
		head, _, err := readHead(tx)
		if err != nil {
			return err
		}
		v = max(head, l.kv.Version(), above) + 1
		return appendEntry(tx, &Change{Version: v, At: l.now(), Reset: true})
	})
	if err != nil {
		return fmt.Errorf("append the reset to the change log: %w", err)
	}
	l.remember(&Change{Version: v, At: l.now(), Reset: true})
	if l.readModel() != nil {
		return l.reload()
	}
	l.moved(v)
	return nil
}
