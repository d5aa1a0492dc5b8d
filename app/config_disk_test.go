package app

import (
	"io"
	"strings"
	"testing"
)

func TestDiskFlags(t *testing.T) {
	tests := []struct {
		name              string
		args              []string
		env               map[string]string
		memtable, minFree int64
		wantErr           string
	}{
		{"defaults", nil, nil, 64 << 20, 256 << 20, ""},
		{"auto follows the memtable", []string{"-memtable-size", "8MiB"}, nil, 8 << 20, 32 << 20, ""},
		{"flag", []string{"-min-free-disk", "128MiB"}, nil, 64 << 20, 128 << 20, ""},
		{"plain bytes", []string{"-min-free-disk", "1000000"}, nil, 64 << 20, 1000000, ""},
		{"off", []string{"-min-free-disk", "0"}, nil, 64 << 20, 0, ""},
		{"env", nil, map[string]string{"POLICYGRAPH_MIN_FREE_DISK": "1GiB", "POLICYGRAPH_MEMTABLE_SIZE": "16MiB"}, 16 << 20, 1 << 30, ""},
		{"flag beats env", []string{"-min-free-disk", "300MiB"}, map[string]string{"POLICYGRAPH_MIN_FREE_DISK": "1GiB"}, 64 << 20, 300 << 20, ""},
		{"bad env", nil, map[string]string{"POLICYGRAPH_MIN_FREE_DISK": "lots"}, 0, 0, "POLICYGRAPH_MIN_FREE_DISK"},
		{"bad flag", []string{"-memtable-size", "-3MiB"}, nil, 0, 0, "memtable-size"},
		{"memtable too small", []string{"-memtable-size", "4KiB"}, nil, 0, 0, "1MiB minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfig = %v, want an error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if int64(c.memTableSize) != tt.memtable || int64(c.minFreeDisk) != tt.minFree {
				t.Errorf("memtable %d, min free %d; want %d, %d", c.memTableSize, c.minFreeDisk, tt.memtable, tt.minFree)
			}
		})
	}
}
