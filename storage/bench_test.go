package storage_test

import (
	"bytes"
	"testing"

	"policygraph/internal/synth"
	"policygraph/seed"
	"policygraph/storage"
)

// The storage hot paths, on the seed in an in-memory Badger. Numbers and the
// command that produced them are in BENCHMARKS.md.

func BenchmarkNodeGet(b *testing.B) {
	g := seededGraph(b)
	id := storage.SlugID("qualcomm")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Node(id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdjacencyScan(b *testing.B) {
	g := seededGraph(b)
	q := []storage.AdjQuery{{Node: storage.SlugID("waic-2023"), Dir: storage.In, Predicate: storage.PredSponsored}}
	b.ReportAllocs()
	for b.Loop() {
		facts, err := g.Adjacent(q)
		if err != nil || len(facts[0]) == 0 {
			b.Fatal(len(facts), err)
		}
	}
}

func BenchmarkIndexLookup(b *testing.B) {
	g := seededGraph(b)
	b.Run("slug", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.NodeBySlug("waic-2023"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("country value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ids, err := g.SubjectsByValue(storage.PredCountry, "US"); err != nil || len(ids) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("search prefix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if hits, err := g.Search("thuong", 10); err != nil || len(hits) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("sponsorships by series and country", func(b *testing.B) {
		q := storage.SponsorshipQuery{Series: storage.SlugID("waic"), SponsorCountry: "US"}
		b.ReportAllocs()
		for b.Loop() {
			if facts, err := g.Sponsorships(q); err != nil || len(facts) == 0 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAddFact is one write transaction: validation (subject, object,
// source text and quote), the record, adjacency and indexes. In-memory Badger,
// so no fsync: it measures the CPU cost of the write path.
func BenchmarkAddFact(b *testing.B) {
	g := seededGraph(b)
	src := storage.SlugID("waic-2023-article")
	facts, err := g.FindFacts(storage.FactQuery{Subject: storage.SlugID("qualcomm")})
	if err != nil || len(facts) == 0 {
		b.Fatal(err)
	}
	quote := facts[0].Evidence[0].Quote
	f := &storage.Fact{Subject: src, Predicate: storage.PredMentions, Object: storage.SlugID("sensetime"),
		Evidence: []storage.Evidence{{Source: src, Quote: quote}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.AddFact(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindFactsByPredicate: a list of facts by predicate answers from the
// predicate index when it keeps positive facts only (the default since
// negated facts are left out unless asked for); with the negated ones it
// reads every fact of the graph.
func BenchmarkFindFactsByPredicate(b *testing.B) {
	g := seededGraph(b)
	sponsored := []storage.Predicate{storage.PredSponsored}
	to := 2020
	for _, c := range []struct {
		name string
		q    storage.FactQuery
	}{
		{"positive", storage.FactQuery{Predicates: sponsored}},
		{"positive yearTo", storage.FactQuery{Predicates: sponsored, YearTo: &to}},
		{"with negated", storage.FactQuery{Predicates: sponsored, IncludeNegated: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if facts, err := g.FindFacts(c.q); err != nil || len(facts) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkComposedFilters: composed fact filters on a generated graph of
// 10,000 nodes (about 30,000 facts, 6,400 sponsorships) with the seed on
// top, against the flat filter that answers from one index. An or of
// narrowing clauses reads the union of their indexes; an or or a not beside
// the predicates reads every positive sponsorship and looks each sponsor up.
func BenchmarkComposedFilters(b *testing.B) {
	g := syntheticGraph(b, 10_000)
	sponsored := []storage.Predicate{storage.PredSponsored}
	us, cn := storage.FactQuery{Predicates: sponsored, SubjectCountry: "US"}, storage.FactQuery{Predicates: sponsored, SubjectCountry: "CN"}
	for _, c := range []struct {
		name string
		q    storage.FactQuery
	}{
		{"flat US", us},
		{"or of US and CN (union of indexes)", storage.FactQuery{Or: []storage.FactQuery{us, cn}}},
		{"SPONSORED and or of US and CN", storage.FactQuery{Predicates: sponsored, Or: []storage.FactQuery{{SubjectCountry: "US"}, {SubjectCountry: "CN"}}}},
		{"SPONSORED and not US", storage.FactQuery{Predicates: sponsored, Not: &storage.FactQuery{SubjectCountry: "US"}}},
		{"SPONSORED", storage.FactQuery{Predicates: sponsored}},
		{"SPONSORED by tier, then subject name descending", storage.FactQuery{Predicates: sponsored,
			Sort: []storage.FactSort{{Key: storage.FactsByTier}, {Key: storage.FactsBySubjectName, Desc: true}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if facts, err := g.FindFacts(c.q); err != nil || len(facts) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// syntheticGraph is a generated graph of n nodes with the seed on top, in an
// in-memory Badger.
func syntheticGraph(b *testing.B, n int) *storage.Graph {
	b.Helper()
	var export bytes.Buffer
	if _, _, err := synth.Generate(&export, n); err != nil {
		b.Fatal(err)
	}
	g := newGraph(b)
	if _, err := g.Import(&export); err != nil {
		b.Fatal(err)
	}
	if _, err := seed.Load(g); err != nil {
		b.Fatal(err)
	}
	return g
}
