package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"policygraph/api"
	"policygraph/errs"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

// introspectionQuery is the query GraphiQL sends to learn the schema.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// wellBehaved are queries a real client sends; the default limits let them all through.
var wellBehaved = map[string]string{
	"introspection": introspectionQuery,
	"headline": `{ sponsorshipsByYear(series: "waic") { year events { slug name } sponsorships { tier tierSize { amount bound }
		subject { slug name ... on Organization { country } } evidence { quote gloss source { slug } } } } }`,
	"entities page": `{ entities(first: 200) { totalCount pageInfo { hasNextPage endCursor } nodes { id kind slug name labels { lang text } aliases } } }`,
	"facts page": `{ facts(first: 100, filter: { predicates: [SPONSORED, PARTICIPATED_IN] }) { totalCount edges { cursor node {
		predicate negated tier year subject { slug } object { slug } evidence { quote source { slug } } } } } }`,
	"event": `{ event(slug: "waic-2023") { name year start { value } end { value } places { name } series { name editions { year } }
		sponsorships { tier subject { name } } participants { subject { name } } absentees { subject { name } }
		speakers { name } organizers { name } topics { name } measures { measure quantity { amount bound } } } }`,
	"two hops":     `{ organization(slug: "qualcomm") { name sponsorships { object { ... on Event { name sponsorships { subject { name } } } } } } }`,
	"some aliases": `{ a: event(slug: "waic-2023") { name } b: event(slug: "waic-2019") { name } c: event(slug: "waic-2018") { name } }`,
	"search":       `{ search(text: "shang", first: 20) { score entity { slug name kind } } }`,
	"stats":        `{ stats { entities facts activeFacts version byKind { kind count } } predicates { predicate subjectKinds } }`,
}

func TestWellBehavedQueriesPass(t *testing.T) {
	a := newAPI(t, seeded(t), nil)
	for name, q := range wellBehaved {
		t.Run(name, func(t *testing.T) { a.do(q, nil, false).OK(t) })
	}
}

func TestQueryLimits(t *testing.T) {
	a := newAPI(t, seeded(t), nil)
	def := api.DefaultLimits()
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: stats { entities }", i)
		}
		return b.String() + " }"
	}
	repeated := func(n int) string {
		return "{" + strings.Repeat(" stats { entities }", n) + " }"
	}
	// Each fragment spreads the next twice: 2^20 fields once expanded, from a
	// query of a few hundred bytes.
	bomb := func(levels int) string {
		var b strings.Builder
		b.WriteString("{ ...F0 }\n")
		for i := range levels {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment F%d on Query { stats { entities } }\n", levels)
		return b.String()
	}
	tests := []struct {
		name, query string
		code        string
	}{
		{"depth at the limit", nest(def.MaxDepth - 2), ""},
		{"too deep", nest(def.MaxDepth - 1), string(errs.DepthLimit)},
		{"aliases at the limit", aliases(def.MaxAliases), ""},
		{"too many aliases", aliases(def.MaxAliases + 1), string(errs.TooManyAliases)},
		{"too many repeated fields", repeated(def.MaxAliases + 2), string(errs.TooManyAliases)},
		{"fragment bomb", bomb(20), string(errs.TooManyAliases)},
		{"wide traversal", `{ entities(first: 200) { nodes { facts { subject { facts { object { facts { id } } } } } } } }`, string(errs.ComplexityLimit)},
		{"many large pages", `{ a: facts(first: 200) { nodes { subject { facts { object { name } } } } }
			b: facts(first: 200) { nodes { subject { facts { object { name } } } } }
			c: facts(first: 200) { nodes { subject { facts { object { name } } } } } }`, string(errs.ComplexityLimit)},
		{"too many tokens", "{ stats { " + strings.Repeat("entities ", def.MaxTokens) + "} }", string(errs.TokenLimit)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.query, nil, false)
			if tt.code == "" {
				r.OK(t)
				return
			}
			r.WantError(t, http.StatusBadRequest, tt.code)
			if _, ran := r.Data["stats"]; ran {
				t.Errorf("a refused query ran: %s", testenv.Clip(r.Raw))
			}
		})
	}
}

// Under application/json, the legacy media type, a refused request is answered
// 200 with its error, as the GraphQL-over-HTTP specification says.
func TestQueryLimitUnderApplicationJSON(t *testing.T) {
	a := newAPI(t, seeded(t), nil)
	body, _ := json.Marshal(map[string]any{"query": nest(20)})
	req, _ := http.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := newRecorder()
	a.h.ServeHTTP(rec, req)
	decode(t, rec.Result()).WantError(t, http.StatusOK, string(errs.DepthLimit))
}

func TestPageSizeLimit(t *testing.T) {
	a := newAPI(t, seeded(t), nil)
	for _, q := range []string{`{ entities(first: 201) { totalCount } }`, `{ facts(first: 1000) { totalCount } }`,
		`{ search(text: "a", first: 201) { score } }`, `{ entities(first: -1) { totalCount } }`} {
		r := a.do(q, nil, false)
		if r.Code() != "INVALID_ARGUMENT" {
			t.Errorf("%s: got %q, want INVALID_ARGUMENT: %s", q, r.Code(), testenv.Clip(r.Raw))
		}
	}
}

func TestComplexityCounts(t *testing.T) {
	lim := api.DefaultLimits()
	lim.MaxComplexity = 150
	a := newAPI(t, seeded(t), &lim)
	// first multiplies: 10 items of cost 2 (id, name) fit, 100 do not. (The
	// list also costs the 79 entities it reads to be ordered: 10 + 10*3 + 79.)
	a.do(`{ entities(first: 10) { nodes { id name } } }`, nil, false).OK(t)
	a.do(`{ entities(first: 100) { nodes { id name } } }`, nil, false).WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
	// The same through a variable (an Int variable in a POST body works at all).
	a.do(`query($n: Int) { entities(first: $n) { nodes { id name } } }`, map[string]any{"n": 10}, false).OK(t)
	a.do(`query($n: Int) { entities(first: $n) { nodes { id name } } }`, map[string]any{"n": 100}, false).
		WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
	// A traversal costs more than a field: facts { subject { facts } } is 5 + 10 * (2 + 5 + 10).
	a.do(`{ entity(slug: "waic") { facts { subject { facts { id } } } } }`, nil, false).
		WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
	// nodes(ids) costs per ID.
	ids := make([]string, 80)
	for i := range ids {
		ids[i] = "00000000-0000-0000-0000-000000000000"
	}
	a.do(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Fact { predicate } } }`, map[string]any{"ids": ids}, false).
		WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
}

// TestComplexityFollowsTheData: a query's complexity is remembered, but
// only for the data it was measured on. The same query, allowed on the
// article's 79 entities, is refused once more entities make ordering the list
// cost more than the limit (through both the read model and the store path).
func TestComplexityFollowsTheData(t *testing.T) {
	for _, model := range []bool{true, false} {
		t.Run(fmt.Sprintf("model=%v", model), func(t *testing.T) {
			g := seededWith(t, model)
			lim := api.DefaultLimits()
			// 10 + 10*3 + the entities read to order the list (79, then 91).
			lim.MaxComplexity = 125
			a := newAPI(t, g, &lim)
			const q = `{ entities(first: 10) { nodes { id name } } }`
			a.do(q, nil, false).OK(t)
			a.do(q, nil, false).OK(t) // measured once, remembered
			for i := range 12 {
				if _, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: fmt.Sprintf("Added %d", i)}, ""); err != nil {
					t.Fatal(err)
				}
			}
			a.do(q, nil, false).WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
		})
	}
}

func TestRequestTooLarge(t *testing.T) {
	a := newAPIWith(t, seeded(t), api.Options{MaxBodyBytes: 4096})
	big, _ := json.Marshal(map[string]any{"query": "{ stats { entities } }", "variables": map[string]any{"pad": strings.Repeat("x", 5000)}})
	r := a.raw(http.MethodPost, "application/json", big, false)
	r.WantError(t, http.StatusRequestEntityTooLarge, string(errs.RequestTooLarge))

	// Without a Content-Length (chunked), the reader stops at the limit.
	req := httptest_NewChunked(big)
	rec := newRecorder()
	a.h.ServeHTTP(rec, req)
	decode(t, rec.Result()).WantError(t, http.StatusRequestEntityTooLarge, string(errs.RequestTooLarge))

	// Just under the limit passes.
	ok, _ := json.Marshal(map[string]any{"query": "{ stats { entities } }", "variables": map[string]any{"pad": strings.Repeat("x", 3000)}})
	a.raw(http.MethodPost, "application/json", ok, false).OK(t)
}

func TestTimeoutStopsWork(t *testing.T) {
	g, f := seededFaulty(t)
	const query = `{ entities(first: 200) { nodes { facts { subject { name } object { name } } } } }`

	// Unbounded, on a slow store, the query reads this much.
	f.getDelay.Store(int64(200 * time.Microsecond))
	none := api.DefaultLimits()
	none.Timeout = 0
	start := time.Now()
	newAPI(t, g, &none).do(query, nil, false).OK(t)
	full, fullTook := f.gets.Swap(0), time.Since(start)

	lim := api.DefaultLimits()
	lim.Timeout = fullTook / 10
	a := newAPI(t, g, &lim)
	start = time.Now()
	r := a.do(query, nil, false)
	took := time.Since(start)
	r.WantError(t, http.StatusServiceUnavailable, string(errs.Timeout))
	time.Sleep(50 * time.Millisecond)
	got := f.gets.Load()
	if got > full/2 {
		t.Errorf("after the timeout the query had read %d keys of %d: the work was not stopped", got, full)
	}
	if took > fullTook/2 {
		t.Errorf("the timed-out request took %s; unbounded it takes %s", took, fullTook)
	}
	t.Logf("unbounded: %d reads in %s; with a %s limit: %d reads, answered in %s", full, fullTook, lim.Timeout, got, took)

	// Fast queries still pass under the same limit.
	f.getDelay.Store(0)
	a.do(`{ stats { entities } }`, nil, false).OK(t)
}

func TestLimitsOff(t *testing.T) {
	a := newAPI(t, seeded(t), &api.Limits{})
	a.do(nest(40), nil, false).OK(t)
	a.do(`{ entities(first: 200) { nodes { facts { subject { facts { id } } } } } }`, nil, false).OK(t)
	a.do("{"+strings.Repeat(" stats { entities }", 100)+" }", nil, false).OK(t)
}

func TestGETRequests(t *testing.T) {
	a := newAPI(t, seeded(t), nil)
	get := func(q url.Values) *testenv.Response {
		req, _ := http.NewRequest(http.MethodGet, "/graphql?"+q.Encode(), nil)
		req.Header.Set("Accept", "application/graphql-response+json")
		rec := newRecorder()
		a.h.ServeHTTP(rec, req)
		return decode(t, rec.Result())
	}
	get(url.Values{"query": {"{ stats { entities } }"}}).OK(t)
	get(url.Values{"query": {nest(20)}}).WantError(t, http.StatusBadRequest, string(errs.DepthLimit))
	get(url.Values{"query": {"{ stats { entities } }"}, "variables": {"{not json"}}).WantError(t, http.StatusBadRequest, string(errs.BadRequest))
	req, _ := http.NewRequest(http.MethodGet, "/graphql?query=%7B%20stats%20%7B%20entities%20%7D%20%7D&x=%ff", nil)
	req.Header.Set("Accept", "application/graphql-response+json")
	rec := newRecorder()
	a.h.ServeHTTP(rec, req)
	decode(t, rec.Result()).WantError(t, http.StatusBadRequest, string(errs.BadRequest))
}
