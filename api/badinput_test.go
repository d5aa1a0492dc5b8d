package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"policygraph/api"
	"policygraph/errs"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

const addFactMutation = `mutation($in: AddFactInput!) { addFact(input: $in) { id } }`
const createEntityMutation = `mutation($in: CreateEntityInput!) { createEntity(input: $in) { id slug } }`

// sponsorship is a valid addFact input; tests break one part of it.
func sponsorship() map[string]any {
	return map[string]any{"subject": "qualcomm", "predicate": "SPONSORED", "object": "waic-2019", "tier": "SPONSOR",
		"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

type storeState struct {
	stats   storage.Stats
	version uint64
}

func stateOf(t testing.TB, g *storage.Graph) storeState {
	t.Helper()
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return storeState{s, g.Version()}
}

// TestBadInputWritesNothing sends each kind of bad request through the real HTTP
// handler: each gets a clear error with a stable code, and the store is untouched.
func TestBadInputWritesNothing(t *testing.T) {
	g := seeded(t)
	a := newAPI(t, g, nil)
	gql := func(query string, vars map[string]any) []byte {
		b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fact := func(in map[string]any) []byte { return gql(addFactMutation, map[string]any{"in": in}) }
	entity := func(in map[string]any) []byte { return gql(createEntityMutation, map[string]any{"in": in}) }
	tests := []struct {
		name   string
		body   []byte
		auth   bool
		status int
		code   string
	}{
		{"malformed JSON", []byte(`{"query": "mutation { addFact(`), true, 400, string(errs.BadRequest)},
		{"empty body", nil, true, 400, string(errs.BadRequest)},
		{"JSON array", []byte(`[{"query": "{ stats { entities } }"}]`), true, 400, string(errs.BadRequest)},
		{"query not a string", []byte(`{"query": 5}`), true, 400, string(errs.BadRequest)},
		{"two JSON values", []byte(`{"query": "{ stats { entities } }"} {}`), true, 400, string(errs.BadRequest)},
		{"invalid UTF-8 in the body", []byte("{\"query\": \"" + addFactMutation + "\", \"variables\": {\"in\": {\"subject\": \"q\xffq\"}}}"), true, 400, string(errs.BadRequest)},
		{"GraphQL syntax error", gql(`mutation { addFact(input: {`, nil), true, 400, "GRAPHQL_PARSE_FAILED"},
		{"wrong variable type", fact(with(sponsorship(), "subject", map[string]any{"id": 1})), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"string for a number", fact(with(sponsorship(), "quantity", map[string]any{"amount": "many"})), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"string for a boolean", fact(with(sponsorship(), "negated", "yes")), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"missing required field", fact(with(sponsorship(), "evidence", nil)), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"invalid enum value", fact(with(sponsorship(), "predicate", "FUNDED")), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"invalid tier", fact(with(sponsorship(), "tier", "GOLD")), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown subject slug", fact(with(sponsorship(), "subject", "no-such-org")), true, 200, "NOT_FOUND"},
		{"unknown subject id", fact(with(sponsorship(), "subject", "6f1f4c1e-9a57-4f43-9d0e-3c1b2b7f5a10")), true, 200, "NOT_FOUND"},
		{"unknown source", fact(with(sponsorship(), "evidence", []any{map[string]any{"source": "no-such-source", "quote": testenv.ArticleQuote}})), true, 200, "NOT_FOUND"},
		{"bad country code", fact(map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "XX",
			"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}), true, 200, "INVALID_COUNTRY"},
		{"lowercase country code", fact(map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "us",
			"evidence": []any{map[string]any{"source": "waic-2023-article", "quote": testenv.ArticleQuote}}}), true, 200, "INVALID_COUNTRY"},
		{"impossible date", fact(with(sponsorship(), "date", "2023-02-30")), true, 200, "INVALID_DATE"},
		{"malformed date", fact(with(sponsorship(), "date", "+023")), true, 200, "INVALID_DATE"},
		{"end before start", fact(with(with(sponsorship(), "start", "2023-07-08"), "end", "2023-07-06")), true, 200, "INVALID_DATE"},
		{"quote not in the source", fact(with(sponsorship(), "evidence", []any{map[string]any{"source": "waic-2023-article", "quote": "Qualcomm withdrew"}})), true, 200, "QUOTE_NOT_IN_SOURCE"},
		{"wrong kind of object", fact(with(sponsorship(), "object", "shanghai")), true, 200, "INVALID_ARGUMENT"},
		{"oversize name", entity(map[string]any{"kind": "ORGANIZATION", "name": strings.Repeat("n", storage.MaxNameLen+1)}), true, 200, "INVALID_ARGUMENT"},
		{"oversize description", entity(map[string]any{"kind": "ORGANIZATION", "name": "Acme", "description": strings.Repeat("d", storage.MaxTextLen+1)}), true, 200, "INVALID_ARGUMENT"},
		{"NUL in a name", entity(map[string]any{"kind": "ORGANIZATION", "name": "Ac\x00me"}), true, 200, "INVALID_ARGUMENT"},
		{"name without letters", entity(map[string]any{"kind": "ORGANIZATION", "name": "!!!"}), true, 200, "INVALID_ARGUMENT"},
		{"bad place code", entity(map[string]any{"kind": "PLACE", "name": "Atlantis", "code": "ZZ"}), true, 200, "INVALID_COUNTRY"},
		{"taken slug", entity(map[string]any{"kind": "ORGANIZATION", "name": "Qualcomm", "slug": "qualcomm"}), true, 200, "ALREADY_EXISTS"},
		{"bad label language", entity(map[string]any{"kind": "ORGANIZATION", "name": "Acme", "labels": []any{map[string]any{"lang": "not a tag!", "text": "x"}}}), true, 200, "INVALID_ARGUMENT"},
		{"retract an unknown fact", gql(`mutation { retractFact(input: {id: "6f1f4c1e-9a57-4f43-9d0e-3c1b2b7f5a10", reason: "x"}) { id } }`, nil), true, 200, "NOT_FOUND"},
		{"an ID that is no UUID", gql(`mutation { retractFact(input: {id: "not-a-uuid", reason: "x"}) { id } }`, nil), true, 200, "INVALID_ARGUMENT"},
		{"an ID variable that is no UUID", gql(`mutation($id: ID!) { retractFact(input: {id: $id, reason: "x"}) { id } }`, map[string]any{"id": "123"}), true, 200, "INVALID_ARGUMENT"},
		{"no token", fact(sponsorship()), false, 401, string(errs.Unauthenticated)},
		{"string for an Int", gql(`query($n: Int) { entities(first: $n) { totalCount } }`, map[string]any{"n": "ten"}), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"fraction for an Int", gql(`query($n: Int) { entities(first: $n) { totalCount } }`, map[string]any{"n": 2.5}), true, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"number for a String", gql(`query($s: String!) { search(text: $s) { score } }`, map[string]any{"s": 5}), true, 400, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := stateOf(t, g)
			r := a.raw(http.MethodPost, "application/json", tt.body, tt.auth)
			if r.Code() != tt.code || r.Status != tt.status {
				t.Errorf("got status %d code %q, want %d %q: %s", r.Status, r.Code(), tt.status, tt.code, testenv.Clip(r.Raw))
			}
			if len(r.Errors) == 0 || r.Errors[0].Message == "" {
				t.Errorf("no error message: %s", testenv.Clip(r.Raw))
			}
			if after := stateOf(t, g); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("the store changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	// The valid write the cases broke does go through, and changes the store.
	before := stateOf(t, g)
	a.raw(http.MethodPost, "application/json", fact(sponsorship()), true).OK(t)
	if after := stateOf(t, g); after.stats.Facts != before.stats.Facts+1 || after.version <= before.version {
		t.Errorf("a valid addFact did not write: before %+v after %+v", before, after)
	}
}

// TestPanicsAreContained injects a panic into the store: the client gets
// "internal error" and nothing about the code; the log gets the detail.
func TestPanicsAreContained(t *testing.T) {
	g, f := seededFaulty(t)
	a := newAPI(t, g, nil)
	f.panicView.Store(true)
	for _, q := range []string{
		`{ search(text: "waic") { score } }`,             // a resolver reading the store itself
		`{ entity(slug: "waic") { name facts { id } } }`, // through NodeBySlug
		`{ stats { entities } }`,
	} {
		wantHidden(t, q, a.do(q, nil, false))
	}
	wantLogged(t, a, "panic in resolver")
	// The server still serves once the fault is gone.
	f.panicView.Store(false)
	a.do(`{ stats { entities } }`, nil, false).OK(t)
}

// wantHidden checks that the answer r to the query q is "internal error",
// INTERNAL, and shows nothing of the fault injected.
func wantHidden(t *testing.T, q string, r *testenv.Response) {
	t.Helper()
	if r.Code() != string(errs.Internal) || r.Errors[0].Message != "internal error" {
		t.Errorf("%s: got %s", q, testenv.Clip(r.Raw))
	}
	for _, leak := range []string{"injected", "secret", "goroutine", ".go:", "panic"} {
		if strings.Contains(r.Raw, leak) {
			t.Errorf("%s: the response shows %q: %s", q, leak, r.Raw)
		}
	}
}

// wantLogged checks that the server logged the panic (where), the fault
// injected and its stack.
func wantLogged(t *testing.T, a *server, where string) {
	t.Helper()
	logs := a.log.String()
	for _, want := range []string{where, "injected fault", "stack"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, testenv.Clip(logs))
		}
	}
}

// TestLoaderPanicIsContained: a store panic inside a loader batch, which runs
// in its own goroutine outside gqlgen's recovery, is answered INTERNAL like
// any other panic, and the process goes on serving.
func TestLoaderPanicIsContained(t *testing.T) {
	g, f := seededFaulty(t)
	a := newAPI(t, g, nil)
	var got struct {
		Entity struct{ ID string } `json:"entity"`
	}
	r := a.do(`{ entity(slug: "waic") { id } }`, nil, false).OK(t)
	if err := json.Unmarshal([]byte(r.Raw), &struct{ Data any }{&got}); err != nil || got.Entity.ID == "" {
		t.Fatalf("no id: %v %s", err, r.Raw)
	}
	f.panicView.Store(true)
	for _, q := range []string{
		`query($id: ID!) { node(id: $id) { id } }`,
		`query($id: ID!) { a: node(id: $id) { id } b: node(id: $id) { id } }`, // two waiters on one batch
	} {
		wantHidden(t, q, a.do(q, map[string]any{"id": got.Entity.ID}, false))
	}
	wantLogged(t, a, "panic in loader")
	f.panicView.Store(false)
	a.do(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": got.Entity.ID}, false).OK(t)
}

// TestCSVStopsAtTheDeadline: making a CSV table runs inside the request's time
// limit. With the JSON answer in the response cache (answered even past the
// deadline), a request whose time is up gets 503 TIMEOUT, not a table.
func TestCSVStopsAtTheDeadline(t *testing.T) {
	g := seeded(t)
	if _, err := g.PutSavedQuery(storage.SavedQuery{Name: "entities", Query: `{ entities(first: 200) { nodes { slug name } } }`}); err != nil {
		t.Fatal(err)
	}
	gql := api.NewHandler(g, api.Options{CacheSize: 10})
	h := api.SavedQueryHandler(g, gql, api.SavedQueryOptions{Timeout: time.Minute})
	get := func(ctx context.Context) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/q/entities?format=csv", nil).WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := get(context.Background()); rec.Code != http.StatusOK || strings.Count(rec.Body.String(), "\n") < 70 {
		t.Fatalf("%d %s", rec.Code, testenv.Clip(rec.Body.String()))
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	rec := get(ctx)
	r := decode(t, rec.Result())
	r.WantError(t, http.StatusServiceUnavailable, string(errs.Timeout))
}
