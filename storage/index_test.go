package storage_test

import (
	"bytes"
	"sort"
	"testing"

	"github.com/google/uuid"

	"policygraph/storage"
)

func TestNodeIDsByKind(t *testing.T) {
	g := newGraph(t)
	org := func(name string) *storage.Node {
		return mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: name}, "")
	}
	zeta, alpha, daNang, beta := org("zeta"), org("Alpha"), org("Đà Nẵng Co"), org("beta")
	event := mustCreate(t, g, &storage.Node{Kind: storage.KindEvent, Name: "Aardvark Expo"}, "")
	series := mustCreate(t, g, &storage.Node{Kind: storage.KindEventSeries, Name: "Aardvark Series"}, "")
	tests := []struct {
		kind storage.Kind
		want []uuid.UUID
	}{
		{storage.KindOrganization, ids(alpha, beta, daNang, zeta)},
		{storage.KindEvent, ids(event)},
		{storage.KindEventSeries, ids(series)},
		{storage.KindPerson, nil},
		{"NOPE", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			got, err := g.NodeIDsByKind(tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if !equalIDs(got, tt.want) {
				t.Errorf("NodeIDsByKind = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNodeIDsByYear(t *testing.T) {
	g := newGraph(t)
	event := func(name string, year int) *storage.Node {
		return mustCreate(t, g, &storage.Node{Kind: storage.KindEvent, Name: name, Year: year}, "")
	}
	e23, e18, e19 := event("WAIC 2023", 2023), event("WAIC 2018", 2018), event("WAIC 2019", 2019)
	event("Someday", 0) // no year: in no year range
	plan := mustCreate(t, g, &storage.Node{Kind: storage.KindPlan, Name: "Plan 2019", Year: 2019}, "")
	tests := []struct {
		name     string
		kind     storage.Kind
		from, to int
		want     []uuid.UUID
	}{
		{"all years in order", storage.KindEvent, 0, 9999, ids(e18, e19, e23)},
		{"inclusive bounds", storage.KindEvent, 2018, 2019, ids(e18, e19)},
		{"one year", storage.KindEvent, 2023, 2023, ids(e23)},
		{"gap", storage.KindEvent, 2020, 2022, nil},
		{"negative from", storage.KindEvent, -5, 2018, ids(e18)},
		{"to before from", storage.KindEvent, 2023, 2019, nil},
		{"other kind", storage.KindPlan, 0, 9999, ids(plan)},
		{"kind without years", storage.KindPerson, 0, 9999, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.NodeIDsByYear(tt.kind, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if !equalIDs(got, tt.want) {
				t.Errorf("NodeIDsByYear(%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func sortedIDs(in ...uuid.UUID) []uuid.UUID {
	out := append([]uuid.UUID(nil), in...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

func TestFactIDsByPredicate(t *testing.T) {
	x := newFixture(t)
	g := x.g
	q23 := mustAdd(t, g, x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner))
	i19 := mustAdd(t, g, x.sponsored(x.ibm, x.waic2019, storage.TierStrategicPartner))
	o23 := mustAdd(t, g, x.sponsored(x.openai, x.waic2023, ""))
	neg := x.sponsored(x.qualcomm, x.waic2023, storage.TierStrategicPartner)
	neg.Negated = true
	mustAdd(t, g, neg)
	c := mustAdd(t, g, x.country(x.qualcomm, "US"))

	y := func(v int) *int { return &v }
	tests := []struct {
		name     string
		pred     storage.Predicate
		from, to *int
		want     []uuid.UUID
		ordered  bool
	}{
		{"all, by ID, no negated", storage.PredSponsored, nil, nil, sortedIDs(q23.ID, i19.ID, o23.ID), true},
		{"from 2023", storage.PredSponsored, y(2023), nil, []uuid.UUID{q23.ID, o23.ID}, false},
		{"to 2019", storage.PredSponsored, nil, y(2019), []uuid.UUID{i19.ID}, false},
		{"2020 to 2022", storage.PredSponsored, y(2020), y(2022), nil, false},
		{"literal facts without a year", storage.PredCountry, nil, nil, []uuid.UUID{c.ID}, true},
		{"literal facts without a year, bounded", storage.PredCountry, y(0), y(9999), nil, false},
		{"no facts", storage.PredLaunched, nil, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.FactIDsByPredicate(tt.pred, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ordered && !equalIDs(got, tt.want) || !sameSet(got, tt.want) {
				t.Errorf("FactIDsByPredicate = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("2019 to 2023 orders by year", func(t *testing.T) {
		got, _ := g.FactIDsByPredicate(storage.PredSponsored, y(2019), y(2023))
		if len(got) != 3 || got[0] != i19.ID || !sameSet(got[1:], []uuid.UUID{q23.ID, o23.ID}) {
			t.Errorf("FactIDsByPredicate(2019..2023) = %v, want 2019's fact first", got)
		}
	})
}

func TestSubjectsByValue(t *testing.T) {
	x := newFixture(t)
	g := x.g
	mustAdd(t, g, x.country(x.qualcomm, "US"))
	second := x.country(x.qualcomm, "US")
	second.Evidence = x.ev(quoteDates)
	mustAdd(t, g, second) // the same subject twice
	mustAdd(t, g, x.country(x.openai, "US"))
	mustAdd(t, g, x.country(x.ibm, "CN"))
	neg := x.country(x.liuHe, "US")
	neg.Negated = true
	mustAdd(t, g, neg)
	tests := []struct {
		pred  storage.Predicate
		value string
		want  []uuid.UUID
	}{
		{storage.PredCountry, "US", ids(x.qualcomm, x.openai)},
		{storage.PredCountry, "CN", ids(x.ibm)},
		{storage.PredCountry, "U", nil},
		{storage.PredCountry, "GB", nil},
		{storage.PredSponsored, "US", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.pred)+"="+tt.value, func(t *testing.T) {
			got, err := g.SubjectsByValue(tt.pred, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(got, tt.want) {
				t.Errorf("SubjectsByValue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSearch(t *testing.T) { onEngines(t, testSearch) }

func testSearch(t *testing.T, open func(testing.TB) *storage.Graph) {
	g := open(t)
	shanghai := mustCreate(t, g, &storage.Node{Kind: storage.KindPlace, Name: "Shanghai",
		Labels: []storage.Label{{Lang: "vi", Text: "Thượng Hải"}}, Aliases: []string{"thành phố Thượng Hải"}}, "")
	hai := mustCreate(t, g, &storage.Node{Kind: storage.KindPerson, Name: "Hải"}, "")
	daNang := mustCreate(t, g, &storage.Node{Kind: storage.KindPlace, Name: "Đà Nẵng"}, "")
	sensetime := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "SenseTime", Aliases: []string{"Thương Thang"}}, "")
	bank := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Bank of Communications",
		Labels: []storage.Label{{Lang: "vi", Text: "Ngân hàng Truyền thông"}}}, "")

	type hit struct {
		node  *storage.Node
		score int
	}
	tests := []struct {
		query string
		limit int
		want  []hit // in order, except that hits of equal score may come in any order
	}{
		{"thuong hai", 0, []hit{{shanghai, 3}}},
		{"THƯỢNG", 0, []hit{{shanghai, 2}, {sensetime, 2}}},
		{"Thượng Hải", 0, []hit{{shanghai, 3}}},
		{"  thuong   HAI!! ", 0, []hit{{shanghai, 3}}},
		{"shang", 0, []hit{{shanghai, 2}}},
		{"hai", 0, []hit{{hai, 3}, {shanghai, 1}}},
		{"hai", 1, []hit{{hai, 3}}},
		{"đà nẵng", 0, []hit{{daNang, 3}}},
		{"da nang", 0, []hit{{daNang, 3}}},
		{"Da", 0, []hit{{daNang, 2}}},
		{"nang", 0, []hit{{daNang, 1}}},
		{"communications", 0, []hit{{bank, 1}}},
		{"truyen thong", 0, []hit{{bank, 1}}},
		{"ngan hang", 0, []hit{{bank, 2}}},
		{"sensetime", 0, []hit{{sensetime, 3}}},
		{"xyz", 0, nil},
		{"", 0, nil},
		{"!!!", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := g.Search(tt.query, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Search(%q, %d) = %v, want %d hits", tt.query, tt.limit, got, len(tt.want))
			}
			for i := range got {
				if i > 0 && got[i].Score > got[i-1].Score {
					t.Errorf("hits not best first: %v", got)
				}
			}
			for _, w := range tt.want {
				found := false
				for _, h := range got {
					if h.ID == w.node.ID {
						found = true
						if h.Score != w.score {
							t.Errorf("%s scored %d, want %d", w.node.Name, h.Score, w.score)
						}
					}
				}
				if !found {
					t.Errorf("Search(%q) = %v, missing %s", tt.query, got, w.node.Name)
				}
			}
		})
	}
}

func TestAdjacent(t *testing.T) {
	x := newFixture(t)
	g := x.g
	sp := mustAdd(t, g, x.sponsored(x.qualcomm, x.waic2023, storage.TierElitePartner))
	negSp := x.sponsored(x.qualcomm, x.waic2023, storage.TierStrategicPartner)
	negSp.Negated = true
	neg := mustAdd(t, g, negSp)
	c := mustAdd(t, g, x.country(x.qualcomm, "US"))
	ibm := mustAdd(t, g, x.sponsored(x.ibm, x.waic2023, ""))
	openaiAbsent := mustAdd(t, g, &storage.Fact{Subject: x.openai.ID, Predicate: storage.PredParticipatedIn, Object: x.waic2023.ID,
		Negated: true, Evidence: x.ev(quoteOpenAI)})
	held := mustAdd(t, g, &storage.Fact{Subject: x.waic2023.ID, Predicate: storage.PredHeldIn, Object: x.shanghai.ID, Evidence: x.ev(quoteShanghai)})
	retracted := mustAdd(t, g, x.sponsored(x.openai, x.waic2023, ""))
	if _, err := g.RetractFact(retracted.ID, "t", "not a sponsor"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		q       storage.AdjQuery
		want    []uuid.UUID
		ordered bool
	}{
		{"out, every predicate", storage.AdjQuery{Node: x.qualcomm.ID, Dir: storage.Out}, []uuid.UUID{c.ID, sp.ID}, true},
		{"out, SPONSORED", storage.AdjQuery{Node: x.qualcomm.ID, Dir: storage.Out, Predicate: storage.PredSponsored}, []uuid.UUID{sp.ID}, true},
		{"out, SPONSORED with negated", storage.AdjQuery{Node: x.qualcomm.ID, Dir: storage.Out, Predicate: storage.PredSponsored, Negated: true}, sortedIDs(sp.ID, neg.ID), true},
		{"out, COUNTRY", storage.AdjQuery{Node: x.qualcomm.ID, Dir: storage.Out, Predicate: storage.PredCountry}, []uuid.UUID{c.ID}, true},
		{"out, a predicate it lacks", storage.AdjQuery{Node: x.qualcomm.ID, Dir: storage.Out, Predicate: storage.PredHeldIn}, nil, true},
		{"out of the event", storage.AdjQuery{Node: x.waic2023.ID, Dir: storage.Out}, []uuid.UUID{held.ID}, true},
		{"in, every predicate", storage.AdjQuery{Node: x.waic2023.ID, Dir: storage.In}, sortedIDs(sp.ID, ibm.ID), true},
		{"in, with negated", storage.AdjQuery{Node: x.waic2023.ID, Dir: storage.In, Negated: true}, []uuid.UUID{sp.ID, ibm.ID, neg.ID, openaiAbsent.ID}, false},
		{"in, with retracted", storage.AdjQuery{Node: x.waic2023.ID, Dir: storage.In, Retracted: true}, []uuid.UUID{sp.ID, ibm.ID, retracted.ID}, false},
		{"in, everything", storage.AdjQuery{Node: x.waic2023.ID, Dir: storage.In, Negated: true, Retracted: true}, []uuid.UUID{sp.ID, ibm.ID, neg.ID, openaiAbsent.ID, retracted.ID}, false},
		{"in, PARTICIPATED_IN", storage.AdjQuery{Node: x.waic2023.ID, Dir: storage.In, Predicate: storage.PredParticipatedIn}, nil, true},
		{"in, PARTICIPATED_IN with negated", storage.AdjQuery{Node: x.waic2023.ID, Dir: storage.In, Predicate: storage.PredParticipatedIn, Negated: true}, []uuid.UUID{openaiAbsent.ID}, true},
		{"in of a place", storage.AdjQuery{Node: x.shanghai.ID, Dir: storage.In}, []uuid.UUID{held.ID}, true},
		{"literal facts have no in-edge", storage.AdjQuery{Node: uuid.Nil, Dir: storage.In}, nil, true},
		{"unknown node", storage.AdjQuery{Node: uuid.New(), Dir: storage.Out}, nil, true},
	}
	qs := make([]storage.AdjQuery, len(tests))
	for i, tt := range tests {
		qs[i] = tt.q
	}
	all, err := g.Adjacent(qs)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(tests) {
		t.Fatalf("Adjacent answered %d queries, want %d", len(all), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := factIDs(all[i])
			if tt.ordered && !equalIDs(got, tt.want) || !sameSet(got, tt.want) {
				t.Errorf("Adjacent = %v, want %v", got, tt.want)
			}
			for _, f := range all[i] {
				if f.Negated && !tt.q.Negated && f.Retraction == nil || f.Retraction != nil && !tt.q.Retracted {
					t.Errorf("fact %s (negated %v, retracted %v) does not belong in %+v", f.ID, f.Negated, f.Retraction != nil, tt.q)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	x := newFixture(t)
	mustAdd(t, x.g, x.sponsored(x.qualcomm, x.waic2023, ""))
	neg := x.sponsored(x.ibm, x.waic2023, "")
	neg.Negated = true
	mustAdd(t, x.g, neg)
	s, err := x.g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Nodes != 11 || s.Facts != 2 || s.ActiveFacts != 1 || s.ByKind[storage.KindSource] != 2 ||
		s.ByKind[storage.KindOrganization] != 3 || s.ByKind[storage.KindEvent] != 2 || s.ByKind[storage.KindPlace] != 2 {
		t.Errorf("Stats = %+v", s)
	}
}
