package storage_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"policygraph/storage"
)

// TestFindFactsLeavesNegatedOutUnlessAsked: negated facts are left out of
// FindFacts, CountFacts and TimeSeries alike unless the query asks for them
// (Negated true, or IncludeNegated), whichever index the query starts from.
func TestFindFactsLeavesNegatedOutUnlessAsked(t *testing.T) {
	x := newFixture(t)
	pos := mustAdd(t, x.g, x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner))
	notStrategic := x.sponsored(x.qualcomm, x.waic2023, storage.TierStrategicPartner)
	notStrategic.Negated = true
	neg := mustAdd(t, x.g, notStrategic)
	sponsored := []storage.Predicate{storage.PredSponsored}
	yes, no := true, false
	for _, tt := range []struct {
		name string
		q    storage.FactQuery
		want []uuid.UUID
	}{
		{"by default", storage.FactQuery{Predicates: sponsored}, factIDs([]*storage.Fact{pos})},
		{"by default, from the subject", storage.FactQuery{Subject: x.qualcomm.ID}, factIDs([]*storage.Fact{pos})},
		{"by default, from the object", storage.FactQuery{Object: x.waic2023.ID}, factIDs([]*storage.Fact{pos})},
		{"by default, every fact", storage.FactQuery{}, factIDs([]*storage.Fact{pos})},
		{"negated false", storage.FactQuery{Predicates: sponsored, Negated: &no}, factIDs([]*storage.Fact{pos})},
		{"negated true", storage.FactQuery{Predicates: sponsored, Negated: &yes}, factIDs([]*storage.Fact{neg})},
		{"include negated", storage.FactQuery{Predicates: sponsored, IncludeNegated: true}, factIDs([]*storage.Fact{pos, neg})},
		{"include negated, from the subject", storage.FactQuery{Subject: x.qualcomm.ID, IncludeNegated: true}, factIDs([]*storage.Fact{pos, neg})},
		{"negated false wins over include negated", storage.FactQuery{Predicates: sponsored, Negated: &no, IncludeNegated: true}, factIDs([]*storage.Fact{pos})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.g.FindFacts(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(factIDs(got), tt.want) {
				t.Errorf("FindFacts = %v, want %v", factIDs(got), tt.want)
			}
			groups, err := x.g.CountFacts(tt.q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if groups[0].Count != len(tt.want) {
				t.Errorf("CountFacts counts %d facts, FindFacts lists %d", groups[0].Count, len(tt.want))
			}
			series, err := x.g.TimeSeries(tt.q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(series) != 1 || series[0].Total() != len(tt.want) {
				t.Errorf("TimeSeries = %+v, want one series of %d facts", series, len(tt.want))
			}
		})
	}
}

// TestYearRangesKeepUnknownYears: a fact or an event of unknown year counts
// as year 0, so a range with no lower bound (or one at or below 0) keeps it,
// whether the query is answered from the year index or not: yearTo alone
// filters alike with and without negated: false, and an event's year range
// alike with kinds [EVENT] alone or beside another kind.
func TestYearRangesKeepUnknownYears(t *testing.T) {
	x := newFixture(t)
	country := mustAdd(t, x.g, x.country(x.qualcomm, "US")) // no date, no event: year 0
	sponsorship := mustAdd(t, x.g, x.sponsored(x.ibm, x.waic2019, storage.TierStrategicPartner))
	undated := mustCreate(t, x.g, &storage.Node{Kind: storage.KindEvent, Name: "Undated forum"}, "")
	no := false
	for _, tt := range []struct {
		name string
		q    storage.FactQuery
		want []uuid.UUID
	}{
		{"yearTo 0", storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry}, YearTo: ptr(0)}, factIDs([]*storage.Fact{country})},
		{"yearTo 0, negated false", storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry}, Negated: &no, YearTo: ptr(0)}, factIDs([]*storage.Fact{country})},
		{"yearTo 2020", storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry, storage.PredSponsored}, YearTo: ptr(2020)}, factIDs([]*storage.Fact{country, sponsorship})},
		{"yearFrom 0", storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry}, YearFrom: ptr(0)}, factIDs([]*storage.Fact{country})},
		{"yearFrom -5, yearTo 0", storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry}, YearFrom: ptr(-5), YearTo: ptr(0)}, factIDs([]*storage.Fact{country})},
		{"yearFrom 1", storage.FactQuery{Predicates: []storage.Predicate{storage.PredCountry, storage.PredSponsored}, YearFrom: ptr(1)}, factIDs([]*storage.Fact{sponsorship})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.g.FindFacts(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(factIDs(got), tt.want) {
				t.Errorf("FindFacts = %v, want %v", factIDs(got), tt.want)
			}
			// From the subject's adjacency instead of the predicate index.
			scan := tt.q
			scan.Subject = x.qualcomm.ID
			scanned, err := x.g.FindFacts(scan)
			if err != nil {
				t.Fatal(err)
			}
			var fromQualcomm []uuid.UUID
			for _, f := range got {
				if f.Subject == x.qualcomm.ID {
					fromQualcomm = append(fromQualcomm, f.ID)
				}
			}
			if !sameSet(factIDs(scanned), fromQualcomm) {
				t.Errorf("from the subject = %v, from the predicate index %v", factIDs(scanned), fromQualcomm)
			}
		})
	}

	sponsored, err := x.g.Sponsorships(storage.SponsorshipQuery{YearTo: ptr(2020)})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(factIDs(sponsored), factIDs([]*storage.Fact{sponsorship})) {
		t.Errorf("Sponsorships(yearTo 2020) = %v", factIDs(sponsored))
	}

	for _, tt := range []struct {
		name     string
		from, to *int
		want     []uuid.UUID
	}{
		{"yearTo 2020", nil, ptr(2020), ids(x.waic2019, undated)},
		{"yearFrom 0, yearTo 2020", ptr(0), ptr(2020), ids(x.waic2019, undated)},
		{"yearFrom 2019", ptr(2019), nil, ids(x.waic2019, x.waic2023)},
	} {
		t.Run("events "+tt.name, func(t *testing.T) {
			alone, err := x.g.Entities(storage.EntityQuery{Kinds: []storage.Kind{storage.KindEvent}, YearFrom: tt.from, YearTo: tt.to})
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(alone, tt.want) {
				t.Errorf("Entities(kinds [EVENT]) = %v, want %v", alone, tt.want)
			}
			beside, err := x.g.Entities(storage.EntityQuery{Kinds: []storage.Kind{storage.KindEvent, storage.KindEventSeries}, YearFrom: tt.from, YearTo: tt.to})
			if err != nil {
				t.Fatal(err)
			}
			beside = slices.DeleteFunc(beside, func(id uuid.UUID) bool { return id == x.waicSeries.ID })
			if !sameSet(beside, tt.want) {
				t.Errorf("Entities(kinds [EVENT, EVENT_SERIES]) = %v events, want %v", beside, tt.want)
			}
		})
	}
}

// TestAttendance: who attended an event without sponsoring it and who did not
// attend, as the sources say: a participant is listed as not sponsoring only
// when a negated SPONSORED fact says so and no sponsorship contradicts it.
func TestAttendance(t *testing.T) {
	x := newFixture(t)
	org := func(name string) *storage.Node {
		return mustCreate(t, x.g, &storage.Node{Kind: storage.KindOrganization, Name: name}, "")
	}
	apple, tesla, silent := org("Apple"), org("Tesla"), org("Silent Co")
	participated := func(n *storage.Node, negated bool) *storage.Fact {
		return mustAdd(t, x.g, &storage.Fact{Subject: n.ID, Predicate: storage.PredParticipatedIn, Object: x.waic2023.ID, Negated: negated, Evidence: x.ev(quoteOpenAI)})
	}
	declined := func(n *storage.Node, tier storage.Tier) *storage.Fact {
		f := x.sponsored(n, x.waic2023, tier)
		f.Negated = true
		return mustAdd(t, x.g, f)
	}
	teslaCame, appleCame := participated(tesla, false), participated(apple, false)
	declined(tesla, storage.TierSponsor)
	declined(apple, storage.TierSponsor)
	participated(silent, false) // took part; the sources say nothing of sponsoring
	participated(x.qualcomm, false)
	mustAdd(t, x.g, x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner))
	declined(x.qualcomm, storage.TierStrategicPartner) // a negated tier of a sponsor
	openAIAway := participated(x.openai, true)
	retracted := participated(x.ibm, true)
	if _, err := x.g.RetractFact(retracted.ID, "curator", "duplicate"); err != nil {
		t.Fatal(err)
	}

	got, err := x.g.Attendance([]uuid.UUID{x.waic2023.ID, x.waic2019.ID})
	if err != nil {
		t.Fatal(err)
	}
	if want := factIDs([]*storage.Fact{appleCame, teslaCame}); !equalIDs(factIDs(got[0].AttendedWithoutSponsoring), want) {
		t.Errorf("attended without sponsoring = %v, want Apple's and Tesla's participation %v", factIDs(got[0].AttendedWithoutSponsoring), want)
	}
	for _, f := range got[0].AttendedWithoutSponsoring {
		if f.Predicate != storage.PredParticipatedIn || f.Negated || len(f.Evidence) == 0 {
			t.Errorf("attended without sponsoring holds %+v, want a positive PARTICIPATED_IN fact with evidence", f)
		}
	}
	if want := factIDs([]*storage.Fact{openAIAway}); !equalIDs(factIDs(got[0].DidNotAttend), want) {
		t.Errorf("did not attend = %v, want OpenAI's %v", factIDs(got[0].DidNotAttend), want)
	}
	if len(got[1].AttendedWithoutSponsoring)+len(got[1].DidNotAttend) != 0 {
		t.Errorf("WAIC 2019: %+v, want nothing", got[1])
	}
}
