package storage_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"policygraph/errs"
	"policygraph/storage"
)

// aggregateFixture adds to the fixture sponsorships (IBM twice in 2023, one
// negated, one retracted), countries, measures and places to count.
func aggregateFixture(t *testing.T) *fixture {
	t.Helper()
	x := newFixture(t)
	g := x.g
	for _, f := range []*storage.Fact{
		x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner),
		x.sponsored(x.ibm, x.waic2019, storage.TierStrategicPartner),
		x.sponsored(x.ibm, x.waic2023, storage.TierStrategicPartner),
		x.sponsored(x.ibm, x.waic2023, storage.TierSponsor),
		{Subject: x.openai.ID, Predicate: storage.PredSponsored, Object: x.waic2023.ID, Negated: true, Evidence: x.ev(quoteOpenAI)},
		x.country(x.qualcomm, "US"),
		x.country(x.ibm, "US"),
		{Subject: x.waic2023.ID, Predicate: storage.PredMeasure, Measure: "elite-partners", Quantity: &storage.Quantity{Amount: 22}, Evidence: x.ev(quoteQualcomm)},
		{Subject: x.waic2023.ID, Predicate: storage.PredMeasure, Measure: "participating-enterprises", Quantity: &storage.Quantity{Amount: 400, Bound: storage.BoundMoreThan}, Evidence: x.ev(quoteQualcomm)},
		{Subject: x.waic2023.ID, Predicate: storage.PredHeldIn, Object: x.shanghai.ID, Evidence: x.ev(quoteShanghai)},
		{Subject: x.waic2019.ID, Predicate: storage.PredHeldIn, Object: x.us.ID, Evidence: x.ev(quoteIBM)},
	} {
		mustAdd(t, g, f)
	}
	retracted := mustAdd(t, g, x.sponsored(x.openai, x.waic2019, storage.TierSponsor))
	if _, err := g.RetractFact(retracted.ID, "tester", "no such sponsorship"); err != nil {
		t.Fatal(err)
	}
	return x
}

// render writes groups one a line: the values of the dimensions in by ("-" when
// unknown), then count/subjects.
func render(groups []storage.Group, by []storage.Dimension) string {
	var b strings.Builder
	for _, g := range groups {
		var vals []string
		for _, d := range by {
			v := map[storage.Dimension]any{
				storage.DimYear: g.Year, storage.DimSubjectCountry: g.SubjectCountry, storage.DimObjectCountry: g.ObjectCountry,
				storage.DimTier: g.Tier, storage.DimSubjectOrgType: g.SubjectOrgType, storage.DimSubjectKind: g.SubjectKind,
				storage.DimObjectKind: g.ObjectKind, storage.DimPredicate: g.Predicate, storage.DimMeasure: g.Measure,
			}[d]
			s := fmt.Sprint(v)
			if s == "" || s == "0" {
				s = "-"
			}
			vals = append(vals, s)
		}
		fmt.Fprintf(&b, "%s %d/%d\n", strings.Join(vals, " "), g.Count, g.Subjects)
	}
	return b.String()
}

func TestCountFacts(t *testing.T) {
	x := aggregateFixture(t)
	sponsored := []storage.Predicate{storage.PredSponsored}
	tests := []struct {
		name string
		q    storage.FactQuery
		by   []storage.Dimension
		want string
	}{
		{"sponsorships and sponsors by year: IBM counts once in 2023; negated and retracted left out",
			storage.FactQuery{Predicates: sponsored}, []storage.Dimension{storage.DimYear},
			"2019 1/1\n2023 3/2\n"},
		{"retracted included on request",
			storage.FactQuery{Predicates: sponsored, IncludeRetracted: true}, []storage.Dimension{storage.DimYear},
			"2019 2/2\n2023 3/2\n"},
		{"negated on request, subject without country is unknown",
			storage.FactQuery{Predicates: sponsored, Negated: ptr(true)}, []storage.Dimension{storage.DimYear, storage.DimSubjectCountry},
			"2023 - 1/1\n"},
		{"by year and country",
			storage.FactQuery{Predicates: sponsored}, []storage.Dimension{storage.DimSubjectCountry, storage.DimYear},
			"US 2019 1/1\nUS 2023 3/2\n"},
		{"tiers in schema order, highest first",
			storage.FactQuery{Predicates: sponsored}, []storage.Dimension{storage.DimTier},
			"STRATEGIC_PARTNER 2/1\nELITE_PARTNER 1/1\nSPONSOR 1/1\n"},
		{"a country place's own code; a place without one is unknown, last",
			storage.FactQuery{Predicates: []storage.Predicate{storage.PredHeldIn}}, []storage.Dimension{storage.DimObjectCountry},
			"US 1/1\n- 1/1\n"},
		{"measures",
			storage.FactQuery{Predicates: []storage.Predicate{storage.PredMeasure}}, []storage.Dimension{storage.DimMeasure, storage.DimYear},
			"elite-partners 2023 1/1\nparticipating-enterprises 2023 1/1\n"},
		{"facts of unknown year come last",
			storage.FactQuery{Subject: x.ibm.ID}, []storage.Dimension{storage.DimYear, storage.DimPredicate},
			"2019 SPONSORED 1/1\n2023 SPONSORED 2/1\n- COUNTRY 1/1\n"},
		{"kinds, filtered by object kind",
			storage.FactQuery{ObjectKinds: []storage.Kind{storage.KindPlace}}, []storage.Dimension{storage.DimSubjectKind, storage.DimObjectKind},
			"EVENT PLACE 2/2\n"},
		{"subject kinds drop the others; literal facts have no object kind",
			storage.FactQuery{SubjectKinds: []storage.Kind{storage.KindEvent}}, []storage.Dimension{storage.DimPredicate, storage.DimObjectKind},
			"HELD_IN PLACE 2/2\nMEASURE - 2/1\n"},
		{"org type unknown for organizations without one",
			storage.FactQuery{Predicates: sponsored}, []storage.Dimension{storage.DimSubjectOrgType},
			"- 4/2\n"},
		{"no dimensions: the total",
			storage.FactQuery{}, nil,
			" 10/4\n"},
		{"no dimensions and nothing selected: one zero group",
			storage.FactQuery{Predicates: []storage.Predicate{storage.PredLaunched}}, nil,
			" 0/0\n"},
		{"repeated dimensions count once",
			storage.FactQuery{Predicates: sponsored}, []storage.Dimension{storage.DimYear, storage.DimYear},
			"2019 2019 1/1\n2023 2023 3/2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.g.CountFacts(tt.q, tt.by)
			if err != nil {
				t.Fatal(err)
			}
			if s := render(got, tt.by); s != tt.want {
				t.Errorf("CountFacts(%v) =\n%s\nwant\n%s", tt.by, s, tt.want)
			}
		})
	}
	t.Run("unknown dimension", func(t *testing.T) {
		_, err := x.g.CountFacts(storage.FactQuery{}, []storage.Dimension{"COLOUR"})
		wantCode(t, err, errs.InvalidArgument, "groupBy")
	})
}

func TestTimeSeries(t *testing.T) {
	x := aggregateFixture(t)
	sponsored := []storage.Predicate{storage.PredSponsored}
	type point = storage.Point
	t.Run("one series a country, years filled with zeros", func(t *testing.T) {
		got, err := x.g.TimeSeries(storage.FactQuery{Predicates: sponsored}, []storage.Dimension{storage.DimSubjectCountry})
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.Series{{
			Key:    storage.Group{SubjectCountry: "US", Count: 4, Subjects: 2},
			Points: []point{{2019, 1, 1}, {2020, 0, 0}, {2021, 0, 0}, {2022, 0, 0}, {2023, 3, 2}},
		}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if got[0].Total() != 4 {
			t.Errorf("Total = %d, want 4", got[0].Total())
		}
	})
	t.Run("one series when by is empty, within the years asked", func(t *testing.T) {
		got, err := x.g.TimeSeries(storage.FactQuery{Predicates: sponsored, YearFrom: ptr(2018), YearTo: ptr(2020)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.Series{{
			Key:    storage.Group{Count: 1, Subjects: 1},
			Points: []point{{2018, 0, 0}, {2019, 1, 1}, {2020, 0, 0}},
		}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("facts of unknown year make no series", func(t *testing.T) {
		got, err := x.g.TimeSeries(storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry}}, []storage.Dimension{storage.DimSubjectCountry})
		if err != nil || len(got) != 0 {
			t.Errorf("got %+v, %v; want no series", got, err)
		}
		got, err = x.g.TimeSeries(storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry}}, nil)
		want := []storage.Series{{Points: []point{}}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, %v; want one empty series", got, err)
		}
	})
	t.Run("series ordered by key, unknown last", func(t *testing.T) {
		got, err := x.g.TimeSeries(storage.FactQuery{Predicates: []storage.Predicate{storage.PredHeldIn}}, []storage.Dimension{storage.DimObjectCountry})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, s := range got {
			keys = append(keys, fmt.Sprintf("%q:%d:%v", s.Key.ObjectCountry, s.Total(), s.Points))
		}
		want := []string{`"US":1:[{2019 1 1} {2020 0 0} {2021 0 0} {2022 0 0} {2023 0 0}]`, `"":1:[{2019 0 0} {2020 0 0} {2021 0 0} {2022 0 0} {2023 1 1}]`}
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("got %q\nwant %q", keys, want)
		}
	})
	t.Run("YEAR is the axis, not a series", func(t *testing.T) {
		_, err := x.g.TimeSeries(storage.FactQuery{}, []storage.Dimension{storage.DimYear})
		wantCode(t, err, errs.InvalidArgument, "seriesBy")
	})
	t.Run("span too long", func(t *testing.T) {
		_, err := x.g.TimeSeries(storage.FactQuery{Predicates: sponsored, YearFrom: ptr(0)}, nil)
		wantCode(t, err, errs.InvalidArgument, "yearFrom")
	})
}
