package storage_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"policygraph/storage/badger"

	"policygraph/seed"
	"policygraph/storage"
)

// seededGraph is a test graph holding the seed (inferred facts among its
// facts), with one fact retracted and two entities updated, so that exports
// cover retractions and revisions too.
func seededGraph(t testing.TB) *storage.Graph {
	t.Helper()
	g := newGraph(t)
	if _, err := seed.Load(g); err != nil {
		t.Fatalf("seed: %v", err)
	}
	facts, err := g.FindFacts(storage.FactQuery{Predicates: []storage.Predicate{storage.PredSponsored}})
	if err != nil || len(facts) == 0 {
		t.Fatalf("FindFacts = %d facts, %v", len(facts), err)
	}
	if _, err := g.RetractFact(facts[0].ID, "test", "a retracted fact for the export"); err != nil {
		t.Fatalf("RetractFact: %v", err)
	}
	for _, slug := range []string{"transwarp", "qualcomm", "transwarp"} {
		if _, err := g.UpdateNode(storage.SlugID(slug), storage.NodePatch{Description: ptr("revised " + slug), By: "test"}); err != nil {
			t.Fatalf("UpdateNode: %v", err)
		}
	}
	return g
}

// TestExportImportRoundTrip imports an export all sorted in memory, and with
// a budget so small that the import sorts runs on disk and merges them.
func TestExportImportRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name       string
		bulkMemory int
	}{{"in memory", 0}, {"sorted runs past a tiny budget", 64 << 10}} {
		t.Run(tt.name, func(t *testing.T) { testRoundTrip(t, tt.bulkMemory) })
	}
}

func testRoundTrip(t *testing.T, bulkMemory int) {
	g := seededGraph(t)
	var first bytes.Buffer
	if err := g.ExportJSONL(&first); err != nil {
		t.Fatalf("ExportJSONL: %v", err)
	}
	kv, err := badger.Open(badger.Options{InMemory: true, BulkMemory: bulkMemory})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fresh.Close() })
	before := fresh.Version()
	rep, err := fresh.Import(bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	stats, _ := g.Stats()
	if rep.Nodes != stats.Nodes || rep.Facts != stats.Facts || rep.Texts != 1 || rep.Revisions != 3 {
		t.Errorf("Import = %+v, want %d nodes, %d facts, 1 text, 3 revisions", rep, stats.Nodes, stats.Facts)
	}
	if !strings.Contains(first.String(), `"inference":{"rule":"COUNTRY_FROM_GROUPING"`) {
		t.Errorf("the export carries no inference")
	}
	if fresh.Version() <= before {
		t.Errorf("Version after import = %d, want > %d", fresh.Version(), before)
	}
	var second bytes.Buffer
	if err := fresh.ExportJSONL(&second); err != nil {
		t.Fatalf("ExportJSONL after import: %v", err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("export, import, export differ:\nfirst  %.300s\nsecond %.300s", first.String(), second.String())
	}
	// The imported store answers queries from the same indexes.
	if a, b := dump(t, g), dump(t, fresh); a != b {
		t.Errorf("the imported store's keys and values differ from the original's")
	}
	var q1, q2 bytes.Buffer
	if err := g.ExportNQuads(&q1); err != nil {
		t.Fatalf("ExportNQuads: %v", err)
	}
	if err := fresh.ExportNQuads(&q2); err != nil {
		t.Fatalf("ExportNQuads after import: %v", err)
	}
	if !bytes.Equal(q1.Bytes(), q2.Bytes()) {
		t.Errorf("N-Quads of the original and the imported graph differ")
	}
}

func TestExportNQuadsShape(t *testing.T) {
	g := seededGraph(t)
	var b bytes.Buffer
	if err := g.ExportNQuads(&b); err != nil {
		t.Fatalf("ExportNQuads: %v", err)
	}
	waic := "<urn:uuid:" + storage.SlugID("waic-2023").String() + ">"
	want := waic + " <" + storage.Vocab + "slug> \"waic-2023\" ."
	sponsored := "<" + storage.Vocab + "SPONSORED> " + waic + " <urn:uuid:"
	// A node's class is its kind's Class: EVENT is Event, EXPORT_CONTROL ExportControl.
	typed := waic + " <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <" + storage.Vocab + "Event> ."
	control := " <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <" + storage.Vocab + "ExportControl> ."
	var haveSlug, haveEdge, haveType, haveControl bool
	for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if !strings.HasSuffix(line, " .") || !(strings.HasPrefix(line, "<urn:uuid:") || strings.HasPrefix(line, "_:")) {
			t.Fatalf("line %d is no N-Quad: %.200s", i+1, line)
		}
		haveSlug = haveSlug || line == want
		haveEdge = haveEdge || strings.Contains(line, sponsored)
		haveType = haveType || line == typed
		haveControl = haveControl || strings.HasSuffix(line, control)
	}
	if !haveType || !haveControl {
		t.Errorf("waic-2023 typed Event: %v; an export control typed ExportControl: %v", haveType, haveControl)
	}
	if !haveSlug {
		t.Errorf("no quad %s", want)
	}
	if !haveEdge {
		t.Errorf("no SPONSORED edge to waic-2023 asserted in a fact's named graph")
	}
}

func TestImportRejects(t *testing.T) {
	g := seededGraph(t)
	var b bytes.Buffer
	if err := g.ExportJSONL(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(b.String(), "\n")
	var nodes, revisions, facts []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, `{"node":`):
			nodes = append(nodes, l)
		case strings.HasPrefix(l, `{"revision":`):
			revisions = append(revisions, l)
		case strings.HasPrefix(l, `{"fact":`):
			facts = append(facts, l)
		}
	}
	allNodes := strings.Join(nodes, "")
	tests := []struct {
		name, input, want string
	}{
		{"not empty", b.String(), "not empty"},
		{"fact before its nodes", facts[len(facts)-1], "subject"},
		{"an unknown inference rule", strings.Replace(b.String(), `"rule":"COUNTRY_FROM_GROUPING"`, `"rule":"HUNCH"`, 1), "unknown inference rule"},
		{"a revision of no node above", revisions[0], "no node above"},
		{"a revision before the facts", allNodes + revisions[0] + facts[0], "a fact record after later records"},
		{"a revision missing", allNodes + revisions[1], "want revision 1"},
		{"a revision twice", allNodes + revisions[0] + revisions[0], "want revision 2"},
		{"garbage", "{nope\n", "line 1"},
		// Lines are decoded in chunks of 256 on several goroutines: the
		// number is still the line's, and an error stops the rest.
		{"garbage past a chunk", strings.Repeat("\n", 600) + "{nope\n" + b.String(), "line 601"},
		{"garbage before much more", "{nope\n" + strings.Repeat(b.String(), 20), "line 1:"},
		{"altered quote", strings.Replace(b.String(), `"quote":"`, `"quote":"NOT IN THE SOURCE `, 1), "verbatim"},
		{"a slug twice", lines[0] + regexp.MustCompile(`"id":"[0-9a-f-]{36}"`).ReplaceAllString(lines[0], `"id":"00000000-0000-4000-8000-000000000001"`), "appears twice"},
		{"an id twice", lines[0] + strings.Replace(lines[0], `"slug":"`, `"slug":"other-`, 1), "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := newGraph(t)
			if tt.name == "not empty" {
				target = g
			}
			_, err := target.Import(strings.NewReader(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
