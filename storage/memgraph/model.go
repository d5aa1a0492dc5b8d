package memgraph

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/btree"

	"policygraph/storage"
)

// Options tune a Model.
type Options struct {
	// CompactAt is the number of overlay entries past which the model
	// compacts in the background; 0 means the default, a quarter of the
	// base's records and at least minCompactAt; negative means never.
	CompactAt int
	// Logger receives the compactions; nil means slog.Default().
	Logger *slog.Logger
}

// Model is the versioned read model: the latest Snapshot, and the one
// writer that applies changes in version order. Snapshot never blocks.
type Model struct {
	cur  atomic.Pointer[Snapshot]
	opts Options

	mu      sync.Mutex // the writer's: held by Apply, and by a compaction's swap
	gen     *generation
	ov      *btree.BTreeG[entry]
	revs    *btree.BTreeG[revEntry]
	counts  counts
	version uint64
	next    [2]uint32 // the next internal IDs of entities and facts

	compacting bool
	pending    []storage.Change // applied while a compaction runs, to replay onto its result
	stats      Stats
	bg         sync.WaitGroup
	closed     bool

	// draftMu guards the latest snapshot's trees while Draft copies them
	// (a B-tree's Copy writes to the tree copied).
	draftMu sync.Mutex
}

var _ storage.ReadModel = (*Model)(nil)

// generation is a base with the append-only stores its overlays share.
type generation struct {
	base  *base
	dict  *dict
	blobs []string
}

func newModel(b *base, d *dict, blobs []string, c counts, revs *btree.BTreeG[revEntry]) *Model {
	m := &Model{gen: &generation{base: b, dict: d, blobs: blobs}, ov: newOverlay(), revs: revs, counts: c, version: b.version,
		next: [2]uint32{b.nodes.n(), b.facts.n()}}
	m.publish()
	return m
}

// Stats is what a model reports of itself: storage.ModelStats and the
// time the last compaction took.
type Stats struct {
	// Version is the latest snapshot's; BaseVersion its base's.
	Version, BaseVersion uint64
	// OverlayEntries counts the keys changed since the base.
	OverlayEntries int
	// Compactions counts the compactions done, LastCompaction the time the
	// last took, CompactionErrors those that failed.
	Compactions, CompactionErrors int
	LastCompaction                time.Duration
}

// Figures returns the model's figures, the compactions' times included.
func (m *Model) Figures() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.stats
	st.Version, st.BaseVersion, st.OverlayEntries = m.version, m.gen.base.version, m.ov.Len()
	return st
}

// Stats implements storage.ReadModel.
func (m *Model) Stats() storage.ModelStats {
	st := m.Figures()
	return storage.ModelStats{Version: st.Version, BaseVersion: st.BaseVersion, OverlayEntries: st.OverlayEntries,
		Compactions: st.Compactions, CompactionErrors: st.CompactionErrors}
}

// SetOptions sets the model's options; call it before the first Apply.
func (m *Model) SetOptions(o Options) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opts = o
}

func (m *Model) logger() *slog.Logger {
	if m.opts.Logger != nil {
		return m.opts.Logger
	}
	return slog.Default()
}

// Snapshot implements storage.ReadModel: the latest version of the graph,
// a *Snapshot.
func (m *Model) Snapshot() storage.Snapshot { return m.cur.Load() }

// Latest returns the latest version of the graph.
func (m *Model) Latest() *Snapshot { return m.cur.Load() }

// Draft implements storage.ReadModel: a private continuation of the latest
// snapshot.
func (m *Model) Draft() storage.Draft { return m.NewDraft() }

// NewDraft is Draft, typed.
func (m *Model) NewDraft() *Draft {
	m.draftMu.Lock()
	defer m.draftMu.Unlock()
	return newDraft(m.cur.Load())
}

// publish makes the writer's state the latest snapshot. The overlay is
// copied (O(1)): the writer's next change copies what it touches.
func (m *Model) publish() {
	g := m.gen
	m.cur.Store(&Snapshot{version: m.version, b: g.base, dict: g.dict, strs: g.dict.strs, blobs: g.blobs, ov: m.ov.Copy(),
		nextNode: m.next[0], nextFact: m.next[1], counts: m.counts, revs: m.revs.Copy(), walkMemo: new(walkMemoCell)})
}

// Apply applies a change, whose version must follow the model's: versions
// are dense, and a gap is a lost change. Its records must not be modified
// afterwards. On an error (a fact about an unknown entity, an unknown kind
// or predicate, a version out of order) the model is as it was.
func (m *Model) Apply(c storage.Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Version != m.version+1 {
		return fmt.Errorf("memgraph: change %d does not follow version %d", c.Version, m.version)
	}
	if err := m.apply(c); err != nil {
		return err
	}
	if m.compacting {
		m.pending = append(m.pending, c)
	} else if m.overdue() && !m.closed {
		m.compacting = true
		s := m.cur.Load()
		m.bg.Go(func() {
			if err := m.compact(s); err != nil {
				m.logger().Error("memgraph: compaction failed; the overlay keeps growing", "err", err)
			}
		})
	}
	return nil
}

// apply applies c on a copy of the writer's state and publishes it.
func (m *Model) apply(c storage.Change) error {
	g := m.gen
	w := &writer{b: g.base, shared: g.dict, d: g.dict, ov: m.ov.Copy(), revs: m.revs.Copy(), counts: m.counts, next: m.next, blobs: g.blobs}
	if err := w.change(c); err != nil {
		return fmt.Errorf("memgraph: change %d: %w", c.Version, err)
	}
	var owned ownership // the maps are the published snapshots': copy them
	w.finish(&owned)
	m.ov, m.revs, m.counts, m.next, g.blobs, m.version = w.ov, w.revs, w.counts, w.next, w.blobs, c.Version
	m.publish()
	return nil
}

// minCompactAt is the smallest overlay the default compacts: every read of
// a record the overlay holds pays a B-tree search, so a small graph (the
// seed, written after the model was built on an empty store) is folded into
// a base soon; its rebuild takes milliseconds.
const minCompactAt = 1024

func (m *Model) overdue() bool {
	at := m.opts.CompactAt
	if at < 0 {
		return false
	}
	if at == 0 {
		b := m.gen.base
		at = max(minCompactAt, int(b.nodes.n()+b.facts.n())/4)
	}
	return m.ov.Len() > at
}

// Compact folds the overlay into a new base now, and waits for it. Reads
// and changes go on meanwhile; the changes applied during the rebuild are
// replayed onto the new base before it is published.
func (m *Model) Compact() error {
	m.mu.Lock()
	for m.compacting && !m.closed {
		m.mu.Unlock()
		m.bg.Wait() // every compaction runs in bg
		m.mu.Lock()
	}
	if m.closed {
		m.mu.Unlock()
		return errors.New("memgraph: model closed")
	}
	m.compacting = true
	s := m.cur.Load()
	done := make(chan error, 1)
	m.bg.Go(func() { done <- m.compact(s) })
	m.mu.Unlock()
	return <-done
}

// compact rebuilds the base from s, the latest snapshot when the compaction
// began, then, holding the writer's lock, replays the changes applied since
// and swaps generations.
func (m *Model) compact(s *Snapshot) error {
	start := time.Now()
	built, err := Rebuild(s)
	m.mu.Lock()
	defer m.mu.Unlock()
	pending := m.pending
	m.compacting, m.pending = false, nil
	if err != nil {
		m.stats.CompactionErrors++
		return err
	}
	entries := s.ov.Len()
	built.opts = m.opts
	for _, c := range pending {
		if c.Version != built.version+1 {
			m.stats.CompactionErrors++
			return fmt.Errorf("memgraph: replay after compaction: change %d does not follow version %d", c.Version, built.version)
		}
		if err := built.apply(c); err != nil {
			m.stats.CompactionErrors++
			return fmt.Errorf("memgraph: replay after compaction: %w", err)
		}
	}
	m.gen, m.ov, m.revs, m.counts, m.next, m.version = built.gen, built.ov, built.revs, built.counts, built.next, built.version
	m.publish()
	m.stats.Compactions++
	m.stats.LastCompaction = time.Since(start)
	m.logger().Info("memgraph: compacted", "version", s.version, "overlayEntries", entries, "replayed", len(pending),
		"took", time.Since(start))
	return nil
}

// Close waits for a background compaction to end; the model stays readable.
func (m *Model) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.bg.Wait()
}

// Rebuild builds a new model from every record of a snapshot: what a
// compaction does, and what a test compares an updated model with.
func Rebuild(s *Snapshot) (*Model, error) {
	b := NewBuilder(s.version)
	err := s.Nodes(b.Node)
	if err == nil {
		err = s.SourceTexts(func(id uuid.UUID, text string) error { return b.Text(storage.SourceText{ID: id, Text: text}) })
	}
	if err == nil {
		err = s.Facts(b.Fact)
	}
	if err == nil {
		err = s.SavedQueries(b.Saved)
	}
	if err == nil {
		err = s.Revisions(uuid.Nil, b.Revision)
	}
	if err != nil {
		return nil, fmt.Errorf("memgraph: rebuild: %w", err)
	}
	return b.Build()
}

// writer applies one change to a copy of a model's state (or a draft's):
// its overlay, revisions, counts, next internal IDs and text blobs, over a
// base and a dictionary.
type writer struct {
	b      *base
	shared *dict    // the generation's dictionary
	d      interner // where the writer interns strings: shared, or a draft's
	ov     *btree.BTreeG[entry]
	revs   *btree.BTreeG[revEntry]
	counts counts
	next   [2]uint32
	blobs  []string
	// country and years are the changes to counts.country and
	// counts.byYear, added to them by finish: those maps are shared.
	country map[string]int
	years   map[predYear]int
	// snap reads the state being written (records, IDs): its overlay is
	// the writer's own, so it sees the change's earlier records.
	snap Snapshot
}

// ownership says which of a counts' maps its holder may change in place.
type ownership struct{ country, years bool }

// finish adds the changes of the count maps to counts, copying each map
// first unless owned says it is the holder's own.
func (w *writer) finish(owned *ownership) {
	if len(w.country) > 0 {
		if !owned.country {
			w.counts.country = maps.Clone(w.counts.country)
			if w.counts.country == nil {
				w.counts.country = map[string]int{}
			}
			owned.country = true
		}
		for k, d := range w.country {
			w.counts.country[k] += d
		}
	}
	if len(w.years) > 0 {
		if !owned.years {
			w.counts.byYear = maps.Clone(w.counts.byYear)
			if w.counts.byYear == nil {
				w.counts.byYear = map[predYear]int{}
			}
			owned.years = true
		}
		for k, d := range w.years {
			w.counts.byYear[k] += d
		}
	}
}

func (w *writer) view() *Snapshot {
	w.snap = Snapshot{b: w.b, dict: w.shared, strs: w.d.table(), blobs: w.blobs, ov: w.ov, nextNode: w.next[0], nextFact: w.next[1]}
	return &w.snap
}

func (w *writer) set(k keyb, val string) { w.ov.Set(entry{key: string(k), val: val}) }
func (w *writer) del(k string)           { w.ov.Set(entry{key: k, del: true}) }

func (w *writer) change(c storage.Change) error {
	for _, n := range c.Nodes {
		if err := w.putNode(n); err != nil {
			return err
		}
	}
	for _, t := range c.Texts {
		if err := w.putText(t.ID, t.Text); err != nil {
			return err
		}
	}
	for _, f := range c.Facts {
		if err := w.putFact(f); err != nil {
			return err
		}
	}
	for _, r := range c.Revisions {
		if err := putRevision(w.revs, r); err != nil {
			return err
		}
	}
	for _, q := range c.Saved {
		b, err := json.Marshal(q)
		if err != nil {
			return fmt.Errorf("saved query %q: %w", q.Name, err)
		}
		w.set(newKey(keySaved, len(q.Name)).str(q.Name), string(b))
	}
	for _, name := range c.DeleteSaved {
		w.del(newKey(keySaved, len(name)).str(name).s())
	}
	return nil
}

// nodeKeys lists the index keys of an entity (not its slug), each with its
// value: its internal ID.
func nodeKeys(n *storage.Node, iid uint32) map[string]string {
	if n == nil || n.Retraction != nil {
		return nil
	}
	k := kindIndex[n.Kind]
	val := keyb(nil).u32(iid).s()
	keys := map[string]string{newKey(keyKind, 1+len(n.Name)+17).b(k).cstr(fold(n.Name)).id(n.ID).s(): val}
	if n.Year != 0 {
		keys[newKey(keyNodeYear, 19).b(k).u16(uint16(n.Year)).id(n.ID).s()] = val
	}
	for _, t := range nameTerms(n) {
		keys[newKey(keyName, len(t)+17).cstr(t).id(n.ID).s()] = val
	}
	return keys
}

// diff writes the keys of new that old does not have with the same value,
// and deletes the keys of old that new does not have.
func (w *writer) diff(old, new map[string]string) {
	for k := range old {
		if _, ok := new[k]; !ok {
			w.del(k)
		}
	}
	for k, v := range new {
		if ov, ok := old[k]; !ok || ov != v {
			w.ov.Set(entry{key: k, val: v})
		}
	}
}

func (w *writer) putNode(n *storage.Node) error {
	if _, ok := kindIndex[n.Kind]; !ok {
		return fmt.Errorf("entity %s: unknown kind %q", n.ID, n.Kind)
	}
	s := w.view()
	var old *storage.Node
	iid, exists := s.nodeIID(n.ID)
	if exists {
		var err error
		if old, err = decodeNode(s.nodeRec(iid), n.ID, s.strs); err != nil {
			return fmt.Errorf("entity %s: %w", n.ID, err)
		}
	} else {
		iid = w.next[0]
		w.next[0]++
		w.set(newKey(keyNodeID, 16).id(n.ID), keyb(nil).u32(iid).s())
	}
	rec, err := encodeNode(keyb(nil).id(n.ID), w.d, n)
	if err != nil {
		return err
	}
	w.set(newKey(keyNode, 4).u32(iid), string(rec))
	w.diff(nodeKeys(old, iid), nodeKeys(n, iid))
	if old == nil || old.Slug != n.Slug {
		if old != nil {
			w.del(newKey(keySlug, len(old.Slug)).str(old.Slug).s())
		}
		w.set(newKey(keySlug, len(n.Slug)).str(n.Slug), keyb(nil).u32(iid).s())
	}
	if old != nil && old.Retraction == nil {
		w.counts.byKind[kindIndex[old.Kind]]--
	}
	if n.Retraction == nil {
		w.counts.byKind[kindIndex[n.Kind]]++
	}
	return nil
}

func (w *writer) putText(id uuid.UUID, text string) error {
	s := w.view()
	iid, ok := s.nodeIID(id)
	if !ok {
		return fmt.Errorf("text of %s, which is no entity", id)
	}
	old, had := s.textBlob(iid)
	blob := uint32(len(w.blobs))
	w.blobs = append(w.blobs, text)
	w.set(newKey(keyText, 4).u32(iid), keyb(nil).u32(blob).s())
	switch {
	case len(text) >= w.counts.maxText:
		w.counts.maxText = len(text)
	case had && len(w.blobs[old]) == w.counts.maxText:
		// The longest text got shorter: measure them all again (there are
		// few sources, and their texts rarely change).
		w.counts.maxText = 0
		err := w.view().SourceTexts(func(_ uuid.UUID, t string) error {
			w.counts.maxText = max(w.counts.maxText, len(t))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// nodeIID and quoteSpan make the writer the refs of the facts it encodes.
func (w *writer) nodeIID(id uuid.UUID) (uint32, bool) { return w.snap.nodeIID(id) }

func (w *writer) quoteSpan(source uint32, quote string) (uint32, uint32, bool) {
	blob, ok := w.snap.textBlob(source)
	if !ok || quote == "" {
		return 0, 0, false
	}
	i := strings.Index(w.blobs[blob], quote)
	if i < 0 {
		return 0, 0, false
	}
	return blob, uint32(i), true
}

// factKeys lists the keys a fact owns, as storage's factIndexKeys does:
// its adjacency (with its state), and when active its predicate, year and
// value index entries.
func factKeys(id uuid.UUID, iid uint32, fm factMeta, strs []string) map[string]string {
	keys := map[string]string{
		newKey(keyOut, 21).u32(fm.subject).b(fm.pred).id(id).s(): adjVal(iid, fm.object, fm.state),
	}
	if fm.object != noNode {
		keys[newKey(keyIn, 21).u32(fm.object).b(fm.pred).id(id).s()] = adjVal(iid, fm.subject, fm.state)
	}
	if fm.state != storage.Active {
		return keys
	}
	val := keyb(nil).u32(iid).s()
	keys[newKey(keyPred, 17).b(fm.pred).id(id).s()] = val
	if fm.year != 0 {
		keys[newKey(keyYear, 19).b(fm.pred).u16(uint16(fm.year)).id(id).s()] = val
	}
	if fm.value != 0 {
		v := strs[fm.value]
		keys[newKey(keyValue, 2+len(v)+17).b(fm.pred).cstr(v).id(id).s()] = keyb(nil).u32(iid).u32(fm.subject).s()
	}
	return keys
}

func (w *writer) putFact(f *storage.Fact) error {
	s := w.view()
	var old map[string]string
	var oldMeta factMeta
	iid, exists := s.factIID(f.ID)
	if exists {
		var err error
		if oldMeta, err = peekFact(s.factRec(iid)); err != nil {
			return fmt.Errorf("fact %s: %w", f.ID, err)
		}
		old = factKeys(f.ID, iid, oldMeta, s.strs)
	}
	rec, err := encodeFact(keyb(nil).id(f.ID), w.d, w, f)
	if err != nil {
		return err
	}
	if !exists {
		iid = w.next[1]
		w.next[1]++
		w.set(newKey(keyFactID, 16).id(f.ID), keyb(nil).u32(iid).s())
		w.counts.facts++
	}
	w.set(newKey(keyFact, 4).u32(iid), string(rec))
	fm, err := peekFact(rec[16:])
	if err != nil {
		return fmt.Errorf("fact %s: %w", f.ID, err)
	}
	strs := w.d.table()
	w.diff(old, factKeys(f.ID, iid, fm, strs))
	country := predIndex[storage.PredCountry]
	for _, x := range []struct {
		m     factMeta
		delta int
	}{{oldMeta, -1}, {fm, +1}} {
		if x.m.state != storage.Active || (x.delta < 0 && !exists) {
			continue
		}
		w.counts.byPred[x.m.pred] += x.delta
		if x.m.pred == country && x.m.value != 0 {
			if w.country == nil {
				w.country = map[string]int{}
			}
			w.country[strs[x.m.value]] += x.delta
		}
		if x.m.year != 0 {
			if w.years == nil {
				w.years = map[predYear]int{}
			}
			w.years[predYear{x.m.pred, x.m.year}] += x.delta
		}
	}
	return nil
}
