package badger

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"policygraph/storage"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// CheckDir checks the store in dir, which no process may hold, and changes
// nothing in it, byte for byte. Badger cannot do that on its own: opening a
// store read-write replays and truncates its logs, flushes them into tables,
// compacts (truncating each table it drops to 0 bytes before unlinking it)
// and rewrites its MANIFEST; and it will not open read-only while a log has
// a torn tail, as after a kill -9. So CheckDir verifies the files in place
// (VerifyFiles, which only reads), then makes a private copy beside dir (or in
// the temporary directory): hard links for the tables and value logs, copies
// of the rest, each memtable log cut where Badger's replay would cut it. It
// opens the copy read-only (so Badger opens every linked file read-only and
// cannot change it), runs Check on it, and removes it. When a table is
// damaged the records are not checked (Badger would serve garbage or panic
// on it): the report then holds the file problems only, and says so.
func CheckDir(dir string, log *slog.Logger) (*storage.CheckReport, error) {
	rep, _, err := CheckDirModel(dir, log, nil, 0)
	return rep, err
}

// CheckDirModel is CheckDir, and then, with a model loader, on the same
// private copy, storage.CheckModelKV: the read model a server would build
// from the store, against the store's indexes, and the change log's
// versions (check -model). It returns up to max such problems.
func CheckDirModel(dir string, log *slog.Logger, model storage.ModelLoader, max int) (*storage.CheckReport, []string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	// A server holds an exclusive lock on the directory; this shared one
	// refuses a running server's store, and keeps one from starting meanwhile.
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return nil, nil, fmt.Errorf("%s is in use (a server runs on it?): check a stopped store, or back up the running one and check the restored backup", dir)
	}
	files, err := VerifyFiles(dir, true)
	if err != nil {
		return nil, nil, err
	}
	rep := &storage.CheckReport{}
	for _, p := range files {
		if strings.HasSuffix(p.File, ".sst") || p.File == "MANIFEST" {
			rep.Problems = files
			rep.Skipped = "the records were not checked: the store's tables are damaged"
			return rep, nil, nil
		}
	}
	cp, err := privateCopy(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("copy the store to check it: %w", err)
	}
	defer os.RemoveAll(cp)
	opts := badgerdb.DefaultOptions(cp).WithReadOnly(true).WithLogger(badgerLogger{log}).WithVerifyValueChecksum(true).
		WithChecksumVerificationMode(options.OnBlockRead)
	db, err := openBadgerDB(opts, false)
	if err != nil {
		return nil, nil, fmt.Errorf("open a copy of the store: %w", err)
	}
	b := &KV{DB: db}
	b.version.Store(db.MaxVersion())
	defer b.Close()
	rep, err = storage.CheckKV(b)
	if err != nil {
		return nil, nil, err
	}
	rep.Problems = append(files, rep.Problems...)
	if model == nil || !rep.OK() {
		return rep, nil, nil
	}
	problems, err := storage.CheckModelKV(b, model, max)
	return rep, problems, err
}

// privateCopy copies the store in dir into a new directory beside it (where
// hard links work), or in the temporary directory when that fails, for
// Badger to open read-only, and returns the copy's path. Tables and value
// logs are hard links when they can be (a read-only Badger opens them
// read-only); every other file is copied, holes and all (a log is
// preallocated sparse), a memtable log only up to where replay keeps it (a
// read-only Badger refuses a log it would have to truncate).
func privateCopy(dir string) (cp string, err error) {
	cp, err = os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(filepath.Clean(dir))+".check-")
	if err != nil {
		if cp, err = os.MkdirTemp("", "policygraph-check-"); err != nil {
			return "", err
		}
	}
	defer func() {
		if err != nil {
			os.RemoveAll(cp)
		}
	}()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		src, dst := filepath.Join(dir, e.Name()), filepath.Join(cp, e.Name())
		if (strings.HasSuffix(e.Name(), ".sst") || strings.HasSuffix(e.Name(), ".vlog")) && os.Link(src, dst) == nil {
			continue
		}
		size := int64(-1)
		if strings.HasSuffix(e.Name(), ".mem") {
			if size, _, err = scanLog(src); err != nil {
				return "", fmt.Errorf("%s: %w", e.Name(), err)
			}
			if size < logHeaderSize {
				// Shorter than its header (a kill -9 right after Badger made
				// it): it holds nothing to replay, and Badger would size an
				// empty log before reading it, which a read-only open cannot.
				continue
			}
		}
		if err := copySparse(src, dst, size); err != nil {
			return "", fmt.Errorf("copy %s: %w", e.Name(), err)
		}
	}
	return cp, nil
}

// copySparse copies the first size bytes of the file src (all of it when
// size < 0) to dst, writing only its data extents.
func copySparse(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if size < 0 || size > fi.Size() {
		size = fi.Size()
	}
	for off := int64(0); off < size; {
		start, err := in.Seek(off, seekData)
		if err != nil {
			var perr *os.PathError
			if errors.As(err, &perr) && perr.Err == syscall.ENXIO {
				break // only a hole after off
			}
			start = off // no SEEK_DATA: copy it all
		}
		if start >= size {
			break
		}
		end, err := in.Seek(start, seekHole)
		if err != nil || end > size {
			end = size
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, start), io.NewSectionReader(in, start, end-start)); err != nil {
			out.Close()
			return err
		}
		off = end
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
