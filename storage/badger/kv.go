// Package badger is policygraph's embedded storage engine: the storage.KV
// on a Badger database, with what only Badger can do: bulk loading through
// its StreamWriter (stream.go), a free-disk watermark (diskspace.go), a
// verified open that refuses damaged files (verify.go, logscan.go), a
// read-only check of a stopped store (checkdir.go) and a restore that makes
// a new store from a backup (restore.go). The graph itself (package storage)
// knows only the KV seam.
package badger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"policygraph/errs"
	"policygraph/storage"
)

// Options configures Open.
type Options struct {
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

// DefaultBulkMemory is Options.BulkMemory's default.
const DefaultBulkMemory = 1 << 30

// KV is the storage.KV on an embedded Badger database.
type KV struct {
	DB         *badgerdb.DB
	version    atomic.Uint64
	bulkMemory int
	disk       *diskGuard // nil: no watermark
}

// Open opens a Badger database, creating one only in an absent or empty
// directory. It refuses a directory that holds files but no store, and a store
// whose files are damaged (a *DamageError); see prepareDir.
func Open(o Options) (*KV, error) {
	if !o.InMemory {
		if err := prepareDir(o.Dir, !o.NoVerify); err != nil {
			return nil, err
		}
	}
	opts := badgerdb.DefaultOptions(o.Dir).
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
	b := &KV{DB: db, bulkMemory: o.BulkMemory, disk: disk}
	if b.bulkMemory == 0 {
		b.bulkMemory = DefaultBulkMemory
	}
	b.version.Store(db.MaxVersion())
	return b, nil
}

var (
	_ storage.KV             = (*KV)(nil)
	_ storage.BulkLoader     = (*KV)(nil)
	_ storage.CommitNotifier = (*badgerTxn)(nil)
)

// maxConflictRetries bounds how often Update re-runs a transaction that conflicted.
const maxConflictRetries = 16

// View implements storage.KV.
func (b *KV) View(fn func(storage.Txn) error) error {
	return b.DB.View(func(t *badgerdb.Txn) error {
		tx := &badgerTxn{t: t, reuse: true}
		defer tx.closeIterators() // Badger panics on a discarded txn with open iterators
		return fn(tx)
	})
}

// Update implements storage.KV.
func (b *KV) Update(fn func(storage.Txn) error) error {
	backoff := 100 * time.Microsecond
	for attempt := 0; ; attempt++ {
		wrote := false
		var tx *badgerTxn
		err := b.DB.Update(func(t *badgerdb.Txn) error {
			tx = &badgerTxn{t: t, wrote: &wrote}
			if err := fn(tx); err != nil {
				return err
			}
			if wrote {
				return b.disk.check(0) // before the commit: nothing is written past the watermark
			}
			return nil
		})
		if errors.Is(err, badgerdb.ErrReadOnlyTxn) && b.disk != nil {
			err = b.disk.check(0) // opened read-only for want of space
		}
		if errors.Is(err, badgerdb.ErrTxnTooBig) {
			err = fmt.Errorf("%w: %w", storage.ErrTxnTooBig, err)
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
		if !errors.Is(err, badgerdb.ErrConflict) {
			return err
		}
		if attempt == maxConflictRetries {
			return errs.Errorf(errs.Conflict, "", "the write conflicted with concurrent writes %d times; try again", attempt+1)
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 20*time.Millisecond)
	}
}

// Version implements storage.KV.
func (b *KV) Version() uint64 { return b.version.Load() }

// Writable implements storage.KV: DISK_FULL while the disk is under the watermark.
func (b *KV) Writable() error { return b.disk.check(0) }

// Close implements storage.KV.
func (b *KV) Close() error { return b.DB.Close() }

type badgerTxn struct {
	t         *badgerdb.Txn
	wrote     *bool    // set by Set and Delete; nil in read-only transactions
	committed []func() // run by Update once the transaction has committed

	// reuse keeps the iterators of finished scans for the next ones (read-only
	// transactions only: an iterator of a read-write one would not see the
	// writes made after it was created). Creating a Badger iterator (a merge
	// iterator over every memtable and level) cost more than the seek and the
	// reads of a typical adjacency scan; a request makes dozens of scans.
	reuse bool
	mu    sync.Mutex
	free  []*badgerdb.Iterator // idle, for the next scan
	all   []*badgerdb.Iterator // every one made, closed by closeIterators
}

// iterator returns an iterator for a scan of prefix and a func that gives it
// back. A scan inside another's callback gets an iterator of its own.
func (t *badgerTxn) iterator(prefix []byte, keysOnly bool) (*badgerdb.Iterator, func()) {
	if !t.reuse {
		opts := badgerdb.DefaultIteratorOptions
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
	var it *badgerdb.Iterator
	if n := len(t.free); n > 0 {
		it, t.free = t.free[n-1], t.free[:n-1]
	} else {
		// No Prefix (it serves every prefix: each scan seeks and stops at the
		// end of its own) and no value prefetching: values live in the LSM
		// tree when below Badger's value threshold (1 MiB), so ValueCopy of the
		// current item costs no more than a prefetch would, and a prefetch
		// would read ahead past the prefix.
		opts := badgerdb.DefaultIteratorOptions
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

// OnCommit implements storage.CommitNotifier.
func (t *badgerTxn) OnCommit(f func()) bool {
	if t.wrote == nil {
		return false // read-only: nothing commits
	}
	t.committed = append(t.committed, f)
	return true
}

func (t *badgerTxn) Get(key []byte) ([]byte, error) {
	item, err := t.t.Get(key)
	if errors.Is(err, badgerdb.ErrKeyNotFound) {
		return nil, storage.ErrKeyMissing
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
			if errors.Is(err, storage.ErrStop) {
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
