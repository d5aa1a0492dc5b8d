package storage

import (
	"encoding/json"

	"github.com/google/uuid"
)

// writer is the one way a write changes the graph. A write (write.go,
// saved.go) reads through the writer's Snapshot, which sees what the write
// has changed so far, decides, and changes whole records; the writer keeps
// each record's slug, index and adjacency entries, so no write touches a
// key. The engine commits all a write changed at once, or nothing (update).
type writer interface {
	Snapshot
	// setNode stores n: its record, slug and index entries, and, when text
	// is not "", a source's full text. old is the record n replaces (nil for
	// a new node): its entries n no longer has go.
	setNode(old, n *Node, text string) error
	// setFact stores f: its record and its adjacency and index entries. old
	// is the record f replaces (nil for a new fact): its entries go first.
	setFact(old, f *Fact) error
	// setRevision stores a revision of a node under its number.
	setRevision(r *Revision) error
	setSaved(q *SavedQuery) error
	deleteSaved(name string) error
	// guardNode makes the write conflict with any concurrent write that
	// gives the node a new live fact, however they interleave (RetractNode,
	// which retracts every live fact of the node; see guardKey).
	guardNode(id uuid.UUID) error
}

// kvWriter is the writer of a KV read-write transaction. With rec, it
// records what it sets for the change log (without a read model, commit.go).
//
// With indexFree (an IndexFree KV, commit.go's persist), it sets the records
// only: no slug, index, adjacency or guard key (the read model derives them),
// so that a store such as etcd holds what it can hold.
type kvWriter struct {
	kvSnapshot
	rec       *changeRec
	indexFree bool
}

var _ writer = (*kvWriter)(nil)

func (w *kvWriter) setNode(old, n *Node, text string) error {
	tx := w.tx
	if w.indexFree {
		return w.setNodeRecord(old, n, text)
	}
	if old != nil {
		for _, k := range nodeIndexKeys(old) {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		if old.Slug != n.Slug {
			if err := tx.Delete(slugKey(old.Slug)); err != nil {
				return err
			}
		}
	}
	b, err := encodeNode(n)
	if err != nil {
		return err
	}
	if err := tx.Set(nodeKey(n.ID), b); err != nil {
		return err
	}
	if err := tx.Set(slugKey(n.Slug), n.ID[:]); err != nil {
		return err
	}
	for _, k := range nodeIndexKeys(n) {
		if err := tx.Set(k, nil); err != nil {
			return err
		}
	}
	if text != "" {
		if err := tx.Set(textKey(n.ID), []byte(text)); err != nil {
			return err
		}
	}
	if w.rec != nil {
		w.rec.node(old, n, text)
	}
	return nil
}

// setNodeRecord is setNode of an index-free writer: the record and the text.
func (w *kvWriter) setNodeRecord(old, n *Node, text string) error {
	b, err := encodeNode(n)
	if err != nil {
		return err
	}
	if err := w.tx.Set(nodeKey(n.ID), b); err != nil {
		return err
	}
	if text != "" {
		if err := w.tx.Set(textKey(n.ID), []byte(text)); err != nil {
			return err
		}
	}
	if w.rec != nil {
		w.rec.node(old, n, text)
	}
	return nil
}

func (w *kvWriter) setFact(old, f *Fact) error {
	tx := w.tx
	if w.indexFree {
		b, err := encodeFact(f)
		if err != nil {
			return err
		}
		if w.rec != nil {
			w.rec.fact(old, f)
		}
		return tx.Set(factKey(f.ID), b)
	}
	if old != nil {
		for _, k := range factIndexKeys(old) {
			if err := tx.Delete(k.key); err != nil {
				return err
			}
		}
	}
	b, err := encodeFact(f)
	if err != nil {
		return err
	}
	if err := tx.Set(factKey(f.ID), b); err != nil {
		return err
	}
	for _, e := range factIndexKeys(f) {
		if err := tx.Set(e.key, e.val); err != nil {
			return err
		}
	}
	if w.rec != nil {
		w.rec.fact(old, f)
	}
	if f.Retraction != nil {
		return nil
	}
	// A live fact meets a concurrent RetractNode of its subject or object here.
	for _, id := range []uuid.UUID{f.Subject, f.Object} {
		if id != uuid.Nil {
			if err := tx.Delete(guardKey(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *kvWriter) setRevision(r *Revision) error {
	b, err := encodeRevision(r)
	if err != nil {
		return err
	}
	if w.rec != nil {
		w.rec.revision(r)
	}
	return w.tx.Set(revisionKey(r.Node, r.Seq), b)
}

func (w *kvWriter) setSaved(q *SavedQuery) error {
	b, err := json.Marshal(q)
	if err != nil {
		return err
	}
	if w.rec != nil {
		w.rec.saved(q)
	}
	return w.tx.Set(savedKey(q.Name), b)
}

func (w *kvWriter) deleteSaved(name string) error {
	if w.rec != nil {
		w.rec.deleteSaved(name)
	}
	return w.tx.Delete(savedKey(name))
}

// guardNode reads the node's guard key: a fact write about the node that
// commits after this transaction began makes it conflict and run again.
func (w *kvWriter) guardNode(id uuid.UUID) error {
	if w.indexFree {
		return nil // only the committer writes an index-free store: writes never interleave
	}
	if _, err := w.tx.Get(guardKey(id)); err != nil && err != ErrKeyMissing {
		return err
	}
	return nil
}

type kv struct{ key, val []byte }

// nodeIndexKeys lists the value-less index keys of a node (not its slug).
func nodeIndexKeys(n *Node) [][]byte {
	if n.Retraction != nil {
		return nil
	}
	keys := [][]byte{kindKey(n.Kind, Fold(n.Name), n.ID)}
	if n.Year != 0 {
		keys = append(keys, nodeYearKey(n.Kind, n.Year, n.ID))
	}
	seen := map[string]bool{}
	for _, name := range n.Names() {
		for i, t := range searchTerms(name) {
			k := nameKey(t, i == 0, n.ID) // the first term is the whole name
			if !seen[string(k)] {
				seen[string(k)] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// factIndexKeys lists every key a fact owns besides its record.
func factIndexKeys(f *Fact) []kv {
	flag := flagActive
	switch {
	case f.Retraction != nil:
		flag = flagRetracted
	case f.Negated:
		flag = flagNegated
	}
	out := []kv{{adjKey(Out, f.Subject, f.Predicate, f.ID), adjValue(flag, f.Object)}}
	if f.Object != uuid.Nil {
		out = append(out, kv{adjKey(In, f.Object, f.Predicate, f.ID), adjValue(flag, f.Subject)})
	}
	if flag != flagActive {
		return out
	}
	out = append(out, kv{predKey(f.Predicate, f.ID), nil})
	if f.Value != "" {
		out = append(out, kv{valueKey(f.Predicate, f.Value, f.ID), f.Subject[:]})
	}
	if f.Year != 0 {
		out = append(out, kv{yearKey(f.Predicate, f.Year, f.ID), nil})
	}
	return out
}
