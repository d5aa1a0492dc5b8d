package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"policygraph/internal/testenv"
)

// docsWithExamples are the pages of docs/ whose GraphQL examples are run, as
// README.md's are (TestReadmeExamples), with the least number of examples
// each must hold.
var docsWithExamples = map[string]int{
	"../docs/querying.md": 10,
}

// TestDocsExamples runs every GraphQL example of the pages in
// docsWithExamples against a seeded server and checks that the JSON shown
// after it is its real output. An example whose shown output holds errors
// shows a refusal, and may be answered with errors; any other must be
// answered without. Run with -update to rewrite the outputs.
func TestDocsExamples(t *testing.T) {
	srv := testenv.Server(t)
	for path, least := range docsWithExamples {
		t.Run(path, func(t *testing.T) { runDocExamples(t, srv, path, least) })
	}
}

// runDocExamples checks (or with -update rewrites) the outputs of the
// examples of the Markdown page at path.
func runDocExamples(t *testing.T, srv *testenv.Service, path string, least int) {
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	matches := exampleRE.FindAllSubmatchIndex(page, -1)
	if len(matches) < least {
		t.Fatalf("%s has %d GraphQL examples with output, want at least %d", path, len(matches), least)
	}
	var out bytes.Buffer
	last := 0
	for i, m := range matches {
		q := string(page[m[2]:m[3]])
		shown := page[m[4]:m[5]]
		raw := postRaw(t, srv, q)
		var r, was testenv.Response
		_ = json.Unmarshal(shown, &was)
		if err := json.Unmarshal(raw, &r); err != nil || len(r.Errors) > 0 && len(was.Errors) == 0 {
			t.Errorf("%s example %d: %s\n%s", path, i+1, raw, q)
			continue
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		got := append(bytes.TrimSpace(buf.Bytes()), '\n')
		if !*update && !bytes.Equal(normalize(shown), normalize(got)) {
			t.Errorf("%s example %d shows\n%s\nthe server answers\n%s\n(run go test ./e2e -run TestDocsExamples -update)", path, i+1, shown, got)
		}
		out.Write(page[last:m[4]])
		out.Write(got)
		last = m[5]
	}
	out.Write(page[last:])
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
