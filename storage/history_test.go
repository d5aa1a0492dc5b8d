package storage_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// plainGraph is a graph with none of the records added after format 2's
// first release (no inferred fact, no revision): a source, two entities, a
// fact, a retracted fact, with fixed IDs and the test clock.
func plainGraph(t *testing.T) *storage.Graph {
	t.Helper()
	return plainGraphOn(t, newGraph(t))
}

// plainGraphOn is plainGraph on the empty graph g.
func plainGraphOn(t *testing.T, g *storage.Graph) *storage.Graph {
	t.Helper()
	text := "Qualcomm is the only US company sponsoring WAIC 2023."
	src := &storage.Node{ID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), Kind: storage.KindSource, Slug: "src", Name: "Source", CreatedBy: "seed"}
	org := &storage.Node{ID: uuid.MustParse("00000000-0000-4000-8000-000000000002"), Kind: storage.KindOrganization, Slug: "qualcomm", Name: "Qualcomm", Aliases: []string{"QCOM"}}
	ev := &storage.Node{ID: uuid.MustParse("00000000-0000-4000-8000-000000000003"), Kind: storage.KindEvent, Slug: "waic-2023", Name: "WAIC 2023", Year: 2023}
	for i, n := range []*storage.Node{src, org, ev} {
		tx := ""
		if i == 0 {
			tx = text
		}
		if _, err := g.CreateNode(n, tx); err != nil {
			t.Fatal(err)
		}
	}
	evid := []storage.Evidence{{Source: src.ID, Quote: "Qualcomm is the only US company", Gloss: "g", Note: "a note"}}
	if _, err := g.AddFact(&storage.Fact{ID: uuid.MustParse("00000000-0000-4000-8000-000000000010"), Subject: org.ID, Predicate: storage.PredCountry, Value: "US", Evidence: evid, CreatedBy: "seed"}); err != nil {
		t.Fatal(err)
	}
	f, err := g.AddFact(&storage.Fact{ID: uuid.MustParse("00000000-0000-4000-8000-000000000011"), Subject: org.ID, Predicate: storage.PredSponsored, Object: ev.ID, Tier: storage.TierElitePartner, Evidence: evid})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.RetractFact(f.ID, "curator", "test"); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestStoreWithoutNewRecordsUnchanged holds a store with no inferred fact and
// no revision to what the code before them wrote: its keys and values, its
// JSON-lines export and its N-Quads export are byte for byte those of
// testdata/before-inference, written by that code (commit bd9ae47) from this
// same graph, but for the format number, 3 since the change log (which a
// format-2 store starts on open, and which dump leaves out). So such a
// store needs no migration of its records, and its exports and backups do
// not change.
func TestStoreWithoutNewRecordsUnchanged(t *testing.T) {
	g := plainGraph(t)
	var j, q bytes.Buffer
	if err := g.ExportJSONL(&j); err != nil {
		t.Fatal(err)
	}
	if err := g.ExportNQuads(&q); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, got string }{
		{"testdata/before-inference/export.jsonl", j.String()},
		{"testdata/before-inference/export.nq", q.String()},
		{"testdata/before-inference/store.txt", dump(t, g, "Mformat")},
	} {
		want, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if c.got != string(want) {
			t.Errorf("%s differs:\n got %.400s\nwant %.400s", c.file, c.got, want)
		}
	}
	// The old store's records read back, and an import of the old export
	// makes the same store.
	fresh := newGraph(t)
	if _, err := fresh.Import(bytes.NewReader(j.Bytes())); err != nil {
		t.Fatal(err)
	}
	if a, b := dump(t, g), dump(t, fresh); a != b {
		t.Errorf("the old export imports to a different store")
	}
}

// TestRevisions: each UpdateNode keeps the values it replaced, oldest first,
// with when and by whom, in the store's records: they survive an export and
// import, and check knows them.
func TestRevisions(t *testing.T) { onEngines(t, testRevisions) }

func testRevisions(t *testing.T, open func(testing.TB) *storage.Graph) {
	g := plainGraphOn(t, open(t))
	org := uuid.MustParse("00000000-0000-4000-8000-000000000002")
	if revs, err := g.Revisions(org); err != nil || len(revs) != 0 {
		t.Fatalf("Revisions of an entity never updated = %v, %v", revs, err)
	}
	before, err := g.Node(org)
	if err != nil {
		t.Fatal(err)
	}
	n1, err := g.UpdateNode(org, storage.NodePatch{Name: ptr("Qualcomm Inc."), Description: ptr("chip designer"), By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.UpdateNode(org, storage.NodePatch{Aliases: []string{"QCOM", "Qualcomm Incorporated"}, By: "bob"}); err != nil {
		t.Fatal(err)
	}
	// A retraction is not an update: it leaves no revision (its record says who and when).
	if _, err := g.RetractNode(org, "carol", "test"); err != nil {
		t.Fatal(err)
	}
	revs, err := g.Revisions(org)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 {
		t.Fatalf("%d revisions, want 2", len(revs))
	}
	r1, r2 := revs[0], revs[1]
	if r1.Seq != 1 || r1.By != "alice" || !r1.At.Equal(n1.UpdatedAt) || r1.Previous.Name != "Qualcomm" ||
		r1.Previous.Description != "" || r1.Previous.UpdatedAt != before.UpdatedAt {
		t.Errorf("revision 1 = %+v (previous %+v), want the values before alice's update", r1, r1.Previous)
	}
	if r2.Seq != 2 || r2.By != "bob" || r2.Previous.Name != "Qualcomm Inc." || r2.Previous.Description != "chip designer" ||
		strings.Join(r2.Previous.Aliases, ",") != "QCOM" || !r2.At.After(r1.At) {
		t.Errorf("revision 2 = %+v (previous %+v), want the values before bob's update", r2, r2.Previous)
	}
	if rep, err := g.Check(); err != nil || !rep.OK() {
		t.Fatalf("Check: %v %v", err, rep.Problems)
	}
	var exp bytes.Buffer
	if err := g.ExportJSONL(&exp); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(exp.String(), `{"revision":{"node":"00000000-0000-4000-8000-000000000002","seq":2,`) {
		t.Errorf("the export lacks the revisions:\n%s", exp.String())
	}
	fresh := open(t)
	rep, err := fresh.Import(bytes.NewReader(exp.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Revisions != 2 {
		t.Errorf("Import read %d revisions, want 2", rep.Revisions)
	}
	var again bytes.Buffer
	if err := fresh.ExportJSONL(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != exp.String() {
		t.Errorf("export, import, export differ")
	}
	if a, b := dump(t, g), dump(t, fresh); a != b {
		t.Errorf("the imported store differs from the original")
	}
}

// TestFactsAsOf: a fact is active at a time when it was written at or before
// it and not retracted at it; the answer comes from the records alone, so a
// store rebuilt from an export answers alike.
func TestFactsAsOf(t *testing.T) { onEngines(t, testFactsAsOf) }

func testFactsAsOf(t *testing.T, open func(testing.TB) *storage.Graph) {
	g := plainGraphOn(t, open(t))
	// plainGraph's clock: the COUNTRY fact at 15:51:07, the SPONSORED fact at
	// 15:51:08, retracted at 15:51:09.
	at := func(s string) *time.Time { v := clockStart.Add(mustDuration(t, s)); return &v }
	org := uuid.MustParse("00000000-0000-4000-8000-000000000002")
	tests := []struct {
		name string
		q    storage.FactQuery
		want []storage.Predicate
	}{
		{"before any fact", storage.FactQuery{Subject: org, AsOf: at("6s")}, nil},
		{"when the country was written", storage.FactQuery{Subject: org, AsOf: at("7s")}, []storage.Predicate{storage.PredCountry}},
		{"while the sponsorship stood", storage.FactQuery{Subject: org, AsOf: at("8500ms")}, []storage.Predicate{storage.PredCountry, storage.PredSponsored}},
		{"by predicate, while it stood", storage.FactQuery{Predicates: []storage.Predicate{storage.PredSponsored}, AsOf: at("8500ms")}, []storage.Predicate{storage.PredSponsored}},
		{"at its retraction", storage.FactQuery{Subject: org, AsOf: at("9s")}, []storage.Predicate{storage.PredCountry}},
		{"after, with the retracted", storage.FactQuery{Subject: org, AsOf: at("1h"), IncludeRetracted: true}, []storage.Predicate{storage.PredCountry, storage.PredSponsored}},
		{"now", storage.FactQuery{Subject: org}, []storage.Predicate{storage.PredCountry}},
	}
	var exp bytes.Buffer
	if err := g.ExportJSONL(&exp); err != nil {
		t.Fatal(err)
	}
	fresh := newGraph(t)
	if _, err := fresh.Import(bytes.NewReader(exp.Bytes())); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, gr := range []*storage.Graph{g, fresh} {
				facts, err := gr.FindFacts(tt.q)
				if err != nil {
					t.Fatal(err)
				}
				var got []storage.Predicate
				for _, f := range facts {
					got = append(got, f.Predicate)
				}
				if strings.Join(preds(got), " ") != strings.Join(preds(tt.want), " ") {
					t.Errorf("FindFacts = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func preds(ps []storage.Predicate) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestInferredFacts: a fact's inference must name a rule of the policy and
// give its reasoning; an inferred COUNTRY fact counts for a country match
// unless the query excludes inferred facts.
func TestInferredFacts(t *testing.T) {
	g := plainGraph(t)
	src := uuid.MustParse("00000000-0000-4000-8000-000000000001")
	ev := uuid.MustParse("00000000-0000-4000-8000-000000000003")
	huawei := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Huawei"}, "")
	evid := []storage.Evidence{{Source: src, Quote: "sponsoring WAIC 2023"}}
	for _, tt := range []struct {
		name  string
		in    *storage.Inference
		field string
	}{
		{"unknown rule", &storage.Inference{Rule: "HUNCH", Reasoning: "seems so"}, "inference.rule"},
		{"no reasoning", &storage.Inference{Rule: "COUNTRY_FROM_GROUPING", Reasoning: " "}, "inference.reasoning"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, g)
			_, err := g.AddFact(&storage.Fact{Subject: huawei.ID, Predicate: storage.PredCountry, Value: "CN", Evidence: evid, Inference: tt.in})
			wantCode(t, err, errs.InvalidArgument, tt.field)
			assertUnchanged(t, g, before)
		})
	}
	inferred := mustAdd(t, g, &storage.Fact{Subject: huawei.ID, Predicate: storage.PredCountry, Value: "CN", Evidence: evid,
		Inference: &storage.Inference{Rule: "COUNTRY_FROM_GROUPING", Reasoning: "named among China's firms"}})
	mustAdd(t, g, &storage.Fact{Subject: huawei.ID, Predicate: storage.PredSponsored, Object: ev, Evidence: evid})
	got, err := g.Fact(inferred.ID)
	if err != nil || got.Inference == nil || got.Inference.Rule != "COUNTRY_FROM_GROUPING" {
		t.Fatalf("Fact = %+v, %v: the inference did not round-trip", got, err)
	}
	for _, tt := range []struct {
		name            string
		excludeInferred bool
		event           uuid.UUID
		want            int
	}{
		{"by country, inferred included", false, uuid.Nil, 1},
		{"by country, inferred excluded", true, uuid.Nil, 0},
		{"by event and country, inferred included", false, ev, 1},
		{"by event and country, inferred excluded", true, ev, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			facts, err := g.Sponsorships(storage.SponsorshipQuery{SponsorCountry: "CN", Event: tt.event, ExcludeInferred: tt.excludeInferred})
			if err != nil || len(facts) != tt.want {
				t.Errorf("Sponsorships = %d facts, %v; want %d", len(facts), err, tt.want)
			}
			facts, err = g.FindFacts(storage.FactQuery{SubjectCountry: "CN", ExcludeInferred: tt.excludeInferred})
			want := 2 * tt.want // the COUNTRY fact and the sponsorship
			if err != nil || len(facts) != want {
				t.Errorf("FindFacts(subjectCountry) = %d facts, %v; want %d", len(facts), err, want)
			}
		})
	}
	m, err := g.CountryInferred([]uuid.UUID{huawei.ID, uuid.MustParse("00000000-0000-4000-8000-000000000002")}, "CN")
	if err != nil || !m[huawei.ID] || len(m) != 2 {
		t.Errorf("CountryInferred = %v, %v", m, err)
	}
}
