package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"policygraph/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the outputs of the examples of README.md and docs/*.md")

// exampleRE finds a GraphQL example and the JSON block after it.
var exampleRE = regexp.MustCompile("(?s)```graphql\n(.*?)```\n\n(?:[^`]*?\n)?```json\n(.*?)```")

// docPages are the pages whose examples the tests run, relative to the module
// root: README.md, then every page of docs/. A page added to docs/ is run
// without being listed.
func docPages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(testenv.ModuleRoot(), "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages := []string{"README.md"}
	for _, d := range docs {
		pages = append(pages, "docs/"+filepath.Base(d))
	}
	return pages
}

// readPage reads a page of docPages.
func readPage(t *testing.T, page string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), filepath.FromSlash(page)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkOutputs runs every match of re in page (run gets the match's
// submatches and returns the output, or false when the example failed) and
// checks that submatch out of the match shows that output (same compares);
// with -update it writes the outputs into the page instead. It returns how
// many examples the page holds.
func checkOutputs(t *testing.T, page string, re *regexp.Regexp, out int, run func(i int, sub [][]byte) ([]byte, bool), same func(shown, got []byte) bool) int {
	t.Helper()
	doc := readPage(t, page)
	matches := re.FindAllSubmatchIndex(doc, -1)
	var w bytes.Buffer
	last := 0
	for i, m := range matches {
		sub := make([][]byte, len(m)/2)
		for j := range sub {
			sub[j] = doc[m[2*j]:m[2*j+1]]
		}
		got, ok := run(i, sub)
		if !ok {
			continue
		}
		if shown := sub[out]; !*update && !same(shown, got) {
			t.Errorf("%s, example %d: the page shows\n%s\nit gives\n%s\n(go test ./e2e -run %s -update rewrites it)", page, i+1, shown, got, t.Name())
		}
		w.Write(doc[last:m[2*out]])
		w.Write(got)
		last = m[2*out+1]
	}
	w.Write(doc[last:])
	if *update && !bytes.Equal(w.Bytes(), doc) {
		if err := os.WriteFile(filepath.Join(testenv.ModuleRoot(), filepath.FromSlash(page)), w.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return len(matches)
}

// atLeast fails the test when a page of want holds fewer examples than it
// lists: a page that lost its examples (a bad move, a broken fence) would
// otherwise pass with nothing checked.
func atLeast(t *testing.T, what string, want, got map[string]int) {
	t.Helper()
	for page, n := range want {
		if got[page] < n {
			t.Errorf("%s has %d %s, want at least %d", page, got[page], what, n)
		}
	}
}

// TestReadmeExamples runs every GraphQL example of README.md and docs/*.md
// against a seeded server and checks that the JSON shown after it is its
// real output. An example whose shown output holds errors shows a refusal,
// and may be answered with errors; any other must be answered without. Run
// with -update to rewrite the outputs.
func TestReadmeExamples(t *testing.T) {
	srv := testenv.Server(t)
	found := map[string]int{}
	for _, page := range docPages(t) {
		found[page] = checkOutputs(t, page, exampleRE, 2, func(i int, sub [][]byte) ([]byte, bool) {
			q := string(sub[1])
			raw := postRaw(t, srv, q)
			var r, shown testenv.Response
			_ = json.Unmarshal(sub[2], &shown)
			if err := json.Unmarshal(raw, &r); err != nil || len(r.Errors) > 0 && len(shown.Errors) == 0 {
				t.Errorf("%s, example %d: %s\n%s", page, i+1, raw, q)
				return nil, false
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			return append(bytes.TrimSpace(buf.Bytes()), '\n'), true
		}, func(shown, got []byte) bool { return bytes.Equal(normalize(shown), normalize(got)) })
	}
	// The headline in README; the sixteen questions (and IDE examples) after it.
	atLeast(t, "GraphQL examples with output", map[string]int{"README.md": 1, "docs/examples.md": 16, "docs/querying.md": 14}, found)
}

// postRaw sends a query and returns the response body as the server wrote it,
// fields in query order.
func postRaw(t *testing.T, srv *testenv.Service, q string) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q})
	resp, err := srv.Server.Client().Post(srv.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func normalize(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return []byte(strings.TrimSpace(string(b)))
	}
	n, _ := json.Marshal(v)
	return n
}
