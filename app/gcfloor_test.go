package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{5 * mib, 128 * mib, 2560},  // a small heap: the next collection 128 MiB later
		{150 * mib, 128 * mib, 100}, // past the floor: Go's default
		{128 * mib, 128 * mib, 100}, // at it
		{100 * mib, 128 * mib, 128}, // just under: grows by the floor
		{0, 128 * mib, 100},         // nothing measured yet
		{1, 128 * mib, 100_000},     // bounded
		{64 * mib, 0, 100},          // no floor
	} {
		if got := gcPercentFor(tc.live, tc.floor); got != tc.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
	}
}

// TestGCFloorRaisesGOGC: with a small live heap, a collection leaves GOGC
// raised to keep the floor; stopped, it tunes no more.
func TestGCFloorRaisesGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	f := startGCFloor(1 << 30)
	t.Cleanup(f.stop)
	// The finalizer runs in its own goroutine after the cycle that found
	// the sentinel: collect until it has (bounded by the count, not a time).
	for i := 0; i < 100 && f.percent.Load() <= 100; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if p := f.percent.Load(); p <= 100 {
		t.Fatalf("GOGC %d after collections of a test's small heap with a 1 GiB floor, want it raised", p)
	}
	if got := debug.SetGCPercent(100); int64(got) != f.percent.Load() {
		t.Errorf("the runtime's GOGC is %d, the floor says it set %d", got, f.percent.Load())
	}
	debug.SetGCPercent(int(f.percent.Load()))
}
