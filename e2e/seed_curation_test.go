package e2e

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"policygraph/app"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

// TestSeedKeepsCuration: retract Tesla and rename Apple, then run the seed
// command again. Tesla stays retracted with its retraction record, its facts
// stay retracted, Apple keeps its new name, the command says what it kept, and
// a seed of an untouched store writes nothing.
func TestSeedKeepsCuration(t *testing.T) {
	dir := t.TempDir()
	getenv := testenv.NoEnv
	seedCmd := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := app.Run(context.Background(), []string{"seed", "-data", dir}, getenv, nil, &out, io.Discard); err != nil {
			t.Fatalf("seed: %v", err)
		}
		return out.String()
	}
	if out := seedCmd(); !regexp.MustCompile(`; [1-9][0-9]* written`).MatchString(out) {
		t.Fatalf("first seed wrote nothing: %s", out)
	}
	if out := seedCmd(); !strings.Contains(out, "; 0 written") || !strings.Contains(out, "kept 0 curated") {
		t.Fatalf("second seed of an untouched store: %s", out)
	}

	// Curate, as an analyst would through the API.
	g := testenv.OpenDir(t, dir)
	tesla, err := g.RetractNode(storage.SlugID("tesla"), "analyst", "not at the conference")
	if err != nil {
		t.Fatal(err)
	}
	teslaFacts, err := g.FindFacts(storage.FactQuery{Subject: tesla.ID, IncludeRetracted: true})
	if err != nil || len(teslaFacts) == 0 {
		t.Fatalf("Tesla's facts: %d, %v", len(teslaFacts), err)
	}
	name := "Apple Inc."
	if _, err := g.UpdateNode(storage.SlugID("apple"), storage.NodePatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	g.Close()

	out := seedCmd()
	for _, want := range []string{"; 0 written", "kept entity tesla", "kept entity apple", "kept fact tesla "} {
		if !strings.Contains(out, want) {
			t.Errorf("seed output lacks %q:\n%s", want, out)
		}
	}

	g = testenv.OpenDir(t, dir)
	defer g.Close()
	n, err := g.Node(tesla.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.Retraction == nil || n.Retraction.Reason != "not at the conference" || n.Retraction.By != "analyst" {
		t.Errorf("Tesla after the seed: retraction %+v, want the analyst's", n.Retraction)
	}
	for _, f := range teslaFacts {
		got, err := g.Fact(f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Retraction == nil {
			t.Errorf("the seed resurrected Tesla's fact %s %s", got.Predicate, got.ID)
		}
	}
	if apple, err := g.Node(storage.SlugID("apple")); err != nil || apple.Name != name {
		t.Errorf("Apple after the seed: %+v, %v; want the name %q", apple, err, name)
	}
	rep, err := g.Check()
	if err != nil || !rep.OK() {
		t.Errorf("Check after the seed: %v %v", err, rep.Problems)
	}
}
