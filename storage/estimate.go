package storage

import "github.com/google/uuid"

// Estimates of how many records (entities and facts) a list query reads, from
// the counts the graph keeps (counts.go), for the cost model of the GraphQL
// layer. Each follows the index its query starts from (query.go), so that a
// question whose cost follows its answer is priced by its answer, and one that
// scans the graph by the graph's size. Where the counts cannot say (how many
// facts one entity has), they take a generous constant.

// Constants of the estimates.
const (
	// adjacencyEstimate is how many facts one entity's adjacency is taken to hold.
	adjacencyEstimate = 50
	// editionsEstimate is how many editions an event series is taken to have.
	editionsEstimate = 10
	// targetsEstimate is how many entities a sanction or export control is taken to touch.
	targetsEstimate = 10
)

// sizesOrZero is Sizes, or zero sizes when the store cannot be counted (the
// query then runs, and reports the store's error).
func (g *Graph) sizesOrZero() Sizes {
	s, err := g.Sizes()
	if err != nil {
		return Sizes{}
	}
	return s
}

// degree is the average number of facts at one entity (a fact has two ends).
func (s Sizes) degree() int {
	return max(1, 2*s.Facts/max(s.Nodes, 1))
}

// kindCount is entityIndexOf's count: what s counts of kind k, when s
// counts anything (an empty Sizes, the graph's unknown, knows nothing).
func (s Sizes) kindCount(k Kind) (int, bool) {
	if s.ByKind == nil {
		return 0, false
	}
	return s.ByKind[k], true
}

func (s Sizes) kinds(ks []Kind) int {
	if len(ks) == 0 {
		return s.Nodes
	}
	n := 0
	for _, k := range ks {
		n += s.ByKind[k]
	}
	return n
}

// FactScan estimates the records FindFacts, CountFacts and TimeSeries read to
// answer q: the candidate facts from the index q (or one of its clauses)
// starts from, and as many entities again (subjects for the order, or for the
// kinds and countries filtered by), and one more read per candidate for each
// nested clause that looks another record up (and for an order by object
// name). A Not never narrows: a filter made only of one costs the whole graph.
// An Or costs the sum of its clauses, the whole graph when one of them does
// not narrow. Only which fields of q are set matters, not their values (but
// for the subject country and the year range: a predicate scan over known
// years is priced by the facts of those years). Returns 0 when the store cannot be counted.
func (g *Graph) FactScan(q FactQuery) int {
	s := g.sizesOrZero()
	n, ok := s.factCandidates(&q, scopeOf(&q))
	if !ok {
		n = s.Facts
	}
	return (2 + nestedFactLookups(&q) + sortLookups(q.Sort)) * min(n, s.Facts+adjacencyEstimate)
}

// factCandidates estimates the candidates narrowFacts reads for q; ok is
// false when nothing narrows q.
func (s Sizes) factCandidates(q *FactQuery, scope factScope) (n int, ok bool) {
	switch factIndexOf(q, scope) {
	case factsBySubject, factsByObject:
		return adjacencyEstimate, true
	case factsBySeries:
		return 2 * editionsEstimate * adjacencyEstimate, true
	case factsBySubjectCountry:
		return s.CountryHolders[q.SubjectCountry] * s.degree(), true
	case factsByPredicate:
		// A range of known years is read from the year index (query.go's
		// indexedYears): the facts of those years; otherwise the predicate's.
		from, to := indexedYears(q.YearFrom, q.YearTo)
		for _, p := range q.Predicates {
			if from == nil {
				n += s.ActiveByPredicate[p]
				continue
			}
			for y, c := range s.ActiveByYear[p] {
				if y >= *from && (to == nil || y <= *to) {
					n += c
				}
			}
		}
		return n, true
	case factsByKinds:
		kinds := q.ObjectKinds
		if len(kinds) == 0 {
			kinds = q.SubjectKinds
		}
		return s.kinds(kinds) * s.degree(), true
	}
	for i := range q.And {
		if n, ok := s.factCandidates(&q.And[i], scope); ok {
			return n, true
		}
	}
	if len(q.Or) == 0 {
		return 0, false
	}
	for i := range q.Or {
		m, ok := s.factCandidates(&q.Or[i], scope)
		if !ok {
			return 0, false
		}
		n += m
	}
	return n, true
}

// factLookups counts the fields of one clause that read another record for
// each fact checked: a subject's country, a subject's or object's kind.
func factLookups(q *FactQuery) int {
	n := 0
	if q.SubjectCountry != "" {
		n++
	}
	if len(q.SubjectKinds) > 0 {
		n++
	}
	if len(q.ObjectKinds) > 0 {
		n++
	}
	return n
}

// nestedFactLookups is factLookups summed over the clauses under q.
func nestedFactLookups(q *FactQuery) int {
	n := 0
	_ = walkClauses("", q.And, q.Or, q.Not, func(c *FactQuery, _ string) error {
		n += factLookups(c) + nestedFactLookups(c)
		return nil
	})
	return n
}

// sortLookups counts the reads per fact an order needs beyond the subjects':
// one for the objects' names.
func sortLookups(by []FactSort) int {
	for _, o := range by {
		if o.Key == FactsByObjectName {
			return 1
		}
	}
	return 0
}

// FactListScan estimates the records FilterFacts reads to filter and order
// one entity's list of facts (a connection beside a typed list): the
// entity's facts, as many as it has on average, their subjects' names, and
// FactFilterScan. Returns 0 when the store cannot be counted.
func (g *Graph) FactListScan(q FactQuery) int {
	s := g.sizesOrZero()
	if s.Nodes == 0 {
		return 0
	}
	return 2*s.degree() + FactFilterScan(s.degree(), q)
}

// FactFilterScan estimates the records q reads beyond a list of n facts it
// filters and orders, subjects' names aside: one read per fact for each clause,
// the outermost included, that looks another record up, and for an order by
// object name.
func FactFilterScan(n int, q FactQuery) int {
	return n * (factLookups(&q) + nestedFactLookups(&q) + sortLookups(q.Sort))
}

// EntityScan estimates the records Entities reads to answer q: the candidates
// from the index q (or one of its clauses) starts from, twice when each
// candidate is checked against other entities or facts (a country, a
// sponsorship, a sanction), and once more for each nested clause that does
// so. A Not never narrows; an Or costs the sum of its clauses.
func (g *Graph) EntityScan(q EntityQuery) int {
	s := g.sizesOrZero()
	n, ok := s.entityCandidates(&q)
	if !ok {
		n = s.Nodes
	}
	if q.Country != "" || q.SponsoredSeries != uuid.Nil || q.SponsoredEvent != uuid.Nil ||
		q.SanctionedBy != uuid.Nil || q.ControlledBy != uuid.Nil {
		n *= 2
	}
	nested := nestedEntityLookups(&q)
	return min(n, 2*s.Nodes+adjacencyEstimate) * (1 + nested)
}

// entityCandidates estimates the candidates narrowEntities reads for q; ok
// is false when nothing narrows q.
func (s Sizes) entityCandidates(q *EntityQuery) (n int, ok bool) {
	switch entityIndexOf(q, s.kindCount) {
	case entitiesBySponsoredEvent, entitiesByProduct:
		return adjacencyEstimate, true
	case entitiesBySeries:
		if q.SponsoredSeries != uuid.Nil {
			return editionsEstimate * adjacencyEstimate, true
		}
		return editionsEstimate, true
	case entitiesByCountry:
		return s.CountryHolders[q.Country] + s.ByKind[KindPlace], true
	case entitiesByAuthority:
		switch {
		case q.SanctionedBy == AnyAuthority:
			return s.ByKind[KindSanction] * (1 + targetsEstimate), true
		case q.SanctionedBy == uuid.Nil && q.ControlledBy == AnyAuthority:
			return s.ByKind[KindExportControl] * (1 + targetsEstimate), true
		}
		return adjacencyEstimate * targetsEstimate, true
	case entitiesByEventYear, entitiesByKinds:
		return s.kinds(q.Kinds), true
	}
	for i := range q.And {
		if n, ok := s.entityCandidates(&q.And[i]); ok {
			return n, true
		}
	}
	if len(q.Or) == 0 {
		return 0, false
	}
	for i := range q.Or {
		m, ok := s.entityCandidates(&q.Or[i])
		if !ok {
			return 0, false
		}
		n += m
	}
	return n, true
}

// entityLookups counts the fields of one clause that read other records for
// each entity checked: a country, an edition's series, a sponsorship, a
// sanction or export control, a product covered.
func entityLookups(q *EntityQuery) int {
	n := 0
	for _, set := range []bool{q.Country != "", q.Series != uuid.Nil, q.SponsoredSeries != uuid.Nil || q.SponsoredEvent != uuid.Nil,
		q.SanctionedBy != uuid.Nil, q.ControlledBy != uuid.Nil, q.Product != uuid.Nil} {
		if set {
			n++
		}
	}
	return n
}

// nestedEntityLookups is entityLookups summed over the clauses under q.
func nestedEntityLookups(q *EntityQuery) int {
	n := 0
	_ = walkClauses("", q.And, q.Or, q.Not, func(c *EntityQuery, _ string) error {
		n += entityLookups(c) + nestedEntityLookups(c)
		return nil
	})
	return n
}

// EntityListScan estimates the records FilterEntities reads to filter and
// order one entity's list of related entities (a connection beside a typed
// list): as many as an entity has facts on average, and one more read each
// for each clause, the outermost included, that looks other records up.
// Returns 0 when the store cannot be counted.
func (g *Graph) EntityListScan(q EntityQuery) int {
	s := g.sizesOrZero()
	if s.Nodes == 0 {
		return 0
	}
	return s.degree() * (1 + entityLookups(&q) + nestedEntityLookups(&q))
}

// SponsorshipScan estimates the records Sponsorships reads to answer q: the
// candidate facts and their sponsors.
func (g *Graph) SponsorshipScan(q SponsorshipQuery) int {
	s := g.sizesOrZero()
	var n int
	switch {
	case q.Event != uuid.Nil:
		n = adjacencyEstimate
	case q.Series != uuid.Nil:
		n = editionsEstimate * adjacencyEstimate
	case q.SponsorCountry != "":
		n = s.CountryHolders[q.SponsorCountry] * s.degree()
	default:
		n = s.ActiveByPredicate[PredSponsored]
	}
	return 2 * min(n, s.Facts+adjacencyEstimate)
}

// MaxSourceText is the length in bytes of the longest source text, from the
// counts (0 when the store cannot be counted).
func (g *Graph) MaxSourceText() int { return g.sizesOrZero().MaxSourceText }
