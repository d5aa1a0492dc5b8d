package e2e

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"policygraph/internal/testenv"
	"policygraph/seed"
)

// seedFacts reads facts.yaml the way a reader of the file would, apart from
// storage, so that the API's counts can be checked against counts made here.
type seedFacts struct {
	facts    []seed.Fact
	entities map[string]seed.Entity
	country  map[string]string // slug -> ISO code
}

func readSeed(t *testing.T) *seedFacts {
	t.Helper()
	f, err := seed.Parse(seed.FactsYAML)
	if err != nil {
		t.Fatal(err)
	}
	s := &seedFacts{facts: f.Facts, entities: map[string]seed.Entity{}, country: map[string]string{}}
	for _, e := range f.Entities {
		s.entities[e.Slug] = e
		if e.Attrs.Code != "" {
			s.country[e.Slug] = e.Attrs.Code
		}
	}
	for _, x := range f.Facts {
		if x.Predicate == "COUNTRY" && !x.Negated {
			s.country[x.Subject] = x.Value
		}
	}
	return s
}

// year is the fact's year: its date or start, else the year of the event it links; 0 if none.
func (s *seedFacts) year(f seed.Fact) int {
	for _, d := range []string{f.Date, f.Start} {
		if len(d) >= 4 {
			y, _ := strconv.Atoi(d[:4])
			return y
		}
	}
	for _, slug := range []string{f.Object, f.Subject} {
		if e := s.entities[slug]; e.Kind == "EVENT" && e.Attrs.Year != 0 {
			return e.Attrs.Year
		}
	}
	return 0
}

// count groups the positive facts with the predicate by key, as "count/subjects".
func (s *seedFacts) count(pred string, negated bool, key func(f seed.Fact) string) map[string]string {
	counts, subjects := map[string]int{}, map[string]map[string]bool{}
	for _, f := range s.facts {
		if f.Predicate != pred || f.Negated != negated {
			continue
		}
		k := key(f)
		counts[k]++
		if subjects[k] == nil {
			subjects[k] = map[string]bool{}
		}
		subjects[k][f.Subject] = true
	}
	out := map[string]string{}
	for k, n := range counts {
		out[k] = fmt.Sprintf("%d/%d", n, len(subjects[k]))
	}
	return out
}

func orNull(s string) string {
	if s == "" || s == "0" {
		return "null"
	}
	return s
}

// groups reads a list of FactGroup as key -> "count/subjects", the key being the
// fields joined by "|" ("null" for null), and returns the keys in list order.
func groups(t *testing.T, list any, fields ...string) (map[string]string, []string) {
	t.Helper()
	out, order := map[string]string{}, []string{}
	for _, g := range list.([]any) {
		var key []string
		for _, f := range fields {
			v := testenv.Value(g, f)
			if v == nil {
				key = append(key, "null")
			} else {
				key = append(key, fmt.Sprint(v))
			}
		}
		k := strings.Join(key, "|")
		if _, dup := out[k]; dup {
			t.Errorf("group %s twice", k)
		}
		out[k] = fmt.Sprintf("%v/%v", testenv.Value(g, "count"), testenv.Value(g, "subjects"))
		order = append(order, k)
	}
	return out, order
}

func wantTable(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestFactCounts checks factCounts against counts made from facts.yaml.
func TestFactCounts(t *testing.T) {
	srv := testenv.Server(t)
	s := readSeed(t)
	year := func(f seed.Fact) string { return orNull(strconv.Itoa(s.year(f))) }

	t.Run("sponsorships and sponsors per year, positive only by default", func(t *testing.T) {
		d := srv.Query(t, `{ factCounts(filter: {predicates: [SPONSORED]}, groupBy: [YEAR]) { year count subjects } }`, nil)
		got, order := groups(t, d["factCounts"], "year")
		wantTable(t, got, s.count("SPONSORED", false, year))
		eq(t, got["2019"], "3/3")
		eq(t, strings.Join(order, " "), "2019 2023")
	})
	t.Run("avoided sponsoring, asked for", func(t *testing.T) {
		d := srv.Query(t, `{ factCounts(filter: {predicates: [SPONSORED], negated: true}, groupBy: [YEAR]) { year count subjects } }`, nil)
		got, _ := groups(t, d["factCounts"], "year")
		wantTable(t, got, s.count("SPONSORED", true, year))
		eq(t, got["2023"], "5/5")
	})
	t.Run("sponsors per year by country", func(t *testing.T) {
		d := srv.Query(t, `{ factCounts(filter: {predicates: [SPONSORED]}, groupBy: [SUBJECT_COUNTRY, YEAR]) { subjectCountry year count subjects } }`, nil)
		got, order := groups(t, d["factCounts"], "subjectCountry", "year")
		wantTable(t, got, s.count("SPONSORED", false, func(f seed.Fact) string { return orNull(s.country[f.Subject]) + "|" + year(f) }))
		eq(t, got["US|2019"], "3/3")
		eq(t, got["US|2023"], "1/1")
		for i := 1; i < len(order); i++ {
			a, b := strings.Split(order[i-1], "|"), strings.Split(order[i], "|")
			if b[0] != "null" && (a[0] == "null" || a[0] > b[0]) || a[0] == b[0] && a[1] >= b[1] {
				t.Errorf("%s before %s: want by country (null last), then year", order[i-1], order[i])
			}
		}
	})
	t.Run("measures by key", func(t *testing.T) {
		d := srv.Query(t, `{ factCounts(filter: {predicates: [MEASURE]}, groupBy: [MEASURE]) { measure count subjects } }`, nil)
		got, _ := groups(t, d["factCounts"], "measure")
		wantTable(t, got, s.count("MEASURE", false, func(f seed.Fact) string { return orNull(f.Measure) }))
	})
	t.Run("what was issued, by kind and year", func(t *testing.T) {
		d := srv.Query(t, `{ factCounts(filter: {predicates: [ISSUED]}, groupBy: [OBJECT_KIND, YEAR]) { objectKind year count subjects } }`, nil)
		got, _ := groups(t, d["factCounts"], "objectKind", "year")
		wantTable(t, got, s.count("ISSUED", false, func(f seed.Fact) string { return s.entities[f.Object].Kind + "|" + year(f) }))
		eq(t, got["EXPORT_CONTROL|2022"], "2/1")
		eq(t, got["PLAN|2022"], "1/1")
	})
	t.Run("no dimensions: the total", func(t *testing.T) {
		d := srv.Query(t, `{ factCounts(filter: {predicates: [SPONSORED], yearFrom: 2019, yearTo: 2019}, groupBy: []) { year count subjects } }`, nil)
		got, _ := groups(t, d["factCounts"], "year")
		wantTable(t, got, map[string]string{"null": "3/3"})
	})
	t.Run("the kinds filter narrows facts too", func(t *testing.T) {
		d := srv.Query(t, `{ facts(filter: {predicates: [ISSUED], objectKinds: [EXPORT_CONTROL]}) { totalCount } }`, nil)
		eq(t, testenv.Value(d, "facts.totalCount"), 2.0)
	})
}

// TestTimeSeries checks timeSeries against counts made from facts.yaml.
func TestTimeSeries(t *testing.T) {
	srv := testenv.Server(t)
	s := readSeed(t)

	t.Run("export controls per year", func(t *testing.T) {
		d := srv.Query(t, `{ timeSeries(filter: {predicates: [ISSUED], objectKinds: [EXPORT_CONTROL]}) { key { subjectCountry count } total points { year count subjects } } }`, nil)
		eq(t, fmt.Sprint(d["timeSeries"]), "[map[key:map[count:2 subjectCountry:<nil>] points:[map[count:2 subjects:1 year:2022]] total:2]]")
	})
	t.Run("sponsors by country, years filled with zeros", func(t *testing.T) {
		d := srv.Query(t, `{ timeSeries(filter: {predicates: [SPONSORED], yearFrom: 2018, yearTo: 2023}, seriesBy: SUBJECT_COUNTRY) { key { subjectCountry count subjects } total points { year count subjects } } }`, nil)
		totals := s.count("SPONSORED", false, func(f seed.Fact) string { return orNull(s.country[f.Subject]) })
		series := d["timeSeries"].([]any)
		if len(series) != len(totals) {
			t.Fatalf("%d series, want one a country: %v", len(series), totals)
		}
		for _, x := range series {
			c := fmt.Sprint(testenv.Value(x, "key.subjectCountry"))
			if c == "<nil>" {
				c = "null"
			}
			eq(t, fmt.Sprintf("%v/%v", testenv.Value(x, "total"), testenv.Value(x, "key.subjects")), totals[c])
			eq(t, testenv.Value(x, "key.count"), testenv.Value(x, "total"))
			eq(t, strings.Join(testenv.Strings(x, "points", "year"), " "), "2018 2019 2020 2021 2022 2023")
			if c == "US" {
				eq(t, strings.Join(testenv.Strings(x, "points", "subjects"), " "), "0 3 0 0 0 1")
			}
		}
		if _, unknown := totals["null"]; unknown { // sponsors of no known country come last
			eq(t, testenv.Value(series[len(series)-1], "key.subjectCountry"), nil)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct{ query, code, field string }{
			{`{ timeSeries(seriesBy: [YEAR]) { total } }`, "INVALID_ARGUMENT", "seriesBy"},
			{`{ timeSeries(filter: {yearFrom: 0}) { total } }`, "INVALID_ARGUMENT", "filter.yearFrom"},
			{`{ factCounts(groupBy: [COLOUR]) { count } }`, "GRAPHQL_VALIDATION_FAILED", ""},
		} {
			r := srv.Post(t, "", tt.query, nil)
			if r.Code() != tt.code {
				t.Errorf("%s: code %q (%+v), want %s", tt.query, r.Code(), r.Errors, tt.code)
				continue
			}
			if tt.field != "" {
				eq(t, r.Errors[0].Extensions["field"], tt.field)
			}
		}
	})
}
