package memgraph

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"policygraph/storage"
)

// Files keeps a store's model in files in one directory, named
// <store ID>-<version>.pgm: a storage.ModelCache. A file is written to a
// temporary name, synced, renamed into place and the directory synced, so a
// crash leaves either the whole file or none; the newest Keep files of the
// store are kept, and files of other stores (a directory that held a store
// before a restore) are deleted: they never match.
type Files struct {
	Dir string
	// Keep is how many files of the store are kept; 0 means 2.
	Keep int
	// Logger reports the files skipped; nil means slog.Default().
	Logger *slog.Logger
}

var _ storage.ModelCache = (*Files)(nil)

const fileExt = ".pgm"

func (f *Files) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

// FileName is the name of the file of a store's model at a version.
func FileName(storeID uuid.UUID, version uint64) string {
	return fmt.Sprintf("%s-%020d%s", storeID, version, fileExt)
}

// parseName reads a name FileName made.
func parseName(name string) (uuid.UUID, uint64, bool) {
	base, ok := strings.CutSuffix(name, fileExt)
	if !ok || len(base) < 37 || base[36] != '-' {
		return uuid.Nil, 0, false
	}
	id, err := uuid.Parse(base[:36])
	if err != nil {
		return uuid.Nil, 0, false
	}
	v, err := strconv.ParseUint(base[37:], 10, 64)
	if err != nil {
		return uuid.Nil, 0, false
	}
	return id, v, true
}

type savedFile struct {
	name    string
	version uint64
}

// list lists the store's files, newest first.
func (f *Files) list(storeID uuid.UUID) ([]savedFile, error) {
	entries, err := os.ReadDir(f.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return storeFiles(entries, storeID), nil
}

// storeFiles picks the store's files out of a directory's entries, newest
// first.
func storeFiles(entries []os.DirEntry, storeID uuid.UUID) []savedFile {
	var out []savedFile
	for _, e := range entries {
		if id, v, ok := parseName(e.Name()); ok && id == storeID && e.Type().IsRegular() {
			out = append(out, savedFile{e.Name(), v})
		}
	}
	slices.SortFunc(out, func(a, b savedFile) int { return cmp.Compare(b.version, a.version) })
	return out
}

// Load implements storage.ModelCache: the newest file of the store at a
// version at most head that reads whole. A file that does not (damaged,
// truncated, of another format, naming another store or version than its
// name) is reported and skipped.
func (f *Files) Load(storeID uuid.UUID, head uint64) (storage.ReadModel, time.Time, error) {
	files, err := f.list(storeID)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("list model files in %s: %w", f.Dir, err)
	}
	for _, sf := range files {
		if sf.version > head {
			f.logger().Warn("model file ahead of the store's head skipped", "file", sf.name, "head", head)
			continue
		}
		path := filepath.Join(f.Dir, sf.name)
		m, info, err := ReadFile(path)
		if err == nil && (info.StoreID != storeID || info.Version != sf.version) {
			err = fmt.Errorf("%w: it holds store %s at version %d", ErrBadFile, info.StoreID, info.Version)
		}
		if err != nil {
			f.logger().Warn("model file skipped", "file", path, "err", err)
			continue
		}
		return m, info.At, nil
	}
	return nil, time.Time{}, nil
}

// ReadFile reads a model file.
func ReadFile(path string) (*Model, FileInfo, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, FileInfo{}, err
	}
	return ReadSnapshot(buf)
}

// Save implements storage.ModelCache: s (a *Snapshot) to the store's file
// of its version, atomically; then older files go.
func (f *Files) Save(storeID uuid.UUID, s storage.Snapshot, at time.Time) error {
	snap, ok := s.(*Snapshot)
	if !ok {
		return fmt.Errorf("memgraph: save a %T: not a memgraph snapshot", s)
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return fmt.Errorf("model directory: %w", err)
	}
	name := FileName(storeID, snap.version)
	err := storage.WriteFileAtomic(filepath.Join(f.Dir, name), "."+name+".tmp-", func(w io.Writer) error {
		return WriteSnapshot(w, snap, FileInfo{StoreID: storeID, Version: snap.version, At: at})
	})
	if err != nil {
		return fmt.Errorf("model file %s: %w", name, err)
	}
	f.prune(storeID)
	return nil
}

// prune deletes the store's files past the newest Keep, other stores'
// files, and temporary files a crash left.
func (f *Files) prune(storeID uuid.UUID) {
	keep := f.Keep
	if keep <= 0 {
		keep = 2
	}
	entries, err := os.ReadDir(f.Dir)
	if err != nil {
		return
	}
	files := storeFiles(entries, storeID) // the directory read once
	for _, e := range entries {
		name := e.Name()
		id, _, ok := parseName(name)
		old := ok && id != storeID
		if ok && id == storeID {
			i := slices.IndexFunc(files, func(sf savedFile) bool { return sf.name == name })
			old = i >= keep
		}
		if !old && strings.HasPrefix(name, ".") && strings.Contains(name, fileExt+".tmp-") {
			old = true
		}
		if old {
			if err := os.Remove(filepath.Join(f.Dir, name)); err != nil {
				f.logger().Warn("old model file not deleted", "file", name, "err", err)
			}
		}
	}
}
