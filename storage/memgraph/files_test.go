package memgraph

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestFilesPrune: after a save the directory holds the store's newest Keep
// files only: older ones of the store, another store's and a temporary file
// a crash left are deleted; an unrelated file stays. Load then reads the
// newest file at most the head.
func TestFilesPrune(t *testing.T) {
	w := newWorld(4, 50, 150)
	m := w.build(t)
	t.Cleanup(m.Close)
	dir := t.TempDir()
	f := &Files{Dir: dir, Keep: 2, Logger: quiet}
	id, other := uuid.New(), uuid.New()
	for _, name := range []string{FileName(other, 1), "." + FileName(id, 9) + ".tmp-123", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var versions []uint64
	for range 4 {
		if err := m.Apply(w.change()); err != nil {
			t.Fatal(err)
		}
		s := m.Latest()
		versions = append(versions, s.Version())
		if err := f.Save(id, s, time.Unix(0, int64(s.Version())).UTC()); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{FileName(id, versions[2]), FileName(id, versions[3]), "notes.txt"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after the saves the directory holds %q, want %q", got, want)
	}
	loaded, at, err := f.Load(id, versions[3]-1)
	if err != nil || loaded == nil {
		t.Fatalf("Load below the newest file: %v, %v", loaded, err)
	}
	t.Cleanup(loaded.Close)
	if v := loaded.Snapshot().Version(); v != versions[2] || !at.Equal(time.Unix(0, int64(v)).UTC()) {
		t.Fatalf("Load at head %d read version %d at %s, want %d", versions[3]-1, v, at, versions[2])
	}
}
