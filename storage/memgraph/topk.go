package memgraph

import (
	"cmp"
	"slices"
	"strings"

	"policygraph/storage"
)

// Top-k search from the name index. A search answers its hits by score
// (an exact name, a name prefix, a word prefix), then by the entity's name
// as written, shorter first, then alphabetically, then by ID, and keeps the
// first k. At a million entities a common word prefixes tens of thousands
// of names: reading and sorting every hit to keep ten was the whole cost.
// The base ranks its entities in that order once (nameRank); a search then
// reads the name index's range of whole-name terms (score 3 and 2), keeps
// the k best ranks in a small heap, and reads k entities. The word-prefix
// terms (score 1) are needed only when the whole names do not fill k; then,
// and when the overlay holds name terms of the query's range, the general
// path answers (storage.SearchEntities).

// buildNameRank ranks the entities not retracted by (name length, name, ID):
// the order of a search's hits within a score.
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
	bs.nameRank = rank
}

// nodeName is the English name of an entity record: kind(1) slug name.
func nodeName(b []byte) string {
	d := dec{b: b[1:]}
	d.str()
	return d.str()
}

// SearchTop implements storage.TopSearcher.
func (s *Snapshot) SearchTop(q string, kinds []storage.Kind, limit int) ([]storage.SearchHit, bool, error) {
	if q == "" || limit <= 0 || strings.ContainsRune(q, 0) || s.b.nameRank == nil {
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
	names := b.names
	i := search(len(names), func(i int) bool { return b.term(names[i].pos) >= whole })
	j := i + search(len(names)-i, func(k int) bool { return !strings.HasPrefix(b.term(names[i+k].pos), whole) })
	// The k best (score desc, rank asc), distinct entities. An entity
	// listed twice in the range (a label, an alias) comes with its best
	// score first when the exact terms are read first: the exact term
	// "^q" sorts before every longer one.
	type hit struct {
		score int
		rank  uint32
		iid   uint32
	}
	better := func(a, b hit) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		return a.rank < b.rank
	}
	top := make([]hit, 0, limit+1)
	for x := i; x < j; x++ {
		iid := names[x].iid
		score := 2
		if b.term(names[x].pos) == whole {
			score = 3
		}
		h := hit{score: score, rank: b.nameRank[iid], iid: iid}
		if len(top) == limit && !better(h, top[len(top)-1]) {
			continue
		}
		if slices.ContainsFunc(top, func(t hit) bool { return t.iid == iid }) {
			continue // its best score is in already
		}
		if len(kinds) > 0 {
			rec := b.nodes.record(iid)
			if len(rec) == 0 || int(rec[0]) >= len(want) || !want[rec[0]] {
				continue
			}
		}
		at, _ := slices.BinarySearchFunc(top, h, func(t, h hit) int {
			if better(t, h) {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, at, h)
		if len(top) > limit {
			top = top[:limit]
		}
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
