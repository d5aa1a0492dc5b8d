package badger

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"policygraph/storage"
)

// walAfterWrites commits n small transactions to a new on-disk store and
// returns a copy of its memtable log taken while the store is open: what a
// kill -9 leaves (the log is written through a shared mapping, so the file
// holds every write the process made).
func walAfterWrites(t *testing.T, n int) []byte {
	t.Helper()
	dir := t.TempDir()
	kv, err := Open(Options{Dir: dir, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	for i := range n {
		err := kv.Update(func(tx storage.Txn) error {
			for j := range 3 {
				if err := tx.Set(fmt.Appendf(nil, "k%04d-%d", i, j), []byte(strings.Repeat("v", 40+i%50))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mems, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	if len(mems) != 1 {
		t.Fatalf("memtable logs: %q", mems)
	}
	b, err := os.ReadFile(mems[0])
	if err != nil {
		t.Fatal(err)
	}
	// The file is preallocated (128 MiB); zeros follow the writes.
	return b[:len(strings.TrimRight(string(b), "\x00"))+64<<10]
}

// scanBytes runs scanLog on b written to a file (one file a test).
func scanBytes(t *testing.T, b []byte) (int64, *LogDamage) {
	t.Helper()
	p := filepath.Join(os.TempDir(), fmt.Sprintf("policygraph-%s.mem", t.Name()))
	t.Cleanup(func() { os.Remove(p) })
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	keep, d, err := scanLog(p)
	if err != nil {
		t.Fatalf("scanLog: %v", err)
	}
	return keep, d
}

func TestScanLogTellsATornTailFromDamage(t *testing.T) {
	const writes = 40
	wal := walAfterWrites(t, writes)
	end := len(strings.TrimRight(string(wal), "\x00"))
	keep, d := scanBytes(t, wal)
	if d != nil || keep != int64(end) {
		t.Fatalf("an intact log: keep %d (data ends at %d), damage %v", keep, end, d)
	}
	// The entries' offsets, from the replay itself.
	var offsets []int
	for off := logHeaderSize; off < end; {
		e, ok := decodeLogEntry(wal[off:])
		if !ok {
			t.Fatalf("entry at %d does not decode", off)
		}
		offsets = append(offsets, off)
		off += e.size
	}
	last := offsets[len(offsets)-1]

	// A crash while writing: the log ends anywhere (zeros after), the last
	// entry torn or the last transaction unfinished. Never damage.
	for cut := offsets[len(offsets)-10]; cut < end; cut++ {
		torn := append([]byte(nil), wal...)
		clear(torn[cut:])
		if _, d := scanBytes(t, torn); d != nil {
			t.Fatalf("a log cut at byte %d of %d (a crash) reported as damaged: %v", cut, end, d)
		}
	}
	// A torn entry whose head was stored last (a copy that writes its first
	// bytes at the end): zeros, then the rest of the entry.
	torn := append([]byte(nil), wal...)
	clear(torn[last : last+4])
	if _, d := scanBytes(t, torn); d != nil {
		t.Errorf("a last entry with its head unwritten reported as damaged: %v", d)
	}

	// Flipped bytes anywhere before the last entry: the writes after them are
	// reported, with the committed transactions among them.
	for _, at := range []int{logHeaderSize + 3, offsets[len(offsets)/3] + 10, offsets[len(offsets)/2], end / 2, offsets[len(offsets)-2] + 5} {
		bad := append([]byte(nil), wal...)
		for i := range 16 {
			bad[at+i] ^= 0xff
		}
		keep, d := scanBytes(t, bad)
		if d == nil {
			t.Errorf("16 bytes flipped at %d of %d: no damage reported", at, end)
			continue
		}
		if d.ReplayEnd != keep || d.ReplayEnd > int64(at) || d.ResumeAt <= int64(at) || d.DataEnd != int64(end) || d.Transactions == 0 {
			t.Errorf("16 bytes flipped at %d: %+v (keep %d)", at, d, keep)
		}
	}
	// One flipped byte in the middle: every transaction after it is counted.
	bad := append([]byte(nil), wal...)
	mid := offsets[len(offsets)/2]
	bad[mid+4] ^= 0x01
	_, d = scanBytes(t, bad)
	after := 0
	for _, off := range offsets {
		if off > mid {
			if e, _ := decodeLogEntry(wal[off:]); e.meta&bitFinTxn != 0 {
				after++
			}
		}
	}
	if d == nil || d.Transactions != after {
		t.Errorf("a byte flipped at %d: %v, want %d transactions after it", mid, d, after)
	}
	// What stays invisible: damage to the very last entry (it looks torn).
	bad = append([]byte(nil), wal...)
	bad[last+3] ^= 0x01
	if _, d := scanBytes(t, bad); d != nil {
		t.Logf("damage in the last entry was seen after all: %v", d)
	}
}

// TestCheckDirTakesAnUntouchedMemtableLog: a kill -9 between Badger's
// creating a new memtable log and sizing it leaves an empty file (and one
// after sizing it, all zeros). Badger opening an empty log sizes it first, and
// a read-only Badger cannot ("truncate …: invalid argument", a flake of the
// crash test): CheckDir leaves a log shorter than its header, which holds
// nothing to replay, out of its copy.
func TestCheckDirTakesAnUntouchedMemtableLog(t *testing.T) {
	dir := t.TempDir()
	kv, err := Open(Options{Dir: dir, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Open(kv); err != nil {
		t.Fatal(err)
	}
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00098.mem"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00099.mem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckDir(dir, nil)
	if err != nil {
		t.Fatalf("CheckDir with an untouched memtable log: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("problems: %v", rep.Problems)
	}
}
