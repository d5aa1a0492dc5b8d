package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"policygraph/internal/testenv"
	"policygraph/web"
)

// TestExamplesAnswer runs every example, as the IDE opens it (the question
// as a comment, the query named after the example), through the real
// route table on the seeded graph: each validates against the schema and
// answers with data and no error.
func TestExamplesAnswer(t *testing.T) {
	c := &testenv.Client{Handler: testenv.Handler(t, testenv.Seeded(t), "-cache-size", "0")}

	if len(web.Examples) < 17 {
		t.Fatalf("%d examples, want README's 17 questions (the headline and 16 more)", len(web.Examples))
	}
	for _, e := range web.Examples {
		t.Run(e.Operation, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"query": e.Document(), "operationName": e.Operation})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			res, err := c.Send(req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != http.StatusOK || len(res.Errors) > 0 {
				t.Fatalf("status %d, errors:\n%s\nquery:\n%s", res.Status, res.Raw, e.Document())
			}
			if len(res.Data) == 0 {
				t.Fatalf("no data: %s", res.Raw)
			}
			for field, v := range res.Data {
				if l, isList := v.([]any); v == nil || isList && len(l) == 0 {
					t.Errorf("%s answered %v on the seeded graph: the example shows nothing", field, v)
				}
			}
		})
	}
}

// graphQLName is the grammar of a GraphQL name (an operation's name).
var graphQLName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]*$`)

func TestExamplesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for i, e := range web.Examples {
		if !graphQLName.MatchString(e.Operation) || seen[e.Operation] {
			t.Errorf("example %d: operation name %q is not a GraphQL name, or is taken", i, e.Operation)
		}
		seen[e.Operation] = true
		if strings.TrimSpace(e.Question) == "" || strings.Contains(e.Question, "\n") {
			t.Errorf("example %d (%s): question %q must be one non-empty line", i, e.Operation, e.Question)
		}
		if !strings.HasPrefix(e.Query, "{") {
			t.Errorf("example %d (%s): the query is not README's anonymous { ... } form", i, e.Operation)
		}
		doc := e.Document()
		if want := "# " + e.Question + "\nquery " + e.Operation + " {"; !strings.HasPrefix(doc, want) {
			t.Errorf("example %d: document starts %q, want %q", i, doc[:min(len(doc), len(want))], want)
		}
	}
	if e := web.Examples[0]; !strings.Contains(e.Query, `sponsorshipsByYear(series: "waic", sponsorCountry: "US")`) {
		t.Errorf("the first example is not the headline question: %q", e.Question)
	}
}

// graphqlBlock finds the GraphQL code blocks of a Markdown file.
var graphqlBlock = regexp.MustCompile("(?s)```graphql\n(.*?)```")

// TestExamplesAreREADMEs checks that each example's query is, to the byte, a
// GraphQL block of README.md or of a page under docs/ (which README's
// examples may move to): the IDE's list stays README's questions, and a
// change to one of README's queries fails here until the list follows.
func TestExamplesAreREADMEs(t *testing.T) {
	root := ".."
	files := []string{filepath.Join(root, "README.md")}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, docs...)
	blocks := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range graphqlBlock.FindAllSubmatch(b, -1) {
			blocks[string(m[1])] = true
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("no GraphQL blocks in %q", files)
	}
	for i, e := range web.Examples {
		if !blocks[e.Query] {
			t.Errorf("example %d (%s, %q): its query is not a GraphQL block of README.md or docs/*.md; "+
				"update web/examples.go to README's query:\n%s", i, e.Operation, e.Question, e.Query)
		}
	}
}
