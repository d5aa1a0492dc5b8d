package badger

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"policygraph/storage"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Restore loads a backup written by Backup into dir, which must be empty or
// not exist. It reads the backup once: the header is checked before anything
// is made, the records are loaded through Import (which validates them as a
// write would and rebuilds every index) into a directory of its own, and the
// trailer's record count and SHA-256 are checked at the end. Only a backup that
// is whole, loads and passes Check is moved into dir; on any failure nothing is
// left behind and the error says what was wrong (an empty, cut, damaged or
// foreign input, a record that does not load, an inconsistency).
//
// The restored store gets a new store ID, and a graph version above the
// backup's: (store ID, version) never names two states of a graph, whatever
// the source store did after the backup. It records where it came from
// (Provenance).
func Restore(dir string, r io.Reader, log *slog.Logger) (*storage.RestoreReport, error) {
	rep, err := restore(dir, r, log)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return rep, nil
}

func restore(dir string, r io.Reader, log *slog.Logger) (rep *storage.RestoreReport, err error) {
	if dir == "" {
		return nil, errors.New("no directory given")
	}
	exists, err := emptyOrAbsent(dir)
	if err != nil {
		return nil, err
	}
	backup, err := storage.NewBackupReader(r)
	if err != nil {
		return nil, err
	}
	header := backup.Header
	stage, commit, cleanup, err := stageDir(dir, exists)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	rep = &storage.RestoreReport{From: header}
	if rep.Records, rep.Import, err = loadRecords(stage, backup, log); err != nil {
		return nil, err
	}
	// Raise the version past the backup's (and the import's), recording the
	// provenance in the same commit.
	key, prov, err := header.ProvenanceRecord(time.Now().UTC())
	if err != nil {
		return nil, err
	}
	if err := commitAbove(stage, header.Version, key, prov); err != nil {
		return nil, fmt.Errorf("raise the version: %w", err)
	}
	if rep.StoreID, rep.Version, err = checkRestored(stage, log); err != nil {
		return nil, err
	}
	if err := commit(); err != nil {
		return nil, err
	}
	return rep, nil
}

// emptyOrAbsent reports whether dir exists; it fails unless dir is absent or
// an empty directory.
func emptyOrAbsent(dir string) (exists bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case len(entries) > 0:
		return true, fmt.Errorf("%s is not empty; restore only into an empty or new directory", dir)
	}
	return true, nil
}

// stageDir makes the directory a restore loads into. For a dir that does not
// exist it is a sibling, renamed to dir at the end (one atomic step). For an
// existing empty dir (a mount point, say, which cannot be replaced) it is a
// directory inside it, whose entries move up at the end, MANIFEST last: until
// then dir holds no MANIFEST, which no command takes for a store (see
// Open). cleanup removes what the stage made.
func stageDir(dir string, exists bool) (stage string, commit func() error, cleanup func(), err error) {
	dir = filepath.Clean(dir)
	if !exists {
		parent := filepath.Dir(dir)
		// The parents made here go too if the restore fails.
		made := ""
		for p := parent; ; p = filepath.Dir(p) {
			if _, err := os.Stat(p); err == nil || p == filepath.Dir(p) {
				break
			}
			made = p
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", nil, nil, err
		}
		cleanup = func() {
			os.RemoveAll(stage)
			if made != "" {
				os.RemoveAll(made)
			}
		}
		stage, err = os.MkdirTemp(parent, "."+filepath.Base(dir)+".restore-")
		if err != nil {
			cleanup()
			return "", nil, nil, err
		}
		commit = func() error {
			if err := os.Rename(stage, dir); err != nil {
				return err
			}
			return storage.SyncDir(parent)
		}
		return stage, commit, cleanup, nil
	}
	stage, err = os.MkdirTemp(dir, ".restore-")
	if err != nil {
		return "", nil, nil, err
	}
	commit = func() error {
		entries, err := os.ReadDir(stage)
		if err != nil {
			return err
		}
		manifest := false
		for _, e := range entries {
			if e.Name() == "MANIFEST" {
				manifest = true
				continue
			}
			if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
		if err := storage.SyncDir(dir); err != nil {
			return err
		}
		if manifest {
			if err := os.Rename(filepath.Join(stage, "MANIFEST"), filepath.Join(dir, "MANIFEST")); err != nil {
				return err
			}
		}
		if err := os.Remove(stage); err != nil {
			return err
		}
		return storage.SyncDir(dir)
	}
	cleanup = func() {
		os.RemoveAll(stage)
		// Whatever moved up before a failed commit goes too: dir was empty.
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return stage, commit, cleanup, nil
}

// loadRecords loads the records of backup into a new store in dir, and
// checks the trailer (storage.BackupReader.Load).
func loadRecords(dir string, backup *storage.BackupReader, log *slog.Logger) (int64, storage.ImportReport, error) {
	kv, err := Open(Options{Dir: dir, SyncWrites: true, Logger: log})
	if err != nil {
		return 0, storage.ImportReport{}, err
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		return 0, storage.ImportReport{}, err
	}
	records, imp, err := backup.Load(g)
	closeErr := g.Close()
	if err == nil {
		err = closeErr
	}
	return records, imp, err
}

// commitAbove writes key = val into the closed Badger store in dir in one
// commit whose version is above both version and every version in the store,
// so that the store's graph version (KV.Version) reopens above version.
// Badger moves its versions only one commit at a time, except in managed
// mode, where a commit names its own: the store is opened in managed mode for
// this one commit (the mode is not recorded in the store; the next open in
// normal mode goes on from the highest version it finds).
func commitAbove(dir string, version uint64, key, val []byte) (err error) {
	opts := badgerdb.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true).WithNumVersionsToKeep(1)
	db, err := openBadgerDB(opts, true)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	ts := max(version, db.MaxVersion()) + 1
	if ts == math.MaxUint64 {
		return fmt.Errorf("version %d is out of range", version)
	}
	txn := db.NewTransactionAt(ts-1, true)
	defer txn.Discard()
	if err := txn.Set(key, val); err != nil {
		return err
	}
	return txn.CommitAt(ts, nil)
}

// checkRestored opens the restored store as a server would and checks it.
func checkRestored(dir string, log *slog.Logger) (uuid.UUID, uint64, error) {
	kv, err := Open(Options{Dir: dir, Logger: log})
	if err != nil {
		return uuid.Nil, 0, err
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		return uuid.Nil, 0, err
	}
	defer g.Close()
	rep, err := g.Check()
	if err != nil {
		return uuid.Nil, 0, fmt.Errorf("check the restored store: %w", err)
	}
	if !rep.OK() {
		msgs := make([]string, 0, 3)
		for _, p := range rep.Problems[:min(3, len(rep.Problems))] {
			msgs = append(msgs, p.String())
		}
		return uuid.Nil, 0, fmt.Errorf("the restored store fails check with %d problems: %s", len(rep.Problems), strings.Join(msgs, "; "))
	}
	return g.StoreID(), g.Version(), nil
}
