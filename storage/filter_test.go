package storage_test

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// idSet is a set of record IDs, printed sorted.
type idSet map[uuid.UUID]bool

func setOf(ids []uuid.UUID) idSet {
	s := idSet{}
	for _, id := range ids {
		s[id] = true
	}
	return s
}

func (s idSet) and(o idSet) idSet {
	out := idSet{}
	for id := range s {
		if o[id] {
			out[id] = true
		}
	}
	return out
}

func (s idSet) or(o idSet) idSet {
	out := idSet{}
	for id := range s {
		out[id] = true
	}
	for id := range o {
		out[id] = true
	}
	return out
}

func (s idSet) minus(o idSet) idSet {
	out := idSet{}
	for id := range s {
		if !o[id] {
			out[id] = true
		}
	}
	return out
}

func (s idSet) String() string {
	var ids []string
	for id := range s {
		ids = append(ids, id.String())
	}
	slices.Sort(ids)
	return fmt.Sprintf("%d %v", len(ids), ids)
}

func factIDsOf(facts []*storage.Fact) []uuid.UUID {
	out := make([]uuid.UUID, len(facts))
	for i, f := range facts {
		out[i] = f.ID
	}
	return out
}

// slugID resolves a slug of the seed.
func slugID(t testing.TB, g *storage.Graph, slug string) uuid.UUID {
	t.Helper()
	id, err := g.Ref(slug)
	if err != nil {
		t.Fatalf("%s: %v", slug, err)
	}
	return id
}

// flatFact is q without its clauses.
func flatFact(q storage.FactQuery) storage.FactQuery {
	q.And, q.Or, q.Not = nil, nil, nil
	return q
}

// wantFacts is what a composed fact query must answer, computed by set
// algebra over the answers of queries without clauses: q's own fields, and
// with every And clause, and with any Or clause, but not with the Not clause;
// each of them in the scope of the outermost query (negated facts when it
// keeps them, retracted ones when it includes them).
func wantFacts(t *testing.T, g *storage.Graph, q storage.FactQuery, negated, retracted bool) idSet {
	t.Helper()
	flat := flatFact(q)
	flat.IncludeNegated, flat.IncludeRetracted = negated, retracted
	facts, err := g.FindFacts(flat)
	if err != nil {
		t.Fatalf("FindFacts(%+v): %v", flat, err)
	}
	want := setOf(factIDsOf(facts))
	for _, c := range q.And {
		want = want.and(wantFacts(t, g, c, negated, retracted))
	}
	if len(q.Or) > 0 {
		any := idSet{}
		for _, c := range q.Or {
			any = any.or(wantFacts(t, g, c, negated, retracted))
		}
		want = want.and(any)
	}
	if q.Not != nil {
		want = want.minus(wantFacts(t, g, *q.Not, negated, retracted))
	}
	return want
}

// randomTree composes leaves into a random filter of at most depth levels.
func randomTree[Q any](rng *rand.Rand, leaves []Q, depth int, compose func(q *Q, and, or []Q, not *Q)) Q {
	q := leaves[rng.IntN(len(leaves))]
	if depth == 0 {
		return q
	}
	var and, or []Q
	var not *Q
	if rng.IntN(3) == 0 {
		for range 1 + rng.IntN(2) {
			and = append(and, randomTree(rng, leaves, depth-1, compose))
		}
	}
	if rng.IntN(2) == 0 {
		for range 1 + rng.IntN(3) {
			or = append(or, randomTree(rng, leaves, depth-1, compose))
		}
	}
	if rng.IntN(3) == 0 {
		n := randomTree(rng, leaves, depth-1, compose)
		not = &n
	}
	compose(&q, and, or, not)
	return q
}

// TestComposedFactFilters: on the seed (with one fact retracted), every
// composed fact filter of a few hundred random ones, up to three levels of
// and/or/not over leaves that each pick a different index (or none), answers
// what set algebra over the answers of its leaves says: the index picked
// for an and, an or or a not never loses an answer, and no clause is
// ignored.
func TestComposedFactFilters(t *testing.T) {
	g := seededGraph(t)
	ref := func(s string) uuid.UUID { return slugID(t, g, s) }
	preds := func(ps ...storage.Predicate) []storage.Predicate { return ps }
	leaves := []storage.FactQuery{
		{},
		{Predicates: preds(storage.PredSponsored)},
		{Predicates: preds(storage.PredSponsored, storage.PredParticipatedIn), Negated: ptr(false)},
		{Predicates: preds(storage.PredCountry)},
		{Subject: ref("qualcomm")},
		{Subject: ref("apple"), Predicates: preds(storage.PredSponsored)},
		{Object: ref("waic-2023")},
		{Object: ref("waic-2019")},
		{Series: ref("waic")},
		{SubjectCountry: "US"},
		{SubjectCountry: "CN"},
		{Tier: storage.TierStrategicPartner},
		{Tier: storage.TierSponsor},
		{Negated: ptr(true)},
		{Negated: ptr(false)},
		{YearFrom: ptr(2020)},
		{YearTo: ptr(2019)},
		{SubjectKinds: []storage.Kind{storage.KindOrganization}},
		{SubjectKinds: []storage.Kind{storage.KindPerson}},
		{ObjectKinds: []storage.Kind{storage.KindEvent}},
		{ObjectKinds: []storage.Kind{storage.KindPlace}},
	}
	rng := rand.New(rand.NewPCG(15, 3))
	nonEmpty := 0
	for i := range 400 {
		q := randomTree(rng, leaves, 3, func(q *storage.FactQuery, and, or []storage.FactQuery, not *storage.FactQuery) {
			q.And, q.Or, q.Not = and, or, not
		})
		q.IncludeRetracted = i%4 == 0
		q.IncludeNegated = i%3 == 0
		facts, err := g.FindFacts(q)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		got := setOf(factIDsOf(facts))
		if len(got) != len(facts) {
			t.Errorf("query %d lists a fact twice: %+v", i, q)
		}
		if want := wantFacts(t, g, q, q.Keeps(true), q.IncludeRetracted); got.String() != want.String() {
			t.Errorf("query %d %+v:\n got  %v\n want %v", i, q, got, want)
		}
		if len(got) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 100 {
		t.Errorf("only %d of 400 random filters found anything: the leaves test too little", nonEmpty)
	}
}

// TestFactFilterClausesAllHold: a clause beside another that picks the index
// is checked too. Before composed filters, a series beside a subject was
// ignored: {subject: qualcomm, series: waic} listed Qualcomm's COUNTRY fact.
func TestFactFilterClausesAllHold(t *testing.T) {
	g := seededGraph(t)
	facts, err := g.FindFacts(storage.FactQuery{Subject: slugID(t, g, "qualcomm"), Series: slugID(t, g, "waic")})
	if err != nil {
		t.Fatal(err)
	}
	if len(facts) == 0 {
		t.Fatal("Qualcomm has facts about WAIC's editions")
	}
	for _, f := range facts {
		if f.Predicate != storage.PredSponsored {
			t.Errorf("a %s fact of Qualcomm does not touch a WAIC edition", f.Predicate)
		}
	}
}

// flatEntity is q without its clauses.
func flatEntity(q storage.EntityQuery) storage.EntityQuery {
	q.And, q.Or, q.Not = nil, nil, nil
	return q
}

func wantEntities(t *testing.T, g *storage.Graph, q storage.EntityQuery) idSet {
	t.Helper()
	ids, err := g.Entities(flatEntity(q))
	if err != nil {
		t.Fatalf("Entities(%+v): %v", flatEntity(q), err)
	}
	want := setOf(ids)
	for _, c := range q.And {
		want = want.and(wantEntities(t, g, c))
	}
	if len(q.Or) > 0 {
		any := idSet{}
		for _, c := range q.Or {
			any = any.or(wantEntities(t, g, c))
		}
		want = want.and(any)
	}
	if q.Not != nil {
		want = want.minus(wantEntities(t, g, *q.Not))
	}
	return want
}

// TestComposedEntityFilters is TestComposedFactFilters for entity filters,
// over leaves that pick each index Entities has.
func TestComposedEntityFilters(t *testing.T) {
	g := seededGraph(t)
	ref := func(s string) uuid.UUID { return slugID(t, g, s) }
	leaves := []storage.EntityQuery{
		{},
		{Kinds: []storage.Kind{storage.KindOrganization}},
		{Kinds: []storage.Kind{storage.KindEvent, storage.KindPerson}},
		{Kinds: []storage.Kind{storage.KindEvent}, YearFrom: ptr(2019)},
		{YearTo: ptr(2019)},
		{Country: "US"},
		{Country: "CN"},
		{OrgType: "COMPANY"},
		{Series: ref("waic")},
		{SponsoredSeries: ref("waic")},
		// The measures' targets, fewer than the sponsors, pick these.
		{SponsoredSeries: ref("waic"), SanctionedBy: storage.AnyAuthority},
		{SponsoredSeries: ref("waic"), ControlledBy: storage.AnyAuthority},
		{SponsoredEvent: ref("waic-2023"), Tier: storage.TierElitePartner},
		{SponsoredEvent: ref("waic-2023")},
		{SanctionedBy: ref("us-government")},
		{ControlledBy: storage.AnyAuthority},
		{Product: ref("nvidia-a100")},
		{Status: "PLANNED"},
	}
	rng := rand.New(rand.NewPCG(15, 4))
	nonEmpty := 0
	for i := range 300 {
		q := randomTree(rng, leaves, 3, func(q *storage.EntityQuery, and, or []storage.EntityQuery, not *storage.EntityQuery) {
			q.And, q.Or, q.Not = and, or, not
		})
		ids, err := g.Entities(q)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		got := setOf(ids)
		if len(got) != len(ids) {
			t.Errorf("query %d lists an entity twice: %+v", i, q)
		}
		if want := wantEntities(t, g, q); got.String() != want.String() {
			t.Errorf("query %d %+v:\n got  %v\n want %v", i, q, got, want)
		}
		if len(got) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 75 {
		t.Errorf("only %d of 300 random filters found anything: the leaves test too little", nonEmpty)
	}
}

// TestProductFilterChecksCoverage: product is checked on every candidate,
// not only trusted from the index it picks: inside an or, the export
// controls that do not cover the product are left out.
func TestProductFilterChecksCoverage(t *testing.T) {
	g := seededGraph(t)
	a800 := slugID(t, g, "nvidia-a800")
	ids, err := g.Entities(storage.EntityQuery{Or: []storage.EntityQuery{{Product: a800}, {Status: "NO-SUCH-STATUS"}}})
	if err != nil {
		t.Fatal(err)
	}
	flat, err := g.Entities(storage.EntityQuery{Product: a800})
	if err != nil {
		t.Fatal(err)
	}
	if setOf(ids).String() != setOf(flat).String() {
		t.Errorf("or: [{product: a800}, nothing] = %v, product: a800 = %v", setOf(ids), setOf(flat))
	}
	all, err := g.Entities(storage.EntityQuery{Kinds: []storage.Kind{storage.KindExportControl}, Or: []storage.EntityQuery{{Product: a800}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(flat) {
		t.Errorf("export controls covering the A800: %d through the kind index, %d through the product's", len(all), len(flat))
	}
}

// TestFilterBounds: a filter nested deeper than MaxFilterDepth, with more
// than MaxFilterClauses clauses, or setting the list's scope (includeRetracted,
// includeNegated) in a clause is refused with INVALID_ARGUMENT, naming where,
// before anything is read.
func TestFilterBounds(t *testing.T) {
	g := seededGraph(t)
	deep := storage.FactQuery{Tier: storage.TierSponsor}
	for range storage.MaxFilterDepth + 1 {
		inner := deep
		deep = storage.FactQuery{Not: &inner}
	}
	wide := storage.FactQuery{}
	for range storage.MaxFilterClauses {
		wide.Or = append(wide.Or, storage.FactQuery{Tier: storage.TierSponsor})
	}
	okDeep := storage.FactQuery{Tier: storage.TierSponsor}
	for range storage.MaxFilterDepth {
		inner := okDeep
		okDeep = storage.FactQuery{Not: &inner}
	}
	okWide := storage.FactQuery{Or: wide.Or[1:]}
	for _, tt := range []struct {
		name  string
		q     storage.FactQuery
		field string // "" when accepted
	}{
		{"too deep", deep, "filter" + strings.Repeat(".not", storage.MaxFilterDepth+1)},
		{"too many clauses", wide, fmt.Sprintf("filter.or[%d]", storage.MaxFilterClauses-1)},
		{"retracted in a clause", storage.FactQuery{Or: []storage.FactQuery{{}, {IncludeRetracted: true}}}, "filter.or[1].includeRetracted"},
		{"negated in a clause", storage.FactQuery{Not: &storage.FactQuery{IncludeNegated: true}}, "filter.not.includeNegated"},
		{"unknown sort key", storage.FactQuery{Sort: []storage.FactSort{{Key: "COLOUR"}}}, "sort"},
		{"as deep as allowed", okDeep, ""},
		{"as many clauses as allowed", okWide, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.FindFacts(tt.q)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *errs.Error
			if !asError(err, &e) || e.Code != errs.InvalidArgument || e.Field != tt.field {
				t.Fatalf("got %v (%+v), want INVALID_ARGUMENT at %s", err, e, tt.field)
			}
		})
	}
	deepEntity := storage.EntityQuery{Country: "US"}
	for range storage.MaxFilterDepth + 1 {
		deepEntity = storage.EntityQuery{And: []storage.EntityQuery{deepEntity}}
	}
	if _, err := g.Entities(deepEntity); errs.CodeOf(err) != errs.InvalidArgument {
		t.Errorf("an entity filter too deep: %v", err)
	}
}

func asError(err error, e **errs.Error) bool {
	x, ok := err.(*errs.Error)
	*e = x
	return ok
}

// TestNegatedByDefault: factCounts leaves negated facts out unless the filter
// names negated, in a clause too: {or: [{negated: true}, ...]} counts them.
func TestNegatedByDefault(t *testing.T) {
	g := seededGraph(t)
	sponsored := []storage.Predicate{storage.PredSponsored}
	count := func(q storage.FactQuery) int {
		t.Helper()
		groups, err := g.CountFacts(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		return groups[0].Count
	}
	positive := count(storage.FactQuery{Predicates: sponsored})
	negated := count(storage.FactQuery{Predicates: sponsored, Negated: ptr(true)})
	both := count(storage.FactQuery{Predicates: sponsored, Or: []storage.FactQuery{{Negated: ptr(true)}, {Negated: ptr(false)}}})
	if negated == 0 || both != positive+negated {
		t.Errorf("SPONSORED: %d positive, %d negated, %d for negated or not", positive, negated, both)
	}
}

// TestSortFacts: each key orders the list by it, ASC and DESC, ties by year,
// then subject name, then ID; every fact is kept.
func TestSortFacts(t *testing.T) {
	g := seededGraph(t)
	all, err := g.FindFacts(storage.FactQuery{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[uuid.UUID]string{}
	for _, f := range all {
		for _, id := range []uuid.UUID{f.Subject, f.Object} {
			if id != uuid.Nil {
				n, err := g.Node(id)
				if err != nil {
					t.Fatal(err)
				}
				names[id] = storage.Fold(n.Name)
			}
		}
	}
	tierRank := func(t storage.Tier) int {
		if i := slices.Index([]storage.Tier{storage.TierStrategicPartner, storage.TierElitePartner, storage.TierGovernmentCoSponsor, storage.TierSponsor}, t); i >= 0 {
			return i
		}
		return 99
	}
	predRank := func(p storage.Predicate) int {
		return slices.IndexFunc(storage.Predicates, func(s storage.PredicateSpec) bool { return s.Predicate == p })
	}
	objectName := func(f *storage.Fact) string {
		if f.Object == uuid.Nil {
			return "\xff" // literal facts last
		}
		return names[f.Object]
	}
	keys := map[storage.FactSortKey]func(a, b *storage.Fact) int{
		storage.FactsByYear:        func(a, b *storage.Fact) int { return cmp.Compare(a.Year, b.Year) },
		storage.FactsBySubjectName: func(a, b *storage.Fact) int { return cmp.Compare(names[a.Subject], names[b.Subject]) },
		storage.FactsByObjectName:  func(a, b *storage.Fact) int { return cmp.Compare(objectName(a), objectName(b)) },
		storage.FactsByPredicate:   func(a, b *storage.Fact) int { return cmp.Compare(predRank(a.Predicate), predRank(b.Predicate)) },
		storage.FactsByTier:        func(a, b *storage.Fact) int { return cmp.Compare(tierRank(a.Tier), tierRank(b.Tier)) },
		storage.FactsByCreatedAt:   func(a, b *storage.Fact) int { return a.CreatedAt.Compare(b.CreatedAt) },
	}
	if len(keys) != len(storage.FactSortKeys) {
		t.Fatalf("the test knows %d keys, storage has %d", len(keys), len(storage.FactSortKeys))
	}
	for _, k := range storage.FactSortKeys {
		for _, desc := range []bool{false, true} {
			got, err := g.FindFacts(storage.FactQuery{Sort: []storage.FactSort{{Key: k, Desc: desc}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(all) {
				t.Fatalf("%s: %d facts, want %d", k, len(got), len(all))
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1], got[i]
				c := keys[k](a, b)
				if desc {
					c = -c
				}
				if c == 0 { // tie: the default order
					c = cmp.Or(cmp.Compare(a.Year, b.Year), cmp.Compare(names[a.Subject], names[b.Subject]), bytes.Compare(a.ID[:], b.ID[:]))
				}
				if c >= 0 {
					t.Errorf("%s desc=%v: %s (%s) before %s (%s)", k, desc, a.ID, a.Predicate, b.ID, b.Predicate)
					break
				}
			}
		}
	}
	// Two keys: the second breaks the first's ties.
	got, err := g.FindFacts(storage.FactQuery{Predicates: []storage.Predicate{storage.PredSponsored}, Negated: ptr(false),
		Sort: []storage.FactSort{{Key: storage.FactsByTier}, {Key: storage.FactsBySubjectName, Desc: true}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if c := cmp.Or(keys[storage.FactsByTier](a, b), -keys[storage.FactsBySubjectName](a, b)); c > 0 {
			t.Errorf("tier, then subject name descending: %s before %s", names[a.Subject], names[b.Subject])
		}
	}
}

// TestSortEntities: each key orders the entities by it, ASC and DESC, ties by
// name, then ID.
func TestSortEntities(t *testing.T) {
	g := seededGraph(t)
	for _, k := range storage.EntitySortKeys {
		for _, desc := range []bool{false, true} {
			ids, err := g.Entities(storage.EntityQuery{Sort: []storage.EntitySort{{Key: k, Desc: desc}}})
			if err != nil {
				t.Fatal(err)
			}
			nodes, err := g.Nodes(ids)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(nodes); i++ {
				a, b := nodes[i-1], nodes[i]
				var c int
				switch k {
				case storage.EntitiesByName:
					c = cmp.Compare(storage.Fold(a.Name), storage.Fold(b.Name))
				case storage.EntitiesByYear:
					c = cmp.Compare(a.Year, b.Year)
				case storage.EntitiesByKind:
					c = cmp.Compare(slices.Index(storage.Kinds, a.Kind), slices.Index(storage.Kinds, b.Kind))
				case storage.EntitiesByCreatedAt:
					c = a.CreatedAt.Compare(b.CreatedAt)
				default:
					t.Fatalf("the test does not know %s", k)
				}
				if desc {
					c = -c
				}
				if c == 0 {
					c = cmp.Or(cmp.Compare(storage.Fold(a.Name), storage.Fold(b.Name)), bytes.Compare(a.ID[:], b.ID[:]))
				}
				if c >= 0 {
					t.Errorf("%s desc=%v: %s before %s", k, desc, a.Name, b.Name)
					break
				}
			}
		}
	}
}

// TestFilterFacts: a list filtered in memory keeps what passes, in the order
// asked for, whatever scope it came from.
func TestFilterFacts(t *testing.T) {
	g := seededGraph(t)
	list, err := g.FindFacts(storage.FactQuery{Object: slugID(t, g, "waic-2023"), Predicates: []storage.Predicate{storage.PredSponsored}})
	if err != nil {
		t.Fatal(err)
	}
	q := storage.FactQuery{Or: []storage.FactQuery{{SubjectCountry: "US"}, {Tier: storage.TierStrategicPartner}},
		Not: &storage.FactQuery{Negated: ptr(true)}, Sort: []storage.FactSort{{Key: storage.FactsByTier, Desc: true}}}
	got, err := g.FilterFacts(list, q)
	if err != nil {
		t.Fatal(err)
	}
	want, err := g.FindFacts(storage.FactQuery{Object: slugID(t, g, "waic-2023"), Predicates: []storage.Predicate{storage.PredSponsored},
		Or: q.Or, Not: q.Not, Sort: q.Sort})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !slices.Equal(factIDsOf(got), factIDsOf(want)) {
		t.Errorf("FilterFacts %v, FindFacts %v", factIDsOf(got), factIDsOf(want))
	}
	if got[0].Tier != storage.TierElitePartner { // Qualcomm, the US elite partner, before the strategic partners
		t.Errorf("tier descending starts with %s", got[0].Tier)
	}
}

// TestCompositeScans: the estimates the cost model charges follow what the
// composed filters read. An or of narrowing clauses costs their sum; an or
// with a clause that narrows nothing, and a not, cost the whole graph; an and
// costs what its narrowing clause reads; each nested clause that looks
// another record up costs one more read per candidate.
func TestCompositeScans(t *testing.T) {
	g := seededGraph(t)
	if _, err := g.Stats(); err != nil {
		t.Fatal(err)
	}
	some := uuid.Max
	subject := storage.FactQuery{Subject: some}
	whole := g.FactScan(storage.FactQuery{})
	one := g.FactScan(subject)
	for _, tt := range []struct {
		name string
		q    storage.FactQuery
		want int
	}{
		{"a subject", subject, one},
		{"or of two subjects", storage.FactQuery{Or: []storage.FactQuery{subject, {Object: some}}}, 2 * one},
		{"or with a clause that narrows nothing", storage.FactQuery{Or: []storage.FactQuery{subject, {Tier: storage.TierSponsor}}}, whole},
		{"not a subject", storage.FactQuery{Not: &subject}, whole},
		{"and with a subject", storage.FactQuery{Tier: storage.TierSponsor, And: []storage.FactQuery{{Negated: ptr(true)}, subject}}, one},
		{"a subject and a nested country", storage.FactQuery{Subject: some, Not: &storage.FactQuery{SubjectCountry: "CN"}}, one + one/2},
		{"ordered by object name", storage.FactQuery{Subject: some, Sort: []storage.FactSort{{Key: storage.FactsByObjectName}}}, one + one/2},
	} {
		if got := g.FactScan(tt.q); got != tt.want {
			t.Errorf("FactScan(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
	if whole <= 2*one {
		t.Fatalf("the seed's %d-record scan is no larger than two subjects' %d: the cases above prove nothing", whole, 2*one)
	}
	kinds := storage.EntityQuery{Kinds: []storage.Kind{storage.KindEvent}}
	allEntities := g.EntityScan(storage.EntityQuery{})
	events := g.EntityScan(kinds)
	for _, tt := range []struct {
		name string
		q    storage.EntityQuery
		want int
	}{
		{"not events", storage.EntityQuery{Not: &kinds}, allEntities},
		{"events or persons", storage.EntityQuery{Or: []storage.EntityQuery{kinds, {Kinds: []storage.Kind{storage.KindPerson}}}}, events + g.EntityScan(storage.EntityQuery{Kinds: []storage.Kind{storage.KindPerson}})},
		{"events, not of a series", storage.EntityQuery{Kinds: kinds.Kinds, Not: &storage.EntityQuery{Series: some}}, 2 * events},
	} {
		if got := g.EntityScan(tt.q); got != tt.want {
			t.Errorf("EntityScan(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
}
