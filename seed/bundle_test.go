package seed_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	goccy "github.com/goccy/go-yaml"
	yaml "go.yaml.in/yaml/v3"

	"policygraph/bundle"
	"policygraph/seed"
	"policygraph/storage"
)

// writeArticleBundle writes facts.yaml as a standalone bundle file: the same
// YAML with source.textFile naming the article, copied beside it.
func writeArticleBundle(t *testing.T) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(seed.FactsYAML, &doc); err != nil {
		t.Fatal(err)
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "source" {
			src := top.Content[i+1]
			src.Content = append(src.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: "textFile"},
				&yaml.Node{Kind: yaml.ScalarNode, Value: "article.txt"})
		}
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "article.txt"), []byte(seed.Article), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "waic-2023-article.bundle.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func export(t *testing.T, g *storage.Graph) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := g.ExportJSONL(&b); err != nil {
		t.Fatalf("ExportJSONL: %v", err)
	}
	return b.Bytes()
}

// TestArticleBundleExportsAsSeed: the article re-expressed as a bundle file
// and ingested (bundle.Read, bundle.Ingest: what policygraph ingest does)
// gives a store whose export is byte for byte that of the seed; ingesting it
// again changes nothing.
func TestArticleBundleExportsAsSeed(t *testing.T) {
	seeded := newGraph(t)
	load(t, seeded)
	want := export(t, seeded)

	b, err := bundle.Read(writeArticleBundle(t))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	ingested := newGraph(t)
	rep, err := bundle.Ingest(ingested, b, bundle.Options{By: "seed"})
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if got := len(rep.Created.Facts); got != len(b.Facts) || len(rep.Created.Entities) != len(b.Entities)+1 {
		t.Errorf("Ingest created %d entities and %d facts, want %d and %d (report %+v)",
			len(rep.Created.Entities), got, len(b.Entities)+1, len(b.Facts), rep)
	}
	if got := export(t, ingested); !bytes.Equal(got, want) {
		t.Errorf("the bundle's export differs from the seed's (%d bytes vs %d)\n%s", len(got), len(want), firstDiff(got, want))
	}

	before := dump(t, ingested)
	rep, err = bundle.Ingest(ingested, b, bundle.Options{By: "someone else"})
	if err != nil {
		t.Fatalf("second Ingest: %v", err)
	}
	if n := rep.Created.Count() + rep.Merged.Count() + rep.Refined.Count() + rep.Disputed.Count(); n != 0 ||
		rep.Unchanged.Count() != len(b.Entities)+1+len(b.Facts) {
		t.Errorf("a second Ingest of the same bundle: %+v, want everything unchanged", rep)
	}
	if dump(t, ingested) != before {
		t.Error("a second Ingest of the same bundle changed the store")
	}
	// And ingesting it over the seeded store changes nothing either.
	before = dump(t, seeded)
	if _, err := bundle.Ingest(seeded, b, bundle.Options{By: "seed"}); err != nil {
		t.Fatalf("Ingest over the seed: %v", err)
	}
	if dump(t, seeded) != before {
		t.Error("ingesting the article bundle into the seeded store changed it")
	}
}

func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return "bundle: " + string(la[i]) + "\nseed:   " + string(lb[i])
		}
	}
	return "one is a prefix of the other"
}

// TestParseAgreesWithGoccy: the bundle parser (yaml.v3, for its line
// numbers) reads facts.yaml exactly as the seed's former parser did.
func TestParseAgreesWithGoccy(t *testing.T) {
	f := parse(t)
	var old seed.File
	if err := goccy.NewDecoder(bytes.NewReader(seed.FactsYAML), goccy.DisallowUnknownField()).Decode(&old); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Source, old.Source) || !reflect.DeepEqual(f.Entities, old.Entities) || !reflect.DeepEqual(f.Facts, old.Facts) {
		t.Error("yaml.v3 and goccy/go-yaml read facts.yaml differently")
	}
}
