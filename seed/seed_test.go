package seed_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"policygraph/storage/badger"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/seed"
	"policygraph/storage"
)

func newGraph(t testing.TB) *storage.Graph {
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
	return g
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

func parse(t testing.TB) *seed.File {
	t.Helper()
	f, err := seed.Parse(seed.FactsYAML)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(f.Entities) == 0 || len(f.Facts) == 0 {
		t.Fatalf("facts.yaml parsed to %d entities and %d facts", len(f.Entities), len(f.Facts))
	}
	return f
}

func load(t testing.TB, g *storage.Graph) seed.Report {
	t.Helper()
	r, err := seed.Load(g)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

// TestQuotesVerbatim reads facts.yaml on its own, not through the loader, and
// names every quote that is not a substring of the article.
func TestQuotesVerbatim(t *testing.T) {
	f := parse(t)
	if f.Source.Slug == "" || f.Source.Title == "" || !strings.Contains(seed.Article, f.Source.Title) {
		t.Errorf("source title %q is not in the article", f.Source.Title)
	}
	n := 0
	for i, fact := range f.Facts {
		if len(fact.Evidence) == 0 {
			t.Errorf("fact %d (%s %s %s) has no evidence", i, fact.Subject, fact.Predicate, fact.Object)
		}
		for j, e := range fact.Evidence {
			n++
			if strings.TrimSpace(e.Quote) == "" {
				t.Errorf("fact %d (%s %s) evidence %d: empty quote", i, fact.Subject, fact.Predicate, j)
				continue
			}
			if !strings.Contains(seed.Article, e.Quote) {
				hint := ""
				if strings.Contains(strings.ReplaceAll(seed.Article, "\u00a0", " "), strings.ReplaceAll(e.Quote, "\u00a0", " ")) {
					hint = " (it differs from the article only in non-breaking spaces)"
				}
				t.Errorf("fact %d (%s %s %s) evidence %d: quote not verbatim in the article%s:\n\t%q", i, fact.Subject, fact.Predicate, fact.Object, j, hint, e.Quote)
			}
		}
	}
	t.Logf("%d quotes checked", n)
}

// TestInferencePolicy holds the seed to the inference policy
// (docs/inference.md): every inferred fact names a rule of the policy, says
// why, and quotes the article verbatim; no evidence note states an inference
// (it belongs in the fact's inference); the organizations the article
// introduces among China's leading firms have an inferred CN country; and the
// rules the code knows are those the document describes, one heading each.
func TestInferencePolicy(t *testing.T) {
	f := parse(t)
	inferred := map[string]string{} // subject COUNTRY value -> rule, for the checks below
	for i, fact := range f.Facts {
		what := fmt.Sprintf("fact %d (%s %s %s%s)", i, fact.Subject, fact.Predicate, fact.Object, fact.Value)
		for j, e := range fact.Evidence {
			if l := strings.ToLower(e.Note); strings.Contains(l, "infer") || strings.Contains(l, "implied") || strings.Contains(l, "implies") {
				t.Errorf("%s evidence %d: the note states an inference; make the fact inferred under a rule of docs/inference.md:\n\t%s", what, j, e.Note)
			}
		}
		in := fact.Inference
		if in == nil {
			continue
		}
		if storage.FindInferenceRule(in.Rule) == nil {
			t.Errorf("%s: rule %q is not in the inference policy", what, in.Rule)
		}
		if strings.TrimSpace(in.Reasoning) == "" {
			t.Errorf("%s: inferred with no reasoning", what)
		}
		for j, e := range fact.Evidence {
			if strings.TrimSpace(e.Quote) == "" || !strings.Contains(seed.Article, e.Quote) {
				t.Errorf("%s evidence %d: the quote that grounds the inference is not verbatim in the article: %q", what, j, e.Quote)
			}
		}
		if fact.Predicate == string(storage.PredCountry) {
			inferred[fact.Subject+" "+fact.Value] = in.Rule
		}
	}
	for _, slug := range []string{"alibaba", "tencent-holdings", "huawei", "sensetime"} {
		if rule := inferred[slug+" CN"]; rule != "COUNTRY_FROM_GROUPING" {
			t.Errorf("%s: want an inferred COUNTRY CN fact under COUNTRY_FROM_GROUPING, have %q", slug, rule)
		}
	}
	for _, slug := range []string{"ibm", "amazon-web-services"} {
		if inferred[slug+" US"] == "" {
			t.Errorf("%s: want its COUNTRY US fact inferred", slug)
		}
	}

	doc, err := os.ReadFile("../docs/inference.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, line := range strings.Split(string(doc), "\n") {
		if name, ok := strings.CutPrefix(line, "### "); ok {
			documented = append(documented, name)
		}
	}
	var known []string
	for _, r := range storage.InferenceRules {
		known = append(known, r.Name)
	}
	if !slices.Equal(documented, known) {
		t.Errorf("docs/inference.md describes the rules %v; storage.InferenceRules has %v (same names, same order)", documented, known)
	}
}

func TestFactsReferenceEntities(t *testing.T) {
	f := parse(t)
	kinds := map[string]storage.Kind{f.Source.Slug: storage.KindSource}
	for _, e := range f.Entities {
		if _, dup := kinds[e.Slug]; dup {
			t.Errorf("entity slug %q appears twice", e.Slug)
		}
		if storage.Slugify(e.Slug) != e.Slug {
			t.Errorf("entity slug %q is not a slug", e.Slug)
		}
		if !storage.Kind(e.Kind).Valid() {
			t.Errorf("entity %s: unknown kind %q", e.Slug, e.Kind)
		}
		kinds[e.Slug] = storage.Kind(e.Kind)
	}
	for i, fact := range f.Facts {
		spec := storage.Predicate(fact.Predicate).Spec()
		if spec == nil {
			t.Errorf("fact %d: unknown predicate %q", i, fact.Predicate)
			continue
		}
		if _, ok := kinds[fact.Subject]; !ok {
			t.Errorf("fact %d (%s): subject %q is no entity", i, fact.Predicate, fact.Subject)
		}
		if fact.Object != "" {
			if _, ok := kinds[fact.Object]; !ok {
				t.Errorf("fact %d (%s %s): object %q is no entity", i, fact.Subject, fact.Predicate, fact.Object)
			}
		} else if spec.ObjectRequired {
			t.Errorf("fact %d (%s %s) needs an object", i, fact.Subject, fact.Predicate)
		}
	}
}

func TestLoadCounts(t *testing.T) {
	f := parse(t)
	g := newGraph(t)
	r := load(t, g)
	nodes, facts := len(f.Entities)+1, len(f.Facts)
	if r.Entities != nodes || r.Facts != facts || r.Written != nodes+facts {
		t.Errorf("Report = %+v, want {Entities:%d Facts:%d Written:%d}", r, nodes, facts, nodes+facts)
	}
	active := 0
	byKind := map[storage.Kind]int{storage.KindSource: 1}
	for _, x := range f.Facts {
		if !x.Negated {
			active++
		}
	}
	for _, e := range f.Entities {
		byKind[storage.Kind(e.Kind)]++
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Nodes != nodes || s.Facts != facts || s.ActiveFacts != active {
		t.Errorf("Stats = %+v, want %d nodes, %d facts, %d active", s, nodes, facts, active)
	}
	for k, n := range byKind {
		if s.ByKind[k] != n {
			t.Errorf("Stats.ByKind[%s] = %d, want %d", k, s.ByKind[k], n)
		}
	}
	text, err := g.SourceText(f.SourceID())
	if err != nil || text != seed.Article {
		t.Errorf("SourceText = %d bytes, %v; want the article (%d bytes)", len(text), err, len(seed.Article))
	}
}

func TestLoadTwiceChangesNothing(t *testing.T) {
	g := newGraph(t)
	load(t, g)
	before := dump(t, g)
	r := load(t, g)
	if r.Written != 0 {
		t.Errorf("second Load changed %d entities and facts, want 0", r.Written)
	}
	if after := dump(t, g); after != before {
		t.Errorf("second Load rewrote the store (%d bytes of dump before, %d after)", len(before), len(after))
	}
	// The same holds for LoadFile with the same parsed file, loaded twice.
	f := parse(t)
	if r, err := seed.LoadFile(g, f, seed.Article); err != nil || r.Written != 0 {
		t.Errorf("LoadFile of a fresh parse = %+v, %v; want nothing changed", r, err)
	}
	if r, err := seed.LoadFile(g, f, seed.Article); err != nil || r.Written != 0 {
		t.Errorf("LoadFile of the same parse again = %+v, %v; want nothing changed", r, err)
	}
	if after := dump(t, g); after != before {
		t.Error("LoadFile rewrote the store")
	}
}

// adjacent returns the facts of one adjacency query.
func adjacent(t testing.TB, g *storage.Graph, q storage.AdjQuery) []*storage.Fact {
	t.Helper()
	out, err := g.Adjacent([]storage.AdjQuery{q})
	if err != nil {
		t.Fatalf("Adjacent: %v", err)
	}
	return out[0]
}

func TestLoadAnswersArticleFacts(t *testing.T) {
	g := newGraph(t)
	load(t, g)
	id := func(slug string) uuid.UUID {
		t.Helper()
		n, err := g.NodeBySlug(slug)
		if err != nil {
			t.Fatalf("NodeBySlug(%q): %v", slug, err)
		}
		return n.ID
	}
	qualcomm, waic2023, waic2019, openai := id("qualcomm"), id("waic-2023"), id("waic-2019"), id("openai")

	t.Run("qualcomm sponsored waic-2023 as an elite partner", func(t *testing.T) {
		facts := adjacent(t, g, storage.AdjQuery{Node: qualcomm, Dir: storage.Out, Predicate: storage.PredSponsored})
		if len(facts) != 1 || facts[0].Object != waic2023 || facts[0].Tier != storage.TierElitePartner || facts[0].Negated || facts[0].Year != 2023 {
			t.Fatalf("qualcomm SPONSORED = %+v, want one ELITE_PARTNER sponsorship of waic-2023", facts)
		}
		withNeg := adjacent(t, g, storage.AdjQuery{Node: qualcomm, Dir: storage.Out, Predicate: storage.PredSponsored, Negated: true})
		found := false
		for _, f := range withNeg {
			found = found || f.Negated && f.Tier == storage.TierStrategicPartner && f.Object == waic2023
		}
		if !found {
			t.Errorf("no negated STRATEGIC_PARTNER sponsorship of waic-2023 by qualcomm among %d facts", len(withNeg))
		}
		if !strings.Contains(facts[0].Evidence[0].Quote, "22 “đối tác ưu tú”") {
			t.Errorf("evidence = %q", facts[0].Evidence[0].Quote)
		}
	})
	t.Run("waic-2023 has 22 elite partners", func(t *testing.T) {
		var got []*storage.Fact
		for _, f := range adjacent(t, g, storage.AdjQuery{Node: waic2023, Dir: storage.Out, Predicate: storage.PredMeasure}) {
			if f.Measure == "elite-partners" {
				got = append(got, f)
			}
		}
		if len(got) != 1 || got[0].Quantity == nil || got[0].Quantity.Amount != 22 || got[0].Quantity.Bound != storage.BoundExact {
			t.Errorf("elite-partners measures = %+v, want one of exactly 22", got)
		}
	})
	t.Run("openai did not take part in waic-2023", func(t *testing.T) {
		if facts := adjacent(t, g, storage.AdjQuery{Node: openai, Dir: storage.Out, Predicate: storage.PredParticipatedIn}); len(facts) != 0 {
			t.Errorf("active PARTICIPATED_IN of openai = %+v, want none", facts)
		}
		facts := adjacent(t, g, storage.AdjQuery{Node: openai, Dir: storage.Out, Predicate: storage.PredParticipatedIn, Negated: true})
		if len(facts) != 1 || !facts[0].Negated || facts[0].Object != waic2023 || facts[0].Active() {
			t.Errorf("PARTICIPATED_IN of openai with negated = %+v, want one negated fact about waic-2023", facts)
		}
	})
	t.Run("IBM, Microsoft and AWS were strategic partners of waic-2019", func(t *testing.T) {
		want := map[uuid.UUID]string{id("ibm"): "ibm", id("microsoft"): "microsoft", id("amazon-web-services"): "amazon-web-services"}
		for _, f := range adjacent(t, g, storage.AdjQuery{Node: waic2019, Dir: storage.In, Predicate: storage.PredSponsored}) {
			if f.Tier == storage.TierStrategicPartner && f.Year == 2019 {
				delete(want, f.Subject)
			}
		}
		if len(want) != 0 {
			t.Errorf("missing STRATEGIC_PARTNER sponsorships of waic-2019 by %v", want)
		}
	})
	t.Run("Qualcomm and OpenAI are from the US", func(t *testing.T) {
		subj, err := g.SubjectsByValue(storage.PredCountry, "US")
		if err != nil {
			t.Fatal(err)
		}
		has := map[uuid.UUID]bool{}
		for _, s := range subj {
			has[s] = true
		}
		if !has[qualcomm] || !has[openai] {
			t.Errorf("SubjectsByValue(COUNTRY, US) = %v, want qualcomm and openai among them", subj)
		}
	})
	t.Run("dates keep their precision", func(t *testing.T) {
		precision := map[string]storage.Precision{}
		for _, fid := range mustIDs(t, g, storage.PredIssued) {
			f, _ := g.Fact(fid)
			if f.Date != nil {
				precision[f.Date.String()] = f.Date.Precision
			}
		}
		if p, ok := precision["2022-10"]; !ok || p != storage.PrecisionMonth {
			t.Errorf("ISSUED dates = %v, want 2022-10 at MONTH precision", precision)
		}
		held := adjacent(t, g, storage.AdjQuery{Node: waic2023, Dir: storage.Out, Predicate: storage.PredHeldOn})
		if len(held) != 1 || held[0].Start == nil || held[0].End == nil ||
			held[0].Start.String() != "2023-07-06" || held[0].End.String() != "2023-07-08" || held[0].Start.Precision != storage.PrecisionDay {
			t.Errorf("waic-2023 HELD_ON = %+v, want 2023-07-06 to 2023-07-08 at DAY precision", held)
		}
	})
	t.Run("search finds Thượng Hải", func(t *testing.T) {
		hits, err := g.Search("thuong hai", 1)
		if err != nil || len(hits) != 1 || hits[0].ID != id("shanghai") || hits[0].Score != 3 {
			t.Errorf("Search(thuong hai) = %v, %v; want shanghai, exact", hits, err)
		}
	})
}

func mustIDs(t testing.TB, g *storage.Graph, p storage.Predicate) []uuid.UUID {
	t.Helper()
	ids, err := g.FactIDsByPredicate(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestLoadFileRejectsAndWritesNothing(t *testing.T) {
	// Each case breaks one thing in a fresh parse of facts.yaml.
	tests := []struct {
		name  string
		spoil func(f *seed.File) string // returns the text to load
		code  errs.Code
	}{
		{"a quote not in the article", func(f *seed.File) string {
			f.Facts[len(f.Facts)/2].Evidence[0].Quote += " (not in the article)"
			return seed.Article
		}, errs.QuoteNotInSource},
		{"a space for a non-breaking space", func(f *seed.File) string {
			for i, x := range f.Facts {
				if strings.Contains(x.Evidence[0].Quote, "\u00a0") {
					f.Facts[i].Evidence[0].Quote = strings.ReplaceAll(x.Evidence[0].Quote, "\u00a0", " ")
					return seed.Article
				}
			}
			panic("no quote with a non-breaking space in facts.yaml")
		}, errs.QuoteNotInSource},
		{"straight for curly quotation marks", func(f *seed.File) string {
			for i, x := range f.Facts {
				if strings.Contains(x.Evidence[0].Quote, "“") {
					q := strings.ReplaceAll(x.Evidence[0].Quote, "“", `"`)
					f.Facts[i].Evidence[0].Quote = strings.ReplaceAll(q, "”", `"`)
					return seed.Article
				}
			}
			panic("no quote with curly quotation marks in facts.yaml")
		}, errs.QuoteNotInSource},
		{"another article", func(f *seed.File) string { return "Một bài báo khác." }, errs.QuoteNotInSource},
		{"an unknown subject", func(f *seed.File) string {
			f.Facts[len(f.Facts)-1].Subject = "no-such-entity"
			return seed.Article
		}, errs.NotFound},
		{"a bad country", func(f *seed.File) string {
			for i := range f.Entities {
				if f.Entities[i].Attrs.Code != "" {
					f.Entities[i].Attrs.Code = "USA"
					break
				}
			}
			return seed.Article
		}, errs.InvalidCountry},
		{"a bad date", func(f *seed.File) string {
			for i := range f.Facts {
				if f.Facts[i].Date != "" {
					f.Facts[i].Date = "2023-02-29"
					break
				}
			}
			return seed.Article
		}, errs.InvalidDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, preload := range []bool{false, true} {
				g := newGraph(t)
				if preload {
					load(t, g)
				}
				before := dump(t, g)
				f := parse(t)
				text := tt.spoil(f)
				_, err := seed.LoadFile(g, f, text)
				if err == nil {
					t.Fatalf("LoadFile (preloaded %v) succeeded", preload)
				}
				if got := errs.CodeOf(err); got != tt.code {
					t.Errorf("LoadFile (preloaded %v) = %v (code %q), want code %s", preload, err, got, tt.code)
				}
				if after := dump(t, g); after != before {
					t.Errorf("a failed LoadFile (preloaded %v) wrote to the store", preload)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
	}{
		{"unknown key", "source: {slug: s}\nentities: []\nfacts: []\nextra: 1\n"},
		{"unknown entity key", "entities:\n  - slug: a\n    colour: red\n"},
		{"not yaml", "entities: [\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := seed.Parse([]byte(tt.yaml)); err == nil {
				t.Errorf("Parse accepted %q", tt.yaml)
			}
		})
	}
}

func TestLoadFileRejectsDuplicates(t *testing.T) {
	t.Run("entity", func(t *testing.T) {
		g := newGraph(t)
		f := parse(t)
		f.Entities = append(f.Entities, f.Entities[0])
		if _, err := seed.LoadFile(g, f, seed.Article); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("LoadFile = %v, want a duplicate slug error", err)
		}
	})
	t.Run("fact", func(t *testing.T) {
		g := newGraph(t)
		f := parse(t)
		f.Facts = append(f.Facts, f.Facts[3])
		if _, err := seed.LoadFile(g, f, seed.Article); err == nil || !strings.Contains(err.Error(), "same thing") {
			t.Errorf("LoadFile = %v, want a duplicate fact error", err)
		}
	})
}

// LoadFile indexes x.Evidence[0] for QUOTED_IN facts without checking that
// there is any evidence (seed.go, facts()).
func TestLoadFileQuotedInWithoutEvidence(t *testing.T) {
	g := newGraph(t)
	f := parse(t)
	f.Facts = append(f.Facts, seed.Fact{Subject: "li-zheng", Predicate: string(storage.PredQuotedIn), Object: f.Source.Slug})
	before := dump(t, g)
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
				t.Errorf("LoadFile panicked: %v", r)
			}
		}()
		_, err = seed.LoadFile(g, f, seed.Article)
	}()
	if err == nil {
		t.Error("LoadFile accepted a fact without evidence")
	}
	if dump(t, g) != before {
		t.Error("a failed LoadFile wrote to the store")
	}
}

// TestLoadSkipsWhatWouldUndoCuration: a seed never writes a fact about a
// retracted entity (here one a newer facts file adds), nor an entity whose slug
// a curator gave another entity, nor that entity's facts; it loads the rest.
func TestLoadSkipsWhatWouldUndoCuration(t *testing.T) {
	g := newGraph(t)
	// An analyst made "ai-race" before the seed ran.
	mine, err := g.CreateNode(&storage.Node{Kind: storage.KindTopic, Name: "AI race", Slug: "ai-race", Description: "mine"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// An older facts file lacks Tesla's COUNTRY fact; the analyst then retracts Tesla.
	older := parse(t)
	var country seed.Fact
	for i, x := range older.Facts {
		if x.Subject == "tesla" && x.Predicate == "COUNTRY" {
			country = x
			older.Facts = append(older.Facts[:i], older.Facts[i+1:]...)
			break
		}
	}
	if country.Subject == "" {
		t.Fatal("facts.yaml has no COUNTRY fact of tesla")
	}
	r, err := seed.LoadFile(g, older, seed.Article)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	for _, want := range []string{"entity ai-race (its slug names another entity)", "fact waic-2023-article MENTIONS ai-race (about a skipped entity)"} {
		if !slices.Contains(r.Skipped, want) {
			t.Errorf("Skipped = %q, want %q in it", r.Skipped, want)
		}
	}
	if _, err := g.RetractNode(storage.SlugID("tesla"), "analyst", "not there"); err != nil {
		t.Fatal(err)
	}
	before := dump(t, g)
	r, err = seed.Load(g)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if r.Written != 0 || !slices.Contains(r.Skipped, "fact tesla COUNTRY US (about a retracted entity)") || !slices.Contains(r.Kept, "entity tesla") {
		t.Errorf("Load = written %d, skipped %q, kept %q; want nothing written, Tesla's new fact skipped, Tesla kept", r.Written, r.Skipped, r.Kept)
	}
	if after := dump(t, g); after != before {
		t.Error("the seed wrote to a curated store")
	}
	if n, err := g.NodeBySlug("ai-race"); err != nil || n.ID != mine.ID || n.Description != "mine" {
		t.Errorf("ai-race = %+v, %v; want the analyst's entity", n, err)
	}
	if rep, err := g.Check(); err != nil || !rep.OK() {
		t.Errorf("Check: %v %v", err, rep.Problems)
	}
}
