package storage

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// SyncDir fsyncs the directory dir, so that a file created, renamed or
// removed in it survives a crash: what the engines' files (a restore's, the
// read model's) need after a rename.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteFileAtomic writes path through write into a temporary file beside it
// (named pattern, as os.CreateTemp takes it), fsyncs it, renames it onto
// path and fsyncs the directory: a crash leaves the old file or the new
// one, never part of it. A temporary file left by a failure is removed.
func WriteFileAtomic(path, pattern string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is none
	w := bufio.NewWriterSize(tmp, 1<<20)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = SyncDir(dir)
	}
	return err
}
