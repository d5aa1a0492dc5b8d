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
// answer q: the candidate facts from the index q starts from, and as many
// entities again (subjects for the order, or for the kinds and countries
// filtered by). Only which fields of q are set matters, not their values
// (but for the subject country). Returns 0 when the store cannot be counted.
func (g *Graph) FactScan(q FactQuery) int {
	s := g.sizesOrZero()
	var n int
	switch {
	case q.Subject != uuid.Nil || q.Object != uuid.Nil:
		n = adjacencyEstimate
	case q.Series != uuid.Nil:
		n = 2 * editionsEstimate * adjacencyEstimate
	case q.SubjectCountry != "":
		n = s.CountryHolders[q.SubjectCountry] * s.degree()
	case len(q.Predicates) > 0 && !q.ScansRetracted() && q.PositiveOnly():
		for _, p := range q.Predicates {
			n += s.ActiveByPredicate[p]
		}
	case len(q.ObjectKinds) > 0:
		n = s.kinds(q.ObjectKinds) * s.degree()
	case len(q.SubjectKinds) > 0:
		n = s.kinds(q.SubjectKinds) * s.degree()
	default:
		n = s.Facts
	}
	return 2 * min(n, s.Facts+adjacencyEstimate)
}

// EntityScan estimates the records Entities reads to answer q: the candidates
// from the index q starts from, twice when each candidate is checked against
// other entities or facts (a country, a sponsorship, a sanction).
func (g *Graph) EntityScan(q EntityQuery) int {
	s := g.sizesOrZero()
	var n int
	switch {
	case q.SponsoredEvent != uuid.Nil, q.Product != uuid.Nil:
		n = adjacencyEstimate
	case q.SponsoredSeries != uuid.Nil:
		n = editionsEstimate * adjacencyEstimate
	case q.Series != uuid.Nil:
		n = editionsEstimate
	case q.Country != "":
		n = s.CountryHolders[q.Country] + s.ByKind[KindPlace]
	case q.SanctionedBy == AnyAuthority:
		n = s.ByKind[KindSanction] * (1 + targetsEstimate)
	case q.ControlledBy == AnyAuthority:
		n = s.ByKind[KindExportControl] * (1 + targetsEstimate)
	case q.SanctionedBy != uuid.Nil || q.ControlledBy != uuid.Nil:
		n = adjacencyEstimate * targetsEstimate
	case len(q.Kinds) == 1 && q.Kinds[0] == KindEvent:
		n = s.ByKind[KindEvent]
	default:
		n = s.kinds(q.Kinds)
	}
	if q.Country != "" || q.SponsoredSeries != uuid.Nil || q.SponsoredEvent != uuid.Nil ||
		q.SanctionedBy != uuid.Nil || q.ControlledBy != uuid.Nil {
		n *= 2
	}
	return min(n, 2*s.Nodes+adjacencyEstimate)
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
