package memgraph

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/btree"

	"policygraph/storage"
)

// Revisions (an entity as it was before each update, storage.Revision) are
// few: one per Graph.UpdateNode, read only by an entity's history. They are
// kept as records in a copy-on-write B-tree of their own, by (entity ID,
// Seq) as the store's revision keys order them, shared by every generation:
// a compaction carries the tree over instead of rebuilding it.

type revEntry struct {
	node uuid.UUID
	seq  uint32 // the store's key holds Seq as 4 bytes
	r    *storage.Revision
}

func newRevisions() *btree.BTreeG[revEntry] {
	return btree.NewBTreeGOptions(func(a, b revEntry) bool {
		if c := compareID(a.node, b.node); c != 0 {
			return c < 0
		}
		return a.seq < b.seq
	}, btree.Options{NoLocks: true, Degree: 16})
}

// storedRevision is r as the store gives it back: its time and entity
// through the store's codec (MarshalBinary; EncodeNode), so that a
// revision read from the model equals one read from the store.
func storedRevision(r *storage.Revision) (*storage.Revision, error) {
	c := *r
	tb, err := r.At.MarshalBinary()
	if err != nil {
		tb, _ = r.At.UTC().MarshalBinary()
	}
	c.At = time.Time{}
	if err := c.At.UnmarshalBinary(tb); err != nil {
		return nil, fmt.Errorf("revision %d of %s: %w", r.Seq, r.Node, err)
	}
	if r.Previous != nil {
		b, err := storage.EncodeNode(r.Previous)
		if err != nil {
			return nil, fmt.Errorf("revision %d of %s: %w", r.Seq, r.Node, err)
		}
		if c.Previous, err = storage.DecodeNode(b); err != nil {
			return nil, fmt.Errorf("revision %d of %s: %w", r.Seq, r.Node, err)
		}
	}
	return &c, nil
}

func putRevision(t *btree.BTreeG[revEntry], r *storage.Revision) error {
	c, err := storedRevision(r)
	if err != nil {
		return err
	}
	t.Set(revEntry{node: r.Node, seq: uint32(r.Seq), r: c})
	return nil
}

// Revisions implements storage.Snapshot: the revisions of node, oldest
// first; for uuid.Nil, every entity's, by entity ID.
func (s *Snapshot) Revisions(node uuid.UUID, fn func(*storage.Revision) error) error {
	var err error
	s.revs.Ascend(revEntry{node: node}, func(e revEntry) bool {
		if node != uuid.Nil && e.node != node {
			return false
		}
		err = fn(e.r)
		return err == nil
	})
	return stopped(err)
}
