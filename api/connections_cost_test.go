package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"policygraph/api"
	"policygraph/errs"
	"policygraph/internal/testenv"
)

// TestComposedFiltersAreCosted: on a graph of 10,000 nodes and 30,000 facts,
// under the default limits, a composed filter costs what storage reads to
// answer it. A not narrows nothing, and an or with a clause that narrows
// nothing reads the whole graph: refused before anything is read, however
// selective the clause beside them is. An or of narrowing clauses costs
// their sum, an and its narrowing clause: answered. Each nested clause that
// looks another record up costs a read more per candidate: 6,400
// sponsorships checked against two countries are refused where one country
// alone is not, and the sponsorships of every series are refused when a
// filter looks up three things of each sponsor.
func TestComposedFiltersAreCosted(t *testing.T) {
	g, kv := synthetic(t, 10_000)
	a := newAPI(t, g, nil)
	for _, q := range []string{
		`{ facts(first: 1, filter: { not: { subject: "syn-org-100" } }) { totalCount } }`,
		`{ facts(first: 1, filter: { or: [{ subject: "syn-org-100" }, { tier: SPONSOR }] }) { totalCount } }`,
		`{ facts(first: 1, filter: { predicates: [SPONSORED], negated: false, or: [{ subjectCountry: "US" }, { subjectCountry: "CN" }] }) { totalCount } }`,
		aliased(2, `entities(first: 1, filter: { not: { kinds: [EVENT] } }) { totalCount }`),
		`{ factCounts(filter: { not: { object: "syn-series-1-2023" } }, groupBy: []) { count } }`,
		// 6,400 sponsorships (a scan this size is allowed), each checked for two countries and a kind.
		`{ sponsorships(first: 1, filter: { or: [{ subjectCountry: "US" }, { subjectCountry: "CN" }, { subjectKinds: [ORGANIZATION] }] }) { totalCount } }`,
	} {
		before := kv.Views()
		a.do(q, nil, false).WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
		if read := kv.Views() - before; read != 0 {
			t.Errorf("%.80s: refused, but %d store reads ran", q, read)
		}
	}
	for _, tt := range []struct{ q, path string }{
		{`{ facts(first: 5, filter: { predicates: [SPONSORED], negated: false, subjectCountry: "US" }) { totalCount } }`, "facts.totalCount"},
		{`{ facts(first: 5, filter: { or: [{ subject: "syn-org-100" }, { subject: "syn-org-101" }] }) { totalCount } }`, "facts.totalCount"},
		{`{ facts(first: 5, filter: { tier: SPONSOR, and: [{ not: { predicates: [COUNTRY] } }, { object: "syn-series-1-2023" }] }) { totalCount } }`, "facts.totalCount"},
		{aliased(2, `entities(first: 1, filter: { kinds: [EVENT], not: { yearFrom: 2020 } }) { totalCount }`), "a1.totalCount"},
		{`{ entities(first: 5, filter: { or: [{ sponsoredEvent: "syn-series-1-2023" }, { sponsoredEvent: "syn-series-2-2023" }] }) { totalCount } }`, "entities.totalCount"},
	} {
		r := a.do(tt.q, nil, false).OK(t)
		if n, _ := testenv.Value(r.Data, tt.path).(float64); n == 0 {
			t.Errorf("%.80s: answered, but found nothing: %s", tt.q, testenv.Clip(r.Raw))
		}
	}
}

// TestConnectionCosts: last multiplies as first does, on root and nested
// connections (under a limit of 150), and a nested connection's filter costs
// a read per listed item for each clause that looks another record up.
func TestConnectionCosts(t *testing.T) {
	lim := api.DefaultLimits()
	lim.MaxComplexity = 150
	a := newAPI(t, seeded(t), &lim)
	a.do(`{ entities(last: 10) { nodes { id name } } }`, nil, false).OK(t)
	a.do(`{ entities(last: 100) { nodes { id name } } }`, nil, false).WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
	a.do(`{ event(slug: "waic-2023") { sponsorshipsConnection(last: 10) { nodes { id tier } } } }`, nil, false).OK(t)
	a.do(`{ event(slug: "waic-2023") { sponsorshipsConnection(last: 100) { nodes { id tier } } } }`, nil, false).
		WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
	// The 4 events, each with its sponsorships: 10 + 4 * (1 + 10 + 1 + 3 * 2) + 4
	// (the events read) = 86 without a filter, where 3 * 2 is the list read
	// and ordered (the seed's entities have 3 facts on average), and 3 * 3
	// more each with three clauses that look the sponsor up: 122, over a
	// limit of 100.
	lim.MaxComplexity = 100
	a = newAPI(t, a.g, &lim)
	const events = `{ entities(first: 4, filter: { kinds: [EVENT] }) { nodes { ... on Event { sponsorshipsConnection(first: 1%s) { totalCount } } } } }`
	a.do(fmt.Sprintf(events, ""), nil, false).OK(t)
	a.do(fmt.Sprintf(events, `, filter: { or: [{ subjectCountry: "US" }, { subjectCountry: "CN" }, { subjectKinds: [ORGANIZATION] }] }`), nil, false).
		WantError(t, http.StatusBadRequest, string(errs.ComplexityLimit))
}
