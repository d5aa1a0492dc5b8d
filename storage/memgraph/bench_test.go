package memgraph

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"github.com/google/uuid"

	"policygraph/storage"
)

// The benchmarks read a synthetic graph of 10,000 entities (synth.Generate)
// through the model and through the pointer-per-record baseline, as
// sub-benchmarks side by side:
//
//	go test ./storage/memgraph -run '^$' -bench . -benchmem
//
// Only one of the two is in memory at a time: the model allocates what it
// decodes, and the collector would otherwise pay for scanning the
// baseline's pointers on the model's time.
var loaded struct {
	path  string
	name  string
	r     reader
	model *Model
}

func benchReader(b *testing.B, name string) reader {
	if loaded.path == "" {
		dir, err := os.MkdirTemp("", "memgraph-bench")
		if err != nil {
			b.Fatal(err)
		}
		if loaded.path, err = scaleInput(dir, 10000); err != nil {
			b.Fatal(err)
		}
	}
	if loaded.name != name {
		loaded.r, loaded.model = nil, nil
		runtime.GC()
		switch name {
		case "model":
			m, err := loadModel(loaded.path)
			if err != nil {
				b.Fatal(err)
			}
			loaded.r, loaded.model = snapshotReader{m.Latest()}, m
		case "pointer":
			p, err := loadPointer(loaded.path)
			if err != nil {
				b.Fatal(err)
			}
			loaded.r = p
		}
		loaded.name = name
		runtime.GC()
	}
	return loaded.r
}

// benchIDs picks organizations of the synthetic graph at random.
func benchIDs() []uuid.UUID {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]uuid.UUID, 1024)
	for i := range ids {
		ids[i] = storage.SlugID(fmt.Sprintf("syn-org-%d", rng.IntN(9000)))
	}
	return ids
}

func eachModel(b *testing.B, fn func(b *testing.B, r reader, ids []uuid.UUID, facts []uuid.UUID)) {
	for _, name := range []string{"model", "pointer"} {
		b.Run(name, func(b *testing.B) {
			r := benchReader(b, name)
			ids := benchIDs()
			var facts []uuid.UUID
			for _, id := range ids[:256] {
				r.adjacent(id, storage.Out, "", func(e storage.AdjEntry) error { facts = append(facts, e.Fact); return nil })
			}
			b.ReportAllocs()
			b.ResetTimer()
			fn(b, r, ids, facts)
		})
	}
}

func BenchmarkNode(b *testing.B) {
	eachModel(b, func(b *testing.B, r reader, ids, _ []uuid.UUID) {
		i := 0
		for b.Loop() {
			if _, err := r.node(ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkFact(b *testing.B) {
	eachModel(b, func(b *testing.B, r reader, _, facts []uuid.UUID) {
		i := 0
		for b.Loop() {
			if _, err := r.fact(facts[i%len(facts)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkAdjacent(b *testing.B) {
	eachModel(b, func(b *testing.B, r reader, _, _ []uuid.UUID) {
		i := 0
		for b.Loop() {
			ev := storage.SlugID("syn-series-" + itoa(i%40) + "-2019")
			if err := r.adjacent(ev, storage.In, storage.PredSponsored, func(storage.AdjEntry) error { return nil }); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkHeadline(b *testing.B) {
	eachModel(b, func(b *testing.B, r reader, _, _ []uuid.UUID) {
		i := 0
		for b.Loop() {
			if _, err := headline(r, storage.SlugID("syn-series-"+itoa(i%40)), "US"); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkKindScan(b *testing.B) {
	eachModel(b, func(b *testing.B, r reader, _, _ []uuid.UUID) {
		for b.Loop() {
			if _, err := firstOfKind(r, storage.KindOrganization, 50); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSearch(b *testing.B) {
	eachModel(b, func(b *testing.B, r reader, _, _ []uuid.UUID) {
		for b.Loop() {
			if _, err := searchTerm(r, "thuong"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkApply applies one change (a new fact, and the retraction of the
// one before) and publishes its snapshot.
func BenchmarkApply(b *testing.B) {
	benchReader(b, "model")
	s := loaded.model.Latest()
	ids := s.b.nodes.ids
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	var t testing.T
	b.ResetTimer()
	d := applyLatency(&t, loaded.model, ids, rng)
	b.ReportMetric(float64(d.Nanoseconds()), "ns/change")
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// BenchmarkDraftPut puts one new fact a call into a draft of a model whose
// overlay is empty, and of one whose overlay holds the entries of thousands
// of changes: a put costs about its record, not the overlay (a few B-tree
// paths, logarithmic in it).
//
//	go test ./storage/memgraph -run '^$' -bench DraftPut -benchmem
func BenchmarkDraftPut(b *testing.B) {
	for _, changes := range []int{0, 5000} {
		w := newWorld(20, 2000, 6000)
		m := w.build(b)
		m.SetOptions(Options{CompactAt: -1})
		for range changes {
			if err := m.Apply(w.change()); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("overlay=%d", m.Figures().OverlayEntries), func(b *testing.B) {
			d := m.NewDraft()
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Put(storage.Change{Facts: []*storage.Fact{w.newFact(uuid.Nil)}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
