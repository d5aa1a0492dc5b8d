package badger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"policygraph/storage"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Before Badger opens a data directory, Open looks at it (prepareDir):
// Badger itself starts an empty store over a directory without MANIFEST
// (deleting the tables it finds), ignores a table whose index fails its
// checksum, panics on a table cut short (in a goroutine of its own, where no
// caller can recover), serves blocks it never checks, and truncates a damaged
// log at the damage. So:
//
//   - a store is created only in an absent or empty directory; any other
//     directory without a MANIFEST is refused;
//   - every table the MANIFEST lists must exist and open (index, checksums of
//     every block unless NoVerify), each opened read-only under recover;
//   - every log is scanned for writes past the point where replay would stop
//     (logscan.go), unless NoVerify.
//
// A problem found refuses the open with a *DamageError listing them.

// DamageError is the error of an open refused because the store's files are
// damaged. Problems name the file and what is wrong with it.
type DamageError struct {
	Dir      string
	Problems []storage.Problem
}

func (e *DamageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the store in %s is damaged (%s", e.Dir, plural(len(e.Problems), "problem"))
	for i, p := range e.Problems {
		if i == 3 {
			b.WriteString("; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	b.WriteString("); it was left as it is: run check on it for the whole list, and restore a backup")
	return b.String()
}

// ignoredEntries may sit in an empty data directory: a file system's own.
var ignoredEntries = []string{"lost+found"}

// prepareDir refuses a directory that is neither empty (or absent) nor a
// whole store, before Badger can start a store over it.
func prepareDir(dir string, verify bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil // Badger makes it
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !slices.Contains(ignoredEntries, e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	if !slices.Contains(names, "MANIFEST") {
		return fmt.Errorf("%s holds %d files (%s) but no store (no MANIFEST): refusing to start a new store over them; "+
			"give an empty or new directory, or restore a backup into one", dir, len(names), listNames(names, 4))
	}
	problems, err := VerifyFiles(dir, verify)
	if err != nil {
		return fmt.Errorf("verify the store in %s: %w", dir, err)
	}
	if len(problems) > 0 {
		return &DamageError{Dir: dir, Problems: problems}
	}
	return nil
}

func listNames(names []string, n int) string {
	if len(names) > n {
		return strings.Join(names[:n], ", ") + ", …"
	}
	return strings.Join(names, ", ")
}

// VerifyFiles checks the files of the Badger store in dir without changing
// any: the MANIFEST reads, every table it lists exists and its index opens;
// with full, every block of every table passes its checksum and no log holds
// writes that opening the store would drop (logscan.go). It returns the
// problems found, and an error only when it cannot look.
func VerifyFiles(dir string, full bool) ([]storage.Problem, error) {
	var problems []storage.Problem
	problem := func(file, format string, args ...any) {
		problems = append(problems, storage.Problem{File: file, Message: fmt.Sprintf(format, args...)})
	}
	mf, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return nil, err
	}
	manifest, _, err := badgerdb.ReplayManifestFile(mf, 0, badgerdb.DefaultOptions(dir).WithLogger(nil))
	mf.Close()
	if err != nil {
		problem("MANIFEST", "does not read: %v", err)
		return problems, nil
	}
	ids := make([]uint64, 0, len(manifest.Tables))
	for id := range manifest.Tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	// Tables read independently: one at a time on each CPU.
	errs := make([]error, len(ids))
	work := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				errs[i] = verifyTable(table.NewFilename(ids[i], dir), manifest.Tables[ids[i]], full)
			}
		})
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			problem(filepath.Base(table.NewFilename(ids[i], dir)), "%v", err)
		}
	}
	if !full {
		return problems, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".mem") && !strings.HasSuffix(e.Name(), ".vlog") {
			continue
		}
		_, d, err := scanLog(filepath.Join(dir, e.Name()))
		switch {
		case err != nil:
			problem(e.Name(), "%v", err)
		case d != nil:
			problem(e.Name(), "%v", d)
		}
	}
	return problems, nil
}

// verifyTable opens one table read-only as Badger would, with every block's
// checksum checked when full, turning a panic of Badger's into an error.
func verifyTable(path string, tm badgerdb.TableManifest, full bool) (err error) {
	if tm.KeyID != 0 {
		return fmt.Errorf("the table is encrypted (key %d): this build does not encrypt", tm.KeyID)
	}
	fd, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("the MANIFEST lists this table but the file is missing")
	}
	if err != nil {
		return err
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return err
	}
	if fi.Size() == 0 {
		fd.Close()
		return errors.New("the table is empty (0 bytes)")
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		fd.Close()
		return fmt.Errorf("map the table: %w", err)
	}
	mf := &z.MmapFile{Data: data, Fd: fd}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the table does not read (cut short or damaged): Badger failed on it: %s", panicLine(r))
		}
		// OpenTable closes (unmaps) the file on some of its errors, not all.
		if fd.Fd() != ^uintptr(0) {
			mf.Close(-1)
		}
	}()
	chk := options.NoVerification
	if full {
		chk = options.OnTableRead
	}
	opts := badgerdb.DefaultOptions("")
	t, err := table.OpenTable(mf, table.Options{ReadOnly: true, ChkMode: chk, BlockSize: opts.BlockSize,
		BloomFalsePositive: opts.BloomFalsePositive, Compression: tm.Compression, ZSTDCompressionLevel: opts.ZSTDCompressionLevel})
	if err != nil {
		return fmt.Errorf("the table does not read (cut short or damaged): %w", err)
	}
	_ = t // open: the deferred Close unmaps it (DecrRef would delete the file)
	return nil
}

// openBadgerDB is badgerdb.Open (badgerdb.OpenManaged with managed) that turns a
// panic on the opening goroutine into an error. (A panic in one of Badger's
// own goroutines cannot be recovered: prepareDir opens every table first.)
func openBadgerDB(opts badgerdb.Options, managed bool) (db *badgerdb.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("badger failed opening %s: %s", opts.Dir, panicLine(r))
		}
	}()
	if managed {
		return badgerdb.OpenManaged(opts)
	}
	return badgerdb.Open(opts)
}

// panicLine is the telling line of a panic value: Badger re-panics with a
// report whose first lines are decoration.
func panicLine(r any) string {
	lines := strings.Split(strings.TrimSpace(fmt.Sprint(r)), "\n")
	for _, l := range lines {
		if strings.Contains(l, "runtime error") || strings.Contains(l, "out of range") {
			return strings.TrimSpace(l)
		}
	}
	for _, l := range lines {
		if l = strings.Trim(l, " =\t"); l != "" {
			return l
		}
	}
	return "?"
}

// plural is "1 problem", "2 problems".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
