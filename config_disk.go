package main

import (
	"flag"
	"fmt"
	"strings"

	"policygraph/storage"
)

// byteSize is a flag.Value holding a size in bytes, read by storage.ParseBytes
// ("134217728", "128MiB", "1GiB"); autoSize (-1) stands for "auto".
type byteSize int64

const autoSize byteSize = -1

func (b *byteSize) String() string {
	if *b == autoSize {
		return "auto"
	}
	return storage.FormatBytes(int64(*b))
}

func (b *byteSize) Set(s string) error {
	if strings.TrimSpace(s) == "auto" {
		*b = autoSize
		return nil
	}
	n, err := storage.ParseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// byteSizeFlag defines a size flag whose default comes from the environment
// variable env when it is set. A malformed environment value is returned by
// the func, which parseConfig calls after parsing the flags.
func byteSizeFlag(fs *flag.FlagSet, getenv func(string) string, dst *byteSize, name, env string, def byteSize, usage string) func() error {
	*dst = def
	var envErr error
	if v := getenv(env); v != "" {
		if err := dst.Set(v); err != nil {
			envErr = fmt.Errorf("%s=%q: %w", env, v, err)
		}
	}
	fs.Var(dst, name, usage+" (env "+env+")")
	return func() error { return envErr }
}

// diskFlags defines the flags of the store's disk use: Badger's memtable size
// and the free-space watermark under which writes are refused. The returned
// func, called after parsing, reports a malformed environment value and
// resolves -min-free-disk's "auto" to storage.DefaultMinFreeDisk.
func diskFlags(fs *flag.FlagSet, getenv func(string) string, c *config) func() error {
	memtable := byteSizeFlag(fs, getenv, &c.memTableSize, "memtable-size", "POLICYGRAPH_MEMTABLE_SIZE", storage.DefaultMemTableSize,
		"Badger's memtable size, and so the size of its write-ahead log files, e.g. 64MiB")
	minFree := byteSizeFlag(fs, getenv, &c.minFreeDisk, "min-free-disk", "POLICYGRAPH_MIN_FREE_DISK", autoSize,
		"refuse writes (DISK_FULL) while the data directory's disk has less free space than this, e.g. 512MiB; auto: 4 memtables; 0: never")
	return func() error {
		for _, check := range []func() error{memtable, minFree} {
			if err := check(); err != nil {
				return err
			}
		}
		if c.memTableSize < 1<<20 {
			return fmt.Errorf("-memtable-size %s is under Badger's 1MiB minimum", &c.memTableSize)
		}
		if c.minFreeDisk == autoSize {
			c.minFreeDisk = byteSize(storage.DefaultMinFreeDisk(int64(c.memTableSize)))
		}
		return nil
	}
}
