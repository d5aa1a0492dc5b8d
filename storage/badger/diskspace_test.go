package badger

import (
	"fmt"
	"testing"

	"policygraph/storage"
)

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
			kv, err := Open(Options{Dir: b.TempDir(), MinFreeDisk: min})
			if err != nil {
				b.Fatal(err)
			}
			g, err := storage.Open(kv)
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Firm %d", i)}, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
