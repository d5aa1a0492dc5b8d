package memgraph

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"

	"policygraph/storage"
)

// Top-k search from the name index. A search answers its hits by score
// (an exact name, a name prefix, a word prefix), then by the entity's name
// as written, shorter first, then alphabetically, then by ID, and keeps the
// first k. At a million entities a common word prefixes tens of thousands
// of names: reading and sorting every hit to keep ten was the whole cost,
// and so was reading each hit's rank to keep the ten best in a heap.
//
// The base ranks its entities in that order once, and keeps the rank of
// each whole-name term of the name index (the '^' terms, contiguous in
// names) with a range-minimum index over them (rankMin). A search's exact
// term "^q" (score 3) and then its longer whole-name terms (score 2) are
// each a range of names; their entities come out in rank order, the
// smallest rank of a range found without reading the range, the range
// split around it, and so on until k entities of the kinds asked are in:
// about 2k range-minimum queries, whatever the range's size. The word-prefix
// terms (score 1) are needed only when the whole names do not fill k; then,
// and when the overlay holds name terms of the query's range, the general
// path answers (storage.SearchEntities).

// buildNameRank ranks the entities not retracted by (name length, name, ID),
// the order of a search's hits within a score, and lays out rankMin over
// the ranks of the whole-name terms.
func (bs *base) buildNameRank() {
	n := bs.nodes.n()
	type named struct {
		name string
		iid  uint32
	}
	all := make([]named, 0, n)
	for k := range numKinds {
		for _, r := range bs.kinds[k] {
			all = append(all, named{name: nodeName(bs.nodes.record(r.iid)), iid: r.iid})
		}
	}
	slices.SortFunc(all, func(a, b named) int {
		if len(a.name) != len(b.name) {
			return cmp.Compare(len(a.name), len(b.name))
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.iid, b.iid) // iid order is ID order
	})
	rank := make([]uint32, n)
	for i := range rank {
		rank[i] = noName
	}
	for i, a := range all {
		rank[a.iid] = uint32(i)
	}
	names := bs.names
	lo := search(len(names), func(i int) bool { return bs.term(names[i].pos) >= "^" })
	hi := lo + search(len(names)-lo, func(i int) bool { return !strings.HasPrefix(bs.term(names[lo+i].pos), "^") })
	ranks := make([]uint32, hi-lo)
	for i := range ranks {
		ranks[i] = rank[names[lo+i].iid]
	}
	bs.wholeAt, bs.wholeRanks = lo, newRankMin(ranks)
}

// rankMin finds the smallest of a range of ranks without reading the whole
// range: the ranks in blocks of rankBlock, and a sparse table over the
// blocks (level j holds, for each block b, the position of the smallest
// rank of blocks b to b+2^j-1). A query reads at most two partial blocks
// and two table entries. At a million entities: 4 bytes a whole-name term,
// and about 1 MiB of table.
type rankMin struct {
	ranks  []uint32
	blocks [][]uint32
}

const rankBlock = 64

func newRankMin(ranks []uint32) rankMin {
	r := rankMin{ranks: ranks}
	nb := (len(ranks) + rankBlock - 1) / rankBlock
	if nb == 0 {
		return r
	}
	level := make([]uint32, nb)
	for b := range level {
		level[b] = uint32(r.scan(b*rankBlock, min((b+1)*rankBlock, len(ranks))))
	}
	r.blocks = append(r.blocks, level)
	for w := 1; 2*w <= nb; w *= 2 {
		prev := r.blocks[len(r.blocks)-1]
		next := make([]uint32, nb-2*w+1)
		for b := range next {
			next[b] = r.least(prev[b], prev[b+w])
		}
		r.blocks = append(r.blocks, next)
	}
	return r
}

// least is whichever of positions x < y holds the smaller rank, x on a tie.
func (r *rankMin) least(x, y uint32) uint32 {
	if r.ranks[y] < r.ranks[x] {
		return y
	}
	return x
}

// scan is the position of the smallest rank in [lo, hi) (lo < hi),
// leftmost on a tie, read entry by entry.
func (r *rankMin) scan(lo, hi int) int {
	best := lo
	for i := lo + 1; i < hi; i++ {
		if r.ranks[i] < r.ranks[best] {
			best = i
		}
	}
	return best
}

// min is the position of the smallest rank in [lo, hi) (lo < hi),
// leftmost on a tie.
func (r *rankMin) min(lo, hi int) int {
	bl, bh := lo/rankBlock, (hi-1)/rankBlock
	if bh-bl < 2 {
		if bl == bh {
			return r.scan(lo, hi)
		}
		return int(r.least(uint32(r.scan(lo, (bl+1)*rankBlock)), uint32(r.scan(bh*rankBlock, hi))))
	}
	best := uint32(r.scan(lo, (bl+1)*rankBlock))
	// The whole blocks bl+1 .. bh-1: two spans of 2^j blocks that cover them.
	first, n := bl+1, bh-bl-1
	j := bits.Len(uint(n)) - 1
	best = r.least(best, r.blocks[j][first])
	best = r.least(best, r.blocks[j][first+n-(1<<j)])
	return int(r.least(best, uint32(r.scan(bh*rankBlock, hi))))
}

// inOrder calls yield with the positions of [lo, hi) by rank, smallest
// first (on a tie, leftmost first), until yield returns false.
func (r *rankMin) inOrder(lo, hi int, yield func(int) bool) {
	if lo >= hi {
		return
	}
	// A heap of ranges, each by its smallest rank.
	type span struct{ lo, hi, at int }
	before := func(a, b span) bool {
		ra, rb := r.ranks[a.at], r.ranks[b.at]
		return ra < rb || ra == rb && a.at < b.at
	}
	heap := []span{{lo, hi, r.min(lo, hi)}}
	push := func(s span) {
		heap = append(heap, s)
		for i := len(heap) - 1; i > 0; {
			p := (i - 1) / 2
			if !before(heap[i], heap[p]) {
				break
			}
			heap[i], heap[p] = heap[p], heap[i]
			i = p
		}
	}
	for len(heap) > 0 {
		top := heap[0]
		last := len(heap) - 1
		heap[0] = heap[last]
		heap = heap[:last]
		for i := 0; ; {
			c := 2*i + 1
			if c >= len(heap) {
				break
			}
			if c+1 < len(heap) && before(heap[c+1], heap[c]) {
				c++
			}
			if !before(heap[c], heap[i]) {
				break
			}
			heap[i], heap[c] = heap[c], heap[i]
			i = c
		}
		if !yield(top.at) {
			return
		}
		if top.lo < top.at {
			push(span{top.lo, top.at, r.min(top.lo, top.at)})
		}
		if top.at+1 < top.hi {
			push(span{top.at + 1, top.hi, r.min(top.at+1, top.hi)})
		}
	}
}

// nodeName is the English name of an entity record: kind(1) slug name.
func nodeName(b []byte) string {
	d := dec{b: b[1:]}
	d.str()
	return d.str()
}

// SearchTop implements storage.TopSearcher.
func (s *Snapshot) SearchTop(q string, kinds []storage.Kind, limit int) ([]storage.SearchHit, bool, error) {
	if q == "" || limit <= 0 || strings.ContainsRune(q, 0) || s.b.wholeRanks.ranks == nil {
		return nil, false, nil
	}
	whole := "^" + q
	// The overlay's name terms of the range make the base's stale.
	if s.ov.Len() > 0 {
		seek := newKey(keyName, len(whole)).str(whole).s()
		stale := false
		s.ov.Ascend(entry{key: seek}, func(e entry) bool {
			stale = hasPrefix(e.key, seek)
			return false
		})
		if stale {
			return nil, false, nil
		}
		// An entity of the base changed since (renamed, retracted, its
		// kind's view): its rank and terms may be stale.
		changed := false
		s.ov.Ascend(entry{key: string([]byte{keyNode})}, func(e entry) bool {
			changed = e.key[0] == keyNode
			return false
		})
		if changed {
			return nil, false, nil
		}
	}
	var want [numKinds]bool
	for _, k := range kinds {
		if i, ok := kindIndex[k]; ok {
			want[i] = true
		}
	}
	b := s.b
	names, at := b.names, b.wholeAt
	// names[i:j] are the whole-name terms that start with q; [i:e) is the
	// exact term's (it sorts before every longer one).
	i := search(len(names), func(i int) bool { return b.term(names[i].pos) >= whole })
	j := i + search(len(names)-i, func(k int) bool { return !strings.HasPrefix(b.term(names[i+k].pos), whole) })
	e := i + search(j-i, func(k int) bool { return b.term(names[i+k].pos) != whole })
	type hit struct {
		score int
		iid   uint32
	}
	// The k best (score desc, rank asc), distinct entities: an entity
	// with an exact term is a hit of score 3, not again of score 2, and
	// one with two terms in the prefix range (a label, an alias) comes
	// out twice in a row (one rank).
	top := make([]hit, 0, min(limit, 64))
	for _, r := range []struct{ score, lo, hi int }{{3, i, e}, {2, e, j}} {
		if len(top) == limit {
			break
		}
		b.wholeRanks.inOrder(r.lo-at, r.hi-at, func(x int) bool {
			iid := names[at+x].iid
			if slices.ContainsFunc(top, func(t hit) bool { return t.iid == iid }) {
				return true
			}
			if len(kinds) > 0 {
				rec := b.nodes.record(iid)
				if len(rec) == 0 || int(rec[0]) >= len(want) || !want[rec[0]] {
					return true
				}
			}
			top = append(top, hit{score: r.score, iid: iid})
			return len(top) < limit
		})
	}
	if len(top) < limit {
		return nil, false, nil // the word prefixes count: the general path
	}
	out := make([]storage.SearchHit, len(top))
	for x, h := range top {
		out[x] = storage.SearchHit{ID: b.nodes.ids[h.iid], Score: h.score}
	}
	return out, true, nil
}
