package memgraph

import (
	"bytes"
	"cmp"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// savedBytes writes s to a file image.
func savedBytes(t testing.TB, s *Snapshot, id uuid.UUID) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, s, FileInfo{StoreID: id, Version: s.Version()}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFileRoundTrip: a snapshot with a base and an overlay (new entities,
// facts, dictionary strings, texts, revisions, saved queries since the
// base), written and read back, answers every read as the snapshot did,
// counts alike, and takes the same changes on to the same answers.
func TestFileRoundTrip(t *testing.T) {
	w := newWorld(2, 300, 900)
	m := w.build(t)
	m.SetOptions(Options{CompactAt: -1, Logger: quiet})
	t.Cleanup(m.Close)
	for i := range 600 {
		if err := m.Apply(w.change()); err != nil {
			t.Fatal(err)
		}
		if i == 300 {
			if err := m.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := m.Latest()
	if s.ov.Len() == 0 || s.b.nodes.n() == 0 {
		t.Fatal("want a base and an overlay")
	}
	id := uuid.New()
	loaded, info, err := ReadSnapshot(savedBytes(t, s, id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loaded.Close)
	if info.StoreID != id || info.Version != s.Version() || loaded.Latest().Version() != s.Version() {
		t.Fatalf("read back %+v at %d, want store %s at %d", info, loaded.Latest().Version(), id, s.Version())
	}
	p := w.probe()
	sameAnswers(t, "read back", fingerprint(t, loaded.Latest(), p), fingerprint(t, s, p))
	if !reflect.DeepEqual(loaded.Latest().Sizes(), s.Sizes()) {
		t.Fatalf("Sizes read back %+v, want %+v", loaded.Latest().Sizes(), s.Sizes())
	}
	for range 300 {
		c := w.change()
		if err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
		if err := loaded.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := loaded.Compact(); err != nil {
		t.Fatal(err)
	}
	p = w.probe()
	want := fingerprint(t, w.build(t).Latest(), p)
	sameAnswers(t, "changes applied after the read, compacted", fingerprint(t, loaded.Latest(), p), want)
	sameAnswers(t, "the same changes applied to the original", fingerprint(t, m.Latest(), p), want)
}

// TestDamagedFileIsRefused: a file with any byte changed, or cut short,
// reads as ErrBadFile, never as a model and never as a panic.
func TestDamagedFileIsRefused(t *testing.T) {
	w := newWorld(3, 100, 300)
	m := w.build(t)
	t.Cleanup(m.Close)
	for range 50 {
		if err := m.Apply(w.change()); err != nil {
			t.Fatal(err)
		}
	}
	good := savedBytes(t, m.Latest(), uuid.New())
	if _, _, err := ReadSnapshot(good); err != nil {
		t.Fatal(err)
	}
	step := max(1, len(good)/400)
	for i := 0; i < len(good); i += step {
		for _, at := range []int{i, len(good) - 1 - i%64} {
			bad := bytes.Clone(good)
			bad[at] ^= 0x10
			if _, _, err := ReadSnapshot(bad); !errors.Is(err, ErrBadFile) {
				t.Fatalf("byte %d of %d changed: err %v, want ErrBadFile", at, len(good), err)
			}
		}
		if _, _, err := ReadSnapshot(good[:i]); !errors.Is(err, ErrBadFile) {
			t.Fatalf("cut to %d bytes of %d: err %v, want ErrBadFile", i, len(good), err)
		}
	}
}

// TestRadixSortSlugs holds the slug index's sort at load to the order the
// build gives it: by hash, then internal ID.
func TestRadixSortSlugs(t *testing.T) {
	refs := make([]slugRef, 5000)
	for i := range refs {
		// Few distinct hashes, so that ties are many.
		h := uint32(i*2654435761) % 977
		refs[i] = slugRef{hash: h<<20 | h, iid: uint32(i)}
	}
	want := slices.Clone(refs)
	slices.SortFunc(want, func(x, y slugRef) int {
		if x.hash != y.hash {
			return cmp.Compare(x.hash, y.hash)
		}
		return cmp.Compare(x.iid, y.iid)
	})
	if got := radixSortSlugs(refs); !slices.Equal(got, want) {
		t.Fatal("radix sort differs from the comparison sort")
	}
}
