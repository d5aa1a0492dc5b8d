package storage

import "os"

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
