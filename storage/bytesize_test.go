package storage

import (
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
