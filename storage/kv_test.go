package storage_test

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"policygraph/storage/badger"

	"policygraph/storage"
)

func TestUpdateRetriesConflicts(t *testing.T) {
	g := newGraph(t)
	kv := g.KV()
	key := []byte("test/counter")
	const workers, increments = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*increments)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
				errs <- kv.Update(func(tx storage.Txn) error {
					n := 0
					v, err := tx.Get(key)
					switch {
					case errors.Is(err, storage.ErrKeyMissing):
					case err != nil:
						return err
					default:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					return tx.Set(key, []byte(strconv.Itoa(n+1)))
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	var got []byte
	if err := kv.View(func(tx storage.Txn) error {
		var err error
		got, err = tx.Get(key)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(workers * increments); string(got) != want {
		t.Errorf("counter = %s, want %s: an increment was lost", got, want)
	}
}

func TestTxnScan(t *testing.T) {
	g := newGraph(t)
	kv := g.KV()
	if err := kv.Update(func(tx storage.Txn) error {
		for _, k := range []string{"t/b", "t/a", "t/c", "u/a"} {
			if err := tx.Set([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return tx.Delete([]byte("t/c"))
	}); err != nil {
		t.Fatal(err)
	}
	scan := func(prefix, start string, keysOnly bool) string {
		var out []string
		err := kv.View(func(tx storage.Txn) error {
			return tx.ScanFrom([]byte(prefix), []byte(start), keysOnly, func(k, v []byte) error {
				out = append(out, string(k)+"="+string(v))
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		prefix, start string
		keysOnly      bool
		want          string
	}{
		{"t/", "t/", false, "t/a=vt/a t/b=vt/b"},
		{"t/", "t/", true, "t/a= t/b="},
		{"t/", "t/b", false, "t/b=vt/b"},
		{"u", "u", false, "u/a=vu/a"},
		{"x", "x", false, ""},
	}
	for _, tt := range tests {
		if got := scan(tt.prefix, tt.start, tt.keysOnly); got != tt.want {
			t.Errorf("ScanFrom(%q, %q, %v) = %q, want %q", tt.prefix, tt.start, tt.keysOnly, got, tt.want)
		}
	}
	// One read transaction reuses its iterators across scans: many scans in a
	// row, one stopped early, and a scan inside another's callback must each
	// see exactly their own prefix.
	var got []string
	if err := kv.View(func(tx storage.Txn) error {
		for range 3 {
			if err := tx.Scan([]byte("t/"), true, func(k, _ []byte) error { return storage.ErrStop }); err != nil {
				return err
			}
			if err := tx.Scan([]byte("t/"), false, func(k, v []byte) error {
				return tx.Scan([]byte("u"), false, func(k2, v2 []byte) error {
					got = append(got, string(k)+"="+string(v)+"/"+string(k2)+"="+string(v2))
					return nil
				})
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s, want := strings.Join(got, " "), strings.Repeat("t/a=vt/a/u/a=vu/a t/b=vt/b/u/a=vu/a ", 3); s+" " != want {
		t.Errorf("nested scans in one transaction = %q, want %q", s, want)
	}
	err := kv.View(func(tx storage.Txn) error {
		_, err := tx.Get([]byte("t/c"))
		return err
	})
	if !errors.Is(err, storage.ErrKeyMissing) {
		t.Errorf("Get of a deleted key = %v, want ErrKeyMissing", err)
	}
	boom := errors.New("boom")
	err = kv.View(func(tx storage.Txn) error {
		return tx.Scan([]byte("t/"), true, func(_, _ []byte) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Errorf("Scan returned %v, want the callback's error", err)
	}
}

func openDir(t testing.TB, dir string) *storage.Graph {
	t.Helper()
	kv, err := badger.Open(badger.Options{Dir: dir, SyncWrites: true})
	if err != nil {
		t.Fatalf("badger.Open(%s): %v", dir, err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		t.Fatalf("Open: %v", err)
	}
	g.SetClock(tickingClock())
	return g
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	g := openDir(t, dir)
	src := mustCreate(t, g, &storage.Node{Kind: storage.KindSource, Name: "Test article"}, sourceText)
	org := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, "")
	ev := mustCreate(t, g, &storage.Node{Kind: storage.KindEvent, Name: "WAIC 2023", Year: 2023}, "")
	sp := mustAdd(t, g, &storage.Fact{Subject: org.ID, Predicate: storage.PredSponsored, Object: ev.ID, Tier: storage.TierElitePartner,
		Evidence: []storage.Evidence{{Source: src.ID, Quote: quoteQualcomm}}})
	c := mustAdd(t, g, &storage.Fact{Subject: org.ID, Predicate: storage.PredCountry, Value: "US",
		Evidence: []storage.Evidence{{Source: src.ID, Quote: quoteQualcomm}}})
	if _, err := g.RetractFact(c.ID, "t", "checking retraction survives"); err != nil {
		t.Fatal(err)
	}
	version := g.Version()
	before := dump(t, g)
	stats, _ := g.Stats()
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	g = openDir(t, dir)
	defer g.Close()
	if after := dump(t, g); after != before {
		t.Errorf("the store differs after reopening:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if s, _ := g.Stats(); s.Nodes != stats.Nodes || s.Facts != stats.Facts || s.ActiveFacts != stats.ActiveFacts {
		t.Errorf("Stats after reopening = %+v, before %+v", s, stats)
	}
	if v := g.Version(); v < version {
		t.Errorf("Version after reopening = %d, below %d before", v, version)
	}
	if n, err := g.NodeBySlug("qualcomm"); err != nil || n.ID != org.ID {
		t.Errorf("NodeBySlug after reopening = %v, %v", n, err)
	}
	if text, _ := g.SourceText(src.ID); text != sourceText {
		t.Errorf("SourceText after reopening = %q", text)
	}
	if f, err := g.Fact(sp.ID); err != nil || f.Tier != storage.TierElitePartner || f.Year != 2023 {
		t.Errorf("Fact after reopening = %+v, %v", f, err)
	}
	if f, err := g.Fact(c.ID); err != nil || f.Retraction == nil {
		t.Errorf("retracted fact after reopening = %+v, %v", f, err)
	}
	if hits, _ := g.Search("qualc", 0); len(hits) != 1 || hits[0].ID != org.ID {
		t.Errorf("Search after reopening = %v", hits)
	}
	adj, err := g.Adjacent([]storage.AdjQuery{{Node: ev.ID, Dir: storage.In}})
	if err != nil || len(adj[0]) != 1 || adj[0][0].ID != sp.ID {
		t.Errorf("Adjacent after reopening = %v, %v", adj, err)
	}
	// And it still takes writes that see the old data.
	if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Qualcomm"}, ""); err != nil {
		t.Errorf("CreateNode after reopening: %v", err)
	} else if n, err := g.NodeBySlug("qualcomm-2"); err != nil || n.Name != "Qualcomm" {
		t.Errorf("the second Qualcomm did not get slug qualcomm-2: %v, %v", n, err)
	}
	if v := g.Version(); v <= version {
		t.Errorf("Version after a write = %d, not above %d", v, version)
	}
}

// badger.KV.Update counts every successful Update, writes or not, but badger.Open
// restarts the count from Badger's MaxVersion, which only commits with writes raise.
func TestVersionNeverGoesBackAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	g := openDir(t, dir)
	n := &storage.Node{ID: storage.SlugID("acme"), Kind: storage.KindOrganization, Slug: "acme", Name: "Acme"}
	for range 5 {
		if _, err := g.PutNode(n, ""); err != nil { // the first writes, the rest do not
			t.Fatal(err)
		}
	}
	version := g.Version()
	g.Close()
	g = openDir(t, dir)
	defer g.Close()
	if v := g.Version(); v < version {
		t.Errorf("Version after reopening = %d, below %d before", v, version)
	}
}

func TestVersionGrows(t *testing.T) {
	g := newGraph(t)
	v0 := g.Version()
	mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Acme"}, "")
	v1 := g.Version()
	if v1 <= v0 {
		t.Errorf("Version after a write = %d, not above %d", v1, v0)
	}
	if _, err := g.CreateNode(&storage.Node{Kind: "NOPE", Name: "x"}, ""); err == nil {
		t.Fatal("CreateNode of a bad kind succeeded")
	}
	if v := g.Version(); v != v1 {
		t.Errorf("Version after a failed write = %d, want %d", v, v1)
	}
}

func TestOpenFormatVersion(t *testing.T) {
	formatKey := []byte("Mformat")
	tests := []struct {
		name    string
		prepare func(tx storage.Txn) error
		wantErr string
	}{
		{"empty store", func(tx storage.Txn) error { return nil }, ""},
		{"this version", func(tx storage.Txn) error {
			return tx.Set(formatKey, binary.BigEndian.AppendUint32(nil, storage.FormatVersion))
		}, ""},
		{"a later version", func(tx storage.Txn) error {
			return tx.Set(formatKey, binary.BigEndian.AppendUint32(nil, storage.FormatVersion+1))
		}, "format version"},
		{"version 0", func(tx storage.Txn) error { return tx.Set(formatKey, []byte{0, 0, 0, 0}) }, "format version"},
		{"a short version", func(tx storage.Txn) error { return tx.Set(formatKey, []byte{1}) }, "format version"},
		{"data without a version", func(tx storage.Txn) error { return tx.Set([]byte("n0123456789abcdef"), []byte("{}")) }, "no format version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv, err := badger.Open(badger.Options{InMemory: true})
			if err != nil {
				t.Fatal(err)
			}
			defer kv.Close()
			if err := kv.Update(tt.prepare); err != nil {
				t.Fatal(err)
			}
			g, err := storage.Open(kv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open = %v, want an error about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			var got []byte
			if err := g.KV().View(func(tx storage.Txn) error { got, err = tx.Get(formatKey); return err }); err != nil {
				t.Fatalf("no format key after Open: %v", err)
			}
			if len(got) != 4 || binary.BigEndian.Uint32(got) != storage.FormatVersion {
				t.Errorf("format key = %x, want %d", got, storage.FormatVersion)
			}
			// Opening again is fine.
			if _, err := storage.Open(kv); err != nil {
				t.Errorf("second Open: %v", err)
			}
		})
	}
}

func TestOpenRefusesForeignDirOnReopen(t *testing.T) {
	dir := t.TempDir()
	kv, err := badger.Open(badger.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Update(func(tx storage.Txn) error { return tx.Set([]byte("other app"), []byte("data")) }); err != nil {
		t.Fatal(err)
	}
	kv.Close()
	kv, err = badger.Open(badger.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	if _, err := storage.Open(kv); err == nil {
		t.Error("Open accepted a store of another application")
	}
}
