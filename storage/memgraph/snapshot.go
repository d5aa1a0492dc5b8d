package memgraph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/tidwall/btree"

	"policygraph/errs"
	"policygraph/storage"
)

// Snapshot is one version of the graph, immutable: every method answers
// from that version, however many changes the model applies meanwhile, and
// without locks. A Snapshot is safe for concurrent use. Records it returns
// share memory with it and must not be modified.
type Snapshot struct {
	version  uint64
	b        *base
	dict     *dict    // the generation's, for drafts to look strings up in
	strs     []string // the dictionary as of this version
	blobs    []string // the text blobs as of this version
	ov       *btree.BTreeG[entry]
	nextNode uint32
	nextFact uint32
	counts   counts
	revs     *btree.BTreeG[revEntry]
	// walkMemo remembers the overlay's part of the last walk asked of a
	// published snapshot (walk.go); nil: none is kept.
	walkMemo *walkMemoCell
}

var (
	_ storage.Snapshot = (*Snapshot)(nil)
	_ storage.Sizer    = (*Snapshot)(nil)
)

// counts is the graph's size, kept as changes apply.
type counts struct {
	byKind  [numKinds]int
	facts   int
	byPred  [numPreds]int
	country map[string]int   // copied on write
	byYear  map[predYear]int // active facts of a known year; copied on write
	maxText int
}

// predYear is a predicate (its index) and a year, a group of counts.byYear.
type predYear struct {
	pred uint8
	year int
}

// Version is the version of the graph the snapshot holds.
func (s *Snapshot) Version() uint64 { return s.version }

// notFound is the store's NOT_FOUND error (kvSnapshot's), field and message alike.
func notFound(field, format string, args ...any) error {
	return errs.Errorf(errs.NotFound, field, format, args...)
}

// stopped is err, but nil for storage.ErrStop (or an error wrapping it):
// a callback that returns it ends the scan, which then returns nil.
func stopped(err error) error {
	if errors.Is(err, storage.ErrStop) {
		return nil
	}
	return err
}

// ovGet looks a key up in the overlay.
func (s *Snapshot) ovGet(k keyb) (entry, bool) {
	if s.ov.Len() == 0 {
		return entry{}, false
	}
	return s.ov.Get(entry{key: string(k)})
}

// ovHas reports whether the overlay holds a record of kind k (keyNode,
// keyFact) with the internal ID.
func (s *Snapshot) ovHas(k byte, iid uint32) bool {
	if s.ov.Len() == 0 {
		return false
	}
	_, ok := s.ovGet(newKey(k, 4).u32(iid))
	return ok
}

// nodeIID is the internal ID of the entity with the ID.
func (s *Snapshot) nodeIID(id uuid.UUID) (uint32, bool) {
	if iid, ok := s.b.nodes.find(id); ok {
		return iid, true
	}
	if e, ok := s.ovGet(newKey(keyNodeID, 16).id(id)); ok {
		return u32(e.val), true
	}
	return 0, false
}

func (s *Snapshot) factIID(id uuid.UUID) (uint32, bool) {
	if iid, ok := s.b.facts.find(id); ok {
		return iid, true
	}
	if e, ok := s.ovGet(newKey(keyFactID, 16).id(id)); ok {
		return u32(e.val), true
	}
	return 0, false
}

// nodeUUID is the ID of the entity with the internal ID.
func (s *Snapshot) nodeUUID(iid uint32) uuid.UUID {
	if iid < s.b.nodes.n() {
		return s.b.nodes.ids[iid]
	}
	if e, ok := s.ovGet(newKey(keyNode, 4).u32(iid)); ok {
		return uuid.UUID([]byte(e.val[:16]))
	}
	return uuid.Nil
}

func (s *Snapshot) blob(id uint32) (string, bool) {
	if int(id) < len(s.blobs) {
		return s.blobs[id], true
	}
	return "", false
}

// nodeRec is the current record of the entity with the internal ID.
func (s *Snapshot) nodeRec(iid uint32) []byte {
	if e, ok := s.ovGet(newKey(keyNode, 4).u32(iid)); ok {
		return unsafeBytes(e.val[16:])
	}
	if iid < s.b.nodes.n() {
		return s.b.nodes.record(iid)
	}
	return nil
}

func (s *Snapshot) factRec(iid uint32) []byte {
	if e, ok := s.ovGet(newKey(keyFact, 4).u32(iid)); ok {
		return unsafeBytes(e.val[16:])
	}
	if iid < s.b.facts.n() {
		return s.b.facts.record(iid)
	}
	return nil
}

// Node returns the entity with the ID, or an *errs.Error NOT_FOUND.
func (s *Snapshot) Node(id uuid.UUID) (*storage.Node, error) {
	// An entity of the base decoded before is in the base's cache, found by
	// its ID: the answer unless the overlay holds a newer record of it.
	if n, iid, ok := s.b.decoded.lookup(id); ok && !s.ovHas(keyNode, iid) {
		return n, nil
	}
	iid, ok := s.nodeIID(id)
	if !ok {
		return nil, notFound("id", "no entity with id %s", id)
	}
	var n *storage.Node
	var err error
	if e, ok := s.ovGet(newKey(keyNode, 4).u32(iid)); ok {
		n, err = decodeNode(unsafeBytes(e.val[16:]), id, s.strs)
	} else if iid < s.b.nodes.n() {
		n, err = s.b.node(iid, id, s.strs)
	} else {
		n, err = decodeNode(nil, id, s.strs)
	}
	if err != nil {
		return nil, fmt.Errorf("entity %s: %w", id, err)
	}
	return n, nil
}

// Fact returns the fact with the ID, or an *errs.Error NOT_FOUND.
func (s *Snapshot) Fact(id uuid.UUID) (*storage.Fact, error) {
	// As Node: a cached fact of the base, unless the overlay changed it.
	if f, iid, ok := s.b.decodedFacts.lookup(id); ok && !s.ovHas(keyFact, iid) {
		return f, nil
	}
	iid, ok := s.factIID(id)
	if !ok {
		return nil, notFound("id", "no fact with id %s", id)
	}
	var f *storage.Fact
	var err error
	if e, ok := s.ovGet(newKey(keyFact, 4).u32(iid)); ok {
		f, err = decodeFact(unsafeBytes(e.val[16:]), id, s.strs, s)
	} else if iid < s.b.facts.n() {
		f, err = s.b.fact(iid, id, s.strs, s)
	} else {
		f, err = decodeFact(nil, id, s.strs, s)
	}
	if err != nil {
		return nil, fmt.Errorf("fact %s: %w", id, err)
	}
	return f, nil
}

// SlugID returns the ID of the entity with the slug (retracted ones too),
// or an *errs.Error NOT_FOUND.
func (s *Snapshot) SlugID(slug string) (uuid.UUID, error) {
	if e, ok := s.ovGet(newKey(keySlug, len(slug)).str(slug)); ok {
		if !e.del {
			return s.nodeUUID(u32(e.val)), nil
		}
	} else if iid, ok := s.b.findSlug(slug); ok {
		return s.b.nodes.ids[iid], nil
	}
	return uuid.Nil, notFound("slug", "no entity with slug %q", slug)
}

// SourceText returns the full text of a source entity; "" when it has none.
func (s *Snapshot) SourceText(id uuid.UUID) (string, error) {
	iid, ok := s.nodeIID(id)
	if !ok {
		return "", nil
	}
	blob, ok := s.textBlob(iid)
	if !ok {
		return "", nil
	}
	return s.blobs[blob], nil
}

func (s *Snapshot) textBlob(iid uint32) (uint32, bool) {
	if e, ok := s.ovGet(newKey(keyText, 4).u32(iid)); ok {
		return u32(e.val), true
	}
	if iid < s.b.nodes.n() {
		return s.b.text(iid)
	}
	return 0, false
}

// scan is one merged walk of a base index range and the overlay entries of
// the same index. The base range is entries [0, n); key materializes the
// i-th one's key as it reads in the overlay, without its first strip bytes.
// The overlay walk starts at seek and goes on while keep holds.
type scan struct {
	seek  string
	keep  func(key string) bool
	strip int
	n     int
	key   func(i int, buf []byte) []byte
	base  func(i int) error
	over  func(e entry) error
}

func (s *Snapshot) run(sc scan) error {
	return stopped(s.merge(sc))
}

func (s *Snapshot) merge(sc scan) error {
	var it btree.IterG[entry]
	hasOv := false
	if s.ov.Len() > 0 {
		it = s.ov.Iter()
		defer it.Release()
		hasOv = it.Seek(entry{key: sc.seek}) && sc.keep(it.Item().key)
	}
	var buf []byte
	i := 0
	for i < sc.n || hasOv {
		if !hasOv {
			if err := sc.base(i); err != nil {
				return err
			}
			i++
			continue
		}
		e := it.Item()
		c := 1
		if i < sc.n {
			buf = sc.key(i, buf[:0])
			c = bytes.Compare(buf, unsafeBytes(e.key[sc.strip:]))
		}
		if c < 0 {
			if err := sc.base(i); err != nil {
				return err
			}
			i++
			continue
		}
		if c == 0 {
			i++ // the overlay's entry overrides the base's
		}
		if !e.del {
			if err := sc.over(e); err != nil {
				return err
			}
		}
		hasOv = it.Next() && sc.keep(it.Item().key)
	}
	return nil
}

// Adjacent implements storage.Snapshot: each fact at node in dir (narrowed
// to pred when not ""), in (predicate, fact ID) order, with the entity at
// the other end and the fact's state. An unknown node has no facts.
func (s *Snapshot) Adjacent(node uuid.UUID, dir storage.Direction, pred storage.Predicate, fn func(storage.AdjEntry) error) error {
	if s.ov.Len() == 0 && !strings.Contains(string(pred), "\x00") {
		// The base alone: read its range without wrapping fn (a closure
		// for each of the many small adjacency reads of a request).
		iid, ok := s.nodeIID(node)
		if !ok {
			return nil
		}
		d, lo, hi := s.baseAdjRange(iid, dir, pred)
		facts, others, ps := s.b.adjFact[d], s.b.adjOther[d], s.b.adjPS[d]
		for i := lo; i < hi; i++ {
			o := uuid.Nil
			if other := others[i]; other != noNode {
				o = s.b.nodes.ids[other]
			}
			if err := fn(storage.AdjEntry{Fact: s.b.facts.ids[facts[i]], Other: o, State: storage.FactState(ps[i] & 3)}); err != nil {
				return stopped(err)
			}
		}
		return nil
	}
	return s.adjacent(node, dir, pred, func(e storage.AdjEntry, _ uint32) error { return fn(e) })
}

// baseAdjRange is the range of the base's adjacency arrays [d][lo:hi] that
// holds node iid's facts in direction dir with pred (all when empty), for a
// pred without a 0x00.
func (s *Snapshot) baseAdjRange(iid uint32, dir storage.Direction, pred storage.Predicate) (d, lo, hi int) {
	d = 1
	if dir == storage.Out {
		d = 0
	}
	if iid >= s.b.nodes.n() {
		return d, 0, 0
	}
	lo, hi = int(s.b.adjStart[d][iid]), int(s.b.adjStart[d][iid+1])
	if pred != "" {
		p, ok := predIndex[pred]
		if !ok {
			return d, 0, 0
		}
		ps := s.b.adjPS[d]
		lo, hi = lo+search(hi-lo, func(i int) bool { return ps[lo+i]>>2 >= p }), lo+search(hi-lo, func(i int) bool { return ps[lo+i]>>2 > p })
	}
	return d, lo, hi
}

// adjacent is Adjacent, with each fact's internal ID.
func (s *Snapshot) adjacent(node uuid.UUID, dir storage.Direction, pred storage.Predicate, fn func(e storage.AdjEntry, fact uint32) error) error {
	iid, ok := s.nodeIID(node)
	if !ok {
		return nil
	}
	seek := newKey(adjPrefixByte(dir == storage.Out), 5).u32(iid)
	// The store scans the keys that start with pred 0x00: for a predicate
	// with a 0x00 in it, those of the predicate before it whose fact ID
	// starts with the rest.
	if p, idPrefix, cut := strings.Cut(string(pred), "\x00"); cut {
		pred, idPrefix = storage.Predicate(p), idPrefix+"\x00"
		inner := fn
		fn = func(e storage.AdjEntry, f uint32) error {
			if !strings.HasPrefix(string(e.Fact[:]), idPrefix) {
				return nil
			}
			return inner(e, f)
		}
		if pred == "" {
			return nil
		}
	}
	if pred != "" {
		p, ok := predIndex[pred]
		if !ok {
			return nil
		}
		seek = seek.b(p)
	}
	d, lo, hi := s.baseAdjRange(iid, dir, pred)
	facts, others, ps := s.b.adjFact[d], s.b.adjOther[d], s.b.adjPS[d]
	if s.ov.Len() == 0 {
		// Nothing written since the last compaction: the base's range is
		// the answer, read without the merge's closures and key buffers.
		for i := lo; i < hi; i++ {
			o := uuid.Nil
			if other := others[i]; other != noNode {
				o = s.b.nodes.ids[other]
			}
			f := facts[i]
			if err := fn(storage.AdjEntry{Fact: s.b.facts.ids[f], Other: o, State: storage.FactState(ps[i] & 3)}, f); err != nil {
				return stopped(err)
			}
		}
		return nil
	}
	prefix := seek.s()
	return s.run(scan{
		seek:  prefix,
		keep:  func(k string) bool { return hasPrefix(k, prefix) },
		strip: 5,
		n:     hi - lo,
		key: func(i int, buf []byte) []byte {
			f := facts[lo+i]
			buf = append(buf, ps[lo+i]>>2)
			return append(buf, s.b.facts.ids[f][:]...)
		},
		base: func(i int) error {
			o := uuid.Nil
			if other := others[lo+i]; other != noNode {
				o = s.nodeUUID(other)
			}
			f := facts[lo+i]
			return fn(storage.AdjEntry{Fact: s.b.facts.ids[f], Other: o, State: storage.FactState(ps[lo+i] & 3)}, f)
		},
		over: func(e entry) error {
			o := uuid.Nil
			if other := u32(e.val[4:]); other != noNode {
				o = s.nodeUUID(other)
			}
			return fn(storage.AdjEntry{Fact: lastID(e.key), Other: o, State: storage.FactState(e.val[8])}, u32(e.val))
		},
	})
}

// HasValue implements storage.Snapshot: whether subject has an active
// literal fact pred = value. It reads the subject's adjacency and the
// indexed fields of each active fact of pred.
func (s *Snapshot) HasValue(subject uuid.UUID, pred storage.Predicate, value string) (bool, error) {
	// The store indexes no empty value, and a predicate with a 0x00 in it
	// has no value key.
	if pred == "" || value == "" || strings.IndexByte(string(pred), 0) >= 0 {
		return false, nil
	}
	if s.ov.Len() == 0 {
		// The base alone, without a callback (a country filter asks this
		// of every candidate).
		iid, ok := s.nodeIID(subject)
		if !ok {
			return false, nil
		}
		d, lo, hi := s.baseAdjRange(iid, storage.Out, pred)
		for i := lo; i < hi; i++ {
			if storage.FactState(s.b.adjPS[d][i]&3) != storage.Active {
				continue
			}
			f := s.b.adjFact[d][i]
			fm, err := peekFact(s.factRec(f))
			if err != nil {
				return false, fmt.Errorf("fact %s: %w", s.b.facts.ids[f], err)
			}
			if s.strs[fm.value] == value {
				return true, nil
			}
		}
		return false, nil
	}
	found := false
	err := s.adjacent(subject, storage.Out, pred, func(e storage.AdjEntry, f uint32) error {
		if e.State != storage.Active {
			return nil
		}
		fm, err := peekFact(s.factRec(f))
		if err != nil {
			return fmt.Errorf("fact %s: %w", e.Fact, err)
		}
		if s.strs[fm.value] == value {
			found = true
			return storage.ErrStop
		}
		return nil
	})
	return found, err
}

// search is sort.Search.
func search(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if !f(h) {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// NodesByKind calls fn with the ID of each entity of the kind not
// retracted, by folded name, then ID.
func (s *Snapshot) NodesByKind(kind storage.Kind, fn func(id uuid.UUID) error) error {
	k, ok := kindIndex[kind]
	if !ok {
		return nil
	}
	refs := s.b.kinds[k]
	prefix := newKey(keyKind, 1).b(k).s()
	return s.run(scan{
		seek:  prefix,
		keep:  func(key string) bool { return hasPrefix(key, prefix) },
		strip: 2,
		n:     len(refs),
		key: func(i int, buf []byte) []byte {
			buf = append(buf, s.b.foldName(refs[i].pos)...)
			buf = append(buf, 0)
			return append(buf, s.b.nodes.ids[refs[i].iid][:]...)
		},
		base: func(i int) error { return fn(s.b.nodes.ids[refs[i].iid]) },
		over: func(e entry) error { return fn(lastID(e.key)) },
	})
}

// yearRange is the range of years a store's year scan reads: from the key
// of uint16(max(from, 0)) on, until a year past to.
func yearRange(from, to int) (uint16, uint16, bool) {
	lo := uint16(max(from, 0))
	if to < int(lo) {
		return 0, 0, false
	}
	return lo, uint16(min(to, 1<<16-1)), true
}

// yearScan walks a year index: refs by (year, ID) in the base, and the
// overlay's entries under prefix (then year, ID).
func (s *Snapshot) yearScan(refs []yearRef, ids []uuid.UUID, prefix keyb, from, to int, fn func(id uuid.UUID) error) error {
	lo16, hi16, ok := yearRange(from, to)
	if !ok {
		return nil
	}
	i := search(len(refs), func(i int) bool { return refs[i].year >= lo16 })
	j := search(len(refs), func(i int) bool { return refs[i].year > hi16 })
	refs = refs[i:j]
	p := prefix.s()
	strip := len(p)
	return s.run(scan{
		seek: prefix.u16(lo16).s(),
		keep: func(k string) bool {
			return hasPrefix(k, p) && uint16(k[strip])<<8|uint16(k[strip+1]) <= hi16
		},
		strip: strip,
		n:     len(refs),
		key: func(i int, buf []byte) []byte {
			buf = append(buf, byte(refs[i].year>>8), byte(refs[i].year))
			return append(buf, ids[refs[i].iid][:]...)
		},
		base: func(i int) error { return fn(ids[refs[i].iid]) },
		over: func(e entry) error { return fn(lastID(e.key)) },
	})
}

// NodesByYear calls fn with the ID of each entity of the kind not retracted
// whose year is within [from, to], by year, then ID.
func (s *Snapshot) NodesByYear(kind storage.Kind, from, to int, fn func(id uuid.UUID) error) error {
	k, ok := kindIndex[kind]
	if !ok {
		return nil
	}
	return s.yearScan(s.b.nodeYears[k], s.b.nodes.ids, newKey(keyNodeYear, 3).b(k), from, to, fn)
}

// FactsByPredicate calls fn with the ID of each active fact of the
// predicate, by ID.
func (s *Snapshot) FactsByPredicate(pred storage.Predicate, fn func(id uuid.UUID) error) error {
	// As in Adjacent, a predicate with a 0x00 in it reaches into fact IDs.
	if p, idPrefix, cut := strings.Cut(string(pred), "\x00"); cut {
		pred, idPrefix = storage.Predicate(p), idPrefix+"\x00"
		inner := fn
		fn = func(id uuid.UUID) error {
			if !strings.HasPrefix(string(id[:]), idPrefix) {
				return nil
			}
			return inner(id)
		}
	}
	p, ok := predIndex[pred]
	if !ok {
		return nil
	}
	iids := s.b.preds[p]
	prefix := newKey(keyPred, 1).b(p).s()
	return s.run(scan{
		seek:  prefix,
		keep:  func(k string) bool { return hasPrefix(k, prefix) },
		strip: 2,
		n:     len(iids),
		key:   func(i int, buf []byte) []byte { return append(buf, s.b.facts.ids[iids[i]][:]...) },
		base:  func(i int) error { return fn(s.b.facts.ids[iids[i]]) },
		over:  func(e entry) error { return fn(lastID(e.key)) },
	})
}

// FactsByYear calls fn with the ID of each active fact of the predicate
// whose year is within [from, to], by year, then ID.
func (s *Snapshot) FactsByYear(pred storage.Predicate, from, to int, fn func(id uuid.UUID) error) error {
	p, ok := predIndex[pred]
	if !ok {
		return nil
	}
	return s.yearScan(s.b.factYears[p], s.b.facts.ids, newKey(keyYear, 4).b(p), from, to, fn)
}

// SubjectsByValue implements storage.Snapshot: the subject and the fact of
// each active literal fact pred = value (COUNTRY = "US"), by fact ID. A
// subject with two such facts comes twice.
func (s *Snapshot) SubjectsByValue(pred storage.Predicate, value string, fn func(subject, fact uuid.UUID) error) error {
	p, ok := predIndex[pred]
	if !ok {
		return nil
	}
	// The store scans the keys that start with pred 0x00 value 0x00: for a
	// value with a 0x00 in it, those of the value before it whose fact ID
	// starts with the rest.
	value, idPrefix, cut := strings.Cut(value, "\x00")
	if cut {
		idPrefix += "\x00"
		inner := fn
		fn = func(subject, fact uuid.UUID) error {
			if !strings.HasPrefix(string(fact[:]), idPrefix) {
				return nil
			}
			return inner(subject, fact)
		}
	}
	refs := s.b.values[p]
	i := search(len(refs), func(i int) bool { return s.strs[refs[i].value] >= value })
	j := i + search(len(refs)-i, func(k int) bool { return s.strs[refs[i+k].value] != value })
	refs = refs[i:j]
	prefix := newKey(keyValue, 2+len(value)).b(p).cstr(value).s()
	return s.run(scan{
		seek:  prefix,
		keep:  func(k string) bool { return hasPrefix(k, prefix) },
		strip: len(prefix),
		n:     len(refs),
		key:   func(i int, buf []byte) []byte { return append(buf, s.b.facts.ids[refs[i].fact][:]...) },
		base: func(i int) error {
			return fn(s.b.nodes.ids[refs[i].subject], s.b.facts.ids[refs[i].fact])
		},
		over: func(e entry) error { return fn(s.nodeUUID(u32(e.val[4:])), lastID(e.key)) },
	})
}

// NameTerms implements storage.Snapshot: each term of the search index
// that starts with prefix, by term, then ID. The index holds, for every
// entity not retracted, the folded form of each of its names, labels and
// aliases: whole (a term of whole names), and from each word after the
// first (a term of words; see storage's nodeIndexKeys). Internally a whole
// name's term is marked by a leading '^', as in the store's keys, so that a
// scan of words with the prefix "" (or "^") meets whole names too, as the
// store's does; fn gets each term without its mark.
func (s *Snapshot) NameTerms(prefix string, whole bool, fn func(term string, id uuid.UUID) error) error {
	if whole {
		prefix = "^" + prefix
	}
	// A prefix with a 0x00 in it reaches past the term, as the store's
	// scan of the key prefix does: the terms before the 0x00, whose ID
	// starts with the rest.
	prefix, idPrefix, cut := strings.Cut(prefix, "\x00")
	exact := prefix
	call := func(term string, id uuid.UUID) error {
		if cut && (term != exact || !strings.HasPrefix(string(id[:]), idPrefix)) {
			return nil
		}
		if len(term) > 0 && term[0] == '^' {
			term = term[1:]
		}
		return fn(term, id)
	}
	names := s.b.names
	i := search(len(names), func(i int) bool { return s.b.term(names[i].pos) >= prefix })
	j := i + search(len(names)-i, func(k int) bool { return !strings.HasPrefix(s.b.term(names[i+k].pos), prefix) })
	names = names[i:j]
	seek := newKey(keyName, len(prefix)).str(prefix).s()
	return s.run(scan{
		seek:  seek,
		keep:  func(k string) bool { return hasPrefix(k, seek) },
		strip: 1,
		n:     len(names),
		key: func(i int, buf []byte) []byte {
			buf = append(buf, s.b.term(names[i].pos)...)
			buf = append(buf, 0)
			return append(buf, s.b.nodes.ids[names[i].iid][:]...)
		},
		base: func(i int) error { return call(s.b.term(names[i].pos), s.b.nodes.ids[names[i].iid]) },
		over: func(e entry) error { return call(e.key[1:len(e.key)-17], lastID(e.key)) },
	})
}

// SavedQuery returns the saved query with the name, or an *storage.Error
// NOT_FOUND.
func (s *Snapshot) SavedQuery(name string) (*storage.SavedQuery, error) {
	if e, ok := s.ovGet(newKey(keySaved, len(name)).str(name)); ok {
		if e.del {
			return nil, notFound("name", "no saved query named %q", name)
		}
		return decodeSaved(e.val)
	}
	i, ok := slices.BinarySearchFunc(s.b.saved, name, func(q *storage.SavedQuery, n string) int { return cmp.Compare(q.Name, n) })
	if !ok {
		return nil, notFound("name", "no saved query named %q", name)
	}
	c := *s.b.saved[i]
	return &c, nil
}

func decodeSaved(b string) (*storage.SavedQuery, error) {
	var q storage.SavedQuery
	if err := json.Unmarshal([]byte(b), &q); err != nil {
		return nil, fmt.Errorf("decode saved query: %w", err)
	}
	return &q, nil
}

// SavedQueries calls fn with each saved query, by name.
func (s *Snapshot) SavedQueries(fn func(*storage.SavedQuery) error) error {
	saved := s.b.saved
	prefix := string([]byte{keySaved})
	return s.run(scan{
		seek:  prefix,
		keep:  func(k string) bool { return hasPrefix(k, prefix) },
		strip: 1,
		n:     len(saved),
		key:   func(i int, buf []byte) []byte { return append(buf, saved[i].Name...) },
		base:  func(i int) error { c := *saved[i]; return fn(&c) },
		over: func(e entry) error {
			q, err := decodeSaved(e.val)
			if err != nil {
				return err
			}
			return fn(q)
		},
	})
}

// KindCount implements storage.KindCounter.
func (s *Snapshot) KindCount(k storage.Kind) int {
	i, ok := kindIndex[k]
	if !ok {
		return 0
	}
	return s.counts.byKind[i]
}

// Sizes returns the graph's size: what storage.Graph.Sizes reports.
func (s *Snapshot) Sizes() storage.Sizes {
	c := &s.counts
	z := storage.Sizes{Facts: c.facts, MaxSourceText: c.maxText, ByKind: map[storage.Kind]int{},
		ActiveByPredicate: map[storage.Predicate]int{}, CountryHolders: map[string]int{}}
	for k, n := range c.byKind {
		if n != 0 {
			z.ByKind[kindList[k]] = n
			z.Nodes += n
		}
	}
	for p, n := range c.byPred {
		if n != 0 {
			z.ActiveByPredicate[predList[p]] = n
			z.ActiveFacts += n
		}
	}
	for v, n := range c.country {
		if n != 0 {
			z.CountryHolders[v] = n
		}
	}
	z.ActiveByYear = map[storage.Predicate]map[int]int{}
	for k, n := range c.byYear {
		if n == 0 {
			continue
		}
		p := predList[k.pred]
		if z.ActiveByYear[p] == nil {
			z.ActiveByYear[p] = map[int]int{}
		}
		z.ActiveByYear[p][k.year] = n
	}
	return z
}

// Nodes calls fn with every entity, retracted ones too, by ID: what an
// export lists.
func (s *Snapshot) Nodes(fn func(*storage.Node) error) error {
	ids := s.b.nodes.ids
	prefix := string([]byte{keyNodeID})
	return s.run(scan{
		seek:  prefix,
		keep:  func(k string) bool { return hasPrefix(k, prefix) },
		strip: 1,
		n:     len(ids),
		key:   func(i int, buf []byte) []byte { return append(buf, ids[i][:]...) },
		base:  func(i int) error { return s.eachNode(ids[i], uint32(i), fn) },
		over:  func(e entry) error { return s.eachNode(lastID(e.key), u32(e.val), fn) },
	})
}

func (s *Snapshot) eachNode(id uuid.UUID, iid uint32, fn func(*storage.Node) error) error {
	n, err := decodeNode(s.nodeRec(iid), id, s.strs)
	if err != nil {
		return fmt.Errorf("entity %s: %w", id, err)
	}
	return fn(n)
}

// Facts calls fn with every fact, retracted ones too, by ID.
func (s *Snapshot) Facts(fn func(*storage.Fact) error) error {
	ids := s.b.facts.ids
	prefix := string([]byte{keyFactID})
	return s.run(scan{
		seek:  prefix,
		keep:  func(k string) bool { return hasPrefix(k, prefix) },
		strip: 1,
		n:     len(ids),
		key:   func(i int, buf []byte) []byte { return append(buf, ids[i][:]...) },
		base:  func(i int) error { return s.eachFact(ids[i], uint32(i), fn) },
		over:  func(e entry) error { return s.eachFact(lastID(e.key), u32(e.val), fn) },
	})
}

// FactIDs implements storage.Snapshot: every fact's ID, by ID, without
// decoding the facts.
func (s *Snapshot) FactIDs(fn func(id uuid.UUID) error) error {
	ids := s.b.facts.ids
	prefix := string([]byte{keyFactID})
	return s.run(scan{
		seek:  prefix,
		keep:  func(k string) bool { return hasPrefix(k, prefix) },
		strip: 1,
		n:     len(ids),
		key:   func(i int, buf []byte) []byte { return append(buf, ids[i][:]...) },
		base:  func(i int) error { return fn(ids[i]) },
		over:  func(e entry) error { return fn(lastID(e.key)) },
	})
}

func (s *Snapshot) eachFact(id uuid.UUID, iid uint32, fn func(*storage.Fact) error) error {
	f, err := decodeFact(s.factRec(iid), id, s.strs, s)
	if err != nil {
		return fmt.Errorf("fact %s: %w", id, err)
	}
	return fn(f)
}

// SourceTexts implements storage.Snapshot: every source text, by source ID.
func (s *Snapshot) SourceTexts(fn func(id uuid.UUID, text string) error) error {
	type text struct {
		id   uuid.UUID
		blob uint32
	}
	var all []text
	byIID := map[uint32]int{}
	for _, t := range s.b.texts {
		byIID[t.node] = len(all)
		all = append(all, text{id: s.b.nodes.ids[t.node], blob: t.blob})
	}
	prefix := string([]byte{keyText})
	s.ov.Ascend(entry{key: prefix}, func(e entry) bool {
		if !hasPrefix(e.key, prefix) {
			return false
		}
		iid := textKeyNode(e.key)
		if i, ok := byIID[iid]; ok {
			all[i].blob = u32(e.val)
		} else {
			byIID[iid] = len(all)
			all = append(all, text{id: s.nodeUUID(iid), blob: u32(e.val)})
		}
		return true
	})
	slices.SortFunc(all, func(a, b text) int { return compareID(a.id, b.id) })
	for _, t := range all {
		if err := fn(t.id, s.blobs[t.blob]); err != nil {
			return stopped(err)
		}
	}
	return nil
}
