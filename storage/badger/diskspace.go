package badger

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"syscall"

	"policygraph/errs"
	"policygraph/storage"

	badgerdb "github.com/dgraph-io/badger/v4"
)

// Why a free-space watermark, and not ENOSPC: Badger writes its write-ahead log
// (the memtable's NNNNN.mem file), its value log and its new tables through
// memory maps of files it sized beforehand. On a full disk the kernel cannot
// back a page written through such a map and kills the process with SIGBUS,
// which Go cannot recover from. So writes stop while the disk still has room
// for what is in flight when they stop (see DefaultMinFreeDisk).

// DefaultMemTableSize is Badger's memtable size, Options.MemTableSize's
// default.
const DefaultMemTableSize = 64 << 20

// DefaultMinFreeDisk is the watermark for a memtable size: 4 memtables. What
// the disk must still take once writes stop is at most: the commits in flight,
// each under 15% of a memtable (Badger's largest batch), into the log file;
// the flush of the full memtable into a level-0 table (at most a memtable,
// while its log file still exists); and the compaction that flush can start,
// which writes its level-0 and level-1 inputs anew (compressed with Snappy)
// before it deletes them, on top of Badger's MANIFEST and a few pages for a
// new log file at the next start. The rest is margin for the other users of
// the disk. A store under heavy, incompressible writes may want more.
func DefaultMinFreeDisk(memTableSize int64) int64 {
	if memTableSize <= 0 {
		memTableSize = DefaultMemTableSize
	}
	return 4 * memTableSize
}

// diskGuard refuses writes while the disk holding dir has less than min bytes
// free for unprivileged users (statfs's f_bavail). A statfs costs about a
// microsecond (BenchmarkDiskGuard), against a millisecond for a synced commit,
// so every write asks afresh: a burst cannot slip past a cached answer.
type diskGuard struct {
	dir string
	min int64
	log *slog.Logger
	// readOnly: the store was opened read-only because the disk was under
	// the watermark at start; every write is refused until a restart.
	readOnly bool

	mu   sync.Mutex
	full bool // the last check found the disk under the watermark (to log changes once)
}

// freeBytes is the space unprivileged users may still use on dir's file system.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	if free > math.MaxInt64 {
		free = math.MaxInt64
	}
	return int64(free), nil
}

// check returns an *errs.Error DISK_FULL when a write of about need bytes would
// leave the disk under the watermark (need 0 for an ordinary transaction).
func (d *diskGuard) check(need int64) error {
	if d == nil {
		return nil
	}
	if d.readOnly {
		return errs.Errorf(errs.DiskFull, "", "writes are refused: the disk holding the store had less than %s free when the server started, so it opened the store read-only; free space and restart it", storage.FormatBytes(d.min))
	}
	free, err := freeBytes(d.dir)
	if err != nil {
		return err
	}
	full := free-need < d.min
	d.mu.Lock()
	changed := full != d.full
	d.full = full
	d.mu.Unlock()
	if changed && d.log != nil {
		if full {
			d.log.Error("disk nearly full: refusing writes with DISK_FULL; reads go on", "dir", d.dir, "free", storage.FormatBytes(free), "min_free", storage.FormatBytes(d.min), "need", storage.FormatBytes(need))
		} else {
			d.log.Warn("disk space back above the watermark: writes resume", "dir", d.dir, "free", storage.FormatBytes(free), "min_free", storage.FormatBytes(d.min))
		}
	}
	if full {
		return errs.Errorf(errs.DiskFull, "", "writes are refused while the disk holding the store has less than %s free (it has %s); reads go on", storage.FormatBytes(d.min), storage.FormatBytes(free))
	}
	return nil
}

// openGuarded opens Badger, read-only when the disk is under the watermark
// (a read-write open creates a log file and may replay and flush the log,
// which could fill the disk). A store that cannot open read-only (it is new,
// or its log needs a replay after a crash) is refused with an error saying so,
// rather than risk the crash.
func openGuarded(opts badgerdb.Options, o Options) (*badgerdb.DB, *diskGuard, error) {
	if o.InMemory || o.MinFreeDisk <= 0 {
		db, err := openBadgerDB(opts, false)
		return db, nil, err
	}
	d := &diskGuard{dir: o.Dir, min: o.MinFreeDisk, log: o.Logger}
	probe := o.Dir
	for {
		free, err := freeBytes(probe)
		if errors.Is(err, syscall.ENOENT) && filepath.Dir(probe) != probe {
			probe = filepath.Dir(probe) // a store not made yet: the disk it would go on
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if free >= d.min {
			db, err := openBadgerDB(opts, false)
			return db, d, err
		}
		d.readOnly, d.full = true, true
		db, err := openBadgerDB(opts.WithReadOnly(true).WithCompactL0OnClose(false), false)
		if err != nil {
			return nil, nil, fmt.Errorf("the disk holding %s has %s free, under the %s kept free for safe writes, and the store cannot open read-only (%v): free space and start again",
				o.Dir, storage.FormatBytes(free), storage.FormatBytes(d.min), err)
		}
		if d.log != nil {
			d.log.Error("disk nearly full at start: the store is open read-only; writes answer DISK_FULL until space is freed and the server restarts",
				"dir", o.Dir, "free", storage.FormatBytes(free), "min_free", storage.FormatBytes(d.min))
		}
		return db, d, nil
	}
}

// withMemTableSize sets Badger's memtable size, and keeps its value threshold
// (1 MiB) under the largest batch (15% of a memtable), as Badger requires.
func withMemTableSize(opts badgerdb.Options, size int64) badgerdb.Options {
	opts = opts.WithMemTableSize(size)
	if batch := 15 * size / 100; opts.ValueThreshold > batch {
		opts = opts.WithValueThreshold(batch)
	}
	return opts
}
