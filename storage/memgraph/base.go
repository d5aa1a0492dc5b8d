package memgraph

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/google/uuid"

	"policygraph/storage"
)

// base is the large, immutable part of a generation of the model: every
// record and index entry as of the version it was built at, in flat arrays
// and byte slabs without pointers into them (see doc.go for the layout).
// Internal IDs of the base are positions in the sorted ID arrays, so ID
// order is UUID order, as in the store's keys.
type base struct {
	version uint64

	nodes idTable
	facts idTable

	// Adjacency in CSR form, [0] out (the node is the subject), [1] in (the
	// node is the object): the entries of node n are start[n]..start[n+1],
	// in (predicate, fact ID) order; each entry is a fact, the entity at the
	// other end (noNode for a literal fact), and pred<<2|state.
	adjStart [2][]uint32
	adjFact  [2][]uint32
	adjOther [2][]uint32
	adjPS    [2][]uint8

	// folds holds every name of every entity not retracted, folded, each as
	// '^' + Fold(name) + 0x00. A name-index term is a position in it: the
	// '^' of a name (the anchored term) or the byte after one of its spaces.
	folds []byte
	// kinds lists the entities not retracted of each kind by (folded name,
	// ID); pos is their name's '^' in folds.
	kinds [numKinds][]posRef
	// nodeYears lists the entities not retracted with a year, by (year, ID).
	nodeYears [numKinds][]yearRef
	// names is the search index: every term by (term, ID).
	names []posRef
	// slugs finds an entity by slug: (hash, ID) pairs sorted, each checked
	// against the slug in the entity's record.
	slugs    []slugRef
	slugSeed maphash.Seed

	// Active facts of each predicate by ID, with a year by (year, ID), with
	// a value by (value, ID).
	preds     [numPreds][]uint32
	factYears [numPreds][]yearRef
	values    [numPreds][]valueRef
	// walk holds the facts of factYears by (year, subject's folded name,
	// ID): the walk index (walk.go); walkOK is false for a predicate that
	// has none.
	walk   [numPreds][]walkRef
	walkOK [numPreds]bool
	// wholeRanks holds the rank of the entity of each whole-name term of
	// names (the '^' terms, names[wholeAt:]): its place in the order of a
	// search's hits within a score, (name length, name, ID), with a
	// range-minimum index over them (topk.go).
	wholeAt    int
	wholeRanks rankMin

	// texts maps a source entity to the blob of its text, by entity ID.
	texts []textRef
	saved []*storage.SavedQuery // by name

	// decoded caches entities of the base decoded (see node), and
	// decodedFacts its facts (see fact).
	decoded      decodeCache[storage.Node]
	decodedFacts decodeCache[storage.Fact]
}

// decodeCache holds recently decoded records of a base, direct-mapped by
// internal ID: a slot keeps the last record decoded into it. A base's
// records never change (a change goes to the overlay, which Snapshot.Node
// and Snapshot.Fact read first), and the dictionary they refer to only
// grows; a base's fact refers only to the base's entities and to text blobs
// that existed when it was built. So a decoded record is the answer for
// every snapshot on the base. Records are shared, never modified
// (storage.Snapshot), as the store's record cache's were. Decoding an
// entity costs about 0.9 us and a dozen allocations at 1M nodes; a hit is
// an atomic load.
//
// A slot is chosen by the record's ID, not its internal ID, so that a read
// by ID (Snapshot.Node, Snapshot.Fact) finds a cached record without first
// looking its ID up in the base's ID table (lookup): at 1M entities and 3M
// facts that lookup is two cache misses, paid by every entity a page of
// facts names.
type decodeCache[T any] struct {
	slots []atomic.Pointer[cached[T]]
	mask  uint32
}

type cached[T any] struct {
	id  uuid.UUID
	iid uint32
	v   *T
}

// slot is the slot of the record with the ID: its last four bytes, which
// are random in the IDs this service makes (v4 and v5 UUIDs; the bytes
// carrying the version and variant are at 6 and 8). IDs that are not random
// cost more collisions, never a wrong answer (a hit compares the whole ID).
func (c *decodeCache[T]) slot(id uuid.UUID) *atomic.Pointer[cached[T]] {
	return &c.slots[binary.LittleEndian.Uint32(id[12:])&c.mask]
}

// nodeCacheSlots bounds a base's cache: at most this many decoded records
// (a few tens of MB at the seed's record sizes), whatever the graph's size.
const nodeCacheSlots = 1 << 16

// init sizes the cache for n records.
func (c *decodeCache[T]) init(n uint32) {
	size := uint32(1)
	for size < n && size < nodeCacheSlots {
		size <<= 1
	}
	c.slots, c.mask = make([]atomic.Pointer[cached[T]], size), size-1
}

// get returns record iid (whose ID is id), from the cache or decoded by
// decode (and then cached unless it failed). A cache not sized by init
// caches nothing.
func (c *decodeCache[T]) get(iid uint32, id uuid.UUID, decode func() (*T, error)) (*T, error) {
	if len(c.slots) == 0 {
		return decode()
	}
	slot := c.slot(id)
	if e := slot.Load(); e != nil && e.iid == iid {
		return e.v, nil
	}
	v, err := decode()
	if err == nil {
		slot.Store(&cached[T]{id: id, iid: iid, v: v})
	}
	return v, err
}

// lookup returns the cached record with the ID and its internal ID; ok is
// false when the cache does not hold it (then the ID table says whether the
// base has it).
func (c *decodeCache[T]) lookup(id uuid.UUID) (v *T, iid uint32, ok bool) {
	if len(c.slots) == 0 {
		return nil, 0, false
	}
	if e := c.slot(id).Load(); e != nil && e.id == id {
		return e.v, e.iid, true
	}
	return nil, 0, false
}

// fact decodes the base's fact iid (whose ID is id) with r, or returns it
// from the cache.
func (b *base) fact(iid uint32, id uuid.UUID, strs []string, r resolver) (*storage.Fact, error) {
	return b.decodedFacts.get(iid, id, func() (*storage.Fact, error) {
		return decodeFact(b.facts.record(iid), id, strs, r)
	})
}

// node decodes the base's entity iid (whose ID is id), or returns it from
// the cache.
func (b *base) node(iid uint32, id uuid.UUID, strs []string) (*storage.Node, error) {
	return b.decoded.get(iid, id, func() (*storage.Node, error) {
		return decodeNode(b.nodes.record(iid), id, strs)
	})
}

const (
	numKinds = 12
	numPreds = 34
)

func init() {
	if len(kindList) != numKinds || len(predList) != numPreds || len(predList) > 63 {
		panic("memgraph: the kinds or predicates changed: update numKinds and numPreds")
	}
}

// idTable is one record kind of the base: IDs sorted, the record of ID i at
// slab[off[i]:] behind its uvarint length, and bucket[h] the first ID whose
// first two bytes are h or more, so a lookup searches a few IDs only.
type idTable struct {
	ids    []uuid.UUID
	bucket []uint32 // 1<<16 + 1 entries
	off    []uint32
	slab   []byte
}

func (t *idTable) find(id uuid.UUID) (uint32, bool) {
	if len(t.ids) == 0 {
		return 0, false
	}
	h := int(id[0])<<8 | int(id[1])
	lo, hi := int(t.bucket[h]), int(t.bucket[h+1])
	x, y := binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])
	less := func(i int) bool {
		m := &t.ids[i]
		a := binary.BigEndian.Uint64(m[:8])
		return a < x || a == x && binary.BigEndian.Uint64(m[8:]) < y
	}
	// The answer is the first ID of the bucket not less than id, in
	// [lo, hi]. Past a few IDs a bucket (about 15 at a million entities,
	// 47 at three million facts) is searched from where the next two bytes
	// place id, random IDs being spread evenly, widening from there: a
	// lookup reads a cache line or two of IDs, not a binary search's
	// log2(hi-lo) lines far apart. IDs that are not random cost a wider
	// search, never a wrong answer.
	if hi-lo > 4 {
		g := lo + int(uint64(binary.BigEndian.Uint16(id[2:4]))*uint64(hi-lo)>>16)
		if less(g) {
			lo = g + 1
			for step := 1; ; step *= 2 {
				p := lo + step - 1
				if p >= hi {
					break
				}
				if !less(p) {
					hi = p
					break
				}
				lo = p + 1
			}
		} else {
			hi = g
			for step := 1; ; step *= 2 {
				p := hi - step
				if p < lo {
					break
				}
				if less(p) {
					lo = p + 1
					break
				}
				hi = p
			}
		}
	}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if less(mid) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(t.ids) && t.ids[lo] == id {
		return uint32(lo), true
	}
	return 0, false
}

func (t *idTable) record(iid uint32) []byte {
	b := t.slab[t.off[iid]:]
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)]
}

func (t *idTable) n() uint32 { return uint32(len(t.ids)) }

func makeBuckets(ids []uuid.UUID) []uint32 {
	bk := make([]uint32, 1<<16+1)
	j := 0
	for h := range 1 << 16 {
		for j < len(ids) && int(ids[j][0])<<8|int(ids[j][1]) < h {
			j++
		}
		bk[h] = uint32(j)
	}
	bk[1<<16] = uint32(len(ids))
	return bk
}

type posRef struct{ pos, iid uint32 }

type yearRef struct {
	iid  uint32
	year uint16
}

type slugRef struct{ hash, iid uint32 }

type valueRef struct{ value, fact, subject uint32 }

type textRef struct{ node, blob uint32 }

// term is the text of a name-index term at pos in folds.
func (b *base) term(pos uint32) string {
	s := b.folds[pos:]
	return unsafe.String(&s[0], bytes.IndexByte(s, 0))
}

// foldName is an entity's folded name, from the position of its '^'.
func (b *base) foldName(pos uint32) string { return b.term(pos + 1) }

func (b *base) slugHash(slug string) uint32 { return uint32(maphash.String(b.slugSeed, slug)) }

// findSlug finds the base entity that had slug when the base was built.
func (b *base) findSlug(slug string) (uint32, bool) {
	h := b.slugHash(slug)
	i, _ := slices.BinarySearchFunc(b.slugs, h, func(r slugRef, h uint32) int { return cmp.Compare(r.hash, h) })
	for ; i < len(b.slugs) && b.slugs[i].hash == h; i++ {
		if nodeSlug(b.nodes.record(b.slugs[i].iid)) == slug {
			return b.slugs[i].iid, true
		}
	}
	return 0, false
}

func (b *base) text(node uint32) (uint32, bool) {
	i, ok := slices.BinarySearchFunc(b.texts, node, func(r textRef, n uint32) int { return cmp.Compare(r.node, n) })
	if !ok {
		return 0, false
	}
	return b.texts[i].blob, true
}

// termsOf appends the positions of the distinct name-index terms of the
// folded names in folds[from:to] ('^' + name + 0x00 each).
func termsOf(folds []byte, from, to uint32, out []uint32) []uint32 {
	first := len(out)
	add := func(pos uint32) {
		t := cString(folds[pos:])
		for _, p := range out[first:] {
			if cString(folds[p:]) == t {
				return
			}
		}
		out = append(out, pos)
	}
	for p := from; p < to; {
		end := p + uint32(bytes.IndexByte(folds[p:], 0))
		if end == p+1 { // an empty name has no terms
			p = end + 1
			continue
		}
		add(p)
		for i := p + 1; i < end; i++ {
			if folds[i] == ' ' {
				add(i + 1)
			}
		}
		p = end + 1
	}
	return out
}

func cString(b []byte) string {
	n := bytes.IndexByte(b, 0)
	if n <= 0 {
		return ""
	}
	return unsafe.String(&b[0], n)
}

// appendFolds appends n's distinct folded names to folds, its name first,
// and returns folds and where n's names start (the '^' of its name).
func appendFolds(folds []byte, n *storage.Node) ([]byte, uint32) {
	start := uint32(len(folds))
	var seen [8]string
	distinct := seen[:0]
	add := func(name string) {
		f := fold(name)
		if f == "" || slices.Contains(distinct, f) {
			return
		}
		distinct = append(distinct, f)
		folds = append(folds, '^')
		folds = append(folds, f...)
		folds = append(folds, 0)
	}
	add(n.Name)
	if len(distinct) == 0 {
		// A name without letters or digits (validation refuses one, but
		// the kind index still orders the entity, by the empty name).
		folds = append(folds, '^', 0)
		distinct = append(distinct, "")
	}
	for _, l := range n.Labels {
		add(l.Text)
	}
	for _, a := range n.Aliases {
		add(a)
	}
	return folds, start
}

// nameTerms lists n's name-index terms, as storage's nodeIndexKeys makes them:
// '^' + each folded name, and each folded name from each word after the
// first, without duplicates.
func nameTerms(n *storage.Node) []string {
	folds, _ := appendFolds(nil, n)
	var out []string
	for _, p := range termsOf(folds, 0, uint32(len(folds)), nil) {
		out = append(out, cString(folds[p:]))
	}
	return out
}

// fold is storage.Fold, with a fast path for ASCII names (most of them),
// which fold without Unicode normalization. TestFoldMatchesStorage holds
// it to storage.Fold.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return storage.Fold(s)
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		default:
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}
