package memgraph

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestFileScale measures models read back from their files (what a start
// with -model-file does), one file after another, each in this process
// after a GC:
//
//	MEMGRAPH_FILES=/tmp/s/data-1000/model/X.pgm,... go test ./storage/memgraph -run '^TestFileScale$' -v
//
// It prints the file's size, the time and CPU to read it into a model, the
// heap in use after a GC, and bytes per entity (all of it, facts included)
// and per fact (the facts' own arrays: IDs, offsets, records, adjacency
// entries, fact indexes).
func TestFileScale(t *testing.T) {
	files := os.Getenv("MEMGRAPH_FILES")
	if files == "" {
		t.Skip("set MEMGRAPH_FILES=path,... to measure")
	}
	fmt.Println("| file | entities | facts | file MiB | read (CPU) | heap in use MiB | B/entity (all) | B/fact |")
	fmt.Println("|---|--:|--:|--:|--:|--:|--:|--:|")
	for path := range strings.SplitSeq(files, ",") {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		cpu0 := cpuTime()
		start := time.Now()
		m, _, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		took, cpu := time.Since(start), cpuTime()-cpu0
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		s := m.Latest()
		z := s.Sizes()
		heap := int64(after.HeapInuse) - int64(before.HeapInuse)
		fi, _ := os.Stat(path)
		b := s.b
		factBytes := len(b.facts.ids)*16 + len(b.facts.off)*4 + len(b.facts.slab)
		for d := range 2 {
			factBytes += len(b.adjFact[d])*4 + len(b.adjOther[d])*4 + len(b.adjPS[d])
		}
		for p := range numPreds {
			factBytes += len(b.preds[p])*4 + len(b.factYears[p])*int(unsafe.Sizeof(yearRef{})) + len(b.values[p])*int(unsafe.Sizeof(valueRef{}))
		}
		fmt.Printf("| %s | %d | %d | %.1f | %s (%s) | %d | %d | %d |\n", filepath.Base(filepath.Dir(filepath.Dir(path))), z.Nodes, z.Facts,
			float64(fi.Size())/(1<<20), took.Round(time.Millisecond), cpu.Round(time.Millisecond), heap>>20,
			heap/int64(max(1, z.Nodes)), factBytes/max(1, z.Facts))
		runtime.KeepAlive(m)
	}
}
