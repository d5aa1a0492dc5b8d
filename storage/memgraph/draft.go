package memgraph

import (
	"fmt"
	"maps"

	"policygraph/storage"
)

// Draft is a private continuation of a snapshot: a write reads it and puts
// its records into it, and nothing else sees them (storage.Draft). Put
// applies records as Model.Apply does, with the same checks, on the
// draft's own copy-on-write overlay: its cost is the record's, however
// large the overlay. Fork is O(1). A Draft is for one goroutine; the model
// goes on applying and compacting meanwhile, and the draft keeps the
// generation it started on. Its Version is the version it started from.
type Draft struct {
	*Snapshot // the draft's current state; replaced, never changed, by Put
	dict      *draftDict
	owned     ownership // which of the Snapshot's count maps are the draft's own
}

var (
	_ storage.Draft = (*Draft)(nil)
	_ storage.Sizer = (*Draft)(nil)
)

// newDraft starts a draft on s. The caller must be the only one copying
// s's trees meanwhile (a B-tree's Copy writes to the tree copied).
func newDraft(s *Snapshot) *Draft {
	c := *s
	c.ov, c.revs = s.ov.Copy(), s.revs.Copy()
	c.blobs = s.blobs[:len(s.blobs):len(s.blobs)] // the model appends past them: append elsewhere
	c.strs = s.strs[:len(s.strs):len(s.strs)]
	return &Draft{Snapshot: &c, dict: &draftDict{shared: s.dict, n: len(s.strs), strs: c.strs}}
}

// Put implements storage.Draft: it applies c's records (not its Version)
// as Model.Apply would; on an error the draft is as it was.
func (d *Draft) Put(c storage.Change) error {
	s := d.Snapshot
	w := &writer{b: s.b, shared: s.dict, d: d.dict, ov: s.ov.Copy(), revs: s.revs.Copy(), counts: s.counts,
		next: [2]uint32{s.nextNode, s.nextFact}, blobs: s.blobs}
	if err := w.change(c); err != nil {
		return fmt.Errorf("memgraph: draft: %w", err)
	}
	w.finish(&d.owned)
	d.Snapshot = &Snapshot{version: s.version, b: s.b, dict: s.dict, strs: d.dict.strs, blobs: w.blobs, ov: w.ov,
		nextNode: w.next[0], nextFact: w.next[1], counts: w.counts, revs: w.revs}
	return nil
}

// Fork implements storage.Draft.
func (d *Draft) Fork() storage.Draft { return d.Copy() }

// Copy is Fork, typed: a draft that starts where d is, in O(1); puts into
// either do not reach the other.
func (d *Draft) Copy() *Draft {
	// Both append past the shared blobs' end from now on, so neither may
	// append in place; both copy the count maps before changing them. Put
	// copies the trees before changing them, but a B-tree's Copy writes to
	// the tree copied: the fork gets trees of its own, copied here, on the
	// receiver's goroutine.
	p := *d.Snapshot
	p.blobs = d.blobs[:len(d.blobs):len(d.blobs)]
	d.Snapshot, d.owned = &p, ownership{}
	c := p
	c.ov, c.revs = p.ov.Copy(), p.revs.Copy()
	return &Draft{Snapshot: &c, dict: d.dict.fork()}
}

// draftDict is a draft's continuation of a generation's dictionary: the
// strings the shared one had when the draft began (IDs below n), then the
// draft's own, which no other draft or snapshot sees.
type draftDict struct {
	shared *dict
	n      int
	strs   []string
	local  map[string]uint32 // the draft's own strings; copied before a change unless owned
	owned  bool
}

func (d *draftDict) table() []string { return d.strs }

func (d *draftDict) id(s string) uint32 {
	if id, ok := d.local[s]; ok {
		return id
	}
	// The shared dictionary goes on growing: IDs from n on are not this
	// draft's.
	if id, ok := d.shared.lookup(s); ok && int(id) < d.n {
		return id
	}
	if !d.owned {
		d.local = maps.Clone(d.local)
		if d.local == nil {
			d.local = map[string]uint32{}
		}
		d.owned = true
	}
	id := uint32(len(d.strs))
	s = string([]byte(s))
	d.strs = append(d.strs, s)
	d.local[s] = id
	return id
}

// fork returns a copy of d; both copy their strings and map before adding.
func (d *draftDict) fork() *draftDict {
	d.strs = d.strs[:len(d.strs):len(d.strs)]
	d.owned = false
	c := *d
	return &c
}

// Load implements storage.ModelLoader: a model of every record records
// hands over (entities, then source texts, then facts; revisions and saved
// queries at any point), at version v.
func Load(v uint64, records func(storage.RecordSink) error) (storage.ReadModel, error) {
	b := NewBuilder(v)
	if err := records(b); err != nil {
		return nil, fmt.Errorf("memgraph: load: %w", err)
	}
	m, err := b.Build()
	if err != nil {
		return nil, err
	}
	return m, nil
}

var _ storage.ModelLoader = Load
