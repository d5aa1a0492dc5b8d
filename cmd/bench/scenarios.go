package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"policygraph/cmd/bench/floor"
)

// The queries of the scenarios: what an analyst and a dashboard ask.
const (
	headlineQuery = `query Headline($series: String, $country: String) { sponsorshipsByYear(series: $series, sponsorCountry: $country) { year sponsorships { tier tierSize { amount } subject { name } evidence { quote gloss } } } }`
	seriesQuery   = `query SeriesByYear($series: String) { sponsorshipsByYear(series: $series) { year sponsorships { tier subject { name ... on Organization { country } } } } }`
	sanctionQuery = `query SanctionedSponsors($series: String!) { entities(filter: {sponsoredSeries: $series, sanctionedBy: "*"}, first: 50) { totalCount nodes { name ... on Organization { country sanctions { name programme imposedBy { name } } } } } }`
	walkQuery     = `query FactsWalk($predicates: [Predicate!], $from: Int, $to: Int, $after: String) { facts(filter: {predicates: $predicates, yearFrom: $from, yearTo: $to}, first: 50, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id predicate year subject { name } object { name } } } }`
	threeHopQuery = `query ThreeHop($slug: String!) { event(slug: $slug) { name sponsorships { tier subject { name ... on Organization { parent { name sanctions { name programme } } } } } } }`
	lookupQuery   = `query Lookup($id: ID!) { organization(id: $id) { id slug name orgType country } }`
	twoHopQuery   = `query TwoHop($slug: String!) { event(slug: $slug) { sponsorships { subject { ... on Organization { name sanctions { name } parent { name } } } } } }`
	searchQuery   = `query Search($text: String!) { search(text: $text) { score entity { id name } } }`
	addFactQuery  = `mutation AddFact($input: AddFactInput!) { addFact(input: $input) { id } }`
	idQuery       = `query ID($slug: String!) { organization(slug: $slug) { id } }`
)

// Names of the scenarios that other code refers to.
const (
	headlineName = "headline sponsorshipsByYear, no response cache"
	walkName     = "facts by predicate and years, 50 a page, walked by cursor"
)

// Target is where the issue wants a scenario: at least this fraction of its
// floor's req/s.
const floorTarget = 0.7

// querySpec is one query scenario: how to ask it, and what makes its answer
// a real one (not empty, not trivially small) for the graph it runs on.
type querySpec struct {
	name  string
	query string
	vars  func(p params) map[string]any
	// walk: the query takes $after and is sent page after page, each page's
	// endCursor the next one's $after, until hasNextPage is false (or
	// maxPages). Each page is one request of the scenario.
	walk  bool
	check func(data map[string]any) error
}

// params are what the scenarios ask about: the seed's by default, a synthetic
// series' at scale.
type params struct {
	Series, Event, Country string
	OrgID                  string // the ID of an organization, for the lookup
}

// seedParams are the seed's series, edition and country.
func seedParams() params { return params{Series: "waic", Event: "waic-2023", Country: "US"} }

var specs = []querySpec{
	{name: headlineName, query: headlineQuery,
		vars: func(p params) map[string]any { return map[string]any{"series": p.Series, "country": p.Country} },
		check: func(d map[string]any) error {
			return atLeast(d, "sponsorshipsByYear.*.sponsorships.*.subject.name", 2)
		}},
	{name: "all sponsorships of a series by year, sponsor's country and tier", query: seriesQuery,
		vars: func(p params) map[string]any { return map[string]any{"series": p.Series} },
		check: func(d map[string]any) error {
			if err := atLeast(d, "sponsorshipsByYear.*.sponsorships.*.tier", 10); err != nil {
				return err
			}
			return atLeast(d, "sponsorshipsByYear.*.sponsorships.*.subject.country", 5)
		}},
	{name: "sanctioned sponsors of any edition, with their sanctions", query: sanctionQuery,
		vars: func(p params) map[string]any { return map[string]any{"series": p.Series} },
		check: func(d map[string]any) error {
			if err := atLeast(d, "entities.nodes.*.name", 1); err != nil {
				return err
			}
			// Every sponsor listed is sanctioned: as many sponsors as have a sanction.
			nodes := len(values(d, "entities.nodes.*.name"))
			withSanction := 0
			for _, n := range values(d, "entities.nodes.*") {
				if len(values(n.(map[string]any), "sanctions.*.name")) > 0 {
					withSanction++
				}
			}
			if withSanction != nodes {
				return fmt.Errorf("%d of %d sponsors listed have a sanction", withSanction, nodes)
			}
			return nil
		}},
	{name: walkName, query: walkQuery, walk: true,
		vars: func(p params) map[string]any {
			// What happened at the events: 57 facts of 2019-2023 in the seed, two pages.
			preds := []string{"SPONSORED", "PARTICIPATED_IN", "SPEAKER_AT", "MEASURE", "DISCUSSED", "HELD_IN", "HELD_ON", "EDITION_OF", "ORGANIZED_BY"}
			return map[string]any{"predicates": preds, "from": 2019, "to": 2023}
		},
		check: func(d map[string]any) error {
			for _, y := range values(d, "facts.nodes.*.year") {
				if y == nil || y.(float64) < 2019 || y.(float64) > 2023 {
					return fmt.Errorf("a fact of year %v, outside 2019-2023", y)
				}
			}
			return atLeast(d, "facts.nodes.*.id", 1)
		}},
	{name: "three-hop event.sponsorships.subject.parent.sanctions", query: threeHopQuery,
		vars: func(p params) map[string]any { return map[string]any{"slug": p.Event} },
		check: func(d map[string]any) error {
			if err := atLeast(d, "event.sponsorships.*.subject.name", 10); err != nil {
				return err
			}
			return atLeast(d, "event.sponsorships.*.subject.parent.name", 1)
		}},
	{name: "lookup organization(id:)", query: lookupQuery,
		vars:  func(p params) map[string]any { return map[string]any{"id": p.OrgID} },
		check: func(d map[string]any) error { return atLeast(d, "organization.slug", 1) }},
	{name: "two-hop event.sponsorships.subject{sanctions,parent}", query: twoHopQuery,
		vars: func(p params) map[string]any { return map[string]any{"slug": p.Event} },
		check: func(d map[string]any) error {
			if err := atLeast(d, "event.sponsorships.*.subject.name", 10); err != nil {
				return err
			}
			return atLeast(d, "event.sponsorships.*.subject.sanctions.*.name", 1)
		}},
	{name: `search(text:"thuong"), no diacritics`, query: searchQuery,
		vars:  func(p params) map[string]any { return map[string]any{"text": "thuong"} },
		check: func(d map[string]any) error { return atLeast(d, "search.*.entity.name", 1) }},
}

// values returns the values at path in a decoded JSON value: dot-separated
// keys, "*" for every element of a list. Nulls and missing keys give nothing.
func values(v any, path string) []any {
	if path == "" {
		if v == nil {
			return nil
		}
		return []any{v}
	}
	head, rest, _ := strings.Cut(path, ".")
	switch x := v.(type) {
	case map[string]any:
		if head == "*" {
			return nil
		}
		return values(x[head], rest)
	case []any:
		if head != "*" {
			return nil
		}
		var out []any
		for _, e := range x {
			out = append(out, values(e, rest)...)
		}
		return out
	}
	return nil
}

// atLeast fails unless the answer has at least n non-null values at path.
func atLeast(d map[string]any, path string, n int) error {
	if got := len(values(d, path)); got < n {
		return fmt.Errorf("%d values at %s, want at least %d", got, path, n)
	}
	return nil
}

// Prepared is a query scenario ready to time: its requests (one, or the pages
// of a walk) and the answer to each, checked.
type Prepared struct {
	Scenario
	Bytes int // the answers' bytes, all pages
}

// prepare sends each scenario's requests to the server at url once, checks
// the answers (no errors, the spec's check) and returns the scenarios with
// those answers as what every timed request must get. maxPages caps a walk
// (0: to the end). lookupSlug names the organization of the lookup.
func prepare(ctx context.Context, client *http.Client, url string, p params, lookupSlug string, maxPages int) ([]Prepared, error) {
	prepared, errs, err := prepareEach(ctx, client, url, p, lookupSlug, maxPages)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return prepared, nil
}

// prepareEach is prepare, but a scenario that fails (e.g. one the server
// refuses at this size) leaves its error in errs, at its index, and the
// others are prepared.
func prepareEach(ctx context.Context, client *http.Client, url string, p params, lookupSlug string, maxPages int) (prepared []Prepared, errs []error, err error) {
	idBody, err := fetch(ctx, client, Scenario{Name: "id of " + lookupSlug, URL: url, Body: gql(idQuery, map[string]any{"slug": lookupSlug})})
	if err != nil {
		return nil, nil, err
	}
	var idResp struct {
		Data struct{ Organization struct{ ID string } }
	}
	if err := json.Unmarshal(idBody, &idResp); err != nil || idResp.Data.Organization.ID == "" {
		return nil, nil, fmt.Errorf("id of %s: %v %s", lookupSlug, err, idBody)
	}
	p.OrgID = idResp.Data.Organization.ID
	for _, spec := range specs {
		pr, err := prepareOne(ctx, client, url, spec, p, maxPages)
		if err != nil {
			err = fmt.Errorf("scenario %q: %w", spec.name, err)
		}
		prepared = append(prepared, pr)
		errs = append(errs, err)
	}
	return prepared, errs, nil
}

func prepareOne(ctx context.Context, client *http.Client, url string, spec querySpec, p params, maxPages int) (Prepared, error) {
	pr := Prepared{Scenario: Scenario{Name: spec.name, URL: url}}
	vars := spec.vars(p)
	for page := 0; ; page++ {
		body := gql(spec.query, vars)
		answer, err := fetch(ctx, client, Scenario{Name: spec.name, URL: url, Body: body})
		if err != nil {
			return pr, err
		}
		var resp struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(answer, &resp); err != nil {
			return pr, fmt.Errorf("decode the answer: %w", err)
		}
		if err := spec.check(resp.Data); err != nil {
			return pr, fmt.Errorf("page %d: a trivial or wrong answer: %w: %.300s", page+1, err, answer)
		}
		pr.Requests = append(pr.Requests, body)
		pr.Want = append(pr.Want, answer)
		pr.Bytes += len(answer)
		if !spec.walk {
			break
		}
		next := values(resp.Data, "facts.pageInfo.hasNextPage")
		cursor := values(resp.Data, "facts.pageInfo.endCursor")
		if len(next) != 1 || next[0] != true || len(cursor) != 1 || (maxPages > 0 && page+1 >= maxPages) {
			break
		}
		vars = maps(vars, "after", cursor[0])
	}
	if spec.walk && maxPages == 0 {
		// Walked to the end: the pages hold every fact the filter counts, once.
		var first struct {
			Data struct{ Facts struct{ TotalCount int } }
		}
		json.Unmarshal(pr.Want[0], &first)
		ids := map[any]bool{}
		for _, w := range pr.Want {
			var resp struct {
				Data map[string]any `json:"data"`
			}
			json.Unmarshal(w, &resp)
			for _, id := range values(resp.Data, "facts.nodes.*.id") {
				ids[id] = true
			}
		}
		if len(ids) != first.Data.Facts.TotalCount {
			return pr, fmt.Errorf("the walk's %d pages hold %d distinct facts, totalCount is %d", len(pr.Want), len(ids), first.Data.Facts.TotalCount)
		}
	}
	return pr, nil
}

// maps returns a copy of m with k set to v.
func maps(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// recordFloor records every prepared answer in the floor at floorURL and
// checks that the floor answers each request with the server's bytes; it
// returns the scenarios aimed at the floor.
func recordFloor(ctx context.Context, client *http.Client, fr *floor.Resolver, floorURL string, prepared []Prepared) ([]Scenario, error) {
	var out []Scenario
	for _, pr := range prepared {
		s := pr.Scenario
		s.Name = "floor: " + pr.Name
		s.URL = floorURL
		for i, body := range pr.Requests {
			if err := fr.Expect(pr.Want[i]); err != nil {
				return nil, fmt.Errorf("%s: %w", s.Name, err)
			}
			got, err := fetch(ctx, client, Scenario{Name: s.Name, URL: floorURL, Body: body})
			if err != nil {
				return nil, err
			}
			if err := fr.Recorded(); err != nil {
				return nil, fmt.Errorf("%s: %w", s.Name, err)
			}
			if string(got) != string(pr.Want[i]) {
				return nil, fmt.Errorf("%s, request %d: the floor's answer differs from the server's (%d vs %d bytes):\n%.400s\n%.400s",
					s.Name, i+1, len(got), len(pr.Want[i]), got, pr.Want[i])
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// errDifferent is the kind of error of a timed request whose answer is not
// the one the scenario recorded before timing.
var errDifferent = errors.New("a different answer than before timing")
