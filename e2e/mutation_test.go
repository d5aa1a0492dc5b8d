package e2e

import (
	"fmt"
	"strings"
	"testing"

	"policygraph/internal/testenv"
	"policygraph/storage"
)

const addFactMutation = `mutation($in: AddFactInput!) { addFact(input: $in) { id predicate tier year subject { name } evidence { quote } } }`

func TestWritesNeedTheToken(t *testing.T) {
	srv := testenv.Server(t)
	g := srv.Graph
	before := g.Version()
	create := `mutation { createEntity(input: { kind: ORGANIZATION, name: "Intel" }) { id } }`
	for _, tc := range []struct{ name, token, code string }{
		{"no token", "", "UNAUTHENTICATED"},
		{"wrong token", "nope", "UNAUTHENTICATED"},
		{"token prefix", testenv.Token[:4], "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := srv.Post(t, tc.token, create, nil)
			if r.Code() != tc.code {
				t.Fatalf("code = %q, want %q (%+v)", r.Code(), tc.code, r.Errors)
			}
		})
	}
	if g.Version() != before {
		t.Fatalf("a refused write changed the store")
	}
	if r := srv.Post(t, testenv.Token, create, nil); len(r.Errors) > 0 {
		t.Fatalf("with the token: %+v", r.Errors)
	}
}

func TestWritesDisabledWithoutAToken(t *testing.T) {
	srv := testenv.Server(t, "-token", "")
	g := srv.Graph
	v := g.Version()
	for _, token := range []string{"", testenv.Token} {
		r := srv.Post(t, token, `mutation { createEntity(input: { kind: ORGANIZATION, name: "Intel" }) { id } }`, nil)
		if r.Code() != "WRITES_DISABLED" {
			t.Fatalf("token %q: code = %q", token, r.Code())
		}
	}
	if g.Version() != v {
		t.Fatal("a refused write changed the store")
	}
}

// TestAddedFactAnswersLikeSeededOnes adds Intel as a WAIC 2023 sponsor through
// the API, quoting a new source, and finds it in the headline question; then it
// retracts the fact and the answer is as before, with the fact kept.
func TestAddedFactAnswersLikeSeededOnes(t *testing.T) {
	for _, e := range testenv.Engines {
		t.Run(e.Name, func(t *testing.T) { testAddedFactAnswersLikeSeededOnes(t, e.Serve(t)) })
	}
}

func testAddedFactAnswersLikeSeededOnes(t *testing.T, srv *testenv.Service) {
	mustWrite := func(q string, vars map[string]any) map[string]any {
		t.Helper()
		r := srv.Post(t, testenv.Token, q, vars)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", q, r.Errors)
		}
		return r.Data
	}
	text := "Intel was named a strategic partner of WAIC 2023 in a later announcement."
	mustWrite(`mutation($t: String!) { addSource(input: { title: "Later announcement", slug: "later", language: "en", text: $t }) { id } }`, map[string]any{"t": text})
	mustWrite(`mutation { createEntity(input: { kind: ORGANIZATION, name: "Intel", orgType: "COMPANY" }) { slug } }`, nil)
	mustWrite(addFactMutation, map[string]any{"in": map[string]any{"subject": "intel", "predicate": "COUNTRY", "value": "US",
		"evidence": []any{map[string]any{"source": "later", "quote": "Intel"}}}})
	d := mustWrite(addFactMutation, map[string]any{"in": map[string]any{"subject": "intel", "predicate": "SPONSORED", "object": "waic-2023", "tier": "STRATEGIC_PARTNER",
		"evidence": []any{map[string]any{"source": "later", "quote": "Intel was named a strategic partner of WAIC 2023", "gloss": "as stated"}}}})
	id := testenv.Value(d, "addFact.id").(string)
	eq(t, testenv.Value(d, "addFact.year"), 2023.0)

	got := headline(t, srv)
	eq(t, got, "2019: Amazon Web Services IBM Microsoft; 2023: Intel Qualcomm")

	mustWrite(`mutation($id: ID!) { retractFact(input: { id: $id, reason: "announcement withdrawn" }) { retraction { by reason } } }`, map[string]any{"id": id})
	eq(t, headline(t, srv), "2019: Amazon Web Services IBM Microsoft; 2023: Qualcomm")
	kept := srv.Query(t, `query($id: ID!) { node(id: $id) { ... on Fact { retraction { by reason } } } }`, map[string]any{"id": id})
	eq(t, testenv.Value(kept, "node.retraction.reason"), "announcement withdrawn")
	eq(t, testenv.Value(kept, "node.retraction.by"), "curator")
	all := srv.Query(t, `{ organization(slug: "intel") { facts(predicates: [SPONSORED], includeRetracted: true) { id } sponsorships { id } } }`, nil)
	eq(t, len(testenv.Value(all, "organization.facts").([]any)), 1)
	eq(t, len(testenv.Value(all, "organization.sponsorships").([]any)), 0)

	// A second retraction is refused.
	r := srv.Post(t, testenv.Token, `mutation($id: ID!) { retractFact(input: { id: $id, reason: "again" }) { id } }`, map[string]any{"id": id})
	eq(t, r.Code(), "ALREADY_RETRACTED")
}

func headline(t *testing.T, srv *testenv.Service) string {
	t.Helper()
	d := srv.Query(t, headlineQuery, nil)
	var parts []string
	for _, y := range d["sponsorshipsByYear"].([]any) {
		parts = append(parts, fmt.Sprintf("%v: %s", testenv.Value(y, "year"), strings.Join(testenv.Strings(y, "sponsorships", "subject.name"), " ")))
	}
	return strings.Join(parts, "; ")
}

// TestUpdateAndRetractEntity: on each engine, an entity renamed is found
// by its new name, and retracted it leaves the sponsorships and the search.
func TestUpdateAndRetractEntity(t *testing.T) {
	for _, e := range testenv.Engines {
		t.Run(e.Name, func(t *testing.T) { testUpdateAndRetractEntity(t, e.Serve(t)) })
	}
}

func testUpdateAndRetractEntity(t *testing.T, srv *testenv.Service) {
	r := srv.Post(t, testenv.Token, `mutation { updateEntity(input: { entity: "transwarp", name: "Transwarp Technology", aliases: ["星环科技"] }) { name aliases } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	hits := srv.Query(t, `{ search(text: "transwarp tech") { entity { slug } } }`, nil)
	eq(t, testenv.Value(hits, "search.0.entity.slug"), "transwarp")
	r = srv.Post(t, testenv.Token, `mutation { retractEntity(input: { id: "`+storage.SlugID("transwarp").String()+`", reason: "test" }) { retraction { reason } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	d := srv.Query(t, `{ event(slug: "waic-2023") { sponsorships(tier: STRATEGIC_PARTNER) { subject { slug } } } search(text: "transwarp") { entity { slug } } }`, nil)
	for _, s := range testenv.Strings(d, "event.sponsorships", "subject.slug") {
		if s == "transwarp" {
			t.Fatal("a retracted entity's sponsorship is still active")
		}
	}
	eq(t, len(testenv.Value(d, "search").([]any)), 0)
}

// TestValidation sends writes that must be refused with a stable code and must
// write nothing.
func TestValidation(t *testing.T) {
	srv := testenv.Server(t)
	g := srv.Graph
	ev := func(q string) []any { return []any{map[string]any{"source": "waic-2023-article", "quote": q}} }
	okQuote := "Qualcomm là công ty Mỹ duy nhất tài trợ cho sự kiện này"
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
	}{
		{"unknown subject", addFactMutation, map[string]any{"in": map[string]any{"subject": "no-such-thing", "predicate": "COUNTRY", "value": "US", "evidence": ev(okQuote)}}, "NOT_FOUND"},
		{"unknown object ID", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "SPONSORED", "object": "6f1f4c1e-0000-4000-8000-000000000000", "evidence": ev(okQuote)}}, "NOT_FOUND"},
		{"bad country code", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "USA", "evidence": ev(okQuote)}}, "INVALID_COUNTRY"},
		{"lower-case country code", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "us", "evidence": ev(okQuote)}}, "INVALID_COUNTRY"},
		{"quote not in the source", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "US", "evidence": ev("Qualcomm is American")}}, "QUOTE_NOT_IN_SOURCE"},
		{"quote with straight quotes for curly", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "US", "evidence": ev(`1 trong 22 "đối tác ưu tú"`)}}, "QUOTE_NOT_IN_SOURCE"},
		{"impossible date", addFactMutation, map[string]any{"in": map[string]any{"subject": "openai", "predicate": "LAUNCHED", "object": "chatgpt", "date": "2022-02-30", "evidence": ev(okQuote)}}, "INVALID_DATE"},
		{"month 13", addFactMutation, map[string]any{"in": map[string]any{"subject": "openai", "predicate": "LAUNCHED", "object": "chatgpt", "date": "2022-13", "evidence": ev(okQuote)}}, "INVALID_DATE"},
		{"end before start", addFactMutation, map[string]any{"in": map[string]any{"subject": "waic-2023", "predicate": "HELD_ON", "start": "2023-07-08", "end": "2023-07-06", "evidence": ev(okQuote)}}, "INVALID_DATE"},
		{"wrong object kind", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "SPONSORED", "object": "shanghai", "evidence": ev(okQuote)}}, "INVALID_ARGUMENT"},
		{"no evidence", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "US", "evidence": []any{}}}, "INVALID_ARGUMENT"},
		{"unknown evidence source", addFactMutation, map[string]any{"in": map[string]any{"subject": "qualcomm", "predicate": "COUNTRY", "value": "US", "evidence": []any{map[string]any{"source": "nowhere", "quote": "x"}}}}, "NOT_FOUND"},
		{"bad entity kind", `mutation { createEntity(input: { kind: COMPANY, name: "X" }) { id } }`, nil, "GRAPHQL_VALIDATION_FAILED"},
		{"empty name", `mutation { createEntity(input: { kind: ORGANIZATION, name: "  " }) { id } }`, nil, "INVALID_ARGUMENT"},
		{"taken slug", `mutation { createEntity(input: { kind: ORGANIZATION, name: "Q", slug: "qualcomm" }) { id } }`, nil, "ALREADY_EXISTS"},
		{"bad place code", `mutation { createEntity(input: { kind: PLACE, name: "Atlantis", code: "AX1" }) { id } }`, nil, "INVALID_COUNTRY"},
		{"retract unknown fact", `mutation { retractFact(input: { id: "6f1f4c1e-0000-4000-8000-000000000000", reason: "x" }) { id } }`, nil, "NOT_FOUND"},
		{"retract without reason", `mutation { retractFact(input: { id: "6f1f4c1e-0000-4000-8000-000000000000", reason: " " }) { id } }`, nil, "INVALID_ARGUMENT"},
		{"wrong variable type", addFactMutation, map[string]any{"in": map[string]any{"subject": 42, "predicate": "COUNTRY"}}, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := g.Stats()
			v := g.Version()
			r := srv.Post(t, testenv.Token, tc.query, tc.vars)
			if r.Code() != tc.code {
				t.Fatalf("code = %q, want %q: %+v", r.Code(), tc.code, r.Errors)
			}
			if r.Errors[0].Message == "" || strings.Contains(r.Errors[0].Message, "goroutine") {
				t.Errorf("unhelpful message %q", r.Errors[0].Message)
			}
			after, _ := g.Stats()
			if after.Nodes != before.Nodes || after.Facts != before.Facts || g.Version() != v {
				t.Errorf("a refused write changed the store: %+v -> %+v", before, after)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	srv := testenv.Server(t)
	all := srv.Query(t, `{ entities(filter: { kinds: [ORGANIZATION] }, first: 200) { totalCount nodes { slug } } }`, nil)
	want := testenv.Strings(all, "entities.nodes", "slug")
	total := int(testenv.Value(all, "entities.totalCount").(float64))
	if total != len(want) || total < 30 {
		t.Fatalf("totalCount %d, nodes %d", total, len(want))
	}
	var got []string
	after := any(nil)
	for pages := 0; ; pages++ {
		d := srv.Query(t, `query($after: String) { entities(filter: { kinds: [ORGANIZATION] }, first: 7, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { slug } } } }`, map[string]any{"after": after})
		eq(t, testenv.Value(d, "entities.totalCount"), float64(total))
		eq(t, testenv.Value(d, "entities.pageInfo.hasPreviousPage"), pages > 0)
		got = append(got, testenv.Strings(d, "entities.edges", "node.slug")...)
		if testenv.Value(d, "entities.pageInfo.hasNextPage") != true {
			break
		}
		after = testenv.Value(d, "entities.pageInfo.endCursor")
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
	}
	eq(t, got, want)
	r := srv.Post(t, "", `{ entities(first: 1000) { totalCount } }`, nil)
	eq(t, r.Code(), "INVALID_ARGUMENT")
	r = srv.Post(t, "", `{ entities(after: "garbage!") { totalCount } }`, nil)
	eq(t, r.Code(), "INVALID_ARGUMENT")
}

func TestSearchIgnoresCaseAndDiacritics(t *testing.T) {
	srv := testenv.Server(t)
	for _, tc := range []struct{ text, want string }{
		{"thuong hai", "shanghai"},
		{"THƯỢNG HẢI", "shanghai"},
		{"Thượng", "shanghai"},
		{"shang", "shanghai"},
		{"hoc vien khoa hoc trung quoc", "cas"},
		{"uy ban cai cach", "ndrc"},
		{"bo cong nghiep", "miit"},
		{"waic", "waic"},
		{"dai hoi", ""},
		{"luu hac", "liu-he"},
		{"quualcomm", ""},
	} {
		t.Run(tc.text, func(t *testing.T) {
			d := srv.Query(t, `query($t: String!) { search(text: $t) { score entity { slug } } }`, map[string]any{"t": tc.text})
			got, _ := testenv.Value(d, "search.0.entity.slug").(string)
			if got != tc.want {
				t.Errorf("search(%q) first = %q, want %q (%v)", tc.text, got, tc.want, d["search"])
			}
		})
	}
}
