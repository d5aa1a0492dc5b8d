package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"policygraph/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the outputs of README.md's examples")

// exampleRE finds a GraphQL example and the JSON block after it.
var exampleRE = regexp.MustCompile("(?s)```graphql\n(.*?)```\n\n(?:[^`]*?\n)?```json\n(.*?)```")

// TestReadmeExamples runs every GraphQL example of README.md against a seeded
// server and checks that the JSON shown after it is its real output. Run with
// -update to rewrite the outputs.
func TestReadmeExamples(t *testing.T) {
	srv := testenv.Server(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	matches := exampleRE.FindAllSubmatchIndex(readme, -1)
	if len(matches) < 12 {
		t.Fatalf("README.md has %d GraphQL examples with output, want at least 12", len(matches))
	}
	var out bytes.Buffer
	last := 0
	for i, m := range matches {
		q := string(readme[m[2]:m[3]])
		raw := postRaw(t, srv, q)
		var r testenv.Response
		if err := json.Unmarshal(raw, &r); err != nil || len(r.Errors) > 0 {
			t.Errorf("example %d: %s\n%s", i+1, raw, q)
			continue
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		got := append(bytes.TrimSpace(buf.Bytes()), '\n')
		shown := readme[m[4]:m[5]]
		if !*update && !bytes.Equal(normalize(shown), normalize(got)) {
			t.Errorf("example %d: README shows\n%s\nthe server answers\n%s\n(run go test -run TestReadmeExamples -update)", i+1, shown, got)
		}
		out.Write(readme[last:m[4]])
		out.Write(got)
		last = m[5]
	}
	out.Write(readme[last:])
	if *update {
		if err := os.WriteFile("../README.md", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
