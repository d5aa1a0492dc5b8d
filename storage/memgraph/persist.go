package memgraph

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"hash/maphash"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"policygraph/storage"
)

// Saving a snapshot to a file, and reading it back (issue 11: cold start).
//
// A file holds one snapshot whole: its base's arrays and slabs as they lie
// in memory, the dictionary and text blobs as of its version, its overlay's
// entries, the revisions, the counts and the next internal IDs. Reading it
// back is one read of the file into one buffer, a checksum, and slices and
// strings that point into the buffer: no record is decoded. Only the slug
// index is made again (its hash has a random seed, which does not outlive
// the process): a hash of each entity's slug and a sort, on another core.
//
// Layout: a header, then blocks, then a trailer. Every number is little-
// endian (the arrays are written as they lie in memory: a machine of the
// other byte order refuses the file); a block is its length (8 bytes), its
// bytes, and zeros up to a multiple of 8, so every array starts aligned.
//
//	header:  "PGMODEL\x00" | format(4) | byte order mark 0x01020304 (4) |
//	         schema hash(8) | store ID(16) | version(8) | commit time of the
//	         version's change (8, Unix ns; 0: none)
//	blocks:  in the order writeSnapshot writes them
//	trailer: CRC-32C of everything before it (4) | "PGM." (4)
//
// The schema hash covers the kinds and predicates (their one-byte codes are
// positions in those lists) and the record codec's version (fileFormat): a
// build whose records or codes differ refuses the file, and the model is
// built from the store instead.

const (
	fileMagic   = "PGMODEL\x00"
	fileTrailer = "PGM."
	// fileFormat is the file's format version. Bump it with any change to
	// the record codec (codec.go), the base's arrays (base.go) or the
	// overlay's keys (overlay.go): a file of another format is not read.
	fileFormat = 1
	byteOrder  = 0x01020304
	headerSize = 8 + 4 + 4 + 8 + 16 + 8 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// schemaHash names the kinds and predicates and the format: what the codes
// in a file mean.
var schemaHash = func() uint64 {
	var b strings.Builder
	fmt.Fprintf(&b, "format %d\n", fileFormat)
	for _, k := range kindList {
		fmt.Fprintf(&b, "kind %s\n", k)
	}
	for _, p := range predList {
		fmt.Fprintf(&b, "pred %s\n", p)
	}
	h := fnv.New64a() // the same in every process
	h.Write([]byte(b.String()))
	return h.Sum64()
}()

// FileInfo names a saved snapshot: the store, the version, and the commit
// time of the change of that version (zero when the store had none).
type FileInfo struct {
	StoreID uuid.UUID
	Version uint64
	At      time.Time
}

// ErrBadFile is a file that is not a whole snapshot this build reads
// (damaged, truncated, of another format or schema): it is never trusted.
var ErrBadFile = errors.New("memgraph: not a model file this build reads")

// WriteSnapshot writes s to w in the file format, with info in its header
// (info.Version must be s's). It reads only s, which is immutable: the model
// may go on applying changes meanwhile.
func WriteSnapshot(w io.Writer, s *Snapshot, info FileInfo) error {
	if info.Version != s.version {
		return fmt.Errorf("memgraph: save: snapshot at %d, file named %d", s.version, info.Version)
	}
	crc := crc32.New(castagnoli)
	fw := &fileWriter{w: bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)}
	var h [headerSize]byte
	copy(h[:], fileMagic)
	binary.LittleEndian.PutUint32(h[8:], fileFormat)
	*(*uint32)(unsafe.Pointer(&h[12])) = byteOrder // native order: the arrays are
	binary.LittleEndian.PutUint64(h[16:], schemaHash)
	copy(h[24:], info.StoreID[:])
	binary.LittleEndian.PutUint64(h[40:], info.Version)
	if !info.At.IsZero() {
		binary.LittleEndian.PutUint64(h[48:], uint64(info.At.UnixNano()))
	}
	fw.raw(h[:])
	writeSnapshot(fw, s)
	if fw.err == nil {
		fw.err = fw.w.Flush()
	}
	if fw.err != nil {
		return fmt.Errorf("memgraph: save: %w", fw.err)
	}
	var t [8]byte
	binary.LittleEndian.PutUint32(t[:], crc.Sum32())
	copy(t[4:], fileTrailer)
	if _, err := w.Write(t[:]); err != nil {
		return fmt.Errorf("memgraph: save: %w", err)
	}
	return nil
}

func writeSnapshot(w *fileWriter, s *Snapshot) {
	b := s.b
	w.u64(b.version)
	for _, t := range []*idTable{&b.nodes, &b.facts} {
		putSlice(w, t.ids)
		putSlice(w, t.bucket)
		putSlice(w, t.off)
		w.block(t.slab)
	}
	for d := range 2 {
		putSlice(w, b.adjStart[d])
		putSlice(w, b.adjFact[d])
		putSlice(w, b.adjOther[d])
		putSlice(w, b.adjPS[d])
	}
	w.block(b.folds)
	for k := range numKinds {
		putSlice(w, b.kinds[k])
		putSlice(w, b.nodeYears[k])
	}
	putSlice(w, b.names)
	for p := range numPreds {
		putSlice(w, b.preds[p])
		putSlice(w, b.factYears[p])
		putSlice(w, b.values[p])
	}
	putSlice(w, b.texts)
	w.u64(uint64(len(b.saved)))
	for _, q := range b.saved {
		j, err := json.Marshal(q)
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("saved query %q: %w", q.Name, err)
		}
		w.block(j)
	}

	w.strings(s.strs)
	w.strings(s.blobs)

	// The overlay: keys, values and deletions, in key order.
	n := s.ov.Len()
	keys, vals := make([]string, 0, n), make([]string, 0, n)
	dels := make([]byte, 0, n)
	s.ov.Scan(func(e entry) bool {
		keys, vals = append(keys, e.key), append(vals, e.val)
		d := byte(0)
		if e.del {
			d = 1
		}
		dels = append(dels, d)
		return true
	})
	w.strings(keys)
	w.strings(vals)
	w.block(dels)

	w.u64(uint64(s.revs.Len()))
	s.revs.Scan(func(e revEntry) bool {
		rec, err := storage.EncodeRevision(e.r)
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("revision %d of %s: %w", e.r.Seq, e.r.Node, err)
		}
		w.block(rec)
		return w.err == nil
	})

	c := &s.counts
	for _, n := range c.byKind {
		w.u64(uint64(n))
	}
	w.u64(uint64(c.facts))
	for _, n := range c.byPred {
		w.u64(uint64(n))
	}
	w.u64(uint64(c.maxText))
	countries := make([]string, 0, len(c.country))
	for k := range c.country {
		countries = append(countries, k)
	}
	slices.Sort(countries)
	w.strings(countries)
	for _, k := range countries {
		w.u64(uint64(c.country[k]))
	}
	w.u64(uint64(len(c.byYear)))
	for k, n := range c.byYear {
		w.u64(uint64(k.pred))
		w.u64(uint64(k.year))
		w.u64(uint64(n))
	}
	w.u64(uint64(s.nextNode))
	w.u64(uint64(s.nextFact))
}

type fileWriter struct {
	w   *bufio.Writer
	err error
}

var zeros [8]byte

func (w *fileWriter) raw(b []byte) {
	if w.err != nil {
		return
	}
	_, w.err = w.w.Write(b)
}

func (w *fileWriter) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	w.raw(b[:])
}

// block writes b's length, b, and zeros to a multiple of 8 bytes.
func (w *fileWriter) block(b []byte) {
	w.u64(uint64(len(b)))
	w.raw(b)
	w.raw(zeros[:pad8(len(b))])
}

// strings writes ss as a block of their lengths and one of their bytes.
func (w *fileWriter) strings(ss []string) {
	lens := make([]uint32, len(ss))
	total := 0
	for i, s := range ss {
		lens[i] = uint32(len(s))
		total += len(s)
	}
	putSlice(w, lens)
	w.u64(uint64(total))
	for _, s := range ss {
		w.raw(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
	w.raw(zeros[:pad8(total)])
}

func pad8(n int) int { return (8 - n%8) % 8 }

// putSlice writes a slice of fixed-size, pointer-free values as they lie in
// memory.
func putSlice[T any](w *fileWriter, s []T) {
	var z T
	w.block(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(z))))
}

// fileReader reads the blocks of a file held whole in memory; what it
// returns points into the buffer, which is never modified.
type fileReader struct {
	b   []byte
	off int
	err error
}

func (r *fileReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrBadFile}, args...)...)
	}
}

func (r *fileReader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 8 {
		r.fail("truncated at byte %d", r.off)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *fileReader) count(max int) int {
	n := r.u64()
	if n > uint64(max) {
		r.fail("a count of %d at byte %d", n, r.off-8)
		return 0
	}
	return int(n)
}

func (r *fileReader) block() []byte {
	n := r.u64()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) || int(n)+pad8(int(n)) > len(r.b)-r.off {
		r.fail("a block of %d bytes at byte %d", n, r.off-8)
		return nil
	}
	b := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n) + pad8(int(n))
	return b
}

// getSlice reads a slice putSlice wrote, pointing into the buffer (a copy
// if the buffer is not aligned for T).
func getSlice[T any](r *fileReader) []T {
	b := r.block()
	var z T
	size := int(unsafe.Sizeof(z))
	if len(b)%size != 0 {
		r.fail("a block of %d bytes holds no whole number of %d-byte values", len(b), size)
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%unsafe.Alignof(z) != 0 {
		out := make([]T, len(b)/size)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(b)), b)
		return out
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/size)
}

func (r *fileReader) strings() []string {
	lens := getSlice[uint32](r)
	data := r.block()
	if r.err != nil {
		return nil
	}
	out := make([]string, len(lens))
	p := 0
	for i, n := range lens {
		if int(n) > len(data)-p {
			r.fail("strings overrun their block")
			return nil
		}
		if n > 0 {
			out[i] = unsafe.String(&data[p], int(n))
		}
		p += int(n)
	}
	if p != len(data) {
		r.fail("strings do not fill their block")
	}
	return out
}

// ReadSnapshot reads a file WriteSnapshot wrote, whole in buf (which the
// model then points into: it must not be modified), into a model at the
// file's version. A file damaged, truncated, of another format or schema,
// is an error wrapping ErrBadFile.
func ReadSnapshot(buf []byte) (*Model, FileInfo, error) {
	var info FileInfo
	if len(buf) < headerSize+8 {
		return nil, info, fmt.Errorf("%w: %d bytes", ErrBadFile, len(buf))
	}
	body, tr := buf[:len(buf)-8], buf[len(buf)-8:]
	if string(tr[4:]) != fileTrailer {
		return nil, info, fmt.Errorf("%w: no trailer (truncated?)", ErrBadFile)
	}
	if string(buf[:8]) != fileMagic {
		return nil, info, fmt.Errorf("%w: not a model file", ErrBadFile)
	}
	if f := binary.LittleEndian.Uint32(buf[8:]); f != fileFormat {
		return nil, info, fmt.Errorf("%w: format %d, this build reads %d", ErrBadFile, f, fileFormat)
	}
	if *(*uint32)(unsafe.Pointer(&buf[12])) != byteOrder {
		return nil, info, fmt.Errorf("%w: written on a machine of another byte order", ErrBadFile)
	}
	if h := binary.LittleEndian.Uint64(buf[16:]); h != schemaHash {
		return nil, info, fmt.Errorf("%w: written by a build with other kinds or predicates", ErrBadFile)
	}
	if sum := binary.LittleEndian.Uint32(tr); crc32.Checksum(body, castagnoli) != sum {
		return nil, info, fmt.Errorf("%w: checksum mismatch (damaged)", ErrBadFile)
	}
	info.StoreID = uuid.UUID(buf[24:40])
	info.Version = binary.LittleEndian.Uint64(buf[40:])
	if at := binary.LittleEndian.Uint64(buf[48:]); at != 0 {
		info.At = time.Unix(0, int64(at)).UTC()
	}
	r := &fileReader{b: body, off: headerSize}
	m, err := readSnapshot(r, info.Version)
	if err != nil {
		return nil, info, err
	}
	return m, info, nil
}

func readSnapshot(r *fileReader, version uint64) (*Model, error) {
	b := &base{version: r.u64(), slugSeed: maphash.MakeSeed()}
	for _, t := range []*idTable{&b.nodes, &b.facts} {
		t.ids = getSlice[uuid.UUID](r)
		t.bucket = getSlice[uint32](r)
		t.off = getSlice[uint32](r)
		t.slab = r.block()
	}
	for d := range 2 {
		b.adjStart[d] = getSlice[uint32](r)
		b.adjFact[d] = getSlice[uint32](r)
		b.adjOther[d] = getSlice[uint32](r)
		b.adjPS[d] = getSlice[uint8](r)
	}
	b.folds = r.block()
	for k := range numKinds {
		b.kinds[k] = getSlice[posRef](r)
		b.nodeYears[k] = getSlice[yearRef](r)
	}
	b.names = getSlice[posRef](r)
	for p := range numPreds {
		b.preds[p] = getSlice[uint32](r)
		b.factYears[p] = getSlice[yearRef](r)
		b.values[p] = getSlice[valueRef](r)
	}
	b.texts = getSlice[textRef](r)
	nsaved := r.count(len(r.b))
	for range nsaved {
		j := r.block()
		if r.err != nil {
			break
		}
		q := new(storage.SavedQuery)
		if err := json.Unmarshal(j, q); err != nil {
			r.fail("saved query: %v", err)
			break
		}
		b.saved = append(b.saved, q)
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	b.decoded.init(b.nodes.n()) // as a build's base
	b.decodedFacts.init(b.facts.n())
	// The slug index, made again (its hash's seed is this process's) while
	// the rest is read.
	var wg sync.WaitGroup
	var slugErr error
	wg.Go(func() { slugErr = b.buildSlugsFast() })
	// Made again too: they are derived from the year and kind indexes.
	wg.Go(b.buildWalk)
	wg.Go(b.buildNameRank)

	strs := r.strings()
	blobs := r.strings()
	keys, vals := r.strings(), r.strings()
	dels := r.block()
	ov := newOverlay()
	if r.err == nil && (len(vals) != len(keys) || len(dels) != len(keys)) {
		r.fail("overlay of %d keys, %d values, %d deletions", len(keys), len(vals), len(dels))
	}
	for i := 0; r.err == nil && i < len(keys); i++ {
		if i > 0 && keys[i] <= keys[i-1] {
			r.fail("overlay keys out of order")
			break
		}
		ov.Load(entry{key: keys[i], val: vals[i], del: dels[i] != 0})
	}
	revs := newRevisions()
	nrevs := r.count(len(r.b))
	for i := 0; r.err == nil && i < nrevs; i++ {
		rv, err := storage.DecodeRevision(r.block())
		if err != nil {
			r.fail("revision: %v", err)
			break
		}
		revs.Set(revEntry{node: rv.Node, seq: uint32(rv.Seq), r: rv})
	}
	var c counts
	for k := range c.byKind {
		c.byKind[k] = int(r.u64())
	}
	c.facts = int(r.u64())
	for p := range c.byPred {
		c.byPred[p] = int(r.u64())
	}
	c.maxText = int(r.u64())
	countries := r.strings()
	c.country = make(map[string]int, len(countries))
	for _, k := range countries {
		c.country[k] = int(r.u64())
	}
	ny := r.count(len(r.b))
	c.byYear = make(map[predYear]int, ny)
	for range ny {
		p, y, n := r.u64(), r.u64(), r.u64()
		c.byYear[predYear{pred: uint8(p), year: int(int64(y))}] = int(n)
	}
	next := [2]uint32{uint32(r.u64()), uint32(r.u64())}
	wg.Wait()
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d bytes past the last block", len(r.b)-r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	if slugErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFile, slugErr)
	}
	if len(strs) == 0 || strs[0] != "" || next[0] < b.nodes.n() || next[1] < b.facts.n() || b.version > version {
		return nil, fmt.Errorf("%w: inconsistent dictionary, internal IDs or versions", ErrBadFile)
	}
	for p := range numPreds {
		for _, v := range b.values[p] {
			if int(v.value) >= len(strs) {
				return nil, fmt.Errorf("%w: a value index entry of no dictionary string", ErrBadFile)
			}
		}
	}
	for _, t := range b.texts {
		if int(t.blob) >= len(blobs) {
			return nil, fmt.Errorf("%w: a text of no blob", ErrBadFile)
		}
	}
	d := &dict{strs: strs, ids: make(map[string]uint32, len(strs))}
	for i, s := range strs {
		d.ids[s] = uint32(i)
	}
	m := &Model{gen: &generation{base: b, dict: d, blobs: blobs}, ov: ov, revs: revs, counts: c, version: version, next: next}
	m.publish()
	return m, nil
}

// check checks what a read of the base's records relies on: the arrays'
// lengths agree, and offsets and internal IDs are in range. (The checksum
// says the file is as written; this says it was written whole.)
func (b *base) check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrBadFile, what) }
	for _, t := range []*idTable{&b.nodes, &b.facts} {
		if len(t.off) != len(t.ids) || len(t.bucket) != 1<<16+1 || t.bucket[1<<16] != uint32(len(t.ids)) {
			return bad("an ID table's lengths disagree")
		}
		for _, o := range t.off {
			if int(o) >= len(t.slab) {
				return bad("a record offset past its slab")
			}
		}
	}
	nn, nf := b.nodes.n(), b.facts.n()
	for d := range 2 {
		st, n := b.adjStart[d], len(b.adjFact[d])
		if len(st) != int(nn)+1 || len(b.adjOther[d]) != n || len(b.adjPS[d]) != n || int(st[nn]) != n {
			return bad("adjacency lengths disagree")
		}
		for i := range nn {
			if st[i] > st[i+1] {
				return bad("adjacency starts out of order")
			}
		}
		for i, f := range b.adjFact[d] {
			if f >= nf || (b.adjOther[d][i] >= nn && b.adjOther[d][i] != noNode) {
				return bad("an adjacency entry out of range")
			}
		}
	}
	inNodes := func(refs []posRef, folds bool) bool {
		for _, r := range refs {
			if r.iid >= nn || (folds && int(r.pos) >= len(b.folds)) {
				return false
			}
		}
		return true
	}
	if !inNodes(b.names, true) {
		return bad("a name index entry out of range")
	}
	for k := range numKinds {
		if !inNodes(b.kinds[k], true) {
			return bad("a kind index entry out of range")
		}
		for _, y := range b.nodeYears[k] {
			if y.iid >= nn {
				return bad("a year index entry out of range")
			}
		}
	}
	for p := range numPreds {
		for _, f := range b.preds[p] {
			if f >= nf {
				return bad("a predicate index entry out of range")
			}
		}
		for _, y := range b.factYears[p] {
			if y.iid >= nf {
				return bad("a fact year index entry out of range")
			}
		}
		for _, v := range b.values[p] {
			if v.fact >= nf || v.subject >= nn {
				return bad("a value index entry out of range")
			}
		}
	}
	for _, t := range b.texts {
		if t.node >= nn {
			return bad("a text of no entity")
		}
	}
	return nil
}

// buildSlugsFast is buildSlugs without the check for a slug given twice
// (the file was a model's, which has none): hashes on every core, then a
// sort.
func (b *base) buildSlugsFast() (err error) {
	defer func() {
		// A record the checksum passed but that does not decode (a bug,
		// not damage) must not take the process down: the caller builds
		// the model from the store instead.
		if p := recover(); p != nil {
			err = fmt.Errorf("slug index: %v", p)
		}
	}()
	n := b.nodes.n()
	b.slugs = make([]slugRef, n)
	workers := uint32(max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for iid := w; iid < n; iid += workers {
				b.slugs[iid] = slugRef{hash: b.slugHash(nodeSlug(b.nodes.record(iid))), iid: iid}
			}
		})
	}
	wg.Wait()
	b.slugs = radixSortSlugs(b.slugs)
	return nil
}

// radixSortSlugs sorts refs, in iid order, by (hash, iid): two stable
// counting passes of 16 bits of the hash (a comparison sort of a million
// takes ten times as long).
func radixSortSlugs(refs []slugRef) []slugRef {
	tmp := make([]slugRef, len(refs))
	for _, shift := range []uint{0, 16} {
		var count [1<<16 + 1]int
		for _, r := range refs {
			count[(r.hash>>shift)&0xFFFF+1]++
		}
		for i := range 1 << 16 {
			count[i+1] += count[i]
		}
		for _, r := range refs {
			k := (r.hash >> shift) & 0xFFFF
			tmp[count[k]] = r
			count[k]++
		}
		refs, tmp = tmp, refs
	}
	return refs
}
