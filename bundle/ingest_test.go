package bundle_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/bundle"
	"policygraph/errs"
	"policygraph/seed"
	"policygraph/storage"
	"policygraph/storage/badger"
)

func seeded(t testing.TB) *storage.Graph {
	t.Helper()
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatalf("badger.Open: %v", err)
	}
	g, err := storage.Open(kv)
	if err != nil {
		kv.Close()
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	now := time.Date(2023, 7, 4, 0, 0, 0, 0, time.UTC)
	g.SetClock(func() time.Time { now = now.Add(time.Second); return now })
	if _, err := seed.Load(g); err != nil {
		t.Fatalf("seed.Load: %v", err)
	}
	return g
}

func read(t testing.TB, name string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.Read("testdata/" + name)
	if err != nil {
		t.Fatalf("Read %s: %v", name, err)
	}
	return b
}

func ingest(t testing.TB, g *storage.Graph, b *bundle.Bundle, dry bool) bundle.Report {
	t.Helper()
	rep, err := bundle.Ingest(g, b, bundle.Options{By: "fixture", DryRun: dry})
	if err != nil {
		t.Fatalf("Ingest %s: %v", b.Name(), err)
	}
	return rep
}

// dump renders every key and value of the store, in key order.
func dump(t testing.TB, g *storage.Graph) string {
	t.Helper()
	var b strings.Builder
	err := g.KV().View(func(tx storage.Txn) error {
		return tx.Scan(nil, false, func(k, v []byte) error {
			fmt.Fprintf(&b, "%q = %q\n", k, v)
			return nil
		})
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return b.String()
}

// sponsorships returns the live SPONSORED facts of org at event.
func sponsorships(t testing.TB, g *storage.Graph, org, event string) []*storage.Fact {
	t.Helper()
	var out []*storage.Fact
	for _, f := range facts(t, g, org, storage.PredSponsored) {
		if f.Object == storage.SlugID(event) && !f.Negated {
			out = append(out, f)
		}
	}
	return out
}

func facts(t testing.TB, g *storage.Graph, subject string, pred storage.Predicate) []*storage.Fact {
	t.Helper()
	got, err := g.Adjacent([]storage.AdjQuery{{Node: storage.SlugID(subject), Dir: storage.Out, Predicate: pred, Negated: true}})
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func sources(f *storage.Fact) []uuid.UUID {
	var out []uuid.UUID
	for _, e := range f.Evidence {
		out = append(out, e.Source)
	}
	return out
}

// TestFixtures ingests the two fictional fixtures after the seed and checks
// each rule: merge, refinement, disputes, name and pinned matches, evidence
// from two sources on one fact, and re-ingest changing nothing.
func TestFixtures(t *testing.T) {
	g := seeded(t)
	article := storage.SlugID("waic-2023-article")
	ledger, review := storage.SlugID("fixture-harbour-ledger"), storage.SlugID("fixture-lantern-review")
	a := read(t, "harbour-ledger.yaml")

	// A dry run reports what the real run does and writes nothing.
	before := dump(t, g)
	dry := ingest(t, g, a, true)
	if dump(t, g) != before {
		t.Fatal("a dry run wrote to the store")
	}
	rep := ingest(t, g, a, false)
	dry.DryRun = false
	if fmt.Sprint(dry) != fmt.Sprint(rep) {
		t.Errorf("dry run reported\n%+v\nthe ingest\n%+v", dry, rep)
	}
	if !slices.Equal(rep.Created.Entities, []string{"fixture-harbour-ledger", "nova-robotics"}) {
		t.Errorf("created entities %v", rep.Created.Entities)
	}
	if !slices.Contains(rep.Merged.Entities, "shanghai") {
		t.Errorf("\"thuong hai\" was not matched to shanghai by name: merged %v, created %v", rep.Merged.Entities, rep.Created.Entities)
	}
	if len(rep.Merged.Facts) != 2 || len(rep.Refined.Facts) != 1 || len(rep.Disputed.Facts) != 2 || len(rep.Created.Facts) != 1 {
		t.Errorf("facts: merged %d refined %d disputed %d created %d, want 2 1 2 1 (%+v)",
			len(rep.Merged.Facts), len(rep.Refined.Facts), len(rep.Disputed.Facts), len(rep.Created.Facts), rep)
	}

	// Merge: one fact, two evidences, no second fact.
	q := sponsorships(t, g, "qualcomm", "waic-2023")
	if len(q) != 1 || !slices.Equal(sources(q[0]), []uuid.UUID{article, ledger}) {
		t.Errorf("Qualcomm's WAIC 2023 sponsorship: %d facts, sources %v; want one with the article's and the ledger's evidence", len(q), sources(q[0]))
	}
	// Merge by name: HELD_IN Shanghai from the article, now with the ledger's evidence.
	in := facts(t, g, "waic-2019", storage.PredHeldIn)
	if len(in) != 1 || in[0].Object != storage.SlugID("shanghai") || len(in[0].Evidence) != 2 {
		t.Errorf("WAIC 2019 HELD_IN: %d facts, want one (Shanghai) with two evidences", len(in))
	}
	// Refinement: 2019 becomes 2019-08, both evidences kept.
	on := facts(t, g, "waic-2019", storage.PredHeldOn)
	if len(on) != 1 || on[0].Date.String() != "2019-08" || !slices.Equal(sources(on[0]), []uuid.UUID{article, ledger}) {
		t.Errorf("WAIC 2019 HELD_ON: %d facts, date %v; want one, 2019-08, from both sources", len(on), on[0].Date)
	}
	// Disputes: both tiers kept, each with its evidence, linked both ways.
	ibm := sponsorships(t, g, "ibm", "waic-2019")
	if len(ibm) != 2 {
		t.Fatalf("IBM's WAIC 2019 sponsorships: %d, want the two disputed tiers", len(ibm))
	}
	for i, f := range ibm {
		other := ibm[1-i]
		if !slices.Equal(f.DisputedBy, []uuid.UUID{other.ID}) || f.Tier == other.Tier {
			t.Errorf("IBM %s: disputedBy %v, want [%s] (%s)", f.Tier, f.DisputedBy, other.ID, other.Tier)
		}
	}
	country := facts(t, g, "tusimple", storage.PredCountry)
	if len(country) != 2 || !country[0].Disputed() || !country[1].Disputed() {
		t.Errorf("TuSimple's countries: %d, want US and CN disputing each other", len(country))
	}

	// Re-ingest: nothing changes.
	before = dump(t, g)
	again := ingest(t, g, a, false)
	if again.Unchanged.Count() != len(a.Facts)+len(a.Entities)+1-len(again.Merged.Entities) || again.Created.Count()+again.Merged.Count()-len(again.Merged.Entities)+again.Refined.Count()+again.Disputed.Count() != 0 {
		t.Errorf("re-ingest reported %+v", again)
	}
	if dump(t, g) != before {
		t.Error("re-ingesting the ledger changed the store")
	}

	// The second fixture: the ambiguous mention is refused, naming both
	// candidates, and nothing is written.
	b := read(t, "lantern-review.yaml")
	pin := b.Entities[1].SameAs
	b.Entities[1].SameAs = ""
	_, err := bundle.Ingest(g, b, bundle.Options{By: "fixture"})
	if errs.CodeOf(err) != errs.AmbiguousEntity || !strings.Contains(err.Error(), "us-sanctions-huawei") ||
		!strings.Contains(err.Error(), "us-sanctions-sensetime") || !strings.Contains(err.Error(), "lantern-review.yaml:") {
		t.Errorf("an ambiguous name: %v (code %s), want AMBIGUOUS_ENTITY naming both sanctions, with the line", err, errs.CodeOf(err))
	}
	if dump(t, g) != before {
		t.Error("a refused bundle wrote to the store")
	}
	// Pinned, it goes in.
	b.Entities[1].SameAs = pin
	rep = ingest(t, g, b, false)
	if !slices.Contains(rep.Merged.Entities, "us-sanctions-huawei") || !slices.Contains(rep.Merged.Entities, "nova-robotics") {
		t.Errorf("the pinned and the name matches: merged %v", rep.Merged.Entities)
	}
	if len(rep.Merged.Facts) != 3 || rep.Created.Count() != 1 { // the source
		t.Errorf("the review: %+v, want its three facts merged and only the source created", rep)
	}
	nova := sponsorships(t, g, "nova-robotics", "waic-2023")
	if len(nova) != 1 || !slices.Equal(sources(nova[0]), []uuid.UUID{ledger, review}) {
		t.Errorf("Nova's sponsorship: %d facts; want one with two sources", len(nova))
	}
	ibm = sponsorships(t, g, "ibm", "waic-2019")
	for _, f := range ibm {
		if f.Tier == storage.TierElitePartner && !slices.Equal(sources(f), []uuid.UUID{ledger, review}) {
			t.Errorf("IBM's disputed elite tier: sources %v, want the ledger's and the review's", sources(f))
		}
	}
	// The store check holds what ingest wrote, dispute links included.
	if rep, err := g.Check(); err != nil || !rep.OK() {
		t.Errorf("check after both bundles: %v %v", err, rep.Problems)
	}
}

// TestRefused: a bundle with a fault is refused with its code and line, and
// writes nothing.
func TestRefused(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(b *bundle.Bundle)
		code  errs.Code
		where string
	}{
		{"a quote not in the source", func(b *bundle.Bundle) { b.Facts[3].Evidence[0].Quote = "IBM was a strategic partner" },
			errs.QuoteNotInSource, "harbour-ledger.yaml:72"},
		{"an unknown predicate", func(b *bundle.Bundle) { b.Facts[0].Predicate = "LIKES" }, errs.BundleInvalid, "harbour-ledger.yaml:52"},
		{"a bad date", func(b *bundle.Bundle) { b.Facts[1].Date = "2019-13" }, errs.InvalidDate, "harbour-ledger.yaml:59"},
		{"an unknown reference", func(b *bundle.Bundle) { b.Facts[5].Object = "waic-2099" }, errs.NotFound, "harbour-ledger.yaml:80"},
		{"a pin naming nothing", func(b *bundle.Bundle) { b.Entities[0].SameAs = "no-such-firm" }, errs.NotFound, "harbour-ledger.yaml:25"},
		{"a pin of another kind", func(b *bundle.Bundle) { b.Entities[0].SameAs = "shanghai" }, errs.WrongKind, "harbour-ledger.yaml:25"},
		{"a fact that does not fit", func(b *bundle.Bundle) { b.Facts[4].Value = "XX" }, errs.InvalidCountry, "harbour-ledger.yaml:75"},
		{"an entity twice", func(b *bundle.Bundle) { b.Entities = append(b.Entities, b.Entities[0]) }, errs.BundleInvalid, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := seeded(t)
			before := dump(t, g)
			b := read(t, "harbour-ledger.yaml")
			tt.spoil(b)
			_, err := bundle.Ingest(g, b, bundle.Options{By: "fixture"})
			if errs.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.where) {
				t.Errorf("Ingest = %v (code %q), want %s at %s", err, errs.CodeOf(err), tt.code, tt.where)
			}
			if dump(t, g) != before {
				t.Error("a refused bundle wrote to the store")
			}
		})
	}
}

// TestParseErrors: files that do not parse are refused with BUNDLE_INVALID
// and their line.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		format   bundle.Format
		want     string
	}{
		{"unknown key", "source:\n  slug: s\n  colour: red\n", bundle.YAML, "line 3"},
		{"not yaml", "entities: [\n", bundle.YAML, "line"},
		{"not json", "{\"source\": ", bundle.JSON, "not JSON"},
		{"unknown format", "{}", "XML", "unknown bundle format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.Parse([]byte(tt.in), tt.format, "b.yaml")
			if errs.CodeOf(err) != errs.BundleInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want BUNDLE_INVALID mentioning %q", err, tt.want)
			}
		})
	}
}

// TestJSONRoundTrip: a bundle as JSON (what ingest -url sends) reads back the same.
func TestJSONRoundTrip(t *testing.T) {
	b := read(t, "lantern-review.yaml")
	j, err := b.JSON()
	if err != nil {
		t.Fatal(err)
	}
	c, err := bundle.Parse(j, bundle.JSON, "x.json")
	if err != nil {
		t.Fatal(err)
	}
	g1, g2 := seeded(t), seeded(t)
	r1 := ingest(t, g1, b, false)
	r2 := ingest(t, g2, c, false)
	var e1, e2 bytes.Buffer
	if err := g1.ExportJSONL(&e1); err != nil {
		t.Fatal(err)
	}
	if err := g2.ExportJSONL(&e2); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r1) != fmt.Sprint(r2) || !bytes.Equal(e1.Bytes(), e2.Bytes()) {
		t.Errorf("YAML: %+v\nJSON: %+v", r1, r2)
	}
}

// TestTooLarge: a bundle past what one transaction holds is refused with
// BUNDLE_INVALID, saying to split it, and writes nothing.
func TestTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 16,000 facts")
	}
	g := seeded(t)
	before := dump(t, g)
	_, err := bundle.Ingest(g, generated(16000), bundle.Options{By: "x"})
	if errs.CodeOf(err) != errs.BundleInvalid || !strings.Contains(err.Error(), "split it") {
		t.Errorf("Ingest of 16,000 facts = %v", err)
	}
	if dump(t, g) != before {
		t.Error("a refused bundle wrote to the store")
	}
}
