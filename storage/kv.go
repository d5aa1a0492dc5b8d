package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"policygraph/errs"

	badger "github.com/dgraph-io/badger/v4"
)

// KV is the seam between the graph and its store: an ordered, transactional
// key-value store. Badger is the embedded default; any store with serializable
// transactions and ordered prefix scans (a distributed one included) can take its place.
type KV interface {
	// View runs fn in a read-only snapshot.
	View(fn func(Txn) error) error
	// Update runs fn in a read-write transaction and commits it. On a conflict with a
	// concurrent transaction it runs fn again, a bounded number of times, then returns
	// an *errs.Error with code CONFLICT.
	Update(fn func(Txn) error) error
	// Version is a number that grows with every committed write; it survives restarts.
	Version() uint64
	// Writable returns nil if the store takes writes now, or an *errs.Error with
	// code DISK_FULL (which Update returns too) while it refuses them.
	Writable() error
	Close() error
}

// Txn is one transaction of a KV. Values passed to fns are valid only during the call.
type Txn interface {
	// Get returns a copy of the value at key, or ErrKeyMissing.
	Get(key []byte) ([]byte, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// Scan calls fn for each key with the prefix, in key order, until fn returns
	// ErrStop (then Scan returns nil) or another error. With keysOnly, val is nil.
	Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error
	// ScanFrom is Scan starting at the first key >= start (start must have the prefix).
	ScanFrom(prefix, start []byte, keysOnly bool, fn func(key, val []byte) error) error
}

// onCommitter is a Txn that can run funcs once it has committed, before its
// KV's Version moves past the commit (Badger's can): state kept beside the
// store, such as the graph's counts, is then never behind a version a reader
// has seen. onCommit reports whether it took f.
type onCommitter interface {
	onCommit(f func()) bool
}

// ErrKeyMissing is returned by Txn.Get for an absent key.
var ErrKeyMissing = errors.New("key missing")

// ErrStop ends a scan early without error: a Txn's Scan, and a Snapshot's
// callbacks, stop and return nil when their fn returns it.
var ErrStop = errors.New("stop scan")

// BadgerOptions configures OpenBadger.
type BadgerOptions struct {
	// Dir is the data directory; empty with InMemory.
	Dir      string
	InMemory bool
	// SyncWrites makes every commit wait for fsync: an acknowledged write survives
	// a crash of the machine, not only of the process.
	SyncWrites bool
	Logger     *slog.Logger
	// BulkMemory is the memory budget of an import into the store: what it
	// gathers and sorts in memory (past that it sorts runs on disk and merges
	// them), the tables Badger builds at once, its caches (see bulkBudget).
	// Set, it also tunes Badger for the import (smaller tables written at
	// once, a smaller block cache): set it only on a store opened to import
	// into. 0: DefaultBulkMemory for the import, Badger's defaults otherwise.
	BulkMemory int
	// BlockCacheBytes bounds Badger's cache of table blocks, which reads fill;
	// 0 keeps Badger's default (256 MiB).
	BlockCacheBytes int64
	// MinFreeDisk refuses writes (DISK_FULL) while the disk holding Dir has
	// fewer free bytes; under it at open, the store opens read-only. 0: no
	// watermark. See DefaultMinFreeDisk and diskspace.go.
	MinFreeDisk int64
	// MemTableSize is Badger's memtable size (and so its log file size);
	// 0 means DefaultMemTableSize.
	MemTableSize int64
	// NoVerify skips reading every table whole (each block's checksum) and
	// scanning the logs for writes a replay would drop, before the open
	// (verify.go): for a large store that must start fast, or to open a store
	// known to be damaged, accepting the loss. The directory's state and each
	// table's index are checked either way.
	NoVerify bool
}

// DefaultBulkMemory is BadgerOptions.BulkMemory's default.
const DefaultBulkMemory = 1 << 30

// Badger is the KV on an embedded Badger database.
type Badger struct {
	DB         *badger.DB
	version    atomic.Uint64
	bulkMemory int
	disk       *diskGuard // nil: no watermark
}

// OpenBadger opens a Badger database, creating one only in an absent or empty
// directory. It refuses a directory that holds files but no store, and a store
// whose files are damaged (a *DamageError); see prepareDir.
func OpenBadger(o BadgerOptions) (*Badger, error) {
	if !o.InMemory {
		if err := prepareDir(o.Dir, !o.NoVerify); err != nil {
			return nil, err
		}
	}
	opts := badger.DefaultOptions(o.Dir).
		WithInMemory(o.InMemory).
		WithSyncWrites(o.SyncWrites).
		WithLogger(badgerLogger{o.Logger}).
		WithNumVersionsToKeep(1).
		WithCompactL0OnClose(true).
		WithVerifyValueChecksum(true) // a damaged value (1 MiB and more) is an error, not garbage
	if o.BlockCacheBytes > 0 {
		opts = opts.WithBlockCacheSize(o.BlockCacheBytes)
	}
	if o.MemTableSize > 0 {
		opts = withMemTableSize(opts, o.MemTableSize)
	}
	if o.BulkMemory > 0 {
		opts = bulkOptions(opts, int64(o.BulkMemory))
	}
	db, disk, err := openGuarded(opts, o)
	if err != nil {
		return nil, fmt.Errorf("open badger at %q: %w", o.Dir, err)
	}
	b := &Badger{DB: db, bulkMemory: o.BulkMemory, disk: disk}
	if b.bulkMemory == 0 {
		b.bulkMemory = DefaultBulkMemory
	}
	b.version.Store(db.MaxVersion())
	return b, nil
}

// maxConflictRetries bounds how often Update re-runs a transaction that conflicted.
const maxConflictRetries = 16

// View implements KV.
func (b *Badger) View(fn func(Txn) error) error {
	return b.DB.View(func(t *badger.Txn) error {
		tx := &badgerTxn{t: t, reuse: true}
		defer tx.closeIterators() // Badger panics on a discarded txn with open iterators
		return fn(tx)
	})
}

// Update implements KV.
func (b *Badger) Update(fn func(Txn) error) error {
	backoff := 100 * time.Microsecond
	for attempt := 0; ; attempt++ {
		wrote := false
		var tx *badgerTxn
		err := b.DB.Update(func(t *badger.Txn) error {
			tx = &badgerTxn{t: t, wrote: &wrote}
			if err := fn(tx); err != nil {
				return err
			}
			if wrote {
				return b.disk.check(0) // before the commit: nothing is written past the watermark
			}
			return nil
		})
		if errors.Is(err, badger.ErrReadOnlyTxn) && b.disk != nil {
			err = b.disk.check(0) // opened read-only for want of space
		}
		if err == nil {
			for _, f := range tx.committed {
				f()
			}
			// Badger's commit timestamp, from which Version restarts on open, moves
			// only for commits that wrote; so does Version.
			if wrote {
				b.version.Add(1)
			}
			return nil
		}
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if attempt == maxConflictRetries {
			return errs.Errorf(errs.Conflict, "", "the write conflicted with concurrent writes %d times; try again", attempt+1)
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 20*time.Millisecond)
	}
}

// Version implements KV.
func (b *Badger) Version() uint64 { return b.version.Load() }

// Writable implements KV: DISK_FULL while the disk is under the watermark.
func (b *Badger) Writable() error { return b.disk.check(0) }

// Close implements KV.
func (b *Badger) Close() error { return b.DB.Close() }

type badgerTxn struct {
	t         *badger.Txn
	wrote     *bool    // set by Set and Delete; nil in read-only transactions
	committed []func() // run by Update once the transaction has committed

	// reuse keeps the iterators of finished scans for the next ones (read-only
	// transactions only: an iterator of a read-write one would not see the
	// writes made after it was created). Creating a Badger iterator (a merge
	// iterator over every memtable and level) cost more than the seek and the
	// reads of a typical adjacency scan; a request makes dozens of scans.
	reuse bool
	mu    sync.Mutex
	free  []*badger.Iterator // idle, for the next scan
	all   []*badger.Iterator // every one made, closed by closeIterators
}

// iterator returns an iterator for a scan of prefix and a func that gives it
// back. A scan inside another's callback gets an iterator of its own.
func (t *badgerTxn) iterator(prefix []byte, keysOnly bool) (*badger.Iterator, func()) {
	if !t.reuse {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = !keysOnly
		if keysOnly {
			opts.PrefetchSize = 0
		}
		it := t.t.NewIterator(opts)
		return it, it.Close
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var it *badger.Iterator
	if n := len(t.free); n > 0 {
		it, t.free = t.free[n-1], t.free[:n-1]
	} else {
		// No Prefix (it serves every prefix: each scan seeks and stops at the
		// end of its own) and no value prefetching: values live in the LSM
		// tree when below Badger's value threshold (1 MiB), so ValueCopy of the
		// current item costs no more than a prefetch would, and a prefetch
		// would read ahead past the prefix.
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it = t.t.NewIterator(opts)
		t.all = append(t.all, it)
	}
	return it, func() {
		t.mu.Lock()
		t.free = append(t.free, it)
		t.mu.Unlock()
	}
}

// closeIterators closes every iterator the transaction made.
func (t *badgerTxn) closeIterators() {
	for _, it := range t.all {
		it.Close()
	}
	t.all, t.free = nil, nil
}

func (t *badgerTxn) onCommit(f func()) bool {
	if t.wrote == nil {
		return false // read-only: nothing commits
	}
	t.committed = append(t.committed, f)
	return true
}

func (t *badgerTxn) Get(key []byte) ([]byte, error) {
	item, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrKeyMissing
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func (t *badgerTxn) Set(key, value []byte) error {
	if t.wrote != nil {
		*t.wrote = true
	}
	return t.t.Set(key, value)
}

func (t *badgerTxn) Delete(key []byte) error {
	if t.wrote != nil {
		*t.wrote = true
	}
	return t.t.Delete(key)
}

func (t *badgerTxn) Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error {
	return t.ScanFrom(prefix, prefix, keysOnly, fn)
}

func (t *badgerTxn) ScanFrom(prefix, start []byte, keysOnly bool, fn func(key, val []byte) error) error {
	it, done := t.iterator(prefix, keysOnly)
	defer done()
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		var val []byte
		if !keysOnly {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			val = v
		}
		if err := fn(item.Key(), val); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, f string, args ...any) {
	if b.l != nil {
		b.l.Log(context.Background(), level, "badger: "+trimNL(fmt.Sprintf(f, args...)))
	}
}
func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a...) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a...) }
func (b badgerLogger) Debugf(f string, a ...any)   {}

func trimNL(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}

// CountingKV counts the transactions run on a KV: how many reads and writes a
// request cost, for metrics and for tests that prove a cached answer cost none.
type CountingKV struct {
	KV
	views, updates atomic.Uint64
}

// View implements KV.
func (c *CountingKV) View(fn func(Txn) error) error {
	c.views.Add(1)
	return c.KV.View(fn)
}

// Update implements KV.
func (c *CountingKV) Update(fn func(Txn) error) error {
	c.updates.Add(1)
	return c.KV.Update(fn)
}

// Views is how many read transactions have run.
func (c *CountingKV) Views() uint64 { return c.views.Load() }

// Updates is how many write transactions have run.
func (c *CountingKV) Updates() uint64 { return c.updates.Load() }
