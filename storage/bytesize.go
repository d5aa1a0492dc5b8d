package storage

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteUnits are the suffixes ParseBytes reads, longest first.
var byteUnits = []struct {
	suffix string
	size   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1},
}

// ParseBytes reads a size in bytes: a whole number, optionally with a unit
// (B, KiB, MiB, GiB, TiB, or the decimal KB, MB, GB, TB): "134217728",
// "128MiB", "1GiB". Fractions ("1.5GiB") are read too; negative sizes are not.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.size
			break
		}
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %q is out of range", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is not a byte count like 134217728, 128MiB or 1GiB", s)
	}
	return int64(f * float64(mult)), nil
}

// FormatBytes renders a byte count the way ParseBytes reads it: "256MiB",
// or with one decimal where it is not a whole number of the unit ("1.5GiB").
func FormatBytes(n int64) string {
	for _, u := range byteUnits[:4] {
		if n >= u.size {
			if n%u.size == 0 {
				return fmt.Sprintf("%d%s", n/u.size, u.suffix)
			}
			return fmt.Sprintf("%.1f%s", float64(n)/float64(u.size), u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}
