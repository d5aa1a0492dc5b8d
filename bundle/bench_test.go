package bundle_test

import (
	"fmt"
	"strings"
	"testing"

	"policygraph/bundle"
	"policygraph/seed"
)

// generated is a fictional bundle of n facts about n/4 organizations
// sponsoring ten events (each with a tier) and their countries; its text
// has 200 sentences, which the facts quote in turn.
func generated(n int) *bundle.Bundle {
	b := &bundle.Bundle{Source: bundle.Source{Slug: "generated-bench", Title: "Generated benchmark source (fictional)", Language: "en"}}
	var text strings.Builder
	text.WriteString("FICTIONAL GENERATED TEXT FOR A BENCHMARK.\n")
	for i := range 200 {
		fmt.Fprintf(&text, "Sentence %03d: a firm sponsored an event, the generator says.\n", i)
	}
	b.Source.Text = text.String()
	for e := range 10 {
		b.Entities = append(b.Entities, bundle.Entity{Slug: fmt.Sprintf("bench-event-%d", e), Kind: "EVENT",
			Name: fmt.Sprintf("Bench Event %d", e), Attrs: bundle.Attrs{Year: 2010 + e}})
	}
	orgs := max(n/4, 1)
	for o := range orgs {
		b.Entities = append(b.Entities, bundle.Entity{Slug: fmt.Sprintf("bench-org-%d", o), Kind: "ORGANIZATION",
			Name: fmt.Sprintf("Bench Org %d", o)})
	}
	tiers := []string{"SPONSOR", "ELITE_PARTNER", "STRATEGIC_PARTNER"}
	for i := range n {
		o := i % orgs
		q := []bundle.Quote{{Quote: fmt.Sprintf("Sentence %03d: a firm sponsored an event", i%200)}}
		f := bundle.Fact{Subject: fmt.Sprintf("bench-org-%d", o), Evidence: q}
		if k := i / orgs; k == 0 {
			f.Predicate, f.Value = "COUNTRY", []string{"US", "CN", "FR", "DE"}[o%4]
		} else {
			f.Predicate, f.Object, f.Tier = "SPONSORED", fmt.Sprintf("bench-event-%d", k-1), tiers[o%3]
		}
		b.Facts = append(b.Facts, f)
	}
	return b
}

// BenchmarkIngest ingests a generated bundle into a seeded store: through
// Ingest (entity resolution, claim matching, disputes) and, as the baseline
// in the same run, through the seed's loader (seed.LoadFile: creates what is
// missing, no resolution or merging); then Ingest of the same bundle again
// (every fact found unchanged).
func BenchmarkIngest(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		bd := generated(n)
		b.Run(fmt.Sprintf("facts=%d/ingest", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				g := seeded(b)
				b.StartTimer()
				if _, err := bundle.Ingest(g, bd, bundle.Options{By: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "facts/s")
		})
		b.Run(fmt.Sprintf("facts=%d/seed-loader", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				g := seeded(b)
				b.StartTimer()
				if _, err := seed.LoadFile(g, bd, bd.Source.Text); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "facts/s")
		})
		b.Run(fmt.Sprintf("facts=%d/re-ingest", n), func(b *testing.B) {
			g := seeded(b)
			if _, err := bundle.Ingest(g, bd, bundle.Options{By: "bench"}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := bundle.Ingest(g, bd, bundle.Options{By: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "facts/s")
		})
	}
}
