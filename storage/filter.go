package storage

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"policygraph/errs"
)

// Filters an analyst composes. A FactQuery (EntityQuery) holds the filter
// fields of one clause, and its And, Or and Not compose clauses into a tree:
// {or: [{subjectCountry: "US"}, {tier: STRATEGIC_PARTNER}]}. The tree is
// evaluated here, below the GraphQL layer, in three steps:
//
//   - the candidates are read from one index (narrowFacts, narrowEntities):
//     the one the clause's own fields name (factIndexOf, entityIndexOf), else
//     one of an And clause's (every answer passes it), else the union of the
//     Or clauses' when each of them names one; a Not never narrows, so a
//     filter made only of a Not reads every fact (or entity);
//   - each candidate is checked against every field and clause (factEval,
//     entityMatch), the lookups it needs (a subject's country or kind, a
//     series' editions) remembered for the rest of the list;
//   - the answer is ordered by the keys asked for (sortFacts, sortEntities).
//
// The cost model of the GraphQL layer prices the same steps from the graph's
// counts (estimate.go): the index picked, and one more read per candidate for
// each clause that looks another record up.

// The bounds of one composed filter, checked (Check) before any of it is read.
const (
	// MaxFilterDepth bounds how deeply and, or and not nest: in
	// {or: [{not: {tier: SPONSOR}}]} the not is 2 deep.
	MaxFilterDepth = 5
	// MaxFilterClauses bounds the clauses of one filter, the outermost one
	// included: {or: [{...}, {...}]} has 3.
	MaxFilterClauses = 64
)

// CheckClause refuses the n-th clause of a composed filter, found at path
// (e.g. "filter.or[1]") depth levels of and/or/not down, when it is past
// MaxFilterClauses or nested deeper than MaxFilterDepth. A decoder calls it as
// it reaches each clause, before it reads anything the clause names; Check
// calls it for each clause of a query.
func CheckClause(path string, depth, n int) error {
	if n > MaxFilterClauses {
		return errs.Errorf(errs.InvalidArgument, path, "%s: a filter holds at most %d clauses (and, or and not included): split the question, or ask for less at once", path, MaxFilterClauses)
	}
	if depth > MaxFilterDepth {
		return errs.Errorf(errs.InvalidArgument, path, "%s: and, or and not nest at most %d levels deep", path, MaxFilterDepth)
	}
	return nil
}

// Check refuses a fact filter composed beyond the bounds (CheckClause), with
// a clause other than the outermost setting IncludeRetracted or
// IncludeNegated (the outermost query's scope decides which facts are listed
// at all), or with an unknown sort key. field names the filter in errors, e.g. "filter". FindFacts,
// FilterFacts, CountFacts and TimeSeries check their queries.
func (q *FactQuery) Check(field string) error {
	n := 0
	var walk func(c *FactQuery, path string, depth int) error
	walk = func(c *FactQuery, path string, depth int) error {
		n++
		if err := CheckClause(path, depth, n); err != nil {
			return err
		}
		if depth > 0 && c.IncludeRetracted {
			return ErrNestedScope(path + ".includeRetracted")
		}
		if depth > 0 && c.IncludeNegated {
			return ErrNestedScope(path + ".includeNegated")
		}
		return walkClauses(path, c.And, c.Or, c.Not, func(c *FactQuery, path string) error { return walk(c, path, depth+1) })
	}
	if err := walk(q, field, 0); err != nil {
		return err
	}
	return checkFactSort(q.Sort)
}

// ErrNestedScope is the error of a clause other than the outermost that sets
// a field of the list's scope (includeRetracted, includeNegated), path naming
// the field.
func ErrNestedScope(path string) error {
	field := path[strings.LastIndexByte(path, '.')+1:]
	return errs.Errorf(errs.InvalidArgument, path, "%s: set %s on the outermost filter: it decides which facts are listed at all, not which pass a clause (a clause's negated: true asks for negated facts)", path, field)
}

// Check refuses an entity filter composed beyond the bounds (CheckClause) or
// with an unknown sort key; field names the filter in errors. Entities and
// FilterEntities check their queries.
func (q *EntityQuery) Check(field string) error {
	n := 0
	var walk func(c *EntityQuery, path string, depth int) error
	walk = func(c *EntityQuery, path string, depth int) error {
		n++
		if err := CheckClause(path, depth, n); err != nil {
			return err
		}
		return walkClauses(path, c.And, c.Or, c.Not, func(c *EntityQuery, path string) error { return walk(c, path, depth+1) })
	}
	if err := walk(q, field, 0); err != nil {
		return err
	}
	for _, o := range q.Sort {
		if !slices.Contains(EntitySortKeys, o.Key) {
			return errs.Errorf(errs.InvalidArgument, "sort", "sort: unknown key %q", o.Key)
		}
	}
	return nil
}

// walkClauses calls fn for each clause of and, or and not, with its path.
func walkClauses[Q any](path string, and, or []Q, not *Q, fn func(c *Q, path string) error) error {
	for i := range and {
		if err := fn(&and[i], fmt.Sprintf("%s.and[%d]", path, i)); err != nil {
			return err
		}
	}
	for i := range or {
		if err := fn(&or[i], fmt.Sprintf("%s.or[%d]", path, i)); err != nil {
			return err
		}
	}
	if not != nil {
		return fn(not, path+".not")
	}
	return nil
}

// clausesMatch reports whether an item passes every clause of and, one of or
// (when or is not empty) and not not, match deciding each clause.
func clausesMatch[Q any](and, or []Q, not *Q, match func(*Q) (bool, error)) (bool, error) {
	for i := range and {
		if ok, err := match(&and[i]); err != nil || !ok {
			return false, err
		}
	}
	if len(or) > 0 {
		any := false
		for i := range or {
			ok, err := match(&or[i])
			if err != nil {
				return false, err
			}
			if ok {
				any = true
				break
			}
		}
		if !any {
			return false, nil
		}
	}
	if not != nil {
		ok, err := match(not)
		return !ok && err == nil, err
	}
	return true, nil
}

// NamesNegated reports whether q or any of its clauses sets Negated: whether
// the filter says anything about negated facts. A list whose default leaves
// negated facts out (factCounts, the connections beside typed lists) lists
// them when it does, so that {or: [{negated: true}, ...]} can find them.
func (q *FactQuery) NamesNegated() bool {
	if q.Negated != nil {
		return true
	}
	names := false
	_ = walkClauses("", q.And, q.Or, q.Not, func(c *FactQuery, _ string) error {
		names = names || c.NamesNegated()
		return nil
	})
	return names
}

// factIndex names the index a fact clause's candidates are read from.
type factIndex int

const (
	noFactIndex factIndex = iota
	factsBySubject
	factsByObject
	factsBySeries
	factsBySubjectCountry
	factsByPredicate
	factsByKinds
)

// factScope is which facts a query lists at all, as its outermost filter
// decides: negated ones when it keeps them (FactQuery.Keeps), retracted ones
// with IncludeRetracted.
type factScope struct{ negated, retracted bool }

func scopeOf(q *FactQuery) factScope {
	return factScope{negated: q.Keeps(true), retracted: q.ScansRetracted()}
}

// factIndexOf picks the index q's own fields name, the most selective first;
// noFactIndex when they name none. scope is the outermost query's: the
// predicate index holds active facts only, so it answers only a clause that
// can pass positive facts only, in a scope without retracted ones.
func factIndexOf(q *FactQuery, scope factScope) factIndex {
	switch {
	case q.Subject != uuid.Nil:
		return factsBySubject
	case q.Object != uuid.Nil:
		return factsByObject
	case q.Series != uuid.Nil:
		return factsBySeries
	case q.SubjectCountry != "":
		return factsBySubjectCountry
	case len(q.Predicates) > 0 && !scope.retracted && (!scope.negated || q.Negated != nil && !*q.Negated):
		return factsByPredicate
	case len(q.ObjectKinds) > 0 || len(q.SubjectKinds) > 0:
		return factsByKinds
	}
	return noFactIndex
}

// entityIndex names the index an entity clause's candidates are read from.
type entityIndex int

const (
	noEntityIndex entityIndex = iota
	entitiesBySponsoredEvent
	entitiesBySeries // Series or SponsoredSeries
	entitiesByProduct
	entitiesByCountry
	entitiesByAuthority // SanctionedBy or ControlledBy
	entitiesByEventYear
	entitiesByKinds
)

// entityIndexOf picks the index q's own fields name; noEntityIndex when they
// name none.
//
// count, when it knows (ok), is how many entities of a kind the graph holds:
// with it, the measures of any authority pick a series' sponsors when they
// are fewer than the sponsors are taken to be (the article's sanctioned
// sponsors of WAIC: 2 sanctions' targets, not 22 sponsors each checked for
// sanctions).
func entityIndexOf(q *EntityQuery, count func(Kind) (n int, ok bool)) entityIndex {
	switch {
	case q.SponsoredEvent != uuid.Nil:
		return entitiesBySponsoredEvent
	case q.Series != uuid.Nil || q.SponsoredSeries != uuid.Nil:
		if q.Series == uuid.Nil && fewMeasures(q, count) {
			return entitiesByAuthority
		}
		return entitiesBySeries
	case q.Product != uuid.Nil:
		return entitiesByProduct
	case q.Country != "":
		return entitiesByCountry
	case q.SanctionedBy != uuid.Nil || q.ControlledBy != uuid.Nil:
		return entitiesByAuthority
	case len(q.Kinds) == 1 && q.Kinds[0] == KindEvent && q.YearFrom != nil && *q.YearFrom > 0:
		return entitiesByEventYear
	case len(q.Kinds) > 0:
		return entitiesByKinds
	}
	return noEntityIndex
}

// fewMeasures reports whether q asks for the targets of any authority's
// measures, and count says those measures' targets are fewer than a
// series' sponsors are taken to be.
func fewMeasures(q *EntityQuery, count func(Kind) (int, bool)) bool {
	if count == nil {
		return false
	}
	kind := KindSanction
	switch {
	case q.SanctionedBy == AnyAuthority:
	case q.SanctionedBy == uuid.Nil && q.ControlledBy == AnyAuthority:
		kind = KindExportControl
	default:
		return false
	}
	n, ok := count(kind)
	return ok && n*(1+targetsEstimate) < editionsEstimate*adjacencyEstimate
}

// kindCount is s's count of entities of a kind, when s keeps one (a
// KindCounter); nil otherwise.
func kindCount(s Snapshot) func(Kind) (int, bool) {
	kc, ok := capability[KindCounter](s)
	if !ok {
		return nil
	}
	return func(k Kind) (int, bool) { return kc.KindCount(k), true }
}

// factEval checks facts against composed fact filters over one snapshot,
// remembering the lookups it makes (subjects' countries, nodes' kinds,
// series' editions) for the rest of the list.
type factEval struct {
	s Snapshot
	// excludeInferred is the outermost query's ExcludeInferred: a country
	// matched in any clause then rests on a stated COUNTRY fact.
	excludeInferred bool
	countries       map[countryOf]bool
	kinds           map[uuid.UUID]Kind
	editions        map[uuid.UUID][]uuid.UUID
}

type countryOf struct {
	node   uuid.UUID
	code   string
	stated bool // only a COUNTRY fact that is not inferred counts
}

func newFactEval(s Snapshot) *factEval {
	return &factEval{s: s, countries: map[countryOf]bool{}, kinds: map[uuid.UUID]Kind{}, editions: map[uuid.UUID][]uuid.UUID{}}
}

// keep returns the facts of list that pass q, in their order.
func (e *factEval) keep(list []*Fact, q *FactQuery) ([]*Fact, error) {
	out := make([]*Fact, 0, len(list))
	for _, f := range list {
		ok, err := e.match(f, q)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// match reports whether f passes q's fields and clauses (q's IncludeRetracted
// aside: the scope is the caller's).
func (e *factEval) match(f *Fact, q *FactQuery) (bool, error) {
	if len(q.Predicates) > 0 && !predIn(f.Predicate, q.Predicates) ||
		q.Subject != uuid.Nil && f.Subject != q.Subject ||
		q.Object != uuid.Nil && f.Object != q.Object ||
		q.Tier != "" && f.Tier != q.Tier ||
		q.Negated != nil && f.Negated != *q.Negated ||
		q.Disputed != nil && f.Disputed() != *q.Disputed ||
		q.YearFrom != nil && f.Year < *q.YearFrom || q.YearTo != nil && f.Year > *q.YearTo {
		return false, nil
	}
	if q.SubjectCountry != "" {
		k := countryOf{f.Subject, q.SubjectCountry, q.ExcludeInferred || e.excludeInferred}
		ok, seen := e.countries[k]
		if !seen {
			var err error
			if ok, err = hasCountry(e.s, f.Subject, q.SubjectCountry, k.stated); err != nil {
				return false, err
			}
			e.countries[k] = ok
		}
		if !ok {
			return false, nil
		}
	}
	if q.Series != uuid.Nil {
		eds, seen := e.editions[q.Series]
		if !seen {
			var err error
			if eds, err = otherEndsTx(e.s, q.Series, In, PredEditionOf); err != nil {
				return false, err
			}
			e.editions[q.Series] = eds
		}
		if !contains(eds, f.Subject) && (f.Object == uuid.Nil || !contains(eds, f.Object)) {
			return false, nil
		}
	}
	if len(q.SubjectKinds) > 0 {
		k, err := e.kind(f.Subject)
		if err != nil || !kindIn(k, q.SubjectKinds) {
			return false, err
		}
	}
	if len(q.ObjectKinds) > 0 {
		if f.Object == uuid.Nil {
			return false, nil
		}
		k, err := e.kind(f.Object)
		if err != nil || !kindIn(k, q.ObjectKinds) {
			return false, err
		}
	}
	return clausesMatch(q.And, q.Or, q.Not, func(c *FactQuery) (bool, error) { return e.match(f, c) })
}

// kind is the kind of the node with the ID.
func (e *factEval) kind(id uuid.UUID) (Kind, error) {
	if k, ok := e.kinds[id]; ok {
		return k, nil
	}
	n, err := e.s.Node(id)
	if err != nil {
		return "", err
	}
	e.kinds[id] = n.Kind
	return n.Kind, nil
}

// FilterFacts keeps the facts of list that q lists (its scope: negated facts
// only when it keeps them, retracted ones only with IncludeRetracted; and its
// fields and clauses), ordered by q.Sort (by year, then subject name, when
// empty): the filters and orders of the connections beside typed lists.
// Returns an *errs.Error INVALID_ARGUMENT for a query Check refuses.
func (g *Graph) FilterFacts(list []*Fact, q FactQuery) ([]*Fact, error) {
	out, err := g.FilterFactLists([]FactList{{Facts: list, Query: q}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// FactList is a list of facts already read, with the query that filters and
// orders it (see FilterFacts).
type FactList struct {
	Facts []*Fact
	Query FactQuery
}

// FilterFactLists is FilterFacts for many lists, in one snapshot: the batch
// behind the connections of the entities of one level of a query.
func (g *Graph) FilterFactLists(lists []FactList) ([][]*Fact, error) {
	for i := range lists {
		if err := lists[i].Query.Check("filter"); err != nil {
			return nil, err
		}
	}
	out := make([][]*Fact, len(lists))
	err := g.view(func(s Snapshot) error {
		ev := newFactEval(s)
		for i, l := range lists {
			ev.excludeInferred = l.Query.ExcludeInferred
			inScope := make([]*Fact, 0, len(l.Facts))
			for _, f := range l.Facts {
				if l.Query.KeepsRecord(f) && l.Query.Keeps(f.Negated) {
					inScope = append(inScope, f)
				}
			}
			kept, err := ev.keep(inScope, &l.Query)
			if err != nil {
				return err
			}
			if err := sortFacts(s, kept, l.Query.Sort); err != nil {
				return err
			}
			out[i] = kept
		}
		return nil
	})
	return out, err
}

// FilterEntities keeps the entities of ids that exist, are not retracted and
// pass q, ordered as Entities orders them (by q.Sort, else by year when
// q.ByYear, else by name). Returns an *errs.Error INVALID_ARGUMENT for a query
// Check refuses.
func (g *Graph) FilterEntities(ids []uuid.UUID, q EntityQuery) ([]uuid.UUID, error) {
	out, err := g.FilterEntityLists([]EntityList{{IDs: ids, Query: q}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EntityList is a list of entity IDs with the query that filters and orders
// it (see FilterEntities).
type EntityList struct {
	IDs   []uuid.UUID
	Query EntityQuery
}

// FilterEntityLists is FilterEntities for many lists, in one snapshot.
func (g *Graph) FilterEntityLists(lists []EntityList) ([][]uuid.UUID, error) {
	for i := range lists {
		if err := lists[i].Query.Check("filter"); err != nil {
			return nil, err
		}
	}
	out := make([][]uuid.UUID, len(lists))
	err := g.view(func(s Snapshot) error {
		for i, l := range lists {
			var kept []*Node
			for _, id := range Dedup(slices.Clone(l.IDs)) {
				n, err := s.Node(id)
				if errs.CodeOf(err) == errs.NotFound {
					continue
				}
				if err != nil {
					return err
				}
				ok, err := matches(s, n, l.Query)
				if err != nil {
					return err
				}
				if ok {
					kept = append(kept, n)
				}
			}
			out[i] = sortEntities(kept, l.Query.order())
		}
		return nil
	})
	return out, err
}

// FactSortKey is what a list of facts can be ordered by.
type FactSortKey string

// The keys facts can be ordered by.
const (
	// FactsByYear: the fact's year; unknown years count as 0.
	FactsByYear FactSortKey = "YEAR"
	// FactsBySubjectName: the subject's folded English name.
	FactsBySubjectName FactSortKey = "SUBJECT_NAME"
	// FactsByObjectName: the object's folded English name; literal facts last.
	FactsByObjectName FactSortKey = "OBJECT_NAME"
	// FactsByPredicate: the predicate, in schema order.
	FactsByPredicate FactSortKey = "PREDICATE"
	// FactsByTier: the tier, highest first; facts without one last.
	FactsByTier FactSortKey = "TIER"
	// FactsByCreatedAt: when the fact was written.
	FactsByCreatedAt FactSortKey = "CREATED_AT"
)

// FactSortKeys lists every FactSortKey.
var FactSortKeys = []FactSortKey{FactsByYear, FactsBySubjectName, FactsByObjectName, FactsByPredicate, FactsByTier, FactsByCreatedAt}

// FactSort is one key of an ordering of facts: the key, and whether it is
// reversed. Ties on every key given fall back to year, then subject name,
// then fact ID.
type FactSort struct {
	Key  FactSortKey
	Desc bool
}

// defaultFactOrder is the order of every list of facts when none is asked for.
var defaultFactOrder = []FactSort{{Key: FactsByYear}, {Key: FactsBySubjectName}}

func checkFactSort(by []FactSort) error {
	for _, o := range by {
		if !slices.Contains(FactSortKeys, o.Key) {
			return errs.Errorf(errs.InvalidArgument, "sort", "sort: unknown key %q", o.Key)
		}
	}
	return nil
}

// sortFacts orders facts by the keys of by, then year, then subject name,
// then ID; a key given twice counts once, where it comes first.
func sortFacts(s Snapshot, facts []*Fact, by []FactSort) error {
	keys := orderKeys(by, defaultFactOrder, func(o FactSort) FactSortKey { return o.Key })
	names := map[uuid.UUID]string{}
	for _, o := range keys {
		if o.Key != FactsBySubjectName && o.Key != FactsByObjectName {
			continue
		}
		for _, f := range facts {
			id := f.Subject
			if o.Key == FactsByObjectName {
				id = f.Object
			}
			if _, ok := names[id]; ok || id == uuid.Nil {
				continue
			}
			n, err := s.Node(id)
			if err != nil {
				return err
			}
			names[id] = Fold(n.Name)
		}
	}
	sort.SliceStable(facts, func(i, j int) bool {
		a, b := facts[i], facts[j]
		for _, o := range keys {
			if c := compareFacts(o.Key, a, b, names); c != 0 {
				return (c < 0) != o.Desc
			}
		}
		return bytes.Compare(a.ID[:], b.ID[:]) < 0
	})
	return nil
}

// compareFacts compares a and b by one key; names holds the folded names of
// the subjects and objects the key reads.
func compareFacts(k FactSortKey, a, b *Fact, names map[uuid.UUID]string) int {
	switch k {
	case FactsByYear:
		return cmp.Compare(a.Year, b.Year)
	case FactsBySubjectName:
		return cmp.Compare(names[a.Subject], names[b.Subject])
	case FactsByObjectName:
		return nullsLast(names[a.Object], names[b.Object], "", cmp.Compare[string])
	case FactsByPredicate:
		return byRank(predicateOrder)(a.Predicate, b.Predicate)
	case FactsByTier:
		return nullsLast(a.Tier, b.Tier, "", byRank(tierOrder))
	case FactsByCreatedAt:
		return a.CreatedAt.Compare(b.CreatedAt)
	}
	return 0
}

// EntitySortKey is what a list of entities can be ordered by.
type EntitySortKey string

// The keys entities can be ordered by.
const (
	// EntitiesByName: the folded English name.
	EntitiesByName EntitySortKey = "NAME"
	// EntitiesByYear: an event's year; other kinds count as year 0.
	EntitiesByYear EntitySortKey = "YEAR"
	// EntitiesByKind: the kind, in schema order.
	EntitiesByKind EntitySortKey = "KIND"
	// EntitiesByCreatedAt: when the entity was written.
	EntitiesByCreatedAt EntitySortKey = "CREATED_AT"
)

// EntitySortKeys lists every EntitySortKey.
var EntitySortKeys = []EntitySortKey{EntitiesByName, EntitiesByYear, EntitiesByKind, EntitiesByCreatedAt}

// EntitySort is one key of an ordering of entities: the key, and whether it
// is reversed. Ties on every key given fall back to name, then ID.
type EntitySort struct {
	Key  EntitySortKey
	Desc bool
}

// order is the ordering q asks for: Sort, else by year when ByYear, else by
// name.
func (q *EntityQuery) order() []EntitySort {
	if len(q.Sort) > 0 {
		return q.Sort
	}
	if q.ByYear {
		return []EntitySort{{Key: EntitiesByYear}}
	}
	return nil
}

// sortEntities orders nodes by the keys of by, then name, then ID, and
// returns their IDs.
func sortEntities(nodes []*Node, by []EntitySort) []uuid.UUID {
	keys := orderKeys(by, []EntitySort{{Key: EntitiesByName}}, func(o EntitySort) EntitySortKey { return o.Key })
	names := make(map[uuid.UUID]string, len(nodes))
	for _, n := range nodes {
		names[n.ID] = Fold(n.Name)
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		for _, o := range keys {
			var c int
			switch o.Key {
			case EntitiesByName:
				c = cmp.Compare(names[a.ID], names[b.ID])
			case EntitiesByYear:
				c = cmp.Compare(a.Year, b.Year)
			case EntitiesByKind:
				c = byRank(Kinds)(a.Kind, b.Kind)
			case EntitiesByCreatedAt:
				c = a.CreatedAt.Compare(b.CreatedAt)
			}
			if c != 0 {
				return (c < 0) != o.Desc
			}
		}
		return bytes.Compare(a.ID[:], b.ID[:]) < 0
	})
	ids := make([]uuid.UUID, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	return ids
}

// orderKeys is by followed by the default keys, each key once, where it
// first comes.
func orderKeys[O any, K comparable](by, def []O, key func(O) K) []O {
	out := make([]O, 0, len(by)+len(def))
	seen := map[K]bool{}
	for _, o := range append(slices.Clone(by), def...) {
		if k := key(o); !seen[k] {
			seen[k] = true
			out = append(out, o)
		}
	}
	return out
}
