package storage

import (
	"fmt"
	"testing"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"134217728", 134217728, false},
		{"128MiB", 128 << 20, false},
		{"1GiB", 1 << 30, false},
		{"1.5GiB", 3 << 29, false},
		{" 64 MiB ", 64 << 20, false},
		{"500MB", 500e6, false},
		{"4KiB", 4096, false},
		{"0", 0, false},
		{"12B", 12, false},
		{"", 0, true},
		{"-1MiB", 0, true},
		{"lots", 0, true},
		{"1XiB", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
	for _, n := range []int64{0, 1, 4096, 64 << 20, 256 << 20, 3 << 29, 1 << 40} {
		s := FormatBytes(n)
		if back, err := ParseBytes(s); err != nil || back != n {
			t.Errorf("ParseBytes(FormatBytes(%d) = %q) = %d, %v", n, s, back, err)
		}
	}
}

// BenchmarkDiskGuard is the cost the watermark adds to every write: one statfs.
func BenchmarkDiskGuard(b *testing.B) {
	d := &diskGuard{dir: b.TempDir(), min: 1}
	for b.Loop() {
		if err := d.check(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateNodeDisk compares writes to a store on disk (unsynced, where
// the guard's share is largest) with and without the watermark.
func BenchmarkCreateNodeDisk(b *testing.B) {
	for _, min := range []int64{0, 1} {
		b.Run(fmt.Sprintf("watermark=%v", min > 0), func(b *testing.B) {
			kv, err := OpenBadger(BadgerOptions{Dir: b.TempDir(), MinFreeDisk: min})
			if err != nil {
				b.Fatal(err)
			}
			g, err := Open(kv)
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := g.CreateNode(&Node{Kind: KindOrganization, Name: fmt.Sprintf("Firm %d", i)}, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
