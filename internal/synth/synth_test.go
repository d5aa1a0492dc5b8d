package synth

import (
	"bytes"
	"testing"

	"policygraph/storage/badger"

	"policygraph/storage"
)

// TestGenerateImports checks that a small synthetic graph is a valid export:
// the importer checks kinds, references and that every quote is in its source.
func TestGenerateImports(t *testing.T) {
	var b bytes.Buffer
	nodes, facts, err := Generate(&b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	rep, err := g.Import(&b)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if rep.Nodes != nodes || rep.Facts != facts {
		t.Errorf("imported %+v, generated %d nodes and %d facts", rep, nodes, facts)
	}
	got, err := g.Sponsorships(storage.SponsorshipQuery{Series: storage.SlugID("syn-series-1"), SponsorCountry: "US"})
	if err != nil || len(got) == 0 {
		t.Errorf("Sponsorships of syn-series-1 from US = %d, %v", len(got), err)
	}
	var again bytes.Buffer
	Generate(&again, 1000)
	var first bytes.Buffer
	Generate(&first, 1000)
	if !bytes.Equal(first.Bytes(), again.Bytes()) {
		t.Errorf("Generate is not deterministic")
	}
}

// BenchmarkImport is Graph.Import of a 20k-node synthetic graph into a fresh
// on-disk store; it reports edges/s (go run ./cmd/bench -scale measures larger sizes).
func BenchmarkImport(b *testing.B) {
	var export bytes.Buffer
	if _, _, err := Generate(&export, 20000); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	edges := 0
	for b.Loop() {
		b.StopTimer()
		kv, err := badger.Open(badger.Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		g, err := storage.Open(kv)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := g.Import(bytes.NewReader(export.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		edges += rep.Edges
		g.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(edges)/b.Elapsed().Seconds(), "edges/s")
}
