package storage_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"policygraph/storage/badger"

	"github.com/google/uuid"

	"policygraph/storage"
)

// openClosing is openDir, closed when the test ends unless closed before.
func openClosing(t testing.TB, dir string) *storage.Graph {
	t.Helper()
	g := openDir(t, dir)
	t.Cleanup(func() { g.Close() })
	return g
}

func TestStoreIDIsMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	g := openClosing(t, dir)
	id := g.StoreID()
	if id == uuid.Nil {
		t.Fatal("a new store has no store ID")
	}
	g.Close()
	g = openClosing(t, dir)
	if g.StoreID() != id {
		t.Errorf("store ID after reopen = %s, want %s", g.StoreID(), id)
	}
	// A store made before store IDs (no key) gets one on its next open, and keeps it.
	if err := g.KV().Update(func(tx storage.Txn) error { return tx.Delete([]byte("Mstore")) }); err != nil {
		t.Fatal(err)
	}
	g.Close()
	g = openClosing(t, dir)
	made := g.StoreID()
	if made == uuid.Nil || made == id {
		t.Errorf("store ID of a store that had none = %s (the old one was %s)", made, id)
	}
	g.Close()
	if g = openClosing(t, dir); g.StoreID() != made {
		t.Errorf("store ID after reopen = %s, want %s", g.StoreID(), made)
	}
	if rep, err := g.Check(); err != nil || !rep.OK() {
		t.Errorf("Check = %+v, %v", rep, err)
	}
}

// backupOf writes a backup of g (the seeded graph with a retraction and a
// saved query) and returns it.
func backupOf(t testing.TB, g *storage.Graph) ([]byte, storage.BackupInfo) {
	t.Helper()
	var b bytes.Buffer
	info, err := g.Backup(&b)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	return b.Bytes(), info
}

func backupSource(t testing.TB) *storage.Graph {
	t.Helper()
	g := seededGraph(t)
	for _, name := range []string{"sponsors", "orgs"} {
		if _, err := g.PutSavedQuery(storage.SavedQuery{Name: name, Description: "a saved query", Query: "{ entities(first: 1) { nodes { id } } }"}); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func TestBackupFormat(t *testing.T) {
	g := backupSource(t)
	b, info := backupOf(t, g)
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] != "" {
		t.Fatalf("the backup does not end with a newline")
	}
	lines = lines[:len(lines)-1]
	var head struct{ Header *storage.BackupHeader }
	if err := json.Unmarshal([]byte(lines[0]), &head); err != nil || head.Header == nil {
		t.Fatalf("first line %q: %v", lines[0], err)
	}
	h := head.Header
	if h.Format != "policygraph-backup" || h.FormatVersion != 1 || h.StoreID != g.StoreID() || h.Version != g.Version() ||
		h.StoreFormat != storage.FormatVersion || h.CreatedAt.IsZero() || *h != info.BackupHeader {
		t.Errorf("header %+v; store %s version %d; info %+v", h, g.StoreID(), g.Version(), info)
	}
	var tail struct{ Trailer *storage.BackupTrailer }
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), &tail); err != nil || tail.Trailer == nil {
		t.Fatalf("last line %q: %v", last, err)
	}
	sum := sha256.Sum256(b[:len(b)-len(last)])
	stats, _ := g.Stats()
	records := int64(len(lines) - 2)
	if tail.Trailer.SHA256 != hex.EncodeToString(sum[:]) || tail.Trailer.Records != records || info.Records != records {
		t.Errorf("trailer %+v, want %d records and sha256 %x", tail.Trailer, records, sum)
	}
	// Records: nodes, texts, facts, revisions (seededGraph's 3), saved
	// queries; no index or adjacency key.
	want := stats.Nodes + 1 + stats.Facts + 3 + 2
	if int(records) != want {
		t.Errorf("%d records, want %d (nodes, 1 text, facts, 3 revisions, 2 saved queries)", records, want)
	}
	if !strings.HasPrefix(lines[len(lines)-2], `{"saved":{"name":"sponsors"`) || !strings.HasPrefix(lines[1], `{"node":`) {
		t.Errorf("records out of order: first %.40s, last %.40s", lines[1], lines[len(lines)-2])
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	g := backupSource(t)
	b, info := backupOf(t, g)
	for _, existing := range []bool{false, true} {
		name := map[bool]string{false: "into a new directory", true: "into an empty directory"}[existing]
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "restored")
			if existing {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := badger.Restore(dir, bytes.NewReader(b), nil)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if rep.From != info.BackupHeader || rep.Records != info.Records || rep.Import.Saved != 2 {
				t.Errorf("report %+v, backup %+v", rep, info)
			}
			assertOnlyEntry(t, filepath.Dir(dir), "restored")
			r := openClosing(t, dir)
			// A restored store is a new store: its own ID, a version above the backup's.
			if r.StoreID() == g.StoreID() || r.StoreID() != rep.StoreID || r.StoreID() == uuid.Nil {
				t.Errorf("restored store ID %s, report %s, source %s", r.StoreID(), rep.StoreID, g.StoreID())
			}
			if r.Version() <= info.Version || r.Version() != rep.Version {
				t.Errorf("restored version %d (report %d), backup's %d: want above it", r.Version(), rep.Version, info.Version)
			}
			var e1, e2 bytes.Buffer
			if err := g.ExportJSONL(&e1); err != nil {
				t.Fatal(err)
			}
			if err := r.ExportJSONL(&e2); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e1.Bytes(), e2.Bytes()) {
				t.Error("the restored graph exports differently from the source")
			}
			if a, b := dump(t, g), dump(t, r, "Mrestored"); a != b {
				t.Errorf("the restored store's keys differ from the source's (the provenance key aside)")
			}
			q1, _ := g.SavedQueries()
			q2, _ := r.SavedQueries()
			if j1, _ := json.Marshal(q1); !bytes.Equal(j1, must(json.Marshal(q2))) {
				t.Errorf("saved queries: source %s, restored %s", j1, must(json.Marshal(q2)))
			}
			if rep, err := r.Check(); err != nil || !rep.OK() {
				t.Errorf("Check of the restored store = %+v, %v", rep, err)
			}
			// A backup of the restore names the new store; restoring that gives a third.
			b2, info2 := backupOf(t, r)
			if info2.StoreID != r.StoreID() || info2.Version != r.Version() {
				t.Errorf("backup of the restored store: %+v", info2)
			}
			rep3, err := badger.Restore(filepath.Join(t.TempDir(), "again"), bytes.NewReader(b2), nil)
			if err != nil || rep3.StoreID == r.StoreID() || rep3.Version <= r.Version() {
				t.Errorf("second restore: %+v, %v", rep3, err)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// assertOnlyEntry fails unless dir holds exactly the entry name (or nothing,
// with name "").
func assertOnlyEntry(t testing.TB, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{name}; name == "" && len(names) != 0 || name != "" && strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("%s holds %q, want only %q", dir, names, name)
	}
}

func TestRestoreRefusesABadBackupAndLeavesNothing(t *testing.T) {
	g := backupSource(t)
	b, info := backupOf(t, g)
	s := string(b)
	header := s[:strings.Index(s, "\n")+1]
	trailerAt := strings.LastIndex(s[:len(s)-1], "\n") + 1
	secondRecord := strings.Index(s[len(header):], "\n") + len(header) + 1
	flip := func(at int) string { x := []byte(s); x[at] ^= 0x01; return string(x) }
	name := strings.Index(s, `"name":"`) + len(`"name":"`) // inside the first entity's name
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(i*7919 + i/13)
	}
	tests := []struct {
		name, input, want string
	}{
		{"empty", "", "the backup is empty"},
		{"random bytes", string(random), "not a policygraph backup"},
		{"an export, not a backup", strings.Join(strings.Split(s, "\n")[1:3], "\n") + "\n", "not a policygraph backup"},
		{"another format version", strings.Replace(s, `"formatVersion":1`, `"formatVersion":2`, 1), "format version 2"},
		{"the header alone", header, "cut short after 0 records"},
		{"cut inside the header", header[:len(header)/2], "not a policygraph backup"},
		{"cut after a record", s[:secondRecord], "cut short after 1 records"},
		{"cut inside a record", s[:secondRecord+10], "cut short after 1 records"},
		{"cut in the middle", s[:len(s)/2], "cut short"},
		{"cut before the trailer", s[:trailerAt], "cut short"},
		{"cut inside the trailer", s[:len(s)-5], "cut short"},
		{"no final newline", s[:len(s)-1], "cut short"},
		{"a flipped byte in a name", flip(name), "SHA-256"},
		{"a flipped byte breaking a record's JSON", strings.Replace(s, `{"fact":{`, `{"fact":[`, 1), "SHA-256"},
		{"a flipped byte in the checksum", flip(strings.LastIndex(s, `"sha256":"`) + 20), "SHA-256"},
		{"a wrong record count", strings.Replace(s, `"records":`, `"records":1`, 1), "trailer says"},
		{"data after the trailer", s + s, "data follows its trailer"},
		{"random bytes after the header", header + string(random), "cut short"},
		{"a record line that is too long", header + strings.Repeat("x", 65<<20) + "\n", "longer than"},
	}
	for _, tt := range tests {
		for _, existing := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: " (into an empty dir)"}[existing], func(t *testing.T) {
				parent := t.TempDir()
				dir := filepath.Join(parent, "restored")
				if !existing {
					dir = filepath.Join(parent, "new", "restored") // the parent too is made, and removed
				}
				if existing {
					if err := os.Mkdir(dir, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				rep, err := badger.Restore(dir, strings.NewReader(tt.input), nil)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Restore = %+v, %v; want an error containing %q", rep, err, tt.want)
				}
				if existing {
					assertOnlyEntry(t, parent, "restored")
					assertOnlyEntry(t, dir, "")
				} else {
					assertOnlyEntry(t, parent, "")
				}
			})
		}
	}
	// The valid backup restores (the cases above fail for their damage alone).
	if _, err := badger.Restore(filepath.Join(t.TempDir(), "ok"), strings.NewReader(s), nil); err != nil {
		t.Errorf("Restore of the valid backup (%+v): %v", info, err)
	}
	// A directory that is not empty is refused before anything is read.
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), []byte("x"), 0o644)
	if _, err := badger.Restore(full, strings.NewReader(s), nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Restore into a non-empty directory: %v", err)
	}
}
