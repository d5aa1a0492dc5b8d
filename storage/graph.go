package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"policygraph/errs"

	"github.com/google/uuid"
)

// Graph is the property graph over a KV. It is safe for concurrent use.
// Exported methods own their transaction; unexported helpers take it.
type Graph struct {
	kv      KV
	now     func() time.Time
	rc      *recordCache    // decoded records, shared by WithContext views (recordcache.go)
	counts  *counter        // the graph's size, shared by WithContext views (counts.go)
	ctx     context.Context // set by WithContext
	storeID uuid.UUID
	cl      *changeLog // the write path and change log (commit.go)
	pin     *pin       // set by WithContext for a pinned context (context.go)
}

// Open checks the store's format version (writing it into an empty store,
// upgrading an older one) and returns the graph on it, without a read model:
// reads go to the store's transactions. OpenWith takes options.
func Open(kv KV) (*Graph, error) { return OpenWith(kv, Options{}) }

// OpenWith is Open with options: with Options.Model, it builds the read
// model from the store before it returns, and every read is answered from
// it (commit.go). A store without a store ID (a new one, or one made before
// store IDs) gets a random one, in the transaction that checks the format.
//
// An IndexFree KV (etcd) holds no index: OpenWith refuses it without
// Options.Model, which derives them.
func OpenWith(kv KV, o Options) (*Graph, error) {
	if o.Model == nil && IsIndexFree(kv) {
		return nil, errors.New("open graph: the store keeps no indexes (an index-free engine such as etcd): it needs a read model (Options.Model)")
	}
	g := &Graph{kv: kv, now: func() time.Time { return time.Now().UTC() }, rc: newRecordCache(DefaultRecordCacheBytes), counts: &counter{}}
	g.cl = newChangeLog(kv, o, func() time.Time { return time.Now().UTC() })
	var head uint64
	err := kv.Update(func(tx Txn) error {
		if err := checkFormat(tx); err != nil {
			return err
		}
		var ok bool
		var err error
		if head, ok, err = readHead(tx); err != nil {
			return err
		} else if !ok {
			// A new store, or one from before the change log (format 2), or
			// a restored one: versions go on above every version the store
			// has shown (its engine's), so no (store, version) names two states.
			head = kv.Version()
			if err := setHead(tx, head); err != nil {
				return err
			}
		}
		id, err := tx.Get(metaStoreIDKey)
		if errors.Is(err, ErrKeyMissing) {
			g.storeID = uuid.New()
			return tx.Set(metaStoreIDKey, g.storeID[:])
		}
		if err != nil {
			return err
		}
		if g.storeID, err = uuid.FromBytes(id); err != nil {
			return fmt.Errorf("store ID %x: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open graph: %w", err)
	}
	g.cl.head.Store(head)
	if o.Model != nil {
		var m ReadModel
		var fileVersion uint64
		if o.ModelCache != nil {
			g.cl.saver = newSaver(g.cl, g.storeID, o.ModelSaveEvery)
			m, head, fileVersion = g.cl.loadSaved(g.storeID)
		}
		built := m == nil
		if built {
			if m, head, err = loadModel(kv, o.Model); err != nil {
				return nil, fmt.Errorf("open graph: %w", err)
			}
		} else {
			g.cl.saver.loaded(m, fileVersion)
		}
		g.cl.model.Store(&modelRef{m})
		g.cl.head.Store(head)
		g.cl.contact(head)
		g.cl.start()
		if s, ok := AsShared(kv); ok {
			g.cl.startFollowing(s)
		}
		if g.cl.saver != nil {
			// A model built from the store is saved soon, so that the next
			// start reads it; not an empty one (a new store), which any
			// start builds at once and whose file the first writes outdate.
			sz, ok := m.Snapshot().(Sizer)
			g.cl.saver.run(built && !(ok && sz.Sizes().Nodes == 0))
		}
	}
	return g, nil
}

// checkFormat checks the store's format version key, writing it into an empty
// store and upgrading versions 1 and 2 (OpenWith then starts the change log
// of a version-2 store).
func checkFormat(tx Txn) error {
	v, err := tx.Get(metaFormatKey)
	if errors.Is(err, ErrKeyMissing) {
		empty := true
		if err := tx.Scan(nil, true, func(k, _ []byte) error { empty = false; return ErrStop }); err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("store has data but no format version key")
		}
		return tx.Set(metaFormatKey, binary.BigEndian.AppendUint32(nil, FormatVersion))
	}
	if err != nil {
		return err
	}
	if len(v) == 4 && (binary.BigEndian.Uint32(v) == 1 || binary.BigEndian.Uint32(v) == 2) {
		return tx.Set(metaFormatKey, binary.BigEndian.AppendUint32(nil, FormatVersion))
	}
	if len(v) != 4 || binary.BigEndian.Uint32(v) != FormatVersion {
		return fmt.Errorf("store format version %x, this build reads %d: migrate or restore from an export", v, FormatVersion)
	}
	return nil
}

// StoreID names the store: made at random with it, kept for its life, and new
// for a store made by a restore, so that (store ID, version) never names two
// different states of a graph.
func (g *Graph) StoreID() uuid.UUID { return g.storeID }

// KV returns the store under the graph.
func (g *Graph) KV() KV { return g.kv }

// Version is the graph's version: the change log's head, the number of the
// last committed write (with a read model, the last it has applied, which
// is the same once the write is acknowledged). Caches key on it.
func (g *Graph) Version() uint64 { return g.cl.head.Load() }

// ReadModel returns the graph's read model, or nil without one.
func (g *Graph) ReadModel() ReadModel { return g.cl.readModel() }

// Writable returns nil if the store takes writes now, or an *errs.Error DISK_FULL
// while the disk holding it is nearly full (see badger.Options.MinFreeDisk).
func (g *Graph) Writable() error { return g.kv.Writable() }

// Close stops the committer (writes waiting fail) and closes the store.
// Closing twice returns the first close's error.
func (g *Graph) Close() error {
	g.cl.closeOnce.Do(func() {
		g.cl.close()
		if m := g.cl.readModel(); m != nil {
			m.Close()
		}
		if g.cl.saver != nil {
			g.cl.saver.close()
		}
		g.cl.closeErr = g.kv.Close()
	})
	return g.cl.closeErr
}

// SetClock replaces the clock used for timestamps (tests).
func (g *Graph) SetClock(now func() time.Time) { g.now = now }

// ---- reading ----

// Node returns the node with the ID, or an *errs.Error NOT_FOUND.
func (g *Graph) Node(id uuid.UUID) (n *Node, err error) {
	err = g.view(func(s Snapshot) error { n, err = s.Node(id); return err })
	return n, err
}

// Nodes returns the nodes with the IDs, in order, nil where an ID names none.
func (g *Graph) Nodes(ids []uuid.UUID) ([]*Node, error) { return byIDs(g, ids, Snapshot.Node) }

// byIDs reads the records with the IDs through get, in one snapshot, in
// order, nil where an ID names none (get returned NOT_FOUND).
func byIDs[T any](g *Graph, ids []uuid.UUID, get func(Snapshot, uuid.UUID) (*T, error)) ([]*T, error) {
	out := make([]*T, len(ids))
	err := g.view(func(s Snapshot) error {
		for i, id := range ids {
			r, err := get(s, id)
			if errs.CodeOf(err) == errs.NotFound {
				continue
			}
			if err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	return out, err
}

// NodeBySlug returns the node with the slug, or an *errs.Error NOT_FOUND.
func (g *Graph) NodeBySlug(slug string) (n *Node, err error) {
	err = g.view(func(s Snapshot) error {
		id, err := s.SlugID(slug)
		if err != nil {
			return err
		}
		n, err = s.Node(id)
		return err
	})
	return n, err
}

// Fact returns the fact with the ID, or an *errs.Error NOT_FOUND.
func (g *Graph) Fact(id uuid.UUID) (f *Fact, err error) {
	err = g.view(func(s Snapshot) error { f, err = s.Fact(id); return err })
	return f, err
}

// Facts returns the facts with the IDs, in order, nil where an ID names none.
func (g *Graph) Facts(ids []uuid.UUID) ([]*Fact, error) { return byIDs(g, ids, Snapshot.Fact) }

// SourceText returns the full text of a source node.
func (g *Graph) SourceText(id uuid.UUID) (text string, err error) {
	err = g.view(func(s Snapshot) error { text, err = s.SourceText(id); return err })
	return text, err
}

// Direction picks which adjacency to walk: facts whose subject is the node (Out)
// or whose object is the node (In).
type Direction bool

// The directions.
const (
	Out Direction = true
	In  Direction = false
)

// AdjQuery asks for the facts next to one node.
type AdjQuery struct {
	Node      uuid.UUID
	Dir       Direction
	Predicate Predicate // empty: every predicate
	// Negated includes negated facts; Retracted includes retracted ones.
	Negated, Retracted bool
}

// Adjacent answers each query with its facts, in one snapshot: the batch behind
// every traversal. Facts come in predicate, then fact ID order.
func (g *Graph) Adjacent(qs []AdjQuery) ([][]*Fact, error) {
	out := make([][]*Fact, len(qs))
	err := g.view(func(s Snapshot) error {
		for i, q := range qs {
			facts, err := adjacentFacts(s, q)
			if err != nil {
				return err
			}
			out[i] = facts
		}
		return nil
	})
	return out, err
}

// adjacentFacts loads q's facts.
func adjacentFacts(s Snapshot, q AdjQuery) ([]*Fact, error) {
	ids, err := adjacentIDs(s, q)
	if err != nil {
		return nil, err
	}
	return loadFacts(s, ids)
}

// loadFacts loads the facts with the IDs, in order; every one must exist.
func loadFacts(s Snapshot, ids []uuid.UUID) ([]*Fact, error) {
	facts := make([]*Fact, 0, len(ids))
	for _, id := range ids {
		f, err := s.Fact(id)
		if err != nil {
			return nil, err
		}
		facts = append(facts, f)
	}
	return facts, nil
}

func adjacentIDs(s Snapshot, q AdjQuery) ([]uuid.UUID, error) {
	entries, err := adjacentEntries(s, q)
	ids := make([]uuid.UUID, len(entries))
	for i, e := range entries {
		ids[i] = e.Fact
	}
	return ids, err
}

// adjacentEntries reads q's adjacency, without loading any fact.
func adjacentEntries(s Snapshot, q AdjQuery) ([]AdjEntry, error) {
	var out []AdjEntry
	err := s.Adjacent(q.Node, q.Dir, q.Predicate, func(e AdjEntry) error {
		if e.State == Negated && !q.Negated || e.State == Retracted && !q.Retracted {
			return nil
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// NodeIDsByKind lists the IDs of the nodes of a kind, ordered by folded name.
func (g *Graph) NodeIDsByKind(kind Kind) (ids []uuid.UUID, err error) {
	err = g.view(func(s Snapshot) error { ids, err = kindScan(s, kind); return err })
	return ids, err
}

// NodeIDsByYear lists the nodes of a kind whose year is within [from, to], by year.
func (g *Graph) NodeIDsByYear(kind Kind, from, to int) (ids []uuid.UUID, err error) {
	err = g.view(func(s Snapshot) error {
		return s.NodesByYear(kind, from, to, func(id uuid.UUID) error { ids = append(ids, id); return nil })
	})
	return ids, err
}

// FactIDsByPredicate lists the active facts with the predicate (by ID), or, when
// from or to is set, those whose year is within [from, to] (by year).
func (g *Graph) FactIDsByPredicate(pred Predicate, from, to *int) (ids []uuid.UUID, err error) {
	err = g.view(func(s Snapshot) error { ids, err = factIDsByPredicate(s, pred, from, to); return err })
	return ids, err
}

// SubjectsByValue lists the subjects of active literal facts pred = value
// (for example COUNTRY = "US"), without duplicates.
func (g *Graph) SubjectsByValue(pred Predicate, value string) (ids []uuid.UUID, err error) {
	err = g.view(func(s Snapshot) error { ids, err = subjectsByValue(s, pred, value); return err })
	return ids, err
}

// SearchHit is one entity found by Search, with how well it matched.
type SearchHit struct {
	ID uuid.UUID
	// Score is 3 for an exact name, 2 for a name prefix, 1 for a word prefix.
	Score int
}

// Search finds entities whose name, label or alias starts with text, or has a
// word that does, ignoring case and diacritics. Best matches come first, then by ID.
func (g *Graph) Search(text string, limit int) ([]SearchHit, error) {
	q := Fold(text)
	if q == "" {
		return nil, nil
	}
	best := map[uuid.UUID]int{}
	raise := func(id uuid.UUID, score int) {
		if score > best[id] {
			best[id] = score
		}
	}
	// One snapshot for both scans.
	err := g.view(func(s Snapshot) error {
		// A word of some name starts with the query.
		err := s.NameTerms(q, false, func(_ string, id uuid.UUID) error {
			raise(id, 1)
			return nil
		})
		if err != nil {
			return err
		}
		// Exact and whole-name prefix matches.
		return s.NameTerms(q, true, func(term string, id uuid.UUID) error {
			if term == q {
				raise(id, 3)
			} else {
				raise(id, 2)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	hits := make([]SearchHit, 0, len(best))
	for id, s := range best {
		hits = append(hits, SearchHit{ID: id, Score: s})
	}
	slices.SortFunc(hits, func(a, b SearchHit) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	return hits, nil
}

// Empty reports whether the graph holds no entity. It reads one record, so
// opening a large store stays fast (Stats scans every key).
func (g *Graph) Empty() (empty bool, err error) {
	empty = true
	err = g.view(func(s Snapshot) error {
		return s.Nodes(func(*Node) error { empty = false; return ErrStop })
	})
	return empty, err
}

// Stats counts what the graph holds.
type Stats struct {
	Nodes       int
	Facts       int
	ActiveFacts int
	ByKind      map[Kind]int
}

// Stats counts entities by kind and facts. It reads the counts the graph
// keeps in process (counts.go): no store read, after the first.
func (g *Graph) Stats() (s Stats, err error) {
	z, err := g.Sizes()
	if err != nil {
		return s, err
	}
	s = Stats{Nodes: z.Nodes, Facts: z.Facts, ActiveFacts: z.ActiveFacts, ByKind: map[Kind]int{}}
	for k, n := range z.ByKind {
		if n > 0 {
			s.ByKind[k] = n
		}
	}
	return s, nil
}

// ScanStats is Stats counted by scans of the indexes, for check and for
// tests of the counts.
func (g *Graph) ScanStats() (st Stats, err error) {
	st.ByKind = map[Kind]int{}
	err = g.view(func(s Snapshot) error {
		for _, k := range Kinds {
			if err := s.NodesByKind(k, func(uuid.UUID) error {
				st.ByKind[k]++
				st.Nodes++
				return nil
			}); err != nil {
				return err
			}
		}
		if err := s.FactIDs(func(uuid.UUID) error { st.Facts++; return nil }); err != nil {
			return err
		}
		for _, p := range Predicates {
			if err := s.FactsByPredicate(p.Predicate, func(uuid.UUID) error { st.ActiveFacts++; return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}
