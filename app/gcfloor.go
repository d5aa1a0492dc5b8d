package app

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The garbage collector's floor. Go collects when the heap has grown by
// GOGC percent (100) of what the last collection left live: a server whose
// live heap is small collects very often. A server over etcd keeps about
// 5 MB live (the read model of the seed and little else), one over Badger
// 140-180 MB (Badger's caches), so at the same request rate the first
// collected about 18 times as often and answered reads at 0.79x the second
// (BENCHMARKS.md, "Issue 12: the etcd engine"). The floor raises GOGC after
// each collection so that the next comes no sooner than floor bytes of new
// allocation, and puts it back to 100 once the live heap is that large; the
// memory limit (-memory-budget) still bounds the heap. Set GOGC to opt out.

// gcPercentFor is the GOGC that lets the heap grow by at least floor bytes
// past live: never under 100 (Go's default), never over 100,000.
func gcPercentFor(live, floor uint64) int {
	if live == 0 || live >= floor {
		return 100
	}
	return int(min(max(floor*100/live, 100), 100_000))
}

// gcFloor tunes GOGC after every collection (a finalizer that re-arms
// itself runs once per cycle) until stopped.
type gcFloor struct {
	floor   uint64
	stopped atomic.Bool
	percent atomic.Int64 // the last GOGC set, for tests and logs
}

// startGCFloor starts the floor; stop ends it (GOGC stays as last set).
func startGCFloor(floor uint64) *gcFloor {
	f := &gcFloor{floor: floor}
	f.percent.Store(100)
	f.arm()
	return f
}

func (f *gcFloor) stop() { f.stopped.Store(true) }

type gcSentinel struct{ _ [16]byte }

func (f *gcFloor) arm() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
		if f.stopped.Load() {
			return
		}
		f.tune()
		f.arm()
	})
}

var liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

func (f *gcFloor) tune() {
	s := []metrics.Sample{liveSample[0]}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercentFor(s[0].Value.Uint64(), f.floor)
	if int64(p) != f.percent.Load() {
		debug.SetGCPercent(p)
		f.percent.Store(int64(p))
	}
}
