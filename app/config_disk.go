package app

import (
	"flag"
	"fmt"
	"strings"

	"policygraph/storage/badger"
)

// autoSize (-1) is the byteSize that "auto" stands for in a flag that takes it.
const autoSize byteSize = -1

// orAuto is a byteSize flag that also takes "auto" (autoSize).
type orAuto struct{ b *byteSize }

func (a orAuto) String() string {
	switch {
	case a.b == nil:
		return ""
	case *a.b == autoSize:
		return "auto"
	}
	return a.b.String()
}

func (a orAuto) Set(s string) error {
	if strings.TrimSpace(s) == "auto" {
		*a.b = autoSize
		return nil
	}
	return a.b.Set(s)
}

// Get implements flag.Getter.
func (a orAuto) Get() any { return *a.b }

// byteSizeFlag defines a size flag whose default comes from the environment
// variable env when it is set. A malformed environment value is returned by
// the func, which ParseConfig calls after parsing the flags.
func byteSizeFlag(fs *flag.FlagSet, getenv func(string) string, dst *byteSize, name, env string, def byteSize, usage string) func() error {
	*dst = def
	var v flag.Value = dst
	if def == autoSize {
		v = orAuto{dst}
	}
	var envErr error
	if s := getenv(env); s != "" {
		if err := v.Set(s); err != nil {
			envErr = fmt.Errorf("%s=%q: %w", env, s, err)
		}
	}
	fs.Var(v, name, usage+" (env "+env+")")
	return func() error { return envErr }
}

// diskFlags defines the flags of the store's disk use: Badger's memtable size
// and the free-space watermark under which writes are refused. The returned
// func, called after parsing, reports a malformed environment value and
// resolves -min-free-disk's "auto" to badger.DefaultMinFreeDisk.
func diskFlags(fs *flag.FlagSet, getenv func(string) string, c *Config) func() error {
	memtable := byteSizeFlag(fs, getenv, &c.memTableSize, "memtable-size", "POLICYGRAPH_MEMTABLE_SIZE", badger.DefaultMemTableSize,
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
			c.minFreeDisk = byteSize(badger.DefaultMinFreeDisk(int64(c.memTableSize)))
		}
		return nil
	}
}
