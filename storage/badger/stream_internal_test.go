package badger

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"policygraph/storage"
)

// TestBulkWriterSpillsSortedRuns: with a budget far below the import, the
// bulk writer sorts runs to disk and merges them; the store gets every key
// once, with the value of its last Set (as in a batch), and the runs are gone.
func TestBulkWriterSpillsSortedRuns(t *testing.T) {
	dir := t.TempDir()
	kv, err := Open(Options{Dir: dir, BulkMemory: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	if _, err := storage.Open(kv); err != nil { // writes the meta keys, which Flush keeps
		t.Fatal(err)
	}
	before := map[string]string{}
	err = kv.View(func(tx storage.Txn) error {
		return tx.Scan(nil, false, func(k, v []byte) error { before[string(k)] = string(v); return nil })
	})
	if err != nil || len(before) == 0 {
		t.Fatalf("the store before the import holds %d keys: %v", len(before), err)
	}
	w := kv.NewBulkWriter().(*streamBulkWriter)
	want := map[string]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		// Keys of several kinds, out of order, many set more than once.
		k := fmt.Sprintf("%c%06d", "nfoiw"[rng.IntN(5)], rng.IntN(8000))
		v := fmt.Sprintf("value %d of %s", i, k)
		if err := w.Set([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	runs := len(w.runs)
	if runs < 3 {
		t.Fatalf("%d sorted runs on disk; the budget should have made several", runs)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err = kv.View(func(tx storage.Txn) error {
		return tx.Scan(nil, false, func(k, v []byte) error {
			got[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range before {
		if got[k] != v {
			t.Errorf("%q = %q after the import, want %q as before it", k, got[k], v)
		}
		delete(got, k)
	}
	if len(got) != len(want) {
		t.Errorf("the store holds %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want the last value set, %q", k, got[k], v)
			break
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("%s left behind in the data directory", e.Name())
		}
	}
	t.Logf("%d runs merged", runs)
}

// FuzzKeyHead: the bulk writer's order (keyHead, then the bytes) is
// bytes.Compare for any two keys of one stream (the same first byte), so it
// needs nothing of the key layout.
func FuzzKeyHead(f *testing.F) {
	f.Add([]byte("kEVENT\x00waic"), []byte("kEVENT_SERIES\x00waic"))
	f.Add([]byte("a"), []byte("a\x00"))
	f.Add([]byte("n\x01\x02\x03\x04\x05\x06\x07\x08\x09"), []byte("n\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) == 0 || len(b) == 0 {
			return
		}
		b[0] = a[0]
		want := bytes.Compare(a, b)
		if got := cmp.Compare(keyHead(a), keyHead(b)); got != 0 && got != want {
			t.Fatalf("keyHead orders %x and %x %d, bytes.Compare %d", a, b, got, want)
		}
	})
}
