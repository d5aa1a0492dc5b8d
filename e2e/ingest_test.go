package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"policygraph/app"
	"policygraph/internal/testenv"
)

const (
	ledger = "../bundle/testdata/harbour-ledger.yaml"
	review = "../bundle/testdata/lantern-review.yaml"
)

func ingestCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := app.Run(context.Background(), append([]string{"ingest"}, args...), testenv.NoEnv, nil, &out, io.Discard)
	return out.String(), err
}

// TestIngestOverHTTP: policygraph ingest -url sends the fixtures through the
// ingestSource mutation; a dry run writes nothing; the disputed tier shows in
// the headline's sponsorships as disputed, both tiers reachable; a second
// ingest changes nothing; a refused bundle writes nothing.
func TestIngestOverHTTP(t *testing.T) {
	srv := testenv.Server(t)
	g := srv.Graph
	v := g.Version()
	out, err := ingestCmd(t, "-url", srv.URL, "-token", testenv.Token, "-dry-run", ledger)
	if err != nil || !strings.Contains(out, "disputed 2") || !strings.Contains(out, "dry run: nothing written") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if g.Version() != v {
		t.Fatal("a dry run wrote to the store")
	}
	if _, err := ingestCmd(t, "-url", srv.URL, "-token", "wrong", ledger); err == nil || !strings.Contains(err.Error(), "UNAUTHENTICATED") {
		t.Fatalf("a wrong token: %v", err)
	}
	out, err = ingestCmd(t, "-url", srv.URL, "-token", testenv.Token, ledger, review)
	if err != nil || !strings.Contains(out, "harbour-ledger.yaml: source fixture-harbour-ledger: created 3, merged 3, refined 1, disputed 2") ||
		!strings.Contains(out, "lantern-review.yaml: source fixture-lantern-review: created 1, merged 5") {
		t.Fatalf("ingest: %v\n%s", err, out)
	}

	data := srv.Query(t, `{ sponsorshipsByYear(event: "waic-2019") { year sponsorships { subject { slug } tier disputed disputedBy { tier evidence { source { slug } } } } } }`, nil)
	rows := testenv.Value(data, "sponsorshipsByYear.0.sponsorships").([]any)
	tiers := map[string]bool{}
	for _, r := range rows {
		if testenv.Value(r, "subject.slug") != "ibm" {
			continue
		}
		tiers[testenv.Value(r, "tier").(string)] = true
		if testenv.Value(r, "disputed") != true || len(testenv.Value(r, "disputedBy").([]any)) != 1 {
			t.Errorf("IBM's WAIC 2019 row: %v, want disputed with the other tier reachable", r)
		}
	}
	if !tiers["STRATEGIC_PARTNER"] || !tiers["ELITE_PARTNER"] {
		t.Errorf("IBM's WAIC 2019 tiers: %v, want both, neither picked", tiers)
	}
	data = srv.Query(t, `{ facts(filter: {disputed: true}) { totalCount }
		undisputed: facts(filter: {disputed: false, subject: "tusimple", predicates: [COUNTRY]}) { totalCount }
		composed: facts(filter: {or: [{subject: "ibm", disputed: true}, {subject: "tusimple", disputed: true}]}) { totalCount } }`, nil)
	if testenv.Value(data, "facts.totalCount") != float64(4) || testenv.Value(data, "undisputed.totalCount") != float64(0) ||
		testenv.Value(data, "composed.totalCount") != float64(4) {
		t.Errorf("disputed facts: %v, want 4 (IBM's two tiers, TuSimple's two countries) and no undisputed TuSimple country", data)
	}

	v = g.Version()
	out, err = ingestCmd(t, "-url", srv.URL, "-token", testenv.Token, ledger, review)
	// Only the name and sameAs resolutions are reported again (as merged: nothing is written to them).
	if err != nil || !strings.Contains(out, "fixture-harbour-ledger: created 0, merged 1, refined 0, disputed 0, unchanged 13") ||
		!strings.Contains(out, "fixture-lantern-review: created 0, merged 2, refined 0, disputed 0, unchanged 4") {
		t.Fatalf("re-ingest: %v\n%s", err, out)
	}
	if g.Version() != v {
		t.Error("re-ingesting changed the store")
	}

	// A quote not in the source: refused with its line, nothing written.
	dir := t.TempDir()
	b, _ := os.ReadFile(ledger)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, bytes.Replace(b, []byte(`"Nova Robotics, a fictional firm, sponsored WAIC 2023."`), []byte(`"Nova Robotics sponsored WAIC 2024."`), 1), 0o644)
	srv2 := testenv.Server(t)
	v = srv2.Graph.Version()
	_, err = ingestCmd(t, "-url", srv2.URL, "-token", testenv.Token, bad)
	if err == nil || !strings.Contains(err.Error(), "QUOTE_NOT_IN_SOURCE") || !strings.Contains(err.Error(), "bad.yaml:82") {
		t.Errorf("a quote not in the source: %v", err)
	}
	if srv2.Graph.Version() != v {
		t.Error("a refused bundle wrote to the store")
	}
	// An ambiguous name, found by the server: refused naming both
	// candidates, on the line of the file (not of the JSON sent).
	r, _ := os.ReadFile(review)
	txt, _ := os.ReadFile("../bundle/testdata/lantern-review.txt")
	os.WriteFile(filepath.Join(dir, "lantern-review.txt"), txt, 0o644)
	nopin := filepath.Join(dir, "no-pin.yaml")
	os.WriteFile(nopin, bytes.Replace(r, []byte(`    sameAs: "us-sanctions-huawei"`), nil, 1), 0o644)
	_, err = ingestCmd(t, "-url", srv2.URL, "-token", testenv.Token, nopin)
	if err == nil || !strings.Contains(err.Error(), "AMBIGUOUS_ENTITY") || !strings.Contains(err.Error(), "no-pin.yaml:23:") ||
		!strings.Contains(err.Error(), "us-sanctions-huawei") || !strings.Contains(err.Error(), "us-sanctions-sensetime") {
		t.Errorf("an ambiguous name over HTTP: %v", err)
	}
	if srv2.Graph.Version() != v {
		t.Error("a refused bundle wrote to the store")
	}
}

// TestIngestMutation: the mutation itself, with an inline YAML bundle; a
// textFile is refused (the server reads no file a client names); the report
// lists slugs and fact IDs.
func TestIngestMutation(t *testing.T) {
	srv := testenv.Server(t)
	text, _ := os.ReadFile("../bundle/testdata/lantern-review.txt")
	yaml, _ := os.ReadFile(review)
	const m = `mutation($in: IngestSourceInput!) { ingestSource(input: $in) { dryRun source created { count entities facts } merged { count entities } } }`
	r := srv.Post(t, testenv.Token, m, map[string]any{"in": map[string]any{"bundle": string(yaml)}})
	if r.Code() != "BUNDLE_INVALID" || !strings.Contains(r.Raw, "textFile") {
		t.Errorf("a textFile over the API: %s", testenv.Clip(r.Raw))
	}
	inline := strings.Replace(string(yaml), `textFile: "lantern-review.txt"`, "text: |\n    "+strings.ReplaceAll(strings.TrimSpace(string(text)), "\n", "\n    "), 1)
	r = srv.Must(t, testenv.Token, m, map[string]any{"in": map[string]any{"bundle": inline, "dryRun": true}})
	var rep struct {
		DryRun  bool
		Source  string
		Created struct {
			Count    int
			Entities []string
			Facts    []string
		}
	}
	if err := r.Decode("ingestSource", &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || rep.Source != "fixture-lantern-review" || rep.Created.Count != 3 || len(rep.Created.Facts) != 1 ||
		strings.Join(rep.Created.Entities, ",") != "fixture-lantern-review,nova" {
		t.Errorf("dry run report: %+v", rep)
	}
	r = srv.Post(t, "", m, map[string]any{"in": map[string]any{"bundle": inline}})
	if r.Code() != "UNAUTHENTICATED" {
		t.Errorf("without the token: %s", testenv.Clip(r.Raw))
	}
}

// TestIngestIntoDataDir: policygraph ingest -data writes into a stopped data
// directory, recording the -by name.
func TestIngestIntoDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := app.Run(context.Background(), []string{"seed", "-data", dir}, testenv.NoEnv, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	out, err := ingestCmd(t, "-data", dir, "-by", "fixture-curator", ledger)
	if err != nil || !strings.Contains(out, "created 3, merged 3, refined 1, disputed 2") {
		t.Fatalf("ingest -data: %v\n%s", err, out)
	}
	var exp bytes.Buffer
	if err := app.Run(context.Background(), []string{"export", "-data", dir}, testenv.NoEnv, nil, &exp, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(exp.String(), `"createdBy":"fixture-curator"`) || !strings.Contains(exp.String(), `"disputedBy":[`) {
		t.Error("the export holds no fact written by fixture-curator, or no dispute")
	}
	if _, err := ingestCmd(t, ledger); err == nil {
		t.Error("ingest without -url or -data succeeded")
	}
}
