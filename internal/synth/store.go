package synth

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
)

// Store is a synthetic graph built by BuildStore.
type Store struct {
	// Dir is the Badger data directory, ready for `serve -data Dir`.
	Dir string
	// File is the generated export (JSON lines) that was imported.
	File string
	// Report is what the import wrote; Import how long it took.
	Report storage.ImportReport
	Import time.Duration
}

// BuildStore generates a synthetic graph of n nodes (Generate) into
// base/synth-n.jsonl, bulk-imports it into a new store at base/data-n
// (Graph.Import), loads the seed on top through the production write path and
// closes the store. base and its parents are created if they do not exist.
func BuildStore(base string, n int, syncWrites bool) (Store, error) {
	st := Store{
		Dir:  filepath.Join(base, fmt.Sprintf("data-%d", n)),
		File: filepath.Join(base, fmt.Sprintf("synth-%d.jsonl", n)),
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}
	f, err := os.Create(st.File)
	if err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}
	if _, _, err := Generate(f, n); err != nil {
		f.Close()
		return st, fmt.Errorf("scale store: generate: %w", err)
	}
	if err := f.Close(); err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}

	kv, err := badger.Open(badger.Options{Dir: st.Dir, SyncWrites: syncWrites, BulkMemory: badger.DefaultBulkMemory})
	if err != nil {
		return st, fmt.Errorf("scale store: %w", err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		return st, fmt.Errorf("scale store: %w", err)
	}
	in, err := os.Open(st.File)
	if err != nil {
		g.Close()
		return st, fmt.Errorf("scale store: %w", err)
	}
	// The import's budget bounds the Go heap while it runs, as in the
	// import command.
	limit := debug.SetMemoryLimit(badger.DefaultBulkMemory)
	start := time.Now()
	st.Report, err = g.Import(bufio.NewReaderSize(in, 1<<20))
	st.Import = time.Since(start)
	debug.SetMemoryLimit(limit)
	in.Close()
	if err != nil {
		g.Close()
		return st, fmt.Errorf("scale store: import %s: %w", st.File, err)
	}
	if _, err := seed.Load(g); err != nil {
		g.Close()
		return st, fmt.Errorf("scale store: seed: %w", err)
	}
	if err := g.Close(); err != nil {
		return st, fmt.Errorf("scale store: close: %w", err)
	}
	return st, nil
}
