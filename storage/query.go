package storage

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"time"

	"policygraph/errs"

	"github.com/google/uuid"
)

// This file answers the list questions of the API from the indexes: each starts
// from the most selective index it has, so its cost follows the size of the
// answer, not of the graph.

// Ref resolves a reference that is either an ID or a slug to an ID.
// Returns an *errs.Error NOT_FOUND when a slug names nothing.
func (g *Graph) Ref(ref string) (id uuid.UUID, err error) {
	if id, err := uuid.Parse(ref); err == nil {
		return id, nil
	}
	err = g.view(func(s Snapshot) error { id, err = s.SlugID(ref); return err })
	return id, err
}

// SponsorshipQuery selects SPONSORED facts (never negated or retracted ones).
type SponsorshipQuery struct {
	Series, Event  uuid.UUID // zero: any
	SponsorCountry string    // ISO code; empty: any
	Tier           Tier      // empty: any
	YearFrom       *int
	YearTo         *int
	// Filter, when set, narrows the sponsorships further, as a FactQuery's
	// fields and clauses do (its scope aside: sponsorships are never negated
	// or retracted).
	Filter *FactQuery
	// Sort orders the answer (see FactSort); empty: by year, then sponsor name.
	Sort []FactSort
	// ExcludeInferred leaves out the sponsors whose SponsorCountry match
	// rests only on an inferred COUNTRY fact (by default they are kept).
	ExcludeInferred bool
}

// Sponsorships answers q ordered by year, then sponsor name, then fact ID (or
// by q.Sort).
// Candidates are filtered on what the index keys hold (the sponsor, from the
// adjacency value; its country, from the value index) before any fact record is
// read, so only the facts of the answer are decoded.
func (g *Graph) Sponsorships(q SponsorshipQuery) ([]*Fact, error) {
	if err := checkFactSort(q.Sort); err != nil {
		return nil, err
	}
	if q.Filter != nil {
		if err := q.Filter.Check("filter"); err != nil {
			return nil, err
		}
	}
	var facts []*Fact
	err := g.view(func(s Snapshot) error {
		var cands []AdjEntry
		collectIn := func(event uuid.UUID) error {
			more, err := adjacentEntries(s, AdjQuery{Node: event, Dir: In, Predicate: PredSponsored})
			cands = append(cands, more...)
			return err
		}
		switch {
		case q.Event != uuid.Nil:
			if err := collectIn(q.Event); err != nil {
				return err
			}
		case q.Series != uuid.Nil:
			editions, err := adjacentEntries(s, AdjQuery{Node: q.Series, Dir: In, Predicate: PredEditionOf})
			if err != nil {
				return err
			}
			for _, e := range editions {
				if err := collectIn(e.Other); err != nil {
					return err
				}
			}
		case q.SponsorCountry != "":
			subjects, err := countrySubjects(s, q.SponsorCountry, q.ExcludeInferred)
			if err != nil {
				return err
			}
			for _, subj := range subjects {
				more, err := adjacentEntries(s, AdjQuery{Node: subj, Dir: Out, Predicate: PredSponsored})
				if err != nil {
					return err
				}
				for i := range more {
					more[i].Other = subj // the sponsor, for the country filter below
				}
				cands = append(cands, more...)
			}
		default:
			from, to := indexedYears(q.YearFrom, q.YearTo)
			ids, err := factIDsByPredicate(s, PredSponsored, from, to)
			if err != nil {
				return err
			}
			for _, id := range ids {
				cands = append(cands, AdjEntry{Fact: id})
			}
		}
		countries := map[uuid.UUID]bool{}
		if q.SponsorCountry != "" && q.Event == uuid.Nil && q.Series == uuid.Nil {
			// The candidates came from the active COUNTRY value index: every
			// sponsor among them has the country already.
			for _, c := range cands {
				countries[c.Other] = true
			}
		}
		for _, c := range cands {
			if q.SponsorCountry != "" && c.Other != uuid.Nil {
				ok, seen := countries[c.Other]
				if !seen {
					var err error
					if ok, err = hasCountry(s, c.Other, q.SponsorCountry, q.ExcludeInferred); err != nil {
						return err
					}
					countries[c.Other] = ok
				}
				if !ok {
					continue
				}
			}
			f, err := s.Fact(c.Fact)
			if err != nil {
				return err
			}
			if !f.Active() || (q.Tier != "" && f.Tier != q.Tier) ||
				(q.YearFrom != nil && f.Year < *q.YearFrom) || (q.YearTo != nil && f.Year > *q.YearTo) {
				continue
			}
			if q.SponsorCountry != "" && c.Other == uuid.Nil {
				ok, seen := countries[f.Subject]
				if !seen {
					if ok, err = hasCountry(s, f.Subject, q.SponsorCountry, q.ExcludeInferred); err != nil {
						return err
					}
					countries[f.Subject] = ok
				}
				if !ok {
					continue
				}
			}
			facts = append(facts, f)
		}
		if q.Filter != nil {
			var err error
			if facts, err = newFactEval(s).keep(facts, q.Filter); err != nil {
				return err
			}
		}
		return sortFacts(s, facts, q.Sort)
	})
	return facts, err
}

// countrySubjects lists the subjects of active COUNTRY facts = code, without
// duplicates; with excludeInferred, only those with such a fact that is not
// inferred.
func countrySubjects(s Snapshot, code string, excludeInferred bool) ([]uuid.UUID, error) {
	if !excludeInferred {
		return subjectsByValue(s, PredCountry, code)
	}
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	err := s.SubjectsByValue(PredCountry, code, func(id, fact uuid.UUID) error {
		if seen[id] {
			return nil
		}
		f, err := s.Fact(fact)
		if err != nil {
			return err
		}
		if f.Inference == nil {
			seen[id] = true
			ids = append(ids, id)
		}
		return nil
	})
	return ids, err
}

// hasCountry reports whether subject has an active COUNTRY fact = code; with
// excludeInferred, one that is not inferred. Without it, the adjacency
// answers alone; with it, the COUNTRY facts are read.
func hasCountry(s Snapshot, subject uuid.UUID, code string, excludeInferred bool) (bool, error) {
	if !excludeInferred {
		return s.HasValue(subject, PredCountry, code)
	}
	found := false
	err := s.Adjacent(subject, Out, PredCountry, func(e AdjEntry) error {
		if e.State != Active {
			return nil
		}
		f, err := s.Fact(e.Fact)
		if err != nil {
			return err
		}
		if f.Value == code && f.Inference == nil {
			found = true
			return ErrStop
		}
		return nil
	})
	return found, err
}

// CountryInferred reports, for each of subjects, whether its COUNTRY = code
// rests only on inferred facts: it has an active COUNTRY fact = code, and
// none that is not inferred.
func (g *Graph) CountryInferred(subjects []uuid.UUID, code string) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	err := g.view(func(s Snapshot) error {
		for _, id := range subjects {
			any, err := hasCountry(s, id, code, false)
			if err != nil {
				return err
			}
			stated, err := hasCountry(s, id, code, true)
			if err != nil {
				return err
			}
			out[id] = any && !stated
		}
		return nil
	})
	return out, err
}

// subjectsByValue lists the subjects of active literal facts pred = value,
// without duplicates.
func subjectsByValue(s Snapshot, pred Predicate, value string) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	err := s.SubjectsByValue(pred, value, func(id, _ uuid.UUID) error {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return nil
	})
	return ids, err
}

func factIDsByPredicate(s Snapshot, pred Predicate, from, to *int) (ids []uuid.UUID, err error) {
	collect := func(id uuid.UUID) error { ids = append(ids, id); return nil }
	if from == nil && to == nil {
		return ids, s.FactsByPredicate(pred, collect)
	}
	lo, hi := 0, 1<<16-1
	if from != nil {
		lo = max(*from, 0)
	}
	if to != nil {
		hi = *to
	}
	err = s.FactsByYear(pred, lo, hi, collect)
	return ids, err
}

// indexedYears is the year range to ask factIDsByPredicate for the facts of a
// query with the years [from, to]. The year index holds the facts of known year
// only, so a range that takes in year 0 (no from, or from <= 0: a fact of
// unknown year counts as year 0, and yearTo alone keeps it) is read from the
// predicate index whole (nil, nil); the caller filters the years.
func indexedYears(from, to *int) (*int, *int) {
	if from == nil || *from <= 0 {
		return nil, nil
	}
	return from, to
}

// EntityQuery selects entities. Zero fields do not filter.
type EntityQuery struct {
	Kinds           []Kind
	Country         string
	OrgType         string
	Series          uuid.UUID
	YearFrom        *int
	YearTo          *int
	SponsoredSeries uuid.UUID
	SponsoredEvent  uuid.UUID
	Tier            Tier
	// SanctionedBy and ControlledBy name an imposing authority; AnyAuthority matches any.
	SanctionedBy uuid.UUID
	ControlledBy uuid.UUID
	Status       string
	Product      uuid.UUID
	// ByYear orders by year then name; otherwise by name. Sort, when set,
	// replaces it.
	ByYear bool
	Sort   []EntitySort

	// And, Or and Not compose clauses, each an EntityQuery of its own filter
	// fields: an entity passes q when it passes q's fields, every clause of
	// And, at least one of Or (when Or is not empty) and not Not. A clause's
	// ByYear and Sort are ignored. See Check for the bounds.
	And []EntityQuery
	Or  []EntityQuery
	Not *EntityQuery
}

// AnyAuthority in EntityQuery.SanctionedBy or ControlledBy matches any authority.
var AnyAuthority = uuid.Max

// Entities answers q: the IDs of the matching entities, ordered by folded name
// (or year), without retracted ones.
func (g *Graph) Entities(q EntityQuery) ([]uuid.UUID, error) {
	if err := q.Check("filter"); err != nil {
		return nil, err
	}
	var out []*Node
	// A sponsoredSeries clause that picked the candidates (the sponsors of
	// the series' editions, read by the active edges entityMatch reads) is
	// answered by them: it is not checked again for each one.
	err := g.view(func(s Snapshot) error {
		mq := q
		if entityIndexOf(&q, kindCount(s)) == entitiesBySeries && q.Series == uuid.Nil && q.SponsoredEvent == uuid.Nil && q.Tier == "" {
			mq.SponsoredSeries = uuid.Nil
		}
		cands, err := entityCandidates(s, q)
		if err != nil {
			return err
		}
		for _, id := range cands {
			n, err := s.Node(id)
			if errs.CodeOf(err) == errs.NotFound {
				continue
			}
			if err != nil {
				return err
			}
			ok, err := matches(s, n, mq)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sortEntities(out, q.order()), nil
}

// entityCandidates picks the smallest index-backed superset of q's answer:
// the index q's own fields name, else one of an And clause, else the union of
// those of the Or clauses; every node of every kind when none narrows.
func entityCandidates(s Snapshot, q EntityQuery) ([]uuid.UUID, error) {
	ids, narrowed, err := narrowEntities(s, &q)
	if err != nil || narrowed {
		return ids, err
	}
	var out []uuid.UUID
	for _, k := range Kinds {
		ids, err := kindScan(s, k)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// narrowEntities reads the candidates of q from the index entityIndexOf
// picks for it, or from its clauses; narrowed is false when nothing narrows
// q (every entity is a candidate).
func narrowEntities(s Snapshot, q *EntityQuery) (ids []uuid.UUID, narrowed bool, err error) {
	if entityIndexOf(q, kindCount(s)) == noEntityIndex {
		for i := range q.And {
			if ids, narrowed, err = narrowEntities(s, &q.And[i]); err != nil || narrowed {
				return ids, narrowed, err
			}
		}
		if len(q.Or) == 0 {
			return nil, false, nil
		}
		for i := range q.Or {
			more, ok, err := narrowEntities(s, &q.Or[i])
			if err != nil || !ok {
				return nil, false, err
			}
			ids = append(ids, more...)
		}
		return Dedup(ids), true, nil
	}
	ids, err = indexedEntities(s, *q)
	return ids, true, err
}

// indexedEntities reads the candidates of q from the index entityIndexOf
// picks for it.
func indexedEntities(s Snapshot, q EntityQuery) ([]uuid.UUID, error) {
	otherEnds := func(node uuid.UUID, dir Direction, pred Predicate) ([]uuid.UUID, error) {
		return otherEndsTx(s, node, dir, pred)
	}
	switch entityIndexOf(&q, kindCount(s)) {
	case entitiesBySponsoredEvent:
		return otherEnds(q.SponsoredEvent, In, PredSponsored)
	case entitiesBySeries:
		series := q.Series
		if series == uuid.Nil {
			series = q.SponsoredSeries
		}
		editions, err := otherEnds(series, In, PredEditionOf)
		if err != nil || q.SponsoredSeries == uuid.Nil {
			return editions, err
		}
		var out []uuid.UUID
		for _, e := range editions {
			sponsors, err := otherEnds(e, In, PredSponsored)
			if err != nil {
				return nil, err
			}
			out = append(out, sponsors...)
		}
		return Dedup(out), nil
	case entitiesByProduct:
		return otherEnds(q.Product, In, PredCoversProduct)
	case entitiesByCountry:
		ids, err := subjectsByValue(s, PredCountry, q.Country)
		if err != nil {
			return nil, err
		}
		// Countries themselves are places with that code.
		places, err := kindScan(s, KindPlace)
		if err != nil {
			return nil, err
		}
		return append(ids, places...), nil
	case entitiesByAuthority:
		var measures []uuid.UUID
		var err error
		auth, kind := q.SanctionedBy, KindSanction
		if auth == uuid.Nil {
			auth, kind = q.ControlledBy, KindExportControl
		}
		if auth == AnyAuthority {
			measures, err = kindScan(s, kind)
		} else {
			measures, err = otherEnds(auth, In, PredImposedBy)
		}
		if err != nil {
			return nil, err
		}
		var out []uuid.UUID
		for _, m := range measures {
			for _, p := range []Predicate{PredTargets, PredCoversProduct, PredTargetCountry} {
				t, err := otherEnds(m, Out, p)
				if err != nil {
					return nil, err
				}
				out = append(out, t...)
			}
		}
		return Dedup(out), nil
	case entitiesByEventYear:
		// The year index holds events of known year only: entityIndexOf picks
		// it only for a range that leaves year 0 out (an event of unknown year,
		// which yearTo alone keeps, is found by the kind scan).
		hi := 9999
		if q.YearTo != nil {
			hi = *q.YearTo
		}
		var ids []uuid.UUID
		err := s.NodesByYear(KindEvent, *q.YearFrom, hi, func(id uuid.UUID) error { ids = append(ids, id); return nil })
		return ids, err
	}
	var out []uuid.UUID
	for _, k := range q.Kinds {
		ids, err := kindScan(s, k)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}

// kindScan lists the live nodes of a kind, by folded name.
func kindScan(s Snapshot, kind Kind) (ids []uuid.UUID, err error) {
	err = s.NodesByKind(kind, func(id uuid.UUID) error { ids = append(ids, id); return nil })
	return ids, err
}

// otherEndsTx lists the distinct entities at the other end of node's active facts.
func otherEndsTx(s Snapshot, node uuid.UUID, dir Direction, pred Predicate) ([]uuid.UUID, error) {
	entries, err := adjacentEntries(s, AdjQuery{Node: node, Dir: dir, Predicate: pred})
	if err != nil {
		return nil, err
	}
	out := make([]uuid.UUID, 0, len(entries))
	for _, e := range entries {
		if e.Other != uuid.Nil {
			out = append(out, e.Other)
		}
	}
	return Dedup(out), nil
}

// Dedup drops the repeats from ids, in place, keeping each ID's first
// place.
func Dedup(ids []uuid.UUID) []uuid.UUID {
	if len(ids) <= 16 {
		// The usual few: compare each with those kept, without a map.
		out := ids[:0]
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return out
	}
	seen := make(map[uuid.UUID]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// matches reports whether n, not retracted, passes q with its clauses.
func matches(s Snapshot, n *Node, q EntityQuery) (bool, error) {
	if n.Retraction != nil {
		return false, nil
	}
	return entityMatch(s, n, &q)
}

// entityMatch reports whether n passes q's fields and clauses.
func entityMatch(s Snapshot, n *Node, q *EntityQuery) (bool, error) {
	if len(q.Kinds) > 0 && !kindIn(n.Kind, q.Kinds) {
		return false, nil
	}
	if q.OrgType != "" && n.OrgType != q.OrgType {
		return false, nil
	}
	if q.Status != "" && n.Status != q.Status {
		return false, nil
	}
	if (q.YearFrom != nil || q.YearTo != nil) && n.Kind == KindEvent {
		if (q.YearFrom != nil && n.Year < *q.YearFrom) || (q.YearTo != nil && n.Year > *q.YearTo) {
			return false, nil
		}
	}
	if q.Country != "" {
		if n.Kind == KindPlace {
			if n.Code != q.Country {
				return false, nil
			}
		} else if ok, err := s.HasValue(n.ID, PredCountry, q.Country); err != nil || !ok {
			return false, err
		}
	}
	if q.Series != uuid.Nil {
		ends, err := otherEndsTx(s, n.ID, Out, PredEditionOf)
		if err != nil || !contains(ends, q.Series) {
			return false, err
		}
	}
	if q.SponsoredSeries != uuid.Nil || q.SponsoredEvent != uuid.Nil {
		ok, err := sponsoredMatch(s, n.ID, *q)
		if err != nil || !ok {
			return false, err
		}
	}
	if q.SanctionedBy != uuid.Nil {
		ok, err := targetedBy(s, n.ID, KindSanction, q.SanctionedBy)
		if err != nil || !ok {
			return false, err
		}
	}
	if q.ControlledBy != uuid.Nil {
		ok, err := targetedBy(s, n.ID, KindExportControl, q.ControlledBy)
		if err != nil || !ok {
			return false, err
		}
	}
	if q.Product != uuid.Nil {
		if n.Kind != KindExportControl {
			return false, nil
		}
		covered, err := otherEndsTx(s, n.ID, Out, PredCoversProduct)
		if err != nil || !contains(covered, q.Product) {
			return false, err
		}
	}
	return clausesMatch(q.And, q.Or, q.Not, func(c *EntityQuery) (bool, error) { return entityMatch(s, n, c) })
}

func contains(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func sponsoredMatch(s Snapshot, org uuid.UUID, q EntityQuery) (bool, error) {
	entries, err := adjacentEntries(s, AdjQuery{Node: org, Dir: Out, Predicate: PredSponsored})
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		// The adjacency holds the event (the fact's object): the fact itself
		// is read only for its tier.
		event := e.Other
		if q.Tier != "" {
			f, err := s.Fact(e.Fact)
			if err != nil {
				return false, err
			}
			if f.Tier != q.Tier {
				continue
			}
			event = f.Object
		}
		if q.SponsoredEvent != uuid.Nil && event == q.SponsoredEvent {
			return true, nil
		}
		if q.SponsoredSeries != uuid.Nil {
			series, err := otherEndsTx(s, event, Out, PredEditionOf)
			if err != nil {
				return false, err
			}
			if contains(series, q.SponsoredSeries) {
				return true, nil
			}
		}
	}
	return false, nil
}

// targetedBy reports whether a measure of the kind (imposed by auth, or any when
// auth is AnyAuthority) targets, covers or restricts the entity.
func targetedBy(s Snapshot, id uuid.UUID, kind Kind, auth uuid.UUID) (bool, error) {
	// One callback and one buffer for the three predicates: this runs for
	// every candidate of a sanctionedBy filter, most of which no measure
	// targets.
	var measures []uuid.UUID
	collect := func(e AdjEntry) error {
		if e.State == Active && e.Other != uuid.Nil && !slices.Contains(measures, e.Other) {
			measures = append(measures, e.Other)
		}
		return nil
	}
	for _, p := range [...]Predicate{PredTargets, PredCoversProduct, PredTargetCountry} {
		measures = measures[:0]
		if err := s.Adjacent(id, In, p, collect); err != nil {
			return false, err
		}
		for _, m := range measures {
			mn, err := s.Node(m)
			if err != nil {
				return false, err
			}
			if mn.Kind != kind || mn.Retraction != nil {
				continue
			}
			if auth == AnyAuthority {
				return true, nil
			}
			imposers, err := otherEndsTx(s, m, Out, PredImposedBy)
			if err != nil {
				return false, err
			}
			if contains(imposers, auth) {
				return true, nil
			}
		}
	}
	return false, nil
}

// FactQuery selects facts. Zero fields do not filter, but for negated and
// retracted facts, which are left out unless asked for: Negated true keeps
// only negated facts, false only positive ones; nil keeps positive ones, and
// negated ones too when IncludeNegated is set. IncludeRetracted adds the
// retracted facts.
type FactQuery struct {
	Predicates       []Predicate
	Subject, Object  uuid.UUID
	YearFrom, YearTo *int
	Tier             Tier
	Negated          *bool
	IncludeNegated   bool
	IncludeRetracted bool
	SubjectCountry   string
	Series           uuid.UUID
	// SubjectKinds and ObjectKinds keep the facts whose subject (object) has one of
	// the kinds; a literal fact has no object, so ObjectKinds drops it.
	SubjectKinds, ObjectKinds []Kind
	// Disputed, when set, keeps the disputed facts (true) or the others.
	Disputed *bool

	// And, Or and Not compose clauses, each a FactQuery of its own filter
	// fields: a fact passes q when it passes q's fields, every clause of And,
	// at least one of Or (when Or is not empty) and not Not. Which facts are in
	// scope at all is the outermost query's (Keeps, IncludeRetracted), but
	// that a clause naming Negated asks for negated facts: a clause's
	// Negated is a filter like any field (nil: either), and Check refuses
	// IncludeNegated and IncludeRetracted on a clause. A clause's Sort is
	// ignored.
	And []FactQuery
	Or  []FactQuery
	Not *FactQuery
	// Sort orders the answer (FindFacts); empty: by year, then subject name.
	Sort []FactSort
	// ExcludeInferred leaves out inferred facts (Fact.Inference), and the
	// subjects whose SubjectCountry match rests only on an inferred COUNTRY
	// fact. By default both are kept.
	ExcludeInferred bool
	// AsOf, when set, keeps the facts active at that time, from their
	// records alone: created at or before it, and not retracted at it
	// (retracted later, or never). Negated facts follow Negated and
	// IncludeNegated as without it; IncludeRetracted also keeps the facts
	// retracted by then. SubjectCountry is matched on the COUNTRY facts
	// active now.
	AsOf *time.Time
}

// ActiveAt reports whether f was written at or before t and not retracted
// at t: the record's own times say so, whatever log the engine keeps.
func (f *Fact) ActiveAt(t time.Time) bool {
	if f.CreatedAt.After(t) {
		return false
	}
	return f.Retraction == nil || f.Retraction.At.After(t)
}

// KeepsRecord reports whether q keeps f by its inference, time and
// retraction (the filters of the record itself, beside negation).
func (q FactQuery) KeepsRecord(f *Fact) bool {
	if q.ExcludeInferred && f.Inference != nil {
		return false
	}
	if q.AsOf != nil {
		if f.CreatedAt.After(*q.AsOf) {
			return false
		}
		if f.Retraction != nil && !f.Retraction.At.After(*q.AsOf) {
			return q.IncludeRetracted
		}
		return true
	}
	return q.IncludeRetracted || f.Retraction == nil
}

// ScansRetracted reports whether q's candidates must include retracted facts:
// when asked for, or as of a time, when a fact retracted since was active.
func (q FactQuery) ScansRetracted() bool { return q.IncludeRetracted || q.AsOf != nil }

// Keeps reports whether q keeps a fact that is negated (neg) or not, by the
// rule in FactQuery's comment; a clause of q that names Negated asks for
// negated facts too (it then decides which of them pass).
func (q FactQuery) Keeps(neg bool) bool {
	if q.Negated != nil {
		return neg == *q.Negated
	}
	return !neg || q.IncludeNegated || q.NamesNegated()
}

// PositiveOnly reports whether q keeps positive facts only: what the indexes
// of active facts (by predicate, by year) can answer when q keeps no
// retracted fact either.
func (q FactQuery) PositiveOnly() bool { return !q.Keeps(true) }

// FindFacts answers q ordered by year, then subject name, then ID (or by
// q.Sort). Returns an *errs.Error INVALID_ARGUMENT for a filter Check refuses.
func (g *Graph) FindFacts(q FactQuery) ([]*Fact, error) {
	if err := q.Check("filter"); err != nil {
		return nil, err
	}
	var facts []*Fact
	err := g.view(func(s Snapshot) error {
		var err error
		if facts, err = selectFacts(s, q); err != nil {
			return err
		}
		return sortFacts(s, facts, q.Sort)
	})
	return facts, err
}

// selectFacts answers q in no particular order, starting from the most selective
// index q (or one of its clauses) names, and checking every candidate against
// every field and clause of q.
func selectFacts(s Snapshot, q FactQuery) ([]*Fact, error) {
	ids, narrowed, err := narrowFacts(s, &q, scopeOf(&q))
	if err != nil {
		return nil, err
	}
	if !narrowed {
		ids = ids[:0]
		if err := s.FactIDs(func(id uuid.UUID) error { ids = append(ids, id); return nil }); err != nil {
			return nil, err
		}
	}
	ev := newFactEval(s)
	ev.excludeInferred = q.ExcludeInferred
	var facts []*Fact
	for _, id := range Dedup(ids) {
		f, err := s.Fact(id)
		if err != nil {
			return nil, err
		}
		if !q.KeepsRecord(f) || !q.Keeps(f.Negated) {
			continue
		}
		ok, err := ev.match(f, &q)
		if err != nil {
			return nil, err
		}
		if ok {
			facts = append(facts, f)
		}
	}
	return facts, nil
}

// narrowFacts reads the candidates of q from the index factIndexOf picks for
// it, else from one of its And clauses, else from the union of its Or
// clauses'; narrowed is false when nothing narrows q (every fact is a
// candidate). scope is the outermost query's: the adjacency reads include
// negated and retracted facts only when it lists them.
func narrowFacts(s Snapshot, q *FactQuery, scope factScope) (ids []uuid.UUID, narrowed bool, err error) {
	adj := func(node uuid.UUID, dir Direction) error {
		preds := q.Predicates
		if len(preds) == 0 {
			preds = []Predicate{""}
		}
		for _, p := range preds {
			more, err := adjacentIDs(s, AdjQuery{Node: node, Dir: dir, Predicate: p, Negated: scope.negated, Retracted: scope.retracted})
			if err != nil {
				return err
			}
			ids = append(ids, more...)
		}
		return nil
	}
	switch factIndexOf(q, scope) {
	case factsBySubject:
		err = adj(q.Subject, Out)
	case factsByObject:
		err = adj(q.Object, In)
	case factsBySeries:
		editions, err := otherEndsTx(s, q.Series, In, PredEditionOf)
		if err != nil {
			return nil, false, err
		}
		for _, e := range editions {
			if err := adj(e, In); err != nil {
				return nil, false, err
			}
			if err := adj(e, Out); err != nil {
				return nil, false, err
			}
		}
	case factsBySubjectCountry:
		subjects, err := countrySubjects(s, q.SubjectCountry, q.ExcludeInferred)
		if err != nil {
			return nil, false, err
		}
		for _, subj := range subjects {
			if err := adj(subj, Out); err != nil {
				return nil, false, err
			}
		}
	case factsByPredicate:
		// The predicate index holds active facts only: factIndexOf picks it
		// only when neither negated nor retracted facts are asked for.
		for _, p := range q.Predicates {
			from, to := indexedYears(q.YearFrom, q.YearTo)
			more, err := factIDsByPredicate(s, p, from, to)
			if err != nil {
				return nil, false, err
			}
			ids = append(ids, more...)
		}
	case factsByKinds:
		kinds, dir := q.ObjectKinds, In
		if len(kinds) == 0 {
			kinds, dir = q.SubjectKinds, Out
		}
		for _, k := range kinds {
			nodes, err := kindScan(s, k)
			if err != nil {
				return nil, false, err
			}
			for _, n := range nodes {
				if err := adj(n, dir); err != nil {
					return nil, false, err
				}
			}
		}
	default:
		for i := range q.And {
			if ids, narrowed, err = narrowFacts(s, &q.And[i], scope); err != nil || narrowed {
				return ids, narrowed, err
			}
		}
		if len(q.Or) == 0 {
			return nil, false, nil
		}
		for i := range q.Or {
			more, ok, err := narrowFacts(s, &q.Or[i], scope)
			if err != nil || !ok {
				return nil, false, err
			}
			ids = append(ids, more...)
		}
	}
	return ids, err == nil, err
}

func predIn(p Predicate, ps []Predicate) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// Absentees answers, for each event, who the sources say did not take part:
// the negated PARTICIPATED_IN facts of the event, then its negated SPONSORED
// facts ("avoided sponsoring") but those of a subject that has an active
// SPONSORED fact for it (Qualcomm was not a strategic partner, yet
// sponsored: a negated tier is no absence). Facts come in fact ID order
// within each predicate; all in one snapshot.
func (g *Graph) Absentees(events []uuid.UUID) ([][]*Fact, error) {
	out := make([][]*Fact, len(events))
	err := g.view(func(s Snapshot) error {
		for i, ev := range events {
			absent, err := negatedFacts(s, ev, PredParticipatedIn)
			if err != nil {
				return err
			}
			avoided, err := negatedFacts(s, ev, PredSponsored)
			if err != nil {
				return err
			}
			sponsors := map[uuid.UUID]bool{}
			err = s.Adjacent(ev, In, PredSponsored, func(e AdjEntry) error {
				if e.State == Active {
					sponsors[e.Other] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, f := range avoided {
				if !sponsors[f.Subject] {
					absent = append(absent, f)
				}
			}
			out[i] = absent
		}
		return nil
	})
	return out, err
}

// Attendance is what the sources say of who came to an event, each answer a
// list of facts with their evidence, ordered by subject name.
type Attendance struct {
	// AttendedWithoutSponsoring holds the PARTICIPATED_IN facts (positive) of
	// those who took part in the event and, the sources say, did not sponsor
	// it: a negated SPONSORED fact for the event, and no active one (Apple,
	// Amazon, Microsoft and Tesla at WAIC 2023). A participant the sources say
	// nothing of sponsoring is not listed: not sponsoring is not inferred
	// from silence.
	AttendedWithoutSponsoring []*Fact
	// DidNotAttend holds the negated PARTICIPATED_IN facts: those the sources
	// say did not take part (OpenAI at WAIC 2023).
	DidNotAttend []*Fact
}

// Attendance answers, for each event, who attended without sponsoring and who
// did not attend (see Attendance); retracted facts are left out. All in one
// snapshot.
func (g *Graph) Attendance(events []uuid.UUID) ([]Attendance, error) {
	out := make([]Attendance, len(events))
	err := g.view(func(s Snapshot) error {
		for i, ev := range events {
			sponsored, declined := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
			err := s.Adjacent(ev, In, PredSponsored, func(e AdjEntry) error {
				switch e.State {
				case Active:
					sponsored[e.Other] = true
				case Negated:
					declined[e.Other] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
			var attended, absent []uuid.UUID
			err = s.Adjacent(ev, In, PredParticipatedIn, func(e AdjEntry) error {
				switch {
				case e.State == Negated:
					absent = append(absent, e.Fact)
				case e.State == Active && declined[e.Other] && !sponsored[e.Other]:
					attended = append(attended, e.Fact)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if out[i].AttendedWithoutSponsoring, err = factsByName(s, attended); err != nil {
				return err
			}
			if out[i].DidNotAttend, err = factsByName(s, absent); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// factsByName loads the facts ids, ordered by year, then subject name.
func factsByName(s Snapshot, ids []uuid.UUID) ([]*Fact, error) {
	facts, err := loadFacts(s, ids)
	if err != nil {
		return nil, err
	}
	return facts, sortFacts(s, facts, nil)
}

// negatedFacts loads the negated (not retracted) facts with pred whose
// object is node.
func negatedFacts(s Snapshot, node uuid.UUID, pred Predicate) ([]*Fact, error) {
	var ids []uuid.UUID
	err := s.Adjacent(node, In, pred, func(e AdjEntry) error {
		if e.State == Negated {
			ids = append(ids, e.Fact)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loadFacts(s, ids)
}

// TierQuery asks how many sponsors an event declares in a tier.
type TierQuery struct {
	Event uuid.UUID
	Tier  Tier
}

// TierSizes answers each query with the quantity of the event's active
// MEASURE fact for the tier (its measure is Tier.TierMeasure: "elite-partners"),
// the first in fact ID order; nil when the event states none. The size of a
// SPONSORED fact's tier is TierQuery{f.Object, f.Tier}. All in one snapshot,
// each event's measures read once.
func (g *Graph) TierSizes(qs []TierQuery) ([]*Quantity, error) {
	out := make([]*Quantity, len(qs))
	err := g.view(func(s Snapshot) error {
		measures := map[uuid.UUID][]*Fact{}
		for i, q := range qs {
			ms, seen := measures[q.Event]
			if !seen {
				var err error
				if ms, err = adjacentFacts(s, AdjQuery{Node: q.Event, Dir: Out, Predicate: PredMeasure}); err != nil {
					return err
				}
				measures[q.Event] = ms
			}
			for _, m := range ms {
				if m.Measure == q.Tier.TierMeasure() && m.Quantity != nil {
					out[i] = m.Quantity
					break
				}
			}
		}
		return nil
	})
	return out, err
}

// TopSearcher is a snapshot that answers the first hits of a search from
// its name index in answer order (the read model's): it reads limit
// entities, not every hit. ok is false when it cannot (the general path
// then answers).
type TopSearcher interface {
	SearchTop(folded string, kinds []Kind, limit int) (hits []SearchHit, ok bool, err error)
}

// searchTop is SearchEntities from a TopSearcher; ok is false when the
// graph has none, or it cannot answer text.
func (g *Graph) searchTop(text string, kinds []Kind, limit int) (out []EntityHit, ok bool, err error) {
	q := Fold(text)
	if q == "" || limit <= 0 || g.ReadModel() == nil {
		return nil, false, nil
	}
	err = g.view(func(s Snapshot) error {
		ts, isTop := capability[TopSearcher](s)
		if !isTop {
			return nil
		}
		hits, found, err := ts.SearchTop(q, kinds, limit)
		if err != nil || !found {
			return err
		}
		out = make([]EntityHit, len(hits))
		for i, h := range hits {
			n, err := s.Node(h.ID)
			if err != nil {
				return err
			}
			out[i] = EntityHit{Node: n, Score: h.Score}
		}
		ok = true
		return nil
	})
	return out, ok, err
}

// EntityHit is one entity SearchEntities found, with how well it matched
// (SearchHit.Score).
type EntityHit struct {
	Node  *Node
	Score int
}

// SearchEntities is Search as a reader wants it: the entities found, not
// retracted, of one of kinds (any when empty), best matches first, then the
// shorter name, then by name; at most limit of them.
func (g *Graph) SearchEntities(text string, kinds []Kind, limit int) ([]EntityHit, error) {
	if out, ok, err := g.searchTop(text, kinds, limit); ok || err != nil {
		return out, err
	}
	hits, err := g.Search(text, 0)
	if err != nil {
		return nil, err
	}
	out := make([]EntityHit, 0, min(len(hits), max(limit, 0)))
	err = g.view(func(s Snapshot) error {
		for i, h := range hits {
			// The hits come by score, highest first, and an answer is ordered
			// by score before anything else: once a score's hits are all read
			// and limit entities found, no hit of a lower score can be among
			// the first limit, so its entities are not read (at a million
			// nodes a common word has tens of thousands of word-prefix hits).
			if i > 0 && h.Score != hits[i-1].Score && len(out) >= limit {
				break
			}
			n, err := s.Node(h.ID)
			if errs.CodeOf(err) == errs.NotFound {
				continue
			}
			if err != nil {
				return err
			}
			if n.Retraction != nil || len(kinds) > 0 && !kindIn(n.Kind, kinds) {
				continue
			}
			out = append(out, EntityHit{Node: n, Score: h.Score})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Same score: shorter, then alphabetical names first, then by ID (the
	// order Search gave them). A total order, so an unstable sort gives the
	// stable one's answer, without sort.SliceStable's reflection and
	// rotations (63% of a search with 4,000 hits).
	slices.SortFunc(out, func(x, y EntityHit) int {
		if x.Score != y.Score {
			return cmp.Compare(y.Score, x.Score)
		}
		a, b := x.Node.Name, y.Node.Name
		if len(a) != len(b) {
			return cmp.Compare(len(a), len(b))
		}
		if c := strings.Compare(a, b); c != 0 {
			return c
		}
		return bytes.Compare(x.Node.ID[:], y.Node.ID[:])
	})
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}
