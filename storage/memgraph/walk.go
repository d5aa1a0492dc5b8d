package memgraph

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// The walk index: the active facts of each predicate that have a year, in
// the order a list of facts takes by default (year, then the subject's
// folded name, then fact ID), so that a page of a walk by predicates and
// years is cut from the index at its cursor: it costs its size, not the
// predicates' (see storage.FactWalker). The base keeps it as one array per
// predicate; what the overlay changed is merged in at read time (walkOverlay).

// walkRef is one fact of a predicate's walk index: its iid, its year, and
// the '^' of its subject's name in folds.
type walkRef struct {
	iid  uint32
	year uint16
	name uint32
}

// noName marks an entity with no name in folds (a retracted one).
const noName = ^uint32(0)

// buildWalk lays out the walk index from the year index and the kind index
// (which give every fact's year and every entity's name): at a build and at
// a load from a file alike. A predicate with a fact whose subject has no
// name in folds (a retracted entity) gets no walk index (walkOK false):
// walks over it take the general path.
func (bs *base) buildWalk() {
	// Every named entity's rank by folded name (equal names, equal ranks),
	// so that the sort below compares integers, not strings.
	var refs []headed
	for k := range numKinds {
		for _, r := range bs.kinds[k] {
			refs = append(refs, bs.headed(r.pos+1, r.iid))
		}
	}
	byName := bs.sortHeaded(refs)
	nameRank := make([]uint32, bs.nodes.n())
	namePos := make([]uint32, bs.nodes.n())
	for i := range namePos {
		namePos[i] = noName
	}
	rank := uint32(0)
	for i, r := range byName {
		if i > 0 && bs.term(r.pos) != bs.term(byName[i-1].pos) {
			rank++
		}
		nameRank[r.iid], namePos[r.iid] = rank, r.pos-1
	}
	for p := range numPreds {
		ys := bs.factYears[p]
		walk := make([]walkRef, 0, len(ys))
		ranks := make([]uint32, 0, len(ys))
		ok := true
		for _, y := range ys {
			subj, good := recordSubject(bs.facts.record(y.iid))
			if !good || subj >= uint32(len(namePos)) || namePos[subj] == noName {
				ok = false
				break
			}
			walk = append(walk, walkRef{iid: y.iid, year: y.year, name: namePos[subj]})
			ranks = append(ranks, nameRank[subj])
		}
		if !ok {
			bs.walk[p], bs.walkOK[p] = nil, false
			continue
		}
		// ys is by (year, iid): sort each year's run by (name rank, iid).
		order := make([]int, len(walk))
		for i := range order {
			order[i] = i
		}
		for lo := 0; lo < len(walk); {
			hi := lo
			for hi < len(walk) && walk[hi].year == walk[lo].year {
				hi++
			}
			slices.SortFunc(order[lo:hi], func(a, b int) int {
				if ranks[a] != ranks[b] {
					return cmp.Compare(ranks[a], ranks[b])
				}
				return cmp.Compare(walk[a].iid, walk[b].iid)
			})
			lo = hi
		}
		sorted := make([]walkRef, len(walk))
		for i, j := range order {
			sorted[i] = walk[j]
		}
		bs.walk[p], bs.walkOK[p] = sorted, true
	}
}

// recordSubject is the subject iid of a fact record: pred(1) subject(uvarint).
func recordSubject(rec []byte) (uint32, bool) {
	if len(rec) < 2 {
		return 0, false
	}
	d := dec{b: rec}
	d.byte1()
	v := d.uv()
	return uint32(v), d.err == nil
}

// walkKey is a fact's place in the walk order.
type walkKey struct {
	year uint16
	name string // the subject's folded name
	id   uuid.UUID
}

func compareWalk(a, b walkKey) int {
	if a.year != b.year {
		return cmp.Compare(a.year, b.year)
	}
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	return bytes.Compare(a.id[:], b.id[:])
}

// walkOverlay is what the overlay changed of a walk: the facts of the base
// whose place in the index may be stale (dirty: their record changed, or
// their subject's), and the facts that are in the walk now and not (or no
// longer where they were) in the base's index, in walk order.
type walkOverlay struct {
	dirty map[uint32]bool // base fact iids
	keys  []walkKey
	// staleInRange counts the dirty facts in the base's runs of the range.
	staleInRange int
}

// walkMemoCell holds the overlay's part of the last walk asked of a
// snapshot: the pages of one walk, asked in turn, read the overlay once per
// version, not once per page. What it holds is never modified.
type walkMemoCell struct{ last atomic.Pointer[walkMemo] }

type walkMemo struct {
	ps     string // the predicates' positions, as bytes
	lo, hi uint16
	ov     walkOverlay
}

// walkOverlayMemo is walkOverlayOf, remembered in s's memo.
func (s *Snapshot) walkOverlayMemo(ps []uint8, lo, hi uint16) (walkOverlay, error) {
	if s.walkMemo == nil || s.ov.Len() == 0 {
		return s.walkOverlayOf(ps, lo, hi)
	}
	key := string(ps)
	if m := s.walkMemo.last.Load(); m != nil && m.ps == key && m.lo == lo && m.hi == hi {
		return m.ov, nil
	}
	ov, err := s.walkOverlayOf(ps, lo, hi)
	if err == nil {
		s.walkMemo.last.Store(&walkMemo{ps: key, lo: lo, hi: hi, ov: ov})
	}
	return ov, err
}

// walkKeyOf is f's place in the walk, from its subject's name now.
func (s *Snapshot) walkKeyOf(f *storage.Fact) (walkKey, error) {
	n, err := s.Node(f.Subject)
	if err != nil {
		return walkKey{}, err
	}
	return walkKey{year: uint16(f.Year), name: fold(n.Name), id: f.ID}, nil
}

// inWalk reports whether f is in the walk of the predicates ps over the
// years [lo, hi]: active, of one of them, with a year in range.
func inWalk(f *storage.Fact, ps []uint8, lo, hi uint16) bool {
	p, ok := predIndex[f.Predicate]
	if !ok || !slices.Contains(ps, p) || f.Negated || f.Retraction != nil || f.Year <= 0 {
		return false
	}
	return uint16(f.Year) >= lo && uint16(f.Year) <= hi && f.Year < 1<<16
}

// walkOverlayOf reads the overlay's part of the walk: every fact the
// overlay holds a record of, and every fact of the predicates whose subject
// it holds a record of (a renamed entity's facts move). It costs the
// overlay's size, which compaction bounds.
func (s *Snapshot) walkOverlayOf(ps []uint8, lo, hi uint16) (walkOverlay, error) {
	w := walkOverlay{dirty: map[uint32]bool{}}
	if s.ov.Len() == 0 {
		return w, nil
	}
	seen := map[uuid.UUID]bool{}
	add := func(id uuid.UUID, iid uint32) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		if iid < s.b.facts.n() {
			w.dirty[iid] = true
		}
		f, err := s.Fact(id)
		if err != nil || !inWalk(f, ps, lo, hi) {
			return err
		}
		k, err := s.walkKeyOf(f)
		if err != nil {
			return err
		}
		w.keys = append(w.keys, k)
		return nil
	}
	var changed []uuid.UUID
	var err error
	s.ov.Ascend(entry{key: string([]byte{keyFact})}, func(e entry) bool {
		if e.key[0] != keyFact {
			return false
		}
		if e.del || len(e.val) < 17 || !slices.Contains(ps, e.val[16]) {
			return true
		}
		err = add(lastID(e.val[:16]), u32(e.key[1:]))
		return err == nil
	})
	if err != nil {
		return w, err
	}
	s.ov.Ascend(entry{key: string([]byte{keyNode})}, func(e entry) bool {
		if e.key[0] != keyNode {
			return false
		}
		if !e.del && u32(e.key[1:]) < s.b.nodes.n() && len(e.val) >= 16 {
			changed = append(changed, lastID(e.val[:16]))
		}
		return true
	})
	for _, node := range changed {
		for _, p := range ps {
			err := s.adjacent(node, storage.Out, predList[p], func(e storage.AdjEntry, fact uint32) error {
				return add(e.Fact, fact)
			})
			if err != nil {
				return w, err
			}
		}
	}
	slices.SortFunc(w.keys, compareWalk)
	for iid := range w.dirty {
		f, err := s.b.fact(iid, s.b.facts.ids[iid], s.strs, s)
		if err != nil {
			return w, err
		}
		if inWalk(f, ps, lo, hi) {
			w.staleInRange++ // in a base run of the range, where it is skipped
		}
	}
	return w, nil
}

// WalkScan implements storage.FactWalker: the records a page of first facts
// of a walk over preds reads, the overlay's part included.
func (s *Snapshot) WalkScan(preds []storage.Predicate, first int) (int, bool) {
	ps, ok := s.walkPreds(preds)
	if !ok {
		return 0, false
	}
	return 2*(first+1) + len(ps) + 2*s.ov.Len(), true
}

// walkPreds are the index positions of preds, each once; ok is false when
// one of them has no walk index.
func (s *Snapshot) walkPreds(preds []storage.Predicate) ([]uint8, bool) {
	ps := make([]uint8, 0, len(preds))
	for _, pred := range preds {
		if strings.ContainsRune(string(pred), 0) {
			return nil, false
		}
		p, ok := predIndex[pred]
		if !ok {
			continue // no fact has it
		}
		if !s.b.walkOK[p] {
			return nil, false
		}
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps, true
}

// FactWalk implements storage.FactWalker.
func (s *Snapshot) FactWalk(preds []storage.Predicate, from, to int, after uuid.UUID, n int) (storage.WalkPage, bool, error) {
	var page storage.WalkPage
	ps, ok := s.walkPreds(preds)
	if !ok {
		return page, false, nil
	}
	lo, hi, ok := yearRange(max(from, 1), to) // the index holds the facts of known year
	if !ok {
		lo, hi = 1, 0 // no year: an empty walk, but what the overlay holds is still read
	}
	ov, err := s.walkOverlayMemo(ps, lo, hi)
	if err != nil {
		return page, true, err
	}
	b := s.b
	ids := b.facts.ids
	baseKey := func(r walkRef) walkKey { return walkKey{year: r.year, name: b.foldName(r.name), id: ids[r.iid]} }

	// Each predicate's range of the base index in [lo, hi], and the total:
	// the base's facts in range that the overlay did not touch, and the
	// overlay's. A run's key is that of its next fact (refs[i]), made once
	// per fact the merge takes, not once per fact per comparison.
	type run struct {
		refs []walkRef
		i    int
		key  walkKey
	}
	runs := make([]run, 0, len(ps))
	total := len(ov.keys)
	for _, p := range ps {
		refs := b.walk[p]
		i := search(len(refs), func(i int) bool { return refs[i].year >= lo })
		j := search(len(refs), func(i int) bool { return refs[i].year > hi })
		refs = refs[i:j]
		total += len(refs)
		runs = append(runs, run{refs: refs})
	}
	page.Total = total - ov.staleInRange

	oi := 0
	if after != uuid.Nil {
		f, err := s.Fact(after)
		if err != nil && errs.CodeOf(err) != errs.NotFound {
			return page, true, err
		}
		if f == nil || !inWalk(f, ps, lo, hi) {
			return page, true, nil // AfterFound false
		}
		page.AfterFound = true
		k, err := s.walkKeyOf(f)
		if err != nil {
			return page, true, err
		}
		for r := range runs {
			refs := runs[r].refs
			runs[r].i = search(len(refs), func(i int) bool { return compareWalk(baseKey(refs[i]), k) > 0 })
		}
		oi = search(len(ov.keys), func(i int) bool { return compareWalk(ov.keys[i], k) > 0 })
	}
	// next moves r to its next fact the overlay did not touch, and keys it.
	next := func(r *run) {
		if len(ov.dirty) > 0 {
			for r.i < len(r.refs) && ov.dirty[r.refs[r.i].iid] {
				r.i++
			}
		}
		if r.i < len(r.refs) {
			r.key = baseKey(r.refs[r.i])
		}
	}
	for r := range runs {
		next(&runs[r])
	}
	// Merge: n items, and one more to know whether more follow.
	page.IDs = make([]uuid.UUID, 0, min(n+1, 256))
merge:
	for len(page.IDs) < n+1 {
		best := -1
		for r := range runs {
			if runs[r].i < len(runs[r].refs) && (best < 0 || compareWalk(runs[r].key, runs[best].key) < 0) {
				best = r
			}
		}
		switch {
		case oi < len(ov.keys) && (best < 0 || compareWalk(ov.keys[oi], runs[best].key) < 0):
			page.IDs = append(page.IDs, ov.keys[oi].id)
			oi++
		case best >= 0:
			page.IDs = append(page.IDs, runs[best].key.id)
			runs[best].i++
			next(&runs[best])
		default:
			break merge // the walk's end
		}
	}
	if len(page.IDs) > n {
		page.IDs, page.HasNext = page.IDs[:n], true
	}
	return page, true, nil
}
