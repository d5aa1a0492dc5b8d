package storage_test

import (
	"testing"

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
