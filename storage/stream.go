package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
)

// streamBulkWriter is Badger's BulkWriter for a store that holds no graph yet
// (what Import loads into). It keeps every pair in memory, and Flush sorts them
// and hands them to a Badger StreamWriter, which builds the SSTables of the
// last level directly: no memtables, no write-ahead log, no compactions. A
// WriteBatch import spent most of its wall time waiting on those (L0 stalls
// while compactions caught up) and a quarter of its CPU in memtable inserts.
//
// The price is memory: the pairs of the whole import (about the store's
// uncompressed size, plus 24 bytes a pair) until Flush. Flush replaces the
// store's contents: it carries over what the store held (Open's format key),
// and nothing may write to the store while it runs.
type streamBulkWriter struct {
	b *Badger
	// limit bounds the arena; past it the pairs so far go into a WriteBatch
	// and so do all later ones (batch, then not nil): memory stays bounded
	// for imports larger than the machine, at the WriteBatch's speed.
	limit   int
	batch   *badger.WriteBatch
	batched int // bytes set in the batch since the last look at the disk
	arena   []byte
	// One run per first key byte (the key kind), sorted separately and in
	// parallel; in kind order they are one sorted run for the StreamWriter.
	streams [256]stream
}

type stream struct {
	pairs  []pairRef
	sorted bool // every pair so far came after the one before
}

// pairRef locates a pair in the arena; head holds the 8 key bytes after the
// kind byte, big-endian, so most comparisons need not touch the arena.
type pairRef struct {
	head       uint64
	off        int64
	klen, vlen uint32
}

func (w *streamBulkWriter) key(p pairRef) []byte { return w.arena[p.off : p.off+int64(p.klen)] }

func (w *streamBulkWriter) val(p pairRef) []byte {
	return w.arena[p.off+int64(p.klen) : p.off+int64(p.klen)+int64(p.vlen)]
}

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

// Set implements BulkWriter. An empty key is refused (Badger refuses it too).
func (w *streamBulkWriter) Set(key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("bulk set: empty key")
	}
	if w.batch != nil {
		return w.batchSet(key, value)
	}
	if w.limit > 0 && len(w.arena)+len(key)+len(value) > w.limit {
		if err := w.spill(); err != nil {
			return err
		}
		return w.batchSet(key, value)
	}
	p := pairRef{head: keyHead(key), off: int64(len(w.arena)), klen: uint32(len(key)), vlen: uint32(len(value))}
	w.arena = append(append(w.arena, key...), value...)
	s := &w.streams[key[0]]
	if n := len(s.pairs); n == 0 {
		s.sorted = true
	} else if s.sorted && w.compare(s.pairs[n-1], p) >= 0 {
		s.sorted = false
	}
	s.pairs = append(s.pairs, p)
	return nil
}

// batchSet sets a pair in the WriteBatch, looking at the disk's free space
// every batchCheckEvery bytes: a WriteBatch writes as it goes.
func (w *streamBulkWriter) batchSet(key, value []byte) error {
	if w.batched += len(key) + len(value); w.batched >= batchCheckEvery {
		w.batched = 0
		if err := w.b.disk.check(batchCheckEvery); err != nil {
			return err
		}
	}
	return w.batch.Set(key, value)
}

// batchCheckEvery is how many bytes a WriteBatch import writes between two
// looks at the disk's free space.
const batchCheckEvery = 16 << 20

// spill moves the pairs so far into a WriteBatch, which takes all later ones.
func (w *streamBulkWriter) spill() error {
	w.batch = w.b.DB.NewWriteBatch()
	for i := range w.streams {
		for _, p := range w.streams[i].pairs {
			if err := w.batch.Set(w.key(p), w.val(p)); err != nil {
				return err
			}
		}
	}
	w.arena, w.streams = nil, [256]stream{}
	return nil
}

// Cancel implements BulkWriter.
func (w *streamBulkWriter) Cancel() {
	if w.batch != nil {
		w.batch.Cancel()
	}
	w.arena, w.streams = nil, [256]stream{}
}

// Flush implements BulkWriter: it sorts each stream (on every CPU), drops
// duplicate keys (the last Set wins, as in a batch) and streams the result
// into the store, replacing its contents.
func (w *streamBulkWriter) Flush() error {
	if w.batch != nil {
		return w.batch.Flush()
	}
	// What the store holds already (Open's format key): StreamWriter.Prepare
	// drops it, so it goes into the streams too (and wins over an imported
	// pair with its key, being Set last).
	var existing []kv
	err := w.b.View(func(tx Txn) error {
		return tx.Scan(nil, false, func(k, v []byte) error {
			existing = append(existing, kv{bytes.Clone(k), v})
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
	// The tables about to be written take about the pairs' size on disk.
	if err := w.b.disk.check(int64(len(w.arena))); err != nil {
		return err
	}

	// Sort the streams that did not come sorted, one goroutine per CPU.
	var wg sync.WaitGroup
	work := make(chan *stream)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for s := range work {
				if !s.sorted {
					// Equal keys stay in the order they were Set (by offset),
					// so dedupe keeps the last, as a batch would.
					slices.SortFunc(s.pairs, func(a, b pairRef) int {
						if c := w.compare(a, b); c != 0 {
							return c
						}
						return cmp.Compare(a.off, b.off)
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

	version := w.b.version.Load() + 1
	sw := w.b.DB.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return fmt.Errorf("bulk flush: prepare: %w", err)
	}
	buf := z.NewBuffer(64<<20, "policygraph.import")
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
	// table builder per kind, each allocating a table's worth of memory (about
	// 70 MB, zeroed) however few its keys: half the bytes allocated by an
	// import and a fifth of its CPU (memclr, memmove).
	const id = 1
	for i := range w.streams {
		s := &w.streams[i]
		for _, p := range s.pairs {
			badger.KVToBuffer(&pb.KV{Key: w.key(p), Value: w.val(p), Version: version, StreamId: id}, buf)
			if buf.LenNoPadding() >= 32<<20 {
				if err := send(); err != nil {
					sw.Cancel()
					return fmt.Errorf("bulk flush: write: %w", err)
				}
			}
		}
	}
	badger.KVToBuffer(&pb.KV{StreamId: id, StreamDone: true}, buf)
	if err := send(); err != nil {
		sw.Cancel()
		return fmt.Errorf("bulk flush: write: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("bulk flush: %w", err)
	}
	w.b.version.Store(max(version, w.b.DB.MaxVersion()))
	w.Cancel()
	return nil
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
