package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"policygraph/internal/testenv"
	"policygraph/storage"
)

// TestSavedQueriesCheckedAtStart stores, below the API, a saved query that no
// longer validates (it names a field the schema does not have, as one saved
// before a field was removed would), and one that does; then starts the
// service on that store. The start logs a warning naming the invalid one and
// its problems, and only it; savedQueries still lists it as invalid.
func TestSavedQueriesCheckedAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	g := testenv.OpenDir(t, dir)
	for _, q := range []storage.SavedQuery{
		{Name: "stale", Query: `{ event(slug: "waic-2023") { name sponsorCountOfOldSchema } }`},
		{Name: "fresh", Query: `{ stats { entities } }`},
	} {
		if _, err := g.PutSavedQuery(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}

	s := testenv.Start(t, "-data", dir)
	type logLine struct {
		Level        string   `json:"level"`
		Msg          string   `json:"msg"`
		Name         string   `json:"name"`
		Problems     []string `json:"problems"`
		SavedQueries *int     `json:"saved_queries"`
		Invalid      *int     `json:"invalid"`
	}
	var warned []logLine
	var summary *logLine
	for _, line := range strings.Split(s.Stdout.String(), "\n") {
		var l logLine
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case l.Level == "WARN" && strings.Contains(l.Msg, "saved query"):
			warned = append(warned, l)
		case l.Msg == "saved queries checked":
			summary = &l
		}
	}
	if len(warned) != 1 || warned[0].Name != "stale" {
		t.Fatalf("start warned of %+v, want the saved query \"stale\" only; log:\n%s", warned, s.Stdout)
	}
	if !slices.ContainsFunc(warned[0].Problems, func(p string) bool { return strings.Contains(p, "sponsorCountOfOldSchema") }) {
		t.Errorf("the warning's problems %q do not name the missing field", warned[0].Problems)
	}
	if summary == nil || summary.SavedQueries == nil || *summary.SavedQueries != 2 || summary.Invalid == nil || *summary.Invalid != 1 {
		t.Errorf("no summary of 2 saved queries checked, 1 invalid; log:\n%s", s.Stdout)
	}

	d := s.Query(t, `{ savedQueries { name valid problems } }`, nil)
	eq(t, testenv.Strings(d, "savedQueries", "name"), []string{"fresh", "stale"})
	eq(t, testenv.Value(d, "savedQueries.0.valid"), true)
	eq(t, testenv.Value(d, "savedQueries.1.valid"), false)
	if p, _ := testenv.Value(d, "savedQueries.1.problems").([]any); len(p) == 0 {
		t.Errorf("savedQueries lists no problems for \"stale\": %v", d)
	}
}
