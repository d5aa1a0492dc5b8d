package storage_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/storage"
	"policygraph/storage/badger"
	"policygraph/storage/memgraph"
)

// recordingCache is a memgraph.Files that says what its Load returned, and
// can refuse to save (a process killed before its shutdown wrote a file).
type recordingCache struct {
	*memgraph.Files
	noSave atomic.Bool

	mu     sync.Mutex
	loaded []uint64 // the versions of the models Load returned
	saves  int
}

func (c *recordingCache) Load(id uuid.UUID, head uint64) (storage.ReadModel, time.Time, error) {
	m, at, err := c.Files.Load(id, head)
	if m != nil {
		c.mu.Lock()
		c.loaded = append(c.loaded, m.Snapshot().Version())
		c.mu.Unlock()
	}
	return m, at, err
}

func (c *recordingCache) Save(id uuid.UUID, s storage.Snapshot, at time.Time) error {
	if c.noSave.Load() {
		return nil
	}
	c.mu.Lock()
	c.saves++
	c.mu.Unlock()
	return c.Files.Save(id, s, at)
}

// logBuffer collects a graph's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// diskStore is a store in a directory that outlives each Graph on it, with
// its model files in dir/model.
type diskStore struct {
	t   *testing.T
	dir string
	log *logBuffer
}

func newDiskStore(t *testing.T) *diskStore {
	return &diskStore{t: t, dir: t.TempDir(), log: &logBuffer{}}
}

func (d *diskStore) modelDir() string { return filepath.Join(d.dir, "model") }

// open opens the store with the read model and a cache of its files.
func (d *diskStore) open(o storage.Options, noSave bool) (*storage.Graph, *recordingCache) {
	d.t.Helper()
	kv, err := badger.Open(badger.Options{Dir: d.dir})
	if err != nil {
		d.t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(d.log, nil))
	c := &recordingCache{Files: &memgraph.Files{Dir: d.modelDir(), Logger: logger}}
	c.noSave.Store(noSave)
	o.Model, o.ModelCache, o.Logger = memgraph.Load, c, logger
	g, err := storage.OpenWith(kv, o)
	if err != nil {
		kv.Close()
		d.t.Fatalf("OpenWith: %v", err)
	}
	g.SetClock(tickingClock())
	return g, c
}

// files lists the model files.
func (d *diskStore) files() []string {
	d.t.Helper()
	entries, err := os.ReadDir(d.modelDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // none yet: no file written
		d.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func closeGraph(t *testing.T, g *storage.Graph) {
	t.Helper()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSavedModelAnswersAsTheStore: a model written to its file at shutdown
// and read back at the next start answers exactly as the store and as a
// model built afresh from it; so does one read back from an older file
// whose start then replays the writes committed after it; and the writes
// go on from there.
func TestSavedModelAnswersAsTheStore(t *testing.T) {
	d := newDiskStore(t)
	g, c := d.open(storage.Options{}, false)
	x := newFixtureOn(t, g)
	writeRandomly(t, x, rand.New(rand.NewPCG(1, 1)), 300, "a")
	// A base with records in it, then an overlay over it: the file holds both.
	if err := g.ReadModel().(*memgraph.Model).Compact(); err != nil {
		t.Fatal(err)
	}
	writeRandomly(t, x, rand.New(rand.NewPCG(2, 2)), 150, "b")
	if st := g.ReadModel().Stats(); st.BaseVersion == 0 || st.OverlayEntries == 0 {
		t.Fatalf("want a base and an overlay: %+v", st)
	}
	if len(c.loaded) != 0 {
		t.Fatalf("a new store loaded a model file: %v", c.loaded)
	}
	v1 := g.Version()
	closeGraph(t, g)
	if files := d.files(); len(files) == 0 || len(files) > 2 || files[len(files)-1] != memgraph.FileName(g.StoreID(), v1) {
		t.Fatalf("after shutdown the model files are %q, want the one of version %d the newest, of two at most", files, v1)
	}

	// The restart reads the file: nothing to replay.
	g, c = d.open(storage.Options{}, true) // this run's shutdown writes no file
	if len(c.loaded) != 1 || c.loaded[0] != v1 {
		t.Fatalf("the restart loaded %v, want the file of version %d", c.loaded, v1)
	}
	x.g = g
	diffModel(t, g, "read from the file")
	writeRandomly(t, x, rand.New(rand.NewPCG(3, 3)), 150, "c")
	v2 := g.Version()
	closeGraph(t, g)

	// The next start reads the file of v1 and replays the writes after it.
	g, c = d.open(storage.Options{}, false)
	if len(c.loaded) != 1 || c.loaded[0] != v1 || g.Version() != v2 {
		t.Fatalf("the restart loaded %v at head %d, want the file of version %d replayed to %d", c.loaded, g.Version(), v1, v2)
	}
	x.g = g
	diffModel(t, g, "read from the file and replayed")
	closeGraph(t, g)
	// That run replayed, so its clean shutdown wrote the head's file, which
	// the next start reads with nothing to replay.
	if files := d.files(); !slices.Contains(files, memgraph.FileName(g.StoreID(), v2)) {
		t.Fatalf("after a replaying run's shutdown the model files are %q, want one of version %d", files, v2)
	}
	g, c = d.open(storage.Options{}, false)
	if len(c.loaded) != 1 || c.loaded[0] != v2 {
		t.Fatalf("the restart loaded %v, want the file of version %d", c.loaded, v2)
	}
	x.g = g
	writeRandomly(t, x, rand.New(rand.NewPCG(4, 4)), 60, "d")
	diffModel(t, g, "written on after the replay")
	closeGraph(t, g)
	if !strings.Contains(d.log.String(), "read model loaded from its file") {
		t.Fatalf("no load reported:\n%s", d.log)
	}
}

// TestUnusableModelFileFallsBack: a file damaged, truncated, of another
// store, or older than the change log keeps, is never trusted: the model is
// built from the store, answers as the store does, and a good file is
// written for the next start.
func TestUnusableModelFileFallsBack(t *testing.T) {
	spoil := map[string]func(t *testing.T, d *diskStore, path string, g0 *storage.Graph){
		"a byte flipped": func(t *testing.T, _ *diskStore, path string, _ *storage.Graph) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x40
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"truncated": func(t *testing.T, _ *diskStore, path string, _ *storage.Graph) {
			if err := os.Truncate(path, 4096); err != nil {
				t.Fatal(err)
			}
		},
		"another store's, renamed": func(t *testing.T, d *diskStore, path string, g0 *storage.Graph) {
			// The file of another store under this store's name.
			other := newDiskStore(t)
			og, _ := other.open(storage.Options{}, false)
			newFixtureOn(t, og)
			closeGraph(t, og)
			of := other.files()
			b, err := os.ReadFile(filepath.Join(other.modelDir(), of[len(of)-1]))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"older than the log keeps": func(t *testing.T, d *diskStore, _ string, _ *storage.Graph) {
			// Writes the file does not have, whose log entries are then
			// pruned: a run that writes no file at its shutdown.
			g, _ := d.open(storage.Options{Retention: storage.Retention{Versions: 3}}, true)
			for i := range 10 {
				if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Later " + string(rune('a'+i))}, ""); err != nil {
					t.Fatal(err)
				}
			}
			closeGraph(t, g)
		},
	}
	for name, fn := range spoil {
		t.Run(name, func(t *testing.T) {
			d := newDiskStore(t)
			g, _ := d.open(storage.Options{}, false)
			x := newFixtureOn(t, g)
			writeRandomly(t, x, rand.New(rand.NewPCG(5, 5)), 80, "a")
			closeGraph(t, g)
			// Only the newest file: the one the next start would read.
			files := d.files()
			for _, f := range files[:len(files)-1] {
				if err := os.Remove(filepath.Join(d.modelDir(), f)); err != nil {
					t.Fatal(err)
				}
			}
			fn(t, d, filepath.Join(d.modelDir(), files[len(files)-1]), g)

			g, c := d.open(storage.Options{Retention: storage.Retention{Versions: 3}}, false)
			if len(c.loaded) != 0 && name != "older than the log keeps" {
				t.Fatalf("a spoiled file was loaded: %v", c.loaded)
			}
			if got := d.log.String(); !strings.Contains(got, "model file skipped") && !strings.Contains(got, "read model file not used") {
				t.Fatalf("the spoiled file was not reported:\n%s", got)
			}
			x.g = g
			diffModel(t, g, "built from the store")
			closeGraph(t, g)
			// The start wrote a good file (soon after the build, or at shutdown).
			g, c = d.open(storage.Options{}, false)
			if len(c.loaded) != 1 || c.loaded[0] != g.Version() {
				t.Fatalf("after the fallback, the next start loaded %v at head %d", c.loaded, g.Version())
			}
			diffModel(t, g, "read from the file written after the fallback")
			closeGraph(t, g)
		})
	}
}

// TestModelFileOfLostWrites: a file at version F is not used when the log's
// change F is not the one the file was written after (a store that lost
// its last writes in a crash without -sync, then committed others under the
// same versions).
func TestModelFileOfLostWrites(t *testing.T) {
	d := newDiskStore(t)
	g, _ := d.open(storage.Options{}, false)
	x := newFixtureOn(t, g)
	v := g.Version()
	closeGraph(t, g)
	// Rewrite the log's change v as another commit would have made it.
	kv, err := badger.Open(badger.Options{Dir: d.dir})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	var entry []*storage.Change
	if err := raw.Changes(t.Context(), v-1, false, func(c *storage.Change) error { entry = append(entry, c); return nil }); err != nil {
		t.Fatal(err)
	}
	entry[0].At = entry[0].At.Add(time.Hour)
	if err := storage.ReplaceLogEntry(kv, entry[0]); err != nil {
		t.Fatal(err)
	}
	closeGraph(t, raw)

	g, c := d.open(storage.Options{}, false)
	if len(c.loaded) != 1 {
		t.Fatalf("the file was not read: %v", c.loaded)
	}
	if !strings.Contains(d.log.String(), "the store lost writes?") {
		t.Fatalf("the mismatch was not reported:\n%s", d.log)
	}
	x.g = g
	diffModel(t, g, "built from the store")
	closeGraph(t, g)
}

// TestModelSavedAfterACompaction: while the graph runs, a compaction leads
// to a file of the model's version (bounded by ModelSaveEvery), which the
// next start reads, even when that run ends without writing one.
func TestModelSavedAfterACompaction(t *testing.T) {
	d := newDiskStore(t)
	g, c := d.open(storage.Options{ModelSaveEvery: 20 * time.Millisecond}, false)
	x := newFixtureOn(t, g)
	writeRandomly(t, x, rand.New(rand.NewPCG(6, 6)), 100, "a")
	if err := g.ReadModel().(*memgraph.Model).Compact(); err != nil {
		t.Fatal(err)
	}
	v := g.Version()
	want := memgraph.FileName(g.StoreID(), v)
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(d.files(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no file of version %d after a compaction: %q\n%s", v, d.files(), d.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.noSave.Store(true) // the shutdown writes nothing: the next start reads the compaction's file
	closeGraph(t, g)
	g, c = d.open(storage.Options{}, false)
	if len(c.loaded) != 1 || c.loaded[0] != v {
		t.Fatalf("the restart loaded %v, want the file of version %d", c.loaded, v)
	}
	x.g = g
	diffModel(t, g, "read from the compaction's file")
	closeGraph(t, g)
}
