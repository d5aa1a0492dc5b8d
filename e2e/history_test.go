package e2e

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"policygraph/internal/testenv"
	"policygraph/storage"
	"policygraph/storage/badger"
)

// TestEntityHistoryAndFactsAsOf: through the API, updateEntity keeps the
// values it replaced as revisions (oldest first, when, by whom) on every
// kind, and facts(asOf:) answers what stood at a time from the facts'
// records; a store rebuilt from an export answers alike, so the answers
// survive the engine's log being compacted or replaced.
func TestEntityHistoryAndFactsAsOf(t *testing.T) {
	srv := testenv.Server(t)
	// The seed was written now; the curation below happens in 2030, by a
	// clock the test sets before each write.
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	write := func(when, q string) map[string]any {
		t.Helper()
		srv.Graph.SetClock(func() time.Time { return at(when) })
		return srv.Post(t, testenv.Token, q, nil).OK(t).Data
	}
	write("2030-01-01T00:00:00Z", `mutation { updateEntity(input: { entity: "transwarp", name: "Transwarp Technology", description: "Big-data software" }) { name } }`)
	write("2030-02-01T00:00:00Z", `mutation { updateEntity(input: { entity: "transwarp", aliases: ["星环科技"] }) { name } }`)
	write("2030-03-01T00:00:00Z", `mutation { addFact(input: { subject: "transwarp", predicate: PARTICIPATED_IN, object: "waic-2023",
		evidence: [{ source: "waic-2023-article", quote: "Transwarp (nhà phát triển phần mềm cơ sở hạ tầng dữ liệu lớn)" }] }) { id } }`)
	country := srv.Query(t, `{ organization(slug: "transwarp") { facts(predicates: [COUNTRY]) { id } } }`, nil)
	countryID := testenv.Value(country, "organization.facts.0.id").(string)
	write("2030-04-01T00:00:00Z", `mutation { retractFact(input: { id: "`+countryID+`", reason: "test: withdrawn in April" }) { id } }`)

	d := srv.Query(t, `{ organization(slug: "transwarp") { name revisions { seq at by name aliases description } } }`, nil)
	got, _ := json.Marshal(testenv.Value(d, "organization.revisions"))
	want := `[{"aliases":[],"at":"2030-01-01T00:00:00Z","by":"curator","description":"Big-data infrastructure software developer; WAIC 2023 strategic partner","name":"Transwarp","seq":1},` +
		`{"aliases":[],"at":"2030-02-01T00:00:00Z","by":"curator","description":"Big-data software","name":"Transwarp Technology","seq":2}]`
	if string(got) != want {
		t.Errorf("revisions = %s\nwant %s", got, want)
	}
	// Through the Entity interface too, and empty for an entity never updated.
	d = srv.Query(t, `{ a: entity(slug: "transwarp") { revisions { seq } } b: entity(slug: "waic-2023") { revisions { seq } } }`, nil)
	eq(t, len(testenv.Value(d, "a.revisions").([]any)), 2)
	eq(t, len(testenv.Value(d, "b.revisions").([]any)), 0)

	asOf := func(c *testenv.Client, when string, extra string) string {
		t.Helper()
		q := `query($at: Time) {
			organization(slug: "transwarp") { facts(direction: OUT, asOf: $at` + extra + `) { predicate } }
			facts(filter: { subject: "transwarp", asOf: $at` + extra + ` }) { nodes { predicate } }
		}`
		var vars map[string]any
		if when != "" {
			vars = map[string]any{"at": when}
		}
		d := c.Query(t, q, vars)
		// The two lists order facts differently (by predicate; by year): compare them sorted.
		as, bs := testenv.Strings(d, "organization.facts", "predicate"), testenv.Strings(d, "facts.nodes", "predicate")
		slices.Sort(as)
		slices.Sort(bs)
		a, b := strings.Join(as, " "), strings.Join(bs, " ")
		if a != b {
			t.Errorf("asOf %s: Entity.facts says %q, facts(filter:) says %q", when, a, b)
		}
		return a
	}
	check := func(c *testenv.Client) {
		t.Helper()
		for _, tt := range []struct{ when, extra, want string }{
			{"2020-01-01T00:00:00Z", "", ""}, // before the seed
			{"2030-02-15T00:00:00Z", "", "COUNTRY SPONSORED"},
			{"2030-03-01T00:00:00Z", "", "COUNTRY PARTICIPATED_IN SPONSORED"},
			{"2030-04-01T00:00:00Z", "", "PARTICIPATED_IN SPONSORED"},              // retracted at that instant
			{"2030-04-01T06:59:59+07:00", "", "COUNTRY PARTICIPATED_IN SPONSORED"}, // a second before, in another zone
			{"2030-04-01T07:00:00+07:00", "", "PARTICIPATED_IN SPONSORED"},         // the same instant as 00:00Z
			{"2030-04-02T00:00:00Z", ", includeRetracted: true", "COUNTRY PARTICIPATED_IN SPONSORED"},
			{"", "", "PARTICIPATED_IN SPONSORED"}, // now
		} {
			if got := asOf(c, tt.when, tt.extra); got != tt.want {
				t.Errorf("facts as of %q%s = %q, want %q", tt.when, tt.extra, got, tt.want)
			}
		}
	}
	check(srv.Client)

	// The same answers from a store rebuilt from an export: no log of the
	// first store comes along, only its records.
	var exp bytes.Buffer
	if err := srv.Graph.ExportJSONL(&exp); err != nil {
		t.Fatal(err)
	}
	kv, err := badger.Open(badger.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := storage.Open(kv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g2.Close() })
	if _, err := g2.Import(&exp); err != nil {
		t.Fatal(err)
	}
	rebuilt := testenv.Serve(t, testenv.Handler(t, g2))
	check(rebuilt.Client)
	d = rebuilt.Query(t, `{ organization(slug: "transwarp") { revisions { seq by name } } }`, nil)
	eq(t, strings.Join(testenv.Strings(d, "organization.revisions", "name"), ", "), "Transwarp, Transwarp Technology")
}

// TestInferredFactsThroughTheAPI: inferred facts are listed by default,
// marked with their rule and reasoning, and left out with includeInferred:
// false, in facts, Entity.facts and the headline; a write naming a rule
// outside the policy is refused and writes nothing.
func TestInferredFactsThroughTheAPI(t *testing.T) {
	srv := testenv.Server(t)
	d := srv.Query(t, `{
		all: organization(slug: "alibaba") { country countryInference { rule } facts(predicates: [COUNTRY]) { value inferred inference { rule reasoning } } }
		stated: organization(slug: "alibaba") { facts(predicates: [COUNTRY], includeInferred: false) { value } }
		q: organization(slug: "qualcomm") { countryInference { rule } facts(predicates: [COUNTRY]) { inferred inference { rule } } }
		f: facts(filter: { subject: "ibm", predicates: [COUNTRY], includeInferred: false }) { totalCount }
		g: facts(filter: { subject: "ibm", predicates: [COUNTRY] }) { totalCount }
	}`, nil)
	eq(t, testenv.Value(d, "all.country"), "CN")
	eq(t, testenv.Value(d, "all.countryInference.rule"), "COUNTRY_FROM_GROUPING")
	eq(t, testenv.Value(d, "all.facts.0.inferred"), true)
	eq(t, testenv.Value(d, "all.facts.0.inference.rule"), "COUNTRY_FROM_GROUPING")
	eq(t, len(testenv.Value(d, "stated.facts").([]any)), 0)
	eq(t, testenv.Value(d, "q.countryInference"), nil)
	eq(t, testenv.Value(d, "q.facts.0.inferred"), false)
	eq(t, testenv.Value(d, "q.facts.0.inference"), nil)
	eq(t, testenv.Value(d, "f.totalCount"), float64(0))
	eq(t, testenv.Value(d, "g.totalCount"), float64(1))

	sponsors := func(args string) (names string, warnings string) {
		t.Helper()
		r := srv.Post(t, "", `{ sponsorships(series: "waic", `+args+`, first: 200) { nodes { subject { name } } } }`, nil).OK(t)
		var ext struct {
			Extensions struct {
				Warnings []struct{ Message string } `json:"warnings"`
			} `json:"extensions"`
		}
		if err := json.Unmarshal([]byte(r.Raw), &ext); err != nil {
			t.Fatal(err)
		}
		var w []string
		for _, x := range ext.Extensions.Warnings {
			w = append(w, x.Message)
		}
		return strings.Join(testenv.Strings(r.Data, "sponsorships.nodes", "subject.name"), ", "), strings.Join(w, "; ")
	}
	names, warning := sponsors(`sponsorCountry: "CN"`)
	for _, firm := range []string{"Alibaba", "Huawei", "SenseTime", "Tencent Holdings", "Ministry of Industry and Information Technology"} {
		if !strings.Contains(names, firm) {
			t.Errorf("sponsorCountry CN misses %s: %s", firm, names)
		}
	}
	if !strings.Contains(warning, "Alibaba") || strings.Contains(warning, "Ministry of Industry and Information Technology") {
		t.Errorf("the warning should name the sponsors matched through inferred countries only: %q", warning)
	}
	names, warning = sponsors(`sponsorCountry: "CN", includeInferred: false`)
	if strings.Contains(names, "Alibaba") || !strings.Contains(names, "Ministry of Industry and Information Technology") || warning != "" {
		t.Errorf("sponsorCountry CN without inferred facts = %s (warning %q)", names, warning)
	}
	names, _ = sponsors(`sponsorCountry: "US", includeInferred: false`)
	eq(t, names, "Microsoft, Qualcomm")

	before := srv.Graph.Version()
	r := srv.Post(t, testenv.Token, `mutation { addFact(input: { subject: "google", predicate: COUNTRY, value: "US",
		inference: { rule: "HUNCH", reasoning: "everyone knows" },
		evidence: [{ source: "waic-2023-article", quote: "Google Bard" }] }) { id } }`, nil)
	if r.Code() != "INVALID_ARGUMENT" || srv.Graph.Version() != before {
		t.Fatalf("an unknown rule: code %q, version %d -> %d", r.Code(), before, srv.Graph.Version())
	}
	d = srv.Post(t, testenv.Token, `mutation { addFact(input: { subject: "google", predicate: COUNTRY, value: "US",
		inference: { rule: "COUNTRY_FROM_CONTRAST", reasoning: "a test's reasoning" },
		evidence: [{ source: "waic-2023-article", quote: "Google Bard" }] }) { inferred inference { rule reasoning } } }`, nil).OK(t).Data
	eq(t, testenv.Value(d, "addFact.inferred"), true)
	eq(t, testenv.Value(d, "addFact.inference.reasoning"), "a test's reasoning")
}
