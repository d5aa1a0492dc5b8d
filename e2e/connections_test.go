package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"policygraph/graph"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

// The connections (graph/connections.graphqls): paging both ways, the
// connections beside the typed lists, and the composed filters and orders,
// through the real route table over the seed.

// connectionCase is a connection to page through: the query with ARGS where
// its paging arguments go, and the path of the connection in the answer.
type connectionCase struct {
	name, query, path string
}

var connectionCases = []connectionCase{
	{"facts", `{ facts(ARGS) { CONN } }`, "facts"},
	{"facts sorted", `{ facts(sort: [{field: PREDICATE}, {field: OBJECT_NAME, direction: DESC}], ARGS) { CONN } }`, "facts"},
	{"entities", `{ entities(ARGS) { CONN } }`, "entities"},
	{"entities by year, newest first", `{ entities(orderBy: YEAR, order: DESC, ARGS) { CONN } }`, "entities"},
	{"sponsorships", `{ sponsorships(series: "waic", ARGS) { CONN } }`, "sponsorships"},
	{"searchConnection", `{ searchConnection(text: "a", ARGS) { CONN } }`, "searchConnection"},
	{"Event.sponsorshipsConnection", `{ event(slug: "waic-2023") { sponsorshipsConnection(ARGS) { CONN } } }`, "event.sponsorshipsConnection"},
	{"Event.factsConnection", `{ event(slug: "waic-2023") { factsConnection(filter: {negated: true}, ARGS) { CONN } } }`, "event.factsConnection"},
	{"EventSeries.editionsConnection", `{ eventSeries(slug: "waic") { editionsConnection(ARGS) { CONN } } }`, "eventSeries.editionsConnection"},
	// A cursor names an item of one list: a year's sponsorships are paged with that year alone.
	{"SponsorshipYear.sponsorshipsConnection", `{ sponsorshipsByYear(series: "waic", yearFrom: 2023, yearTo: 2023) { sponsorshipsConnection(ARGS) { CONN } } }`, "sponsorshipsByYear.0.sponsorshipsConnection"},
}

// conn is what the walk selects of a connection.
const connSelection = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor }`

type pageInfo struct {
	HasNextPage, HasPreviousPage bool
	StartCursor, EndCursor       *string
}

type connPage struct {
	TotalCount int
	PageInfo   pageInfo
	Edges      []struct{ Cursor string }
}

func (p connPage) cursors() []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Cursor
	}
	return out
}

// str is *s, or "<null>".
func str(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

func fetchPage(t *testing.T, srv *testenv.Service, c connectionCase, args string) connPage {
	t.Helper()
	q := strings.Replace(strings.Replace(c.query, "ARGS", args, 1), "CONN", connSelection, 1)
	q = strings.ReplaceAll(q, "(, ", "(")
	var p connPage
	if err := srv.Must(t, "", q, nil).Decode(c.path, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConnectionsPageBothWays: on every kind of connection, paging forward
// (first/after) and paging backward (last/before) visit the
// whole list in its order, two at a time, each page's pageInfo exact: hasPreviousPage when
// items precede the page, hasNextPage when items follow it, the start and end
// cursors those of its first and last edges; totalCount is the whole list's.
// Cursors bound a page on both sides at once (after and before).
func TestConnectionsPageBothWays(t *testing.T) {
	srv := testenv.Server(t)
	for _, c := range connectionCases {
		t.Run(c.name, func(t *testing.T) {
			whole := fetchPage(t, srv, c, "first: 200")
			all := whole.cursors()
			if len(all) < 3 || whole.TotalCount != len(all) || whole.PageInfo.HasNextPage || whole.PageInfo.HasPreviousPage {
				t.Fatalf("the whole list: %d items of %d, %+v", len(all), whole.TotalCount, whole.PageInfo)
			}
			check := func(args string, p connPage, lo, hi int) {
				t.Helper()
				if got, want := p.cursors(), all[lo:hi]; !slices.Equal(got, want) {
					t.Fatalf("%s: items %v, want %v", args, got, want)
				}
				start, end := "<null>", "<null>"
				if hi > lo {
					start, end = all[lo], all[hi-1]
				}
				got := fmt.Sprintf("previous %v next %v start %s end %s", p.PageInfo.HasPreviousPage, p.PageInfo.HasNextPage, str(p.PageInfo.StartCursor), str(p.PageInfo.EndCursor))
				if want := fmt.Sprintf("previous %v next %v start %s end %s", lo > 0, hi < len(all), start, end); got != want {
					t.Fatalf("%s: pageInfo %s, want %s", args, got, want)
				}
				if p.TotalCount != len(all) {
					t.Fatalf("%s: totalCount %d, want %d", args, p.TotalCount, len(all))
				}
			}
			// Forward.
			for lo, args := 0, "first: 2"; ; {
				p := fetchPage(t, srv, c, args)
				hi := min(lo+2, len(all))
				check(args, p, lo, hi)
				if !p.PageInfo.HasNextPage {
					break
				}
				lo, args = hi, fmt.Sprintf("first: 2, after: %q", *p.PageInfo.EndCursor)
			}
			// Backward, from the end.
			for hi, args := len(all), "last: 2"; ; {
				p := fetchPage(t, srv, c, args)
				lo := max(hi-2, 0)
				check(args, p, lo, hi)
				if !p.PageInfo.HasPreviousPage {
					break
				}
				hi, args = lo, fmt.Sprintf("last: 2, before: %q", *p.PageInfo.StartCursor)
			}
			// Between two cursors, from either end.
			n := len(all)
			between := fmt.Sprintf("after: %q, before: %q", all[0], all[n-1])
			check("first: 200, "+between, fetchPage(t, srv, c, "first: 200, "+between), 1, n-1)
			check("last: 1, "+between, fetchPage(t, srv, c, "last: 1, "+between), n-2, n-1)
			check("first: 1, "+between, fetchPage(t, srv, c, "first: 1, "+between), 1, 2)
			check("before ahead of after", fetchPage(t, srv, c, fmt.Sprintf("after: %q, before: %q", all[2], all[1])), 3, 3)
			check("last: 0", fetchPage(t, srv, c, "last: 0"), n, n)
		})
	}
}

// TestPagingErrors: first with last, a size out of bounds, a cursor this API
// did not give or whose item is not in the list are refused with
// INVALID_ARGUMENT naming the argument, on root and nested connections;
// first's default does not count as given, through a variable left unset
// neither.
func TestPagingErrors(t *testing.T) {
	srv := testenv.Server(t)
	other := fetchPage(t, srv, connectionCases[2], "first: 1").Edges[0].Cursor // an entity's cursor: in no list of facts
	for _, field := range []struct{ query, path string }{
		{`{ facts(ARGS) { totalCount } }`, "facts"},
		{`{ organization(slug: "qualcomm") { sponsorshipsConnection(ARGS) { totalCount } } }`, "organization.sponsorshipsConnection"},
		{`{ sponsorshipsByYear(series: "waic") { sponsorshipsConnection(ARGS) { totalCount } } }`, "sponsorshipsByYear"},
	} {
		for _, tt := range []struct {
			args  string
			vars  map[string]any
			field string // "" when answered
		}{
			{"first: 2, last: 2", nil, "last"},
			{"first: $n, last: 2", map[string]any{"n": 2}, "last"},
			{"first: $n, last: 2", nil, ""}, // $n unset: first keeps its default, last pages
			{"first: null, last: 2", nil, ""},
			{"last: 201", nil, "last"},
			{"last: -1", nil, "last"},
			{"first: 201", nil, "first"},
			{`after: "not a cursor"`, nil, "after"},
			{`before: "not a cursor"`, nil, "before"},
			{`before: "` + other + `"`, nil, "before"},
			{`after: "` + other + `"`, nil, "after"},
		} {
			q := strings.Replace(field.query, "ARGS", tt.args, 1)
			if strings.Contains(tt.args, "$n") {
				q = "query($n: Int) " + q
			}
			r := srv.Post(t, "", q, tt.vars)
			if tt.field == "" {
				if len(r.Errors) > 0 {
					t.Errorf("%s: %s", q, testenv.Clip(r.Raw))
				}
				continue
			}
			if r.Code() != "INVALID_ARGUMENT" || r.Errors[0].Extensions["field"] != tt.field {
				t.Errorf("%s: got %s, want INVALID_ARGUMENT on %s", q, testenv.Clip(r.Raw), tt.field)
			}
		}
	}
}

// besideLists pairs every connection beside a typed list with that list, as
// selections of one entity (ID of each item), for TestConnectionsBesideLists.
// The connection lists what the list does (negated facts only when asked for,
// as the typed lists of facts; Entity.facts lists them unless negated: false).
var besideLists = map[string][][2]string{
	"Event": {
		{"sponsorships", "sponsorshipsConnection"},
		{"participants", "participantsConnection"},
		{"measures", "measuresConnection"},
		{"speakers", "speakersConnection"},
	},
	"EventSeries":   {{"editions", "editionsConnection"}},
	"ExportControl": {{"products", "productsConnection"}, {"affects", "affectsConnection"}},
	"Organization": {
		{"sponsorships", "sponsorshipsConnection"},
		{"sponsorships(negated: true)", "sponsorshipsConnection(filter: {negated: true})"},
		{"participations", "participationsConnection"},
		{"participations(negated: true)", "participationsConnection(filter: {negated: true})"},
		{"people", "peopleConnection"},
		{"subsidiaries", "subsidiariesConnection"},
		{"products", "productsConnection"},
	},
	"Person":   {{"positions", "positionsConnection"}, {"quotes", "quotesConnection"}, {"spokeAt", "spokeAtConnection"}},
	"Place":    {{"events", "eventsConnection"}},
	"Plan":     {{"targets", "targetsConnection"}},
	"Sanction": {{"targets", "targetsConnection"}},
	"Topic":    {{"events", "eventsConnection"}},
}

// entityFactsBeside pairs Entity.facts with Entity.factsConnection, for every kind.
var entityFactsBeside = [][2]string{
	{"facts(negated: false)", "factsConnection"},
	{"facts(negated: true)", "factsConnection(filter: {negated: true})"},
	{"facts(direction: OUT, negated: false)", "factsConnection(direction: OUT)"},
	{"facts(direction: IN, predicates: [SPONSORED], negated: false)", "factsConnection(direction: IN, filter: {predicates: [SPONSORED]})"},
}

// TestConnectionsBesideLists: every connection beside a typed list, on every
// entity of the seed, lists the same items as the list (and totalCount counts
// them), and each pair lists something somewhere; the sponsorships of each
// year of sponsorshipsByYear likewise. Every ...Connection field of the schema
// named after a list of its type is in the table, so a new one is tested too.
func TestConnectionsBesideLists(t *testing.T) {
	srv := testenv.Server(t, "-max-complexity", "0") // every pair on every entity of a kind, in one query
	for typ, pairs := range besideLists {
		for _, p := range pairs {
			if !strings.HasPrefix(p[1], strings.SplitN(p[0], "(", 2)[0]+"Connection") {
				t.Fatalf("%s: %s is not named after %s", typ, p[1], p[0])
			}
		}
	}
	// The schema's connections beside lists are all in the table.
	s := graph.Schema()
	for _, def := range s.Types {
		for _, f := range def.Fields {
			list, ok := strings.CutSuffix(f.Name, "Connection")
			if !ok || def.Name == "Query" || def.Name == "SponsorshipYear" || list == "facts" || def.Fields.ForName(list) == nil {
				continue
			}
			if !slices.ContainsFunc(besideLists[def.Name], func(p [2]string) bool { return strings.HasPrefix(p[1], f.Name) }) {
				t.Errorf("%s.%s is beside %s.%s but not in besideLists", def.Name, f.Name, def.Name, list)
			}
		}
	}
	kinds := map[string]string{"Event": "EVENT", "EventSeries": "EVENT_SERIES", "ExportControl": "EXPORT_CONTROL", "Organization": "ORGANIZATION",
		"Person": "PERSON", "Place": "PLACE", "Plan": "PLAN", "Sanction": "SANCTION", "Topic": "TOPIC", "Product": "PRODUCT",
		"Lawsuit": "LAWSUIT", "Source": "SOURCE"}
	for typ, kind := range kinds {
		pairs := append(slices.Clone(besideLists[typ]), entityFactsBeside...)
		var sel strings.Builder
		for i, p := range pairs {
			fmt.Fprintf(&sel, " l%d: %s { id } c%d: %s(first: 200) { totalCount nodes { id } }", i, p[0], i, addFirst(p[1]))
		}
		q := fmt.Sprintf(`{ entities(filter: {kinds: [%s]}, first: 200) { nodes { name ... on %s {%s } } } }`, kind, typ, sel.String())
		q = strings.ReplaceAll(q, ")(first: 200)", ", first: 200)")
		d := srv.Query(t, q, nil)
		nonEmpty := make([]bool, len(pairs))
		for _, e := range testenv.Value(d, "entities.nodes").([]any) {
			for i, p := range pairs {
				list := testenv.Strings(e, fmt.Sprintf("l%d", i), "id")
				conn := testenv.Strings(e, fmt.Sprintf("c%d.nodes", i), "id")
				total := testenv.Value(e, fmt.Sprintf("c%d.totalCount", i))
				slices.Sort(list)
				slices.Sort(conn)
				if !slices.Equal(list, conn) || total != float64(len(list)) {
					t.Errorf("%s %v: %s lists %v, %s %v (totalCount %v)", typ, testenv.Value(e, "name"), p[0], list, p[1], conn, total)
				}
				nonEmpty[i] = nonEmpty[i] || len(list) > 0
			}
		}
		for i, p := range pairs {
			if !nonEmpty[i] && i < len(besideLists[typ]) {
				t.Errorf("%s: %s is empty on every %s of the seed: the pair tests nothing", typ, p[0], kind)
			}
		}
	}
	d := srv.Query(t, `{ sponsorshipsByYear(series: "waic") { year sponsorships { id } sponsorshipsConnection(first: 200) { totalCount nodes { id } } } }`, nil)
	for _, y := range testenv.Value(d, "sponsorshipsByYear").([]any) {
		list, conn := testenv.Strings(y, "sponsorships", "id"), testenv.Strings(y, "sponsorshipsConnection.nodes", "id")
		if len(list) == 0 || !slices.Equal(list, conn) {
			t.Errorf("%v: sponsorships %v, sponsorshipsConnection %v", testenv.Value(y, "year"), list, conn)
		}
	}
}

// addFirst puts first: 200 into a connection's arguments (its call is
// completed by the caller's replacement when it has arguments).
func addFirst(field string) string {
	if strings.HasSuffix(field, ")") {
		return field[:len(field)-1] + ")"
	}
	return field
}

// TestSearchConnection: searchConnection lists search's hits, in its order
// with its scores, every one of them (search stops at first).
func TestSearchConnection(t *testing.T) {
	srv := testenv.Server(t)
	d := srv.Query(t, `{ search(text: "s", first: 200) { score entity { id } }
		searchConnection(text: "s", first: 200) { totalCount edges { score node { id } } nodes { id } }
		few: searchConnection(text: "s", kinds: [ORGANIZATION], first: 2) { totalCount nodes { kind } } }`, nil)
	hits, edges := testenv.Value(d, "search").([]any), testenv.Value(d, "searchConnection.edges").([]any)
	if len(hits) < 5 || len(hits) != len(edges) || testenv.Value(d, "searchConnection.totalCount") != float64(len(hits)) {
		t.Fatalf("search: %d hits; searchConnection: %d, totalCount %v", len(hits), len(edges), testenv.Value(d, "searchConnection.totalCount"))
	}
	for i := range hits {
		if testenv.Value(hits[i], "entity.id") != testenv.Value(edges[i], "node.id") || testenv.Value(hits[i], "score") != testenv.Value(edges[i], "score") {
			t.Errorf("hit %d: search %v, searchConnection %v", i, hits[i], edges[i])
		}
	}
	if n := testenv.Value(d, "few.totalCount").(float64); n < 3 || len(testenv.Strings(d, "few.nodes", "kind")) != 2 {
		t.Errorf("organizations: totalCount %v, page %v", n, testenv.Strings(d, "few.nodes", "kind"))
	}
	srv.Post(t, "", `{ searchConnection(text: "`+strings.Repeat("x", 201)+`") { totalCount } }`, nil).WantError(t, http.StatusOK, "INVALID_ARGUMENT")
}

// TestComposedFilters: and, or and not over the filter fields, and sort,
// answer as an analyst reads them, at the root and on nested connections;
// what they cannot mean is refused with INVALID_ARGUMENT (or NOT_FOUND for a
// reference that names nothing) naming where.
func TestComposedFilters(t *testing.T) {
	srv := testenv.Server(t)
	names := func(q, path, field string) []string {
		t.Helper()
		return testenv.Strings(srv.Query(t, q, nil), path, field)
	}
	// The sponsors of WAIC 2023 that are American or government co-sponsors,
	// by tier, then name backwards.
	got := names(`{ event(slug: "waic-2023") { sponsorshipsConnection(
		filter: {or: [{subjectCountry: "US"}, {tier: GOVERNMENT_CO_SPONSOR}]},
		sort: [{field: TIER}, {field: SUBJECT_NAME, direction: DESC}]) { nodes { subject { name } } } } }`,
		"event.sponsorshipsConnection.nodes", "subject.name")
	want := []string{"Qualcomm", "Shanghai Municipal People's Government", "National Development and Reform Commission",
		"Ministry of Science and Technology", "Ministry of Industry and Information Technology", "Cyberspace Administration of China",
		"Chinese Academy of Sciences", "Chinese Academy of Engineering", "China Association for Science and Technology"}
	eq(t, got, want)
	// Sponsorships of any year that were not at the top tier and not by a Chinese government body.
	got = names(`{ sponsorships(series: "waic", filter: {not: {or: [{tier: STRATEGIC_PARTNER}, {tier: GOVERNMENT_CO_SPONSOR}]}}) { nodes { subject { name } } } }`,
		"sponsorships.nodes", "subject.name")
	eq(t, got, []string{"Qualcomm"})
	// US organizations that never sponsored WAIC, and those the US government sanctioned.
	got = names(`{ entities(filter: {or: [{kinds: [ORGANIZATION], country: "US", not: {sponsoredSeries: "waic"}}, {sanctionedBy: "us-government"}]}, sort: [{field: KIND}, {field: NAME}]) { nodes { name } } }`,
		"entities.nodes", "name")
	eq(t, got, []string{"Amazon", "Apple", "Huawei", "OpenAI", "SenseTime", "Tesla", "TuSimple"})
	// Negated facts come into a connection when a clause asks for them.
	got = names(`{ event(slug: "waic-2023") { factsConnection(filter: {predicates: [SPONSORED, PARTICIPATED_IN], or: [{negated: true, tier: SPONSOR}, {negated: true, predicates: [PARTICIPATED_IN]}]}) { nodes { subject { name } } } } }`,
		"event.factsConnection.nodes", "subject.name")
	eq(t, got, []string{"Amazon", "Apple", "Microsoft", "OpenAI", "Tesla"})
	// A list that may hold them beside positive facts warns when negated is not selected.
	for _, tt := range []struct {
		sel  string
		warn bool
	}{{"subject { name }", true}, {"negated subject { name }", false}} {
		r := srv.Post(t, "", `{ organization(slug: "qualcomm") { factsConnection(filter: {or: [{negated: true}, {predicates: [COUNTRY]}]}) { nodes { `+tt.sel+` } } } }`, nil).OK(t)
		if got := strings.Contains(r.Raw, `"warnings"`); got != tt.warn {
			t.Errorf("selecting %s: warned %v, want %v: %s", tt.sel, got, tt.warn, testenv.Clip(r.Raw))
		}
	}
	// factCounts counts them too then.
	d := srv.Query(t, `{ factCounts(filter: {predicates: [SPONSORED], or: [{negated: true}, {subjectCountry: "US"}]}, groupBy: []) { count } }`, nil)
	eq(t, testenv.Value(d, "factCounts.0.count"), float64(9)) // 5 negated, IBM, Microsoft, AWS, Qualcomm

	deep := "{tier: SPONSOR}"
	for range storage.MaxFilterDepth + 1 {
		deep = "{not: " + deep + "}"
	}
	wide := strings.Repeat("{tier: SPONSOR}, ", storage.MaxFilterClauses)
	for _, tt := range []struct{ query, code, field string }{
		{`{ facts(filter: ` + deep + `) { totalCount } }`, "INVALID_ARGUMENT", "filter" + strings.Repeat(".not", storage.MaxFilterDepth+1)},
		{`{ facts(filter: {or: [` + wide + `]}) { totalCount } }`, "INVALID_ARGUMENT", fmt.Sprintf("filter.or[%d]", storage.MaxFilterClauses-1)},
		{`{ entities(filter: {and: [{or: [` + wide + `]}]}) { totalCount } }`, "INVALID_ARGUMENT", fmt.Sprintf("filter.and[0].or[%d]", storage.MaxFilterClauses-2)},
		{`{ facts(filter: {or: [{tier: SPONSOR}, {includeRetracted: true}]}) { totalCount } }`, "INVALID_ARGUMENT", "filter.or[1].includeRetracted"},
		{`{ facts(filter: {or: [{tier: SPONSOR}, {subject: "no-such-slug"}]}) { totalCount } }`, "NOT_FOUND", "filter.or[1].subject"},
		{`{ entities(filter: {not: {country: "XX"}}) { totalCount } }`, "INVALID_COUNTRY", "filter.not.country"},
		{`{ facts(order: DESC, sort: [{field: YEAR}]) { totalCount } }`, "INVALID_ARGUMENT", "order"},
		{`{ entities(orderBy: YEAR, sort: [{field: NAME}]) { totalCount } }`, "INVALID_ARGUMENT", "orderBy"},
		{`{ sponsorships(order: DESC, sort: [{field: TIER}]) { totalCount } }`, "INVALID_ARGUMENT", "order"},
		{`{ event(slug: "waic-2023") { factsConnection(filter: {and: [{includeRetracted: true}]}) { totalCount } } }`, "INVALID_ARGUMENT", "filter.and[0].includeRetracted"},
	} {
		r := srv.Post(t, "", tt.query, nil)
		if r.Code() != tt.code || r.Errors[0].Extensions["field"] != tt.field {
			t.Errorf("%.100s: got %s, want %s on %s", tt.query, testenv.Clip(r.Raw), tt.code, tt.field)
		}
	}
}

// TestConnectionScopeWithRetractions: includeRetracted brings retracted facts
// into a connection beside a list, but not negated ones its filter does not
// ask for: Apple's retracted "did not sponsor WAIC 2023" is listed with
// negated: true only.
func TestConnectionScopeWithRetractions(t *testing.T) {
	srv := testenv.Server(t)
	d := srv.Query(t, `{ organization(slug: "apple") { sponsorshipsConnection(filter: {negated: true}) { nodes { id } } } }`, nil)
	ids := testenv.Strings(d, "organization.sponsorshipsConnection.nodes", "id")
	if len(ids) != 1 {
		t.Fatalf("Apple's negated sponsorships: %v", ids)
	}
	srv.Must(t, testenv.Token, `mutation($id: ID!) { retractFact(input: {id: $id, reason: "test"}) { id } }`, map[string]any{"id": ids[0]})
	for _, tt := range []struct {
		filter string
		listed bool
	}{
		{`{includeRetracted: true}`, false},
		{`{includeRetracted: true, negated: true}`, true},
		{`{includeRetracted: true, or: [{negated: true}, {tier: STRATEGIC_PARTNER}]}`, true},
		{`{negated: true}`, false},
	} {
		for _, field := range []string{"sponsorshipsConnection", "factsConnection"} {
			d := srv.Query(t, `{ organization(slug: "apple") { `+field+`(filter: `+tt.filter+`) { nodes { id } } } }`, nil)
			if got := testenv.Strings(d, "organization."+field+".nodes", "id"); slices.Contains(got, ids[0]) != tt.listed {
				t.Errorf("%s(filter: %s): %v; the retracted negated fact listed: %v, want %v", field, tt.filter, got, !tt.listed, tt.listed)
			}
		}
	}
}

// TestConnectionsAreBatched: the connections beside the lists of many
// entities are filtered and ordered in one read per level of the query, as
// the lists are read: the sponsorships of every organization cost a few reads
// more than one organization's, not one or more per organization.
func TestConnectionsAreBatched(t *testing.T) {
	srv := testenv.Server(t, "-cache-size", "0") // measure the resolvers, not the response cache
	store := srv.Graph.KV().(*storage.CountingKV)
	const conn = `sponsorshipsConnection(first: 5, filter: {not: {subjectCountry: "CN"}}, sort: [{field: TIER}]) { totalCount nodes { subject { name } } }`
	reads := func(q string) uint64 {
		best := uint64(1 << 63)
		for range 3 { // the best of three: see TestTraversalIsBatched
			before := store.Views()
			srv.Query(t, q, nil)
			best = min(best, store.Views()-before)
		}
		return best
	}
	one := reads(`{ organization(slug: "qualcomm") { ` + conn + ` } }`)
	d := srv.Query(t, `{ entities(filter: {kinds: [ORGANIZATION]}, first: 200) { totalCount } }`, nil)
	orgs := testenv.Value(d, "entities.totalCount").(float64)
	all := reads(`{ entities(filter: {kinds: [ORGANIZATION]}, first: 200) { nodes { ... on Organization { ` + conn + ` } } } }`)
	t.Logf("one organization: %d reads; all %v: %d reads", one, orgs, all)
	if orgs < 30 || all > one+10 {
		t.Errorf("the sponsorships of %v organizations took %d reads, one's %d", orgs, all, one)
	}
}
