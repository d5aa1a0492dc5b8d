package badger

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"

	"policygraph/storage"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
)

// streamBulkWriter is Badger's BulkWriter for a store that holds no graph yet
// (what Import loads into). It gathers pairs in memory, and Flush sorts them
// and hands them to a Badger StreamWriter, which builds the SSTables of the
// last level directly: no memtables, no write-ahead log, no compactions. A
// WriteBatch import spent most of its wall time waiting on those (L0 stalls
// while compactions caught up) and a quarter of its CPU in memtable inserts.
//
// Memory follows the import's budget (Options.BulkMemory, see
// bulkBudget): when the pairs in memory reach their share, they are sorted
// and written to a temporary file as a sorted run, and the memory is reused;
// Flush merges the runs (and what is still in memory) into the StreamWriter.
// An import larger than its budget thus costs one more write and read of its
// pairs, not a slower path. Flush replaces the store's contents: it carries
// over what the store held (Open's format key), and nothing may write to the
// store while it runs.
type streamBulkWriter struct {
	b      *KV
	budget bulkBudget

	// The arena: chunks of budget.chunk bytes (a pair larger than that gets
	// a chunk of its own), so that growing it never copies it; filled in
	// order, from chunks[cur], and kept for reuse after a spill.
	chunks [][]byte
	cur    int
	// One list of pairs per first key byte (the key kind), sorted separately
	// and in parallel; in kind order they are one sorted run.
	streams [256]stream
	used    int64 // bytes of the pairs in memory and of their refs, against budget.pairs

	runs   []*runFile // sorted runs on disk, oldest first
	tmpDir string     // where the runs are, made on the first spill
}

type stream struct {
	pairs  []pairRef
	sorted bool // every pair so far came after the one before
}

// pairRef locates a pair in the arena; head holds the 8 key bytes after the
// kind byte, big-endian, so most comparisons need not touch the arena. Chunk
// and offset, compared in that order, give the order pairs were Set in.
type pairRef struct {
	head       uint64
	chunk, off uint32
	klen, vlen uint32
}

const pairRefSize = 24 // bytes of a pairRef

// bulkBudget is how an import spends its memory budget (Options.BulkMemory).
// A quarter goes to the pairs gathered in memory; the tables the StreamWriter
// builds are budget/128 (it finishes up to 16 at once, each in a buffer of
// twice its size: another quarter); an eighth to Badger's memtable (which
// an import does not fill, but allocates); and the rest to the feed buffer,
// Badger's block cache, the records being decoded and the garbage
// collector's headroom. What grows with the node count (the importer's index
// of IDs, kinds and slugs, about 70 bytes a node, and Badger's table
// indexes) comes on top.
type bulkBudget struct {
	total     int64
	pairs     int64 // arena and pair lists
	chunk     int64 // arena chunk size
	table     int64 // size of the tables the StreamWriter writes
	memtable  int64
	feed      int // bytes handed to the StreamWriter at once
	readAhead int // buffer of each sorted run read back
}

// MinBulkMemory is the least import budget the import command takes: Badger
// and the decoding need about 40MiB besides what the budget divides.
const MinBulkMemory = 128 << 20

func newBulkBudget(total int64) bulkBudget {
	if total <= 0 {
		total = DefaultBulkMemory
	}
	b := bulkBudget{total: total, pairs: total / 4}
	b.chunk = min(max(b.pairs/16, 1<<20), 64<<20)
	b.table = min(max(total/128, 1<<20), 64<<20)
	b.memtable = min(max(total/8, 16<<20), DefaultMemTableSize)
	b.feed = int(min(max(total/64, 1<<20), 32<<20))
	b.readAhead = int(min(max(total/256, 64<<10), 1<<20))
	return b
}

// bulkOptions tunes Badger for an import with the budget: the StreamWriter
// writes tables of BaseTableSize times TableSizeMultiplier to the power
// MaxLevels-2 (64MiB by default: 16 in flight held 2GiB), the memtable
// shrinks with the budget (down to 16MiB, which keeps Badger's value
// threshold at 1MiB), and the block cache, which an import barely reads,
// gets a 32nd of the budget.
func bulkOptions(opts badgerdb.Options, total int64) badgerdb.Options {
	b := newBulkBudget(total)
	base := b.table
	for i := 2; i < opts.MaxLevels; i++ {
		base /= int64(opts.TableSizeMultiplier)
	}
	if b.memtable < opts.MemTableSize {
		opts = withMemTableSize(opts, b.memtable)
	}
	return opts.WithBaseTableSize(max(base, 32<<10)).WithBlockCacheSize(b.total / 32)
}

func (w *streamBulkWriter) bytes(p pairRef) []byte {
	return w.chunks[p.chunk][p.off : p.off+p.klen+p.vlen]
}

func (w *streamBulkWriter) key(p pairRef) []byte {
	return w.chunks[p.chunk][p.off : p.off+p.klen]
}

func (w *streamBulkWriter) val(p pairRef) []byte {
	return w.chunks[p.chunk][p.off+p.klen : p.off+p.klen+p.vlen]
}

// keyHead is pairRef.head: k's bytes 1 to 8, zero-padded, big-endian. It
// reads no part of the key layout (storage/keys.go): for any two keys with
// the same first byte (one stream), heads that differ order them as
// bytes.Compare does, and equal heads leave it to bytes.Compare
// (FuzzKeyHead). The streams split keys by their first byte the same way.
func keyHead(k []byte) uint64 {
	var b [8]byte
	if len(k) > 1 {
		copy(b[:], k[1:])
	}
	return binary.BigEndian.Uint64(b[:])
}

func (w *streamBulkWriter) compare(a, b pairRef) int {
	if a.head != b.head {
		if a.head < b.head {
			return -1
		}
		return 1
	}
	return bytes.Compare(w.key(a), w.key(b))
}

// Set implements storage.BulkWriter. An empty key is refused (Badger refuses it too).
func (w *streamBulkWriter) Set(key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("bulk set: empty key")
	}
	if len(key)+len(value) > 1<<30 {
		return fmt.Errorf("bulk set: a pair of %d bytes", len(key)+len(value))
	}
	n := int64(len(key)+len(value)) + pairRefSize
	if w.used > 0 && w.used+n > w.budget.pairs {
		if err := w.spill(); err != nil {
			return err
		}
	}
	w.used += n
	p := w.store(key, value)
	s := &w.streams[key[0]]
	if len(s.pairs) == 0 {
		s.sorted = true
	} else if s.sorted && w.compare(s.pairs[len(s.pairs)-1], p) >= 0 {
		s.sorted = false
	}
	s.pairs = append(s.pairs, p)
	return nil
}

// store copies a pair into the arena.
func (w *streamBulkWriter) store(key, value []byte) pairRef {
	n := len(key) + len(value)
	for w.cur < len(w.chunks) && cap(w.chunks[w.cur])-len(w.chunks[w.cur]) < n {
		w.cur++
	}
	if w.cur == len(w.chunks) {
		w.chunks = append(w.chunks, make([]byte, 0, max(int(w.budget.chunk), n)))
	}
	c := w.chunks[w.cur]
	p := pairRef{head: keyHead(key), chunk: uint32(w.cur), off: uint32(len(c)), klen: uint32(len(key)), vlen: uint32(len(value))}
	w.chunks[w.cur] = append(append(c, key...), value...)
	return p
}

// sortStreams sorts the streams that did not come sorted, one goroutine per
// CPU, and drops duplicate keys (the last Set wins, as in a batch).
func (w *streamBulkWriter) sortStreams() {
	var wg sync.WaitGroup
	work := make(chan *stream)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for s := range work {
				if !s.sorted {
					// Equal keys stay in the order they were Set (by
					// chunk and offset), so dedupe keeps the last.
					slices.SortFunc(s.pairs, func(a, b pairRef) int {
						if c := w.compare(a, b); c != 0 {
							return c
						}
						return cmp.Or(cmp.Compare(a.chunk, b.chunk), cmp.Compare(a.off, b.off))
					})
				}
				s.pairs = w.dedupe(s.pairs)
			}
		})
	}
	for i := range w.streams {
		if len(w.streams[i].pairs) > 0 {
			work <- &w.streams[i]
		}
	}
	close(work)
	wg.Wait()
}

// dedupe keeps the last of each run of equal keys in sorted pairs.
func (w *streamBulkWriter) dedupe(pairs []pairRef) []pairRef {
	out := pairs[:0]
	for i, p := range pairs {
		if i+1 < len(pairs) && w.compare(p, pairs[i+1]) == 0 {
			continue
		}
		out = append(out, p)
	}
	return out
}

// spill sorts the pairs in memory into a run file and empties the arena,
// keeping its chunks and lists for the next pairs.
func (w *streamBulkWriter) spill() error {
	w.sortStreams()
	var size int64
	for i := range w.streams {
		for _, p := range w.streams[i].pairs {
			size += int64(p.klen + p.vlen + 10)
		}
	}
	if err := w.b.disk.check(size); err != nil {
		return err
	}
	if w.tmpDir == "" {
		parent := w.b.DB.Opts().Dir // the disk the store goes on, which the watermark guards
		if parent == "" {
			parent = os.TempDir()
		}
		dir, err := os.MkdirTemp(parent, "import-runs-")
		if err != nil {
			return fmt.Errorf("bulk: %w", err)
		}
		w.tmpDir = dir
	}
	f, err := os.CreateTemp(w.tmpDir, "run-")
	if err != nil {
		return fmt.Errorf("bulk: %w", err)
	}
	run := &runFile{f: f}
	w.runs = append(w.runs, run) // removed by Cancel, even when this fails
	bw := bufio.NewWriterSize(f, 1<<20)
	var hdr [2 * binary.MaxVarintLen32]byte
	for i := range w.streams {
		for _, p := range w.streams[i].pairs {
			n := binary.PutUvarint(hdr[:], uint64(p.klen))
			n += binary.PutUvarint(hdr[n:], uint64(p.vlen))
			bw.Write(hdr[:n])
			if _, err := bw.Write(w.bytes(p)); err != nil {
				return fmt.Errorf("bulk: write a sorted run: %w", err)
			}
		}
		w.streams[i].pairs = w.streams[i].pairs[:0]
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("bulk: write a sorted run: %w", err)
	}
	// Keep the chunks of the usual size for the next pairs, from the first on.
	kept := w.chunks[:0]
	for _, c := range w.chunks {
		if int64(cap(c)) == w.budget.chunk {
			kept = append(kept, c[:0])
		}
	}
	clear(w.chunks[len(kept):])
	w.chunks, w.cur, w.used = kept, 0, 0
	return nil
}

// SortedRuns is how many runs the writer has spilled to disk so far (Import
// reports it).
func (w *streamBulkWriter) SortedRuns() int { return len(w.runs) }

// accounted is what the arena and the pair lists hold on to.
func (w *streamBulkWriter) accounted() int64 {
	var n int64
	for _, c := range w.chunks {
		n += int64(cap(c))
	}
	for i := range w.streams {
		n += int64(cap(w.streams[i].pairs)) * pairRefSize
	}
	return n
}

// Cancel implements storage.BulkWriter.
func (w *streamBulkWriter) Cancel() {
	for _, r := range w.runs {
		r.f.Close()
	}
	if w.tmpDir != "" {
		os.RemoveAll(w.tmpDir)
	}
	w.chunks, w.cur, w.streams, w.runs, w.tmpDir, w.used = nil, 0, [256]stream{}, nil, "", 0
}

// Flush implements storage.BulkWriter: it sorts what is in memory, merges it with the
// sorted runs on disk, drops duplicate keys (the last Set wins, as in a batch)
// and streams the result into the store, replacing its contents.
func (w *streamBulkWriter) Flush() error {
	defer w.Cancel()
	// What the store holds already (Open's format key): StreamWriter.Prepare
	// drops it, so it goes into the streams too (and wins over an imported
	// pair with its key, being Set last).
	type pair struct{ key, val []byte }
	var existing []pair
	err := w.b.View(func(tx storage.Txn) error {
		return tx.Scan(nil, false, func(k, v []byte) error {
			existing = append(existing, pair{bytes.Clone(k), v})
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("bulk flush: read the store: %w", err)
	}
	for _, p := range existing {
		if err := w.Set(p.key, p.val); err != nil {
			return err
		}
	}
	w.sortStreams()
	// The tables about to be written take about the pairs' size on disk.
	size := w.accounted()
	for _, r := range w.runs {
		size += r.size()
	}
	if err := w.b.disk.check(size); err != nil {
		return err
	}

	var next func() ([]byte, []byte, error)
	mem := &memorySource{w: w}
	if len(w.runs) == 0 {
		next = mem.next // all in memory: no merge, no copies
	} else {
		m, err := w.mergeRuns(mem)
		if err != nil {
			return fmt.Errorf("bulk flush: read a sorted run: %w", err)
		}
		next = m.next
	}

	version := w.b.version.Load() + 1
	sw := w.b.DB.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return fmt.Errorf("bulk flush: prepare: %w", err)
	}
	buf := z.NewBuffer(w.budget.feed, "policygraph.import")
	defer func() { buf.Release() }()
	send := func() error {
		if buf.LenNoPadding() == 0 {
			return nil
		}
		err := sw.Write(buf)
		buf.Reset()
		return err
	}
	// One StreamWriter stream for all of them: the key-kind streams, taken in
	// kind order, are one sorted run. A stream per kind made Badger start a
	// table builder per kind, each allocating a table's worth of memory
	// however few its keys: half the bytes allocated by an import and a fifth
	// of its CPU (memclr, memmove).
	const id = 1
	for {
		k, v, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			sw.Cancel()
			return fmt.Errorf("bulk flush: read a sorted run: %w", err)
		}
		badgerdb.KVToBuffer(&pb.KV{Key: k, Value: v, Version: version, StreamId: id}, buf)
		if buf.LenNoPadding() >= w.budget.feed {
			if err := send(); err != nil {
				sw.Cancel()
				return fmt.Errorf("bulk flush: write: %w", err)
			}
		}
	}
	badgerdb.KVToBuffer(&pb.KV{StreamId: id, StreamDone: true}, buf)
	if err := send(); err != nil {
		sw.Cancel()
		return fmt.Errorf("bulk flush: write: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("bulk flush: %w", err)
	}
	w.b.version.Store(max(version, w.b.DB.MaxVersion()))
	// One more: the version moves past every version before the import, and
	// past the versions its pairs were written at.
	w.b.version.Add(1)
	return nil
}

// mergeRuns merges the sorted runs on disk with mem, the newest.
func (w *streamBulkWriter) mergeRuns(mem mergeSource) (*merge, error) {
	sources := make([]mergeSource, 0, len(w.runs)+1)
	for _, r := range w.runs {
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		sources = append(sources, &runReader{r: bufio.NewReaderSize(r.f, w.budget.readAhead)})
	}
	return newMerge(append(sources, mem))
}

// runFile is a sorted run on disk: pairs in key order, no key twice, each as
// uvarint key length, uvarint value length, key, value.
type runFile struct{ f *os.File }

func (r *runFile) size() int64 {
	st, err := r.f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// A mergeSource yields pairs in key order with no key twice; what it returns
// is valid until the next call.
type mergeSource interface {
	next() (key, val []byte, err error) // io.EOF at the end
}

type runReader struct {
	r        *bufio.Reader
	key, val []byte
}

func (s *runReader) next() ([]byte, []byte, error) {
	klen, err := binary.ReadUvarint(s.r)
	if err != nil {
		return nil, nil, err // io.EOF at a clean end
	}
	vlen, err := binary.ReadUvarint(s.r)
	if err != nil {
		return nil, nil, noEOF(err)
	}
	s.key = slices.Grow(s.key[:0], int(klen))[:klen]
	s.val = slices.Grow(s.val[:0], int(vlen))[:vlen]
	if _, err := io.ReadFull(s.r, s.key); err != nil {
		return nil, nil, noEOF(err)
	}
	if _, err := io.ReadFull(s.r, s.val); err != nil {
		return nil, nil, noEOF(err)
	}
	return s.key, s.val, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// memorySource yields the sorted streams of the arena, in kind order.
type memorySource struct {
	w         *streamBulkWriter
	stream, i int
}

func (s *memorySource) next() ([]byte, []byte, error) {
	for s.stream < len(s.w.streams) {
		pairs := s.w.streams[s.stream].pairs
		if s.i < len(pairs) {
			p := pairs[s.i]
			s.i++
			return s.w.key(p), s.w.val(p), nil
		}
		s.stream, s.i = s.stream+1, 0
	}
	return nil, nil, io.EOF
}

// merge yields the pairs of its sources in key order; of equal keys, the one
// from the newest source (the last) wins, as the last Set does in a batch.
type merge struct {
	h        mergeHeap
	key, val []byte // what next returned last
}

type mergeItem struct {
	src      mergeSource
	rank     int // position in the sources: higher is newer
	key, val []byte
}

type mergeHeap []*mergeItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].rank > h[j].rank
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(*mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func newMerge(sources []mergeSource) (*merge, error) {
	m := &merge{}
	for i, s := range sources {
		it := &mergeItem{src: s, rank: i}
		if ok, err := it.advance(); err != nil {
			return nil, err
		} else if ok {
			m.h = append(m.h, it)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// advance reads the item's next pair, copied: a source's buffers are reused.
func (it *mergeItem) advance() (bool, error) {
	k, v, err := it.src.next()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	it.key, it.val = append(it.key[:0], k...), append(it.val[:0], v...)
	return true, nil
}

// next returns the next pair, valid until the following call, or io.EOF.
func (m *merge) next() ([]byte, []byte, error) {
	if len(m.h) == 0 {
		return nil, nil, io.EOF
	}
	top := m.h[0]
	m.key, m.val = append(m.key[:0], top.key...), append(m.val[:0], top.val...)
	// Drop the older copies of the key, moving each source on.
	for len(m.h) > 0 && bytes.Equal(m.h[0].key, m.key) {
		more, err := m.h[0].advance()
		if err != nil {
			return nil, nil, err
		}
		if more {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
	}
	return m.key, m.val, nil
}

// NewBulkWriter implements storage.BulkLoader with Badger's StreamWriter,
// within the memory budget Options.BulkMemory (see streamBulkWriter).
// storage's Import loads only into a store that holds no graph.
func (b *KV) NewBulkWriter() storage.BulkWriter {
	return &streamBulkWriter{b: b, budget: newBulkBudget(int64(b.bulkMemory))}
}
