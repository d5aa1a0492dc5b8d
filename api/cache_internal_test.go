package api

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"policygraph/graph"
)

// TestEncodeResponseIsJSONMarshal: encodeResponse writes the bytes
// json.Marshal wrote before it (ETags and cached answers stay the same).
func TestEncodeResponseIsJSONMarshal(t *testing.T) {
	for _, resp := range []*graphql.Response{
		{Data: json.RawMessage(`{"a":1}`)},
		{Data: json.RawMessage(`{"html":"<b>&amp;</b>","sep":"` + "\u2028\u2029" + `","vi":"Thượng Hải"}`)},
		{Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "no <entity>", Path: ast.Path{ast.PathName("x")},
			Extensions: map[string]any{"code": "NOT_FOUND"}}}},
		{Data: nil, Errors: gqlerror.List{{Message: "x"}}},
		{Data: json.RawMessage(`{"a":[1,2]}`), Extensions: map[string]any{"cost": 3}},
		{},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("encodeResponse = %s\njson.Marshal  = %s", got, want)
		}
	}
}

// TestDocumentWeight: the weight the parsed-query cache gives a document is
// at least the memory the document takes (measured), for a dense query (many
// small tokens) and a sparse one (long names).
func TestDocumentWeight(t *testing.T) {
	var dense strings.Builder
	dense.WriteString("query Q($n: Int) {")
	for i := range 300 {
		fmt.Fprintf(&dense, ` f%d: entities(first: $n, filter: {kinds: [EVENT, PLACE], country: "VN"}) { nodes { id slug name } }`, i)
	}
	dense.WriteString(" }")
	sparse := "{ a" + strings.Repeat("x", 100_000) + ": stats { entities } }"
	for name, q := range map[string]string{"dense": dense.String(), "sparse": sparse} {
		t.Run(name, func(t *testing.T) {
			const n = 20
			docs := make([]*ast.QueryDocument, n)
			texts := make([]string, n)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range docs {
				texts[i] = strings.Clone(q) // the cache's key: the request's own copy of the text
				doc, err := gqlparser.LoadQueryWithRules(graph.Schema(), texts[i], nil)
				if err != nil {
					t.Fatal(err)
				}
				docs[i] = doc
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			measured := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
			weight := int64(len(q)) + documentWeight(docs[0])
			t.Logf("%d-byte query: %d bytes measured, weighed %d", len(q), measured, weight)
			if weight < measured {
				t.Errorf("a %d-byte query takes %d bytes parsed, but is weighed %d", len(q), measured, weight)
			}
			runtime.KeepAlive(docs)
			runtime.KeepAlive(texts)
		})
	}
}
