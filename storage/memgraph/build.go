package memgraph

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/google/uuid"
	"github.com/tidwall/btree"

	"policygraph/storage"
)

// Builder makes a model from every record of a graph at one version: the
// cold start (from a store scan) and each compaction (from a snapshot).
// Records may come in any order within their kind, but every entity and
// source text must come before the first fact: a fact's entities become
// internal IDs as it is added. Saved queries and revisions may come at any
// time. It is a storage.RecordSink.
// A Builder is for one goroutine; after Build it is spent.
type Builder struct {
	version uint64
	dict    *dict
	blobs   []string
	seed    maphash.Seed
	err     error

	// Entities in arrival order until the first fact; then, frozen, in ID
	// order in nodes, with meta and the text blobs by internal ID.
	arrivalIDs []uuid.UUID
	arrivalOff []uint32
	slab       []byte
	meta       []nodeMeta
	folds      []byte
	textOf     map[uuid.UUID]uint32

	frozen   bool
	nodes    idTable
	blobOf   map[uint32]uint32 // source entity -> blob
	quoteOff map[quoteKey]uint32

	factIDs  []uuid.UUID
	factOff  []uint32
	factSlab []byte
	factMeta []factMeta
	scratch  []byte

	saved []*storage.SavedQuery
	revs  *btree.BTreeG[revEntry]
}

var _ storage.RecordSink = (*Builder)(nil)

type nodeMeta struct {
	kind      uint8
	retracted bool
	year      uint16
	// folds[foldFrom:foldTo] are the entity's folded names (none when
	// retracted: it leaves the name indexes).
	foldFrom, foldTo uint32
}

// quoteKey finds the offset of a quote in a blob already seen: facts quote
// the same sentences again and again, and each miss is a search of the text.
type quoteKey struct {
	blob, n    uint32
	head, tail uint64 // the quote's first and last eight bytes (a hit is checked)
}

// maxQuoteMemo bounds the quote offsets a build remembers.
const maxQuoteMemo = 1 << 20

// NewBuilder starts a model of the graph at version.
func NewBuilder(version uint64) *Builder {
	return &Builder{version: version, dict: newDict(), seed: maphash.MakeSeed(), textOf: map[uuid.UUID]uint32{},
		blobOf: map[uint32]uint32{}, quoteOff: map[quoteKey]uint32{}, revs: newRevisions()}
}

// Node adds an entity. It fails after the first fact, for an unknown kind,
// and (at Build) for an ID or slug given twice.
func (b *Builder) Node(n *storage.Node) error {
	if b.err != nil {
		return b.err
	}
	if b.frozen {
		return b.fail(fmt.Errorf("memgraph: entity %s after the first fact: add every entity and text first", n.ID))
	}
	start := len(b.slab)
	rec, err := encodeNode(b.scratch[:0], b.dict, n)
	if err != nil {
		return b.fail(err)
	}
	b.scratch = rec
	b.slab = binary.AppendUvarint(b.slab, uint64(len(rec)))
	b.slab = append(b.slab, rec...)
	if len(b.slab) > maxSlab {
		return b.fail(errTooLarge)
	}
	m := nodeMeta{kind: kindIndex[n.Kind], retracted: n.Retraction != nil, year: uint16(n.Year)}
	if !m.retracted {
		var from uint32
		b.folds, from = appendFolds(b.folds, n)
		m.foldFrom, m.foldTo = from, uint32(len(b.folds))
		if len(b.folds) > maxSlab {
			return b.fail(errTooLarge)
		}
	}
	b.arrivalIDs = append(b.arrivalIDs, n.ID)
	b.arrivalOff = append(b.arrivalOff, uint32(start))
	b.meta = append(b.meta, m)
	return nil
}

// maxSlab bounds each byte slab: offsets into it are 32-bit. About 50
// million facts of the synthetic graph's shape fit in the fact slab.
const maxSlab = 1<<32 - 1

var errTooLarge = errors.New("memgraph: the graph outgrows a 4GiB slab")

// Text adds the full text of a source entity. It fails after the first fact.
func (b *Builder) Text(t storage.SourceText) error {
	id, text := t.ID, t.Text
	if b.err != nil {
		return b.err
	}
	if b.frozen {
		return b.fail(fmt.Errorf("memgraph: text of %s after the first fact: add every entity and text first", id))
	}
	b.textOf[id] = uint32(len(b.blobs))
	b.blobs = append(b.blobs, text)
	return nil
}

// Saved adds a saved query.
func (b *Builder) Saved(q *storage.SavedQuery) error {
	if b.err != nil {
		return b.err
	}
	c := *q
	b.saved = append(b.saved, &c)
	return nil
}

// Revision adds a revision of an entity (storage.Revision).
func (b *Builder) Revision(r *storage.Revision) error {
	if b.err != nil {
		return b.err
	}
	if err := putRevision(b.revs, r); err != nil {
		return b.fail(err)
	}
	return nil
}

// Fact adds a fact. It fails for an unknown predicate or a subject or object
// that is not an entity added before.
func (b *Builder) Fact(f *storage.Fact) error {
	if b.err != nil {
		return b.err
	}
	if !b.frozen {
		if err := b.freeze(); err != nil {
			return b.fail(err)
		}
	}
	rec, err := encodeFact(b.scratch[:0], b.dict, b, f)
	if err != nil {
		return b.fail(err)
	}
	b.scratch = rec
	fm, _ := peekFact(rec)
	start := len(b.factSlab)
	b.factSlab = binary.AppendUvarint(b.factSlab, uint64(len(rec)))
	b.factSlab = append(b.factSlab, rec...)
	if len(b.factSlab) > maxSlab {
		return b.fail(errTooLarge)
	}
	b.factIDs = append(b.factIDs, f.ID)
	b.factOff = append(b.factOff, uint32(start))
	b.factMeta = append(b.factMeta, fm)
	return nil
}

func (b *Builder) fail(err error) error {
	b.err = err
	return err
}

// nodeIID and quoteSpan make the Builder the refs of the facts it encodes.
func (b *Builder) nodeIID(id uuid.UUID) (uint32, bool) { return b.nodes.find(id) }

func (b *Builder) quoteSpan(source uint32, quote string) (uint32, uint32, bool) {
	blob, ok := b.blobOf[source]
	if !ok || quote == "" {
		return 0, 0, false
	}
	text := b.blobs[blob]
	var h, t [8]byte
	copy(h[:], quote)
	copy(t[:], quote[max(0, len(quote)-8):])
	k := quoteKey{blob: blob, n: uint32(len(quote)), head: binary.LittleEndian.Uint64(h[:]), tail: binary.LittleEndian.Uint64(t[:])}
	if off, ok := b.quoteOff[k]; ok && text[off:int(off)+len(quote)] == quote {
		return blob, off, true
	}
	i := strings.Index(text, quote)
	if i < 0 {
		return 0, 0, false
	}
	if len(b.quoteOff) >= maxQuoteMemo {
		clear(b.quoteOff)
	}
	b.quoteOff[k] = uint32(i)
	return blob, uint32(i), true
}

// freeze puts the entities in ID order: from now on they have their
// internal IDs, which facts refer to.
func (b *Builder) freeze() error {
	b.frozen = true
	order := sortedOrder(b.arrivalIDs)
	n := len(order)
	t := idTable{ids: make([]uuid.UUID, n), off: make([]uint32, n), slab: b.slab}
	meta := make([]nodeMeta, n)
	for i, a := range order {
		t.ids[i], t.off[i], meta[i] = b.arrivalIDs[a], b.arrivalOff[a], b.meta[a]
		if i > 0 && t.ids[i] == t.ids[i-1] {
			return fmt.Errorf("memgraph: entity %s given twice", t.ids[i])
		}
	}
	t.bucket = makeBuckets(t.ids)
	b.nodes, b.meta = t, meta
	b.arrivalIDs, b.arrivalOff = nil, nil
	for id, blob := range b.textOf {
		iid, ok := t.find(id)
		if !ok {
			return fmt.Errorf("memgraph: text of %s, which is no entity", id)
		}
		b.blobOf[iid] = blob
	}
	b.textOf = nil
	return nil
}

// sortedOrder returns the positions of ids in ID order: dealt into buckets
// by their first two bytes (random IDs spread evenly), then each bucket
// sorted.
func sortedOrder(ids []uuid.UUID) []uint32 {
	start := make([]uint32, 1<<16+1)
	for _, id := range ids {
		start[int(id[0])<<8|int(id[1])+1]++
	}
	for h := range 1 << 16 {
		start[h+1] += start[h]
	}
	cur := slices.Clone(start[:1<<16])
	order := make([]uint32, len(ids))
	for i, id := range ids {
		h := int(id[0])<<8 | int(id[1])
		order[cur[h]] = uint32(i)
		cur[h]++
	}
	for h := range 1 << 16 {
		if seg := order[start[h]:start[h+1]]; len(seg) > 1 {
			slices.SortFunc(seg, func(a, c uint32) int { return compareID(ids[a], ids[c]) })
		}
	}
	return order
}

func compareID(a, b uuid.UUID) int {
	if x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8]); x != y {
		return cmp.Compare(x, y)
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// Build makes the model. The Builder is spent.
func (b *Builder) Build() (*Model, error) {
	if b.err != nil {
		return nil, b.err
	}
	if !b.frozen {
		if err := b.freeze(); err != nil {
			return nil, err
		}
	}
	bs, c, err := b.buildBase()
	if err != nil {
		return nil, err
	}
	return newModel(bs, b.dict, b.blobs, c, b.revs), nil
}

// buildBase lays out the base arrays; independent parts are built in
// parallel.
func (b *Builder) buildBase() (*base, counts, error) {
	bs := &base{version: b.version, nodes: b.nodes, folds: b.folds, slugSeed: b.seed}
	bs.decoded.init(bs.nodes.n())
	var c counts
	c.country = map[string]int{}

	order := sortedOrder(b.factIDs)
	nf := len(order)
	ft := idTable{ids: make([]uuid.UUID, nf), off: make([]uint32, nf), slab: b.factSlab}
	fmeta := make([]factMeta, nf)
	for i, a := range order {
		ft.ids[i], ft.off[i], fmeta[i] = b.factIDs[a], b.factOff[a], b.factMeta[a]
		if i > 0 && ft.ids[i] == ft.ids[i-1] {
			return nil, c, fmt.Errorf("memgraph: fact %s given twice", ft.ids[i])
		}
	}
	b.factIDs, b.factOff, b.factMeta = nil, nil, nil
	ft.bucket = makeBuckets(ft.ids)
	bs.facts = ft
	bs.decodedFacts.init(ft.n())

	var wg sync.WaitGroup
	var slugErr error
	wg.Go(func() { bs.buildAdjacency(fmeta) })
	wg.Go(func() { bs.buildFactIndexes(fmeta, b.dict.strs) })
	wg.Go(func() { bs.buildNames(b.meta) })
	wg.Go(func() { bs.buildKinds(b.meta); slugErr = bs.buildSlugs() })
	wg.Wait()
	if slugErr != nil {
		return nil, c, slugErr
	}
	wg.Go(bs.buildWalk)
	wg.Go(bs.buildNameRank)
	wg.Wait()

	for node, blob := range b.blobOf {
		bs.texts = append(bs.texts, textRef{node: node, blob: blob})
		c.maxText = max(c.maxText, len(b.blobs[blob]))
	}
	slices.SortFunc(bs.texts, func(x, y textRef) int { return cmp.Compare(x.node, y.node) })
	slices.SortFunc(b.saved, func(x, y *storage.SavedQuery) int { return strings.Compare(x.Name, y.Name) })
	for i := 1; i < len(b.saved); i++ {
		if b.saved[i].Name == b.saved[i-1].Name {
			return nil, c, fmt.Errorf("memgraph: saved query %q given twice", b.saved[i].Name)
		}
	}
	bs.saved = b.saved

	for _, m := range b.meta {
		if !m.retracted {
			c.byKind[m.kind]++
		}
	}
	c.facts = nf
	for p := range bs.preds {
		c.byPred[p] = len(bs.preds[p])
	}
	country := predIndex[storage.PredCountry]
	for _, v := range bs.values[country] {
		c.country[b.dict.strs[v.value]]++
	}
	c.byYear = map[predYear]int{}
	for p := range bs.factYears {
		for _, r := range bs.factYears[p] {
			c.byYear[predYear{uint8(p), int(r.year)}]++
		}
	}
	return bs, c, nil
}

// buildAdjacency lays out both adjacencies: facts grouped by predicate, in
// ID order within each, are dealt to their nodes, so each node's entries
// come out in (predicate, fact ID) order.
func (bs *base) buildAdjacency(fmeta []factMeta) {
	nn := bs.nodes.n()
	var byPred [numPreds][]uint32
	for iid, m := range fmeta {
		byPred[m.pred] = append(byPred[m.pred], uint32(iid))
	}
	for d := range 2 {
		start := make([]uint32, nn+1)
		total := 0
		for _, m := range fmeta {
			end := m.subject
			if d == 1 {
				end = m.object
			}
			if end != noNode {
				start[end+1]++
				total++
			}
		}
		for i := range nn {
			start[i+1] += start[i]
		}
		facts, others, ps := make([]uint32, total), make([]uint32, total), make([]uint8, total)
		cur := slices.Clone(start[:nn])
		for p := range byPred {
			for _, f := range byPred[p] {
				m := fmeta[f]
				end, other := m.subject, m.object
				if d == 1 {
					end, other = m.object, m.subject
				}
				if end == noNode {
					continue
				}
				i := cur[end]
				cur[end]++
				facts[i], others[i], ps[i] = f, other, uint8(p)<<2|uint8(m.state)
			}
		}
		bs.adjStart[d], bs.adjFact[d], bs.adjOther[d], bs.adjPS[d] = start, facts, others, ps
	}
}

// buildFactIndexes lays out the active facts by predicate, by year and by
// value.
func (bs *base) buildFactIndexes(fmeta []factMeta, strs []string) {
	for iid, m := range fmeta {
		if m.state != storage.Active {
			continue
		}
		bs.preds[m.pred] = append(bs.preds[m.pred], uint32(iid))
		if m.year != 0 {
			bs.factYears[m.pred] = append(bs.factYears[m.pred], yearRef{iid: uint32(iid), year: uint16(m.year)})
		}
		if m.value != 0 {
			bs.values[m.pred] = append(bs.values[m.pred], valueRef{value: m.value, fact: uint32(iid), subject: m.subject})
		}
	}
	for p := range numPreds {
		sortYearRefs(bs.factYears[p])
		slices.SortFunc(bs.values[p], func(x, y valueRef) int {
			if x.value != y.value {
				return strings.Compare(strs[x.value], strs[y.value])
			}
			return cmp.Compare(x.fact, y.fact)
		})
	}
}

func sortYearRefs(refs []yearRef) {
	slices.SortFunc(refs, func(x, y yearRef) int {
		if x.year != y.year {
			return cmp.Compare(x.year, y.year)
		}
		return cmp.Compare(x.iid, y.iid)
	})
}

// headed is a term or name with its first sixteen bytes as two numbers,
// so that most comparisons of a sort are of integers, and its length.
type headed struct {
	head        [2]uint64
	pos, n, iid uint32
}

func (bs *base) headed(pos, iid uint32) headed {
	t := bs.term(pos)
	var b [16]byte
	copy(b[:], t)
	return headed{head: [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}, pos: pos, n: uint32(len(t)), iid: iid}
}

// sortHeaded sorts terms by (text, iid). Equal heads mean equal first
// sixteen bytes, and as no term holds a 0x00, equal texts when either is
// that short: only longer ones compare their bytes past the head.
func (bs *base) sortHeaded(refs []headed) []posRef {
	f := bs.folds
	slices.SortFunc(refs, func(x, y headed) int {
		if x.head[0] != y.head[0] {
			return cmp.Compare(x.head[0], y.head[0])
		}
		if x.head[1] != y.head[1] {
			return cmp.Compare(x.head[1], y.head[1])
		}
		if x.n > 16 && y.n > 16 {
			a := unsafe.String(&f[x.pos+16], x.n-16)
			b := unsafe.String(&f[y.pos+16], y.n-16)
			if c := strings.Compare(a, b); c != 0 {
				return c
			}
		} else if x.n != y.n {
			return cmp.Compare(x.n, y.n)
		}
		return cmp.Compare(x.iid, y.iid)
	})
	out := make([]posRef, len(refs))
	for i, r := range refs {
		out[i] = posRef{pos: r.pos, iid: r.iid}
	}
	return out
}

// buildNames lays out the search index.
func (bs *base) buildNames(meta []nodeMeta) {
	var refs []headed
	var terms []uint32
	for iid, m := range meta {
		if m.retracted {
			continue
		}
		terms = termsOf(bs.folds, m.foldFrom, m.foldTo, terms[:0])
		for _, p := range terms {
			refs = append(refs, bs.headed(p, uint32(iid)))
		}
	}
	bs.names = bs.sortHeaded(refs)
}

// buildKinds lays out the kind index (by folded name) and the entity year
// index.
func (bs *base) buildKinds(meta []nodeMeta) {
	var refs [numKinds][]headed
	for iid, m := range meta {
		if m.retracted {
			continue
		}
		refs[m.kind] = append(refs[m.kind], bs.headed(m.foldFrom+1, uint32(iid))) // the name, past its '^'
		if m.year != 0 {
			bs.nodeYears[m.kind] = append(bs.nodeYears[m.kind], yearRef{iid: uint32(iid), year: m.year})
		}
	}
	for k := range numKinds {
		bs.kinds[k] = bs.sortHeaded(refs[k])
		for i := range bs.kinds[k] {
			bs.kinds[k][i].pos--
		}
		sortYearRefs(bs.nodeYears[k])
	}
}

// buildSlugs lays out the slug index; it fails for a slug two entities have.
func (bs *base) buildSlugs() error {
	n := bs.nodes.n()
	bs.slugs = make([]slugRef, n)
	for iid := range n {
		bs.slugs[iid] = slugRef{hash: bs.slugHash(nodeSlug(bs.nodes.record(iid))), iid: iid}
	}
	slices.SortFunc(bs.slugs, func(x, y slugRef) int {
		if x.hash != y.hash {
			return cmp.Compare(x.hash, y.hash)
		}
		return cmp.Compare(x.iid, y.iid)
	})
	for i := 1; i < len(bs.slugs); i++ {
		for j := i - 1; j >= 0 && bs.slugs[j].hash == bs.slugs[i].hash; j-- {
			a, c := nodeSlug(bs.nodes.record(bs.slugs[i].iid)), nodeSlug(bs.nodes.record(bs.slugs[j].iid))
			if a == c {
				return fmt.Errorf("memgraph: slug %q given to two entities", a)
			}
		}
	}
	return nil
}
