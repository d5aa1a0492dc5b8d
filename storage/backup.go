package storage

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Backuper is a KV that can write a consistent copy of itself while it serves.
type Backuper interface {
	// Backup writes a full backup, taken in one snapshot, to w.
	Backup(w io.Writer) error
}

// Backup implements Backuper with Badger's own backup format (see badger.DB.Backup),
// which Restore reads.
func (b *Badger) Backup(w io.Writer) error {
	_, err := b.DB.Backup(w, 0)
	return err
}

// Backup writes a consistent copy of the whole store to w while the graph keeps
// serving. It fails if the KV cannot back itself up.
func (g *Graph) Backup(w io.Writer) error {
	kv := g.kv
	b, ok := kv.(Backuper)
	for !ok {
		u, wraps := kv.(interface{ Unwrap() KV })
		if !wraps {
			return fmt.Errorf("backup: the %T store cannot back itself up", g.kv)
		}
		kv = u.Unwrap()
		b, ok = kv.(Backuper)
	}
	if err := b.Backup(w); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// maxPendingWrites bounds the memory Restore uses for writes in flight.
const maxPendingWrites = 256

// Restore loads a backup written by Backup into dir, which must be empty or not
// exist, and checks that the result opens as a graph of this build's format.
func Restore(dir string, r io.Reader, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("restore: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("restore: %s is not empty; restore only into an empty or new directory", dir)
	}
	kv, err := OpenBadger(BadgerOptions{Dir: dir, SyncWrites: true, Logger: log})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := kv.DB.Load(r, maxPendingWrites); err != nil {
		kv.Close()
		return fmt.Errorf("restore: load: %w", err)
	}
	if err := kv.DB.Sync(); err != nil {
		kv.Close()
		return fmt.Errorf("restore: sync: %w", err)
	}
	kv.version.Store(kv.DB.MaxVersion())
	g, err := Open(kv)
	if err != nil {
		kv.Close()
		return fmt.Errorf("restore: the backup is not a policygraph store: %w", err)
	}
	return g.Close()
}

// Unwrap returns the KV that c counts, so that Backup can reach the store.
func (c *CountingKV) Unwrap() KV { return c.KV }

// Unwrap returns the KV under the context check.
func (c ctxKV) Unwrap() KV { return c.KV }
