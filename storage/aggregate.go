package storage

import (
	"cmp"
	"fmt"
	"slices"

	"policygraph/errs"

	"github.com/google/uuid"
)

// This file counts facts for charts: pivot tables (CountFacts) and yearly series
// (TimeSeries). Both count what FindFacts would list, in one read transaction,
// so their cost follows the facts counted, not the size of the graph.

// Dimension is a property of a fact that facts can be grouped by.
type Dimension string

// The dimensions.
const (
	DimYear           Dimension = "YEAR"            // the fact's year
	DimSubjectCountry Dimension = "SUBJECT_COUNTRY" // the subject's COUNTRY (a country's own code)
	DimObjectCountry  Dimension = "OBJECT_COUNTRY"  // the object's COUNTRY (a country's own code)
	DimTier           Dimension = "TIER"            // the sponsorship tier
	DimSubjectOrgType Dimension = "SUBJECT_ORG_TYPE"
	DimSubjectKind    Dimension = "SUBJECT_KIND"
	DimObjectKind     Dimension = "OBJECT_KIND"
	DimPredicate      Dimension = "PREDICATE"
	DimMeasure        Dimension = "MEASURE" // the MEASURE or TARGET key
)

// Dimensions lists every dimension.
var Dimensions = []Dimension{DimYear, DimSubjectCountry, DimObjectCountry, DimTier,
	DimSubjectOrgType, DimSubjectKind, DimObjectKind, DimPredicate, DimMeasure}

// Valid reports whether d is one of Dimensions.
func (d Dimension) Valid() bool { return slices.Contains(Dimensions, d) }

// Group is one cell of a pivot table: the values of the grouped dimensions and
// how many facts, and distinct subjects, have them. A dimension that was not
// grouped by, or whose value is unknown, holds its zero value.
type Group struct {
	Year           int
	SubjectCountry string
	ObjectCountry  string
	Tier           Tier
	SubjectOrgType string
	SubjectKind    Kind
	ObjectKind     Kind
	Predicate      Predicate
	Measure        string

	// Count is the number of facts; Subjects the number of distinct subjects among
	// them ("sponsors", not "sponsorships").
	Count    int
	Subjects int
}

// Series is one line of a yearly chart: the values of the series dimensions
// (Key, whose Count and Subjects are the series' totals) and one point a year.
type Series struct {
	Key    Group
	Points []Point
}

// Total is the number of facts in the series: the sum of its points' counts.
func (s Series) Total() int { return s.Key.Count }

// Point is one year of a Series.
type Point struct {
	Year     int
	Count    int
	Subjects int
}

// MaxSeriesYears bounds the years a TimeSeries spans, zeros included.
const MaxSeriesYears = 200

// CountFacts counts the facts q selects (FindFacts's list), grouped by the
// dimensions in by. Like FindFacts it leaves negated facts out unless q asks
// for them: a count of sponsors must not include "avoided sponsoring". Groups come ordered by their values, dimension by
// dimension in the order of by, unknown values last; with no dimensions there is
// exactly one group, the total. Returns an *errs.Error INVALID_ARGUMENT for an unknown
// dimension.
func (g *Graph) CountFacts(q FactQuery, by []Dimension) ([]Group, error) {
	by, err := checkDimensions("groupBy", by)
	if err != nil {
		return nil, err
	}
	if err := q.Check("filter"); err != nil {
		return nil, err
	}
	var out []Group
	err = g.view(func(s Snapshot) error {
		facts, err := selectFacts(s, q)
		if err != nil {
			return err
		}
		out, err = newClassifier(s, q).count(facts, by)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(by) == 0 && len(out) == 0 {
		out = []Group{{}}
	}
	return out, nil
}

// TimeSeries counts the facts q selects by year, one series per combination of
// the values of the dimensions in by (one series when by is empty). Every series
// has a point for each year from q.YearFrom (else the first year counted) to
// q.YearTo (else the last), zeros included, so that series line up on one axis.
// Facts of unknown year are left out. Negated facts are left out unless q
// asks for them, as in FindFacts and CountFacts; series are ordered as CountFacts
// orders groups. Returns an *errs.Error INVALID_ARGUMENT when by holds YEAR or an
// unknown dimension, or when the years span more than MaxSeriesYears.
func (g *Graph) TimeSeries(q FactQuery, by []Dimension) ([]Series, error) {
	by, err := checkDimensions("seriesBy", by)
	if err != nil {
		return nil, err
	}
	if slices.Contains(by, DimYear) {
		return nil, errs.Errorf(errs.InvalidArgument, "seriesBy", "seriesBy cannot hold YEAR: the years are the points")
	}
	if err := q.Check("filter"); err != nil {
		return nil, err
	}
	var totals, cells []Group
	err = g.view(func(s Snapshot) error {
		facts, err := selectFacts(s, q)
		if err != nil {
			return err
		}
		facts = slices.DeleteFunc(facts, func(f *Fact) bool { return f.Year == 0 })
		c := newClassifier(s, q)
		// A series' distinct subjects are not the sum of its years': count both.
		if totals, err = c.count(facts, by); err != nil {
			return err
		}
		cells, err = c.count(facts, append(slices.Clip(by), DimYear))
		return err
	})
	if err != nil {
		return nil, err
	}
	lo, hi := 0, -1
	if len(cells) > 0 {
		lo, hi = cells[0].Year, cells[0].Year
		for _, c := range cells {
			lo, hi = min(lo, c.Year), max(hi, c.Year)
		}
	}
	if q.YearFrom != nil {
		lo = *q.YearFrom
	}
	if q.YearTo != nil {
		hi = *q.YearTo
	}
	if hi-lo+1 > MaxSeriesYears {
		return nil, errs.Errorf(errs.InvalidArgument, "yearFrom", "the series would span %d years (%d to %d); narrow yearFrom and yearTo to at most %d", hi-lo+1, lo, hi, MaxSeriesYears)
	}
	if len(by) == 0 && len(totals) == 0 {
		totals = []Group{{}}
	}
	years := map[Group]map[int]Group{}
	for _, c := range cells {
		key := c
		key.Year, key.Count, key.Subjects = 0, 0, 0
		if years[key] == nil {
			years[key] = map[int]Group{}
		}
		years[key][c.Year] = c
	}
	out := make([]Series, 0, len(totals))
	for _, t := range totals {
		key := t
		key.Count, key.Subjects = 0, 0
		s := Series{Key: t, Points: make([]Point, 0, max(hi-lo+1, 0))}
		for y := lo; y <= hi; y++ {
			c := years[key][y]
			s.Points = append(s.Points, Point{Year: y, Count: c.Count, Subjects: c.Subjects})
		}
		out = append(out, s)
	}
	return out, nil
}

// checkDimensions rejects unknown dimensions and drops repeated ones.
func checkDimensions(field string, by []Dimension) ([]Dimension, error) {
	out := make([]Dimension, 0, len(by))
	for _, d := range by {
		if !d.Valid() {
			return nil, errs.Errorf(errs.InvalidArgument, field, "unknown dimension %q", d)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// classifier reads the dimension values of facts within one transaction,
// loading each node and country once.
type classifier struct {
	s         Snapshot
	nodes     map[uuid.UUID]*Node
	countries map[uuid.UUID]string
	// excludeInferred: a country from an inferred COUNTRY fact is unknown.
	excludeInferred bool
}

func newClassifier(s Snapshot, q FactQuery) *classifier {
	return &classifier{s: s, nodes: map[uuid.UUID]*Node{}, countries: map[uuid.UUID]string{}, excludeInferred: q.ExcludeInferred}
}

// count groups facts by the dimensions in by, ordered by compareGroups.
func (c *classifier) count(facts []*Fact, by []Dimension) ([]Group, error) {
	subjects := map[Group]map[uuid.UUID]bool{}
	counts := map[Group]int{}
	for _, f := range facts {
		key, err := c.key(f, by)
		if err != nil {
			return nil, err
		}
		if subjects[key] == nil {
			subjects[key] = map[uuid.UUID]bool{}
		}
		subjects[key][f.Subject] = true
		counts[key]++
	}
	out := make([]Group, 0, len(counts))
	for key, n := range counts {
		key.Count, key.Subjects = n, len(subjects[key])
		out = append(out, key)
	}
	slices.SortFunc(out, func(a, b Group) int { return compareGroups(a, b, by) })
	return out, nil
}

func (c *classifier) node(id uuid.UUID) (*Node, error) {
	if id == uuid.Nil {
		return nil, nil
	}
	if n, ok := c.nodes[id]; ok {
		return n, nil
	}
	n, err := c.s.Node(id)
	if err != nil {
		return nil, fmt.Errorf("fact end %s: %w", id, err)
	}
	c.nodes[id] = n
	return n, nil
}

// country is the node's country: a place's own code, else the value of its
// active COUNTRY fact (the first in code order if it has several; not an
// inferred one when the query excludes them); "" if none.
func (c *classifier) country(id uuid.UUID) (string, error) {
	if id == uuid.Nil {
		return "", nil
	}
	if code, ok := c.countries[id]; ok {
		return code, nil
	}
	n, err := c.node(id)
	if err != nil {
		return "", err
	}
	code := n.Code
	if n.Kind != KindPlace {
		code = ""
		ids, err := adjacentIDs(c.s, AdjQuery{Node: id, Dir: Out, Predicate: PredCountry})
		if err != nil {
			return "", err
		}
		for _, fid := range ids {
			f, err := c.s.Fact(fid)
			if err != nil {
				return "", err
			}
			if c.excludeInferred && f.Inference != nil {
				continue
			}
			if code == "" || f.Value < code {
				code = f.Value
			}
		}
	}
	c.countries[id] = code
	return code, nil
}

// key is the group of f under the dimensions in by.
func (c *classifier) key(f *Fact, by []Dimension) (Group, error) {
	var k Group
	for _, d := range by {
		var err error
		switch d {
		case DimYear:
			k.Year = f.Year
		case DimSubjectCountry:
			k.SubjectCountry, err = c.country(f.Subject)
		case DimObjectCountry:
			k.ObjectCountry, err = c.country(f.Object)
		case DimTier:
			k.Tier = f.Tier
		case DimSubjectOrgType:
			var n *Node
			if n, err = c.node(f.Subject); err == nil {
				k.SubjectOrgType = n.OrgType
			}
		case DimSubjectKind:
			var n *Node
			if n, err = c.node(f.Subject); err == nil {
				k.SubjectKind = n.Kind
			}
		case DimObjectKind:
			var n *Node
			if n, err = c.node(f.Object); err == nil && n != nil {
				k.ObjectKind = n.Kind
			}
		case DimPredicate:
			k.Predicate = f.Predicate
		case DimMeasure:
			k.Measure = f.Measure
		}
		if err != nil {
			return Group{}, err
		}
	}
	return k, nil
}

// compareGroups orders groups by their values, dimension by dimension: years by
// number, kinds, predicates and tiers in schema order, text by bytes; unknown last.
func compareGroups(a, b Group, by []Dimension) int {
	for _, d := range by {
		var c int
		switch d {
		case DimYear:
			c = nullsLast(a.Year, b.Year, 0, cmp.Compare[int])
		case DimSubjectCountry:
			c = nullsLast(a.SubjectCountry, b.SubjectCountry, "", cmp.Compare[string])
		case DimObjectCountry:
			c = nullsLast(a.ObjectCountry, b.ObjectCountry, "", cmp.Compare[string])
		case DimTier:
			c = nullsLast(a.Tier, b.Tier, "", byRank(tierOrder))
		case DimSubjectOrgType:
			c = nullsLast(a.SubjectOrgType, b.SubjectOrgType, "", cmp.Compare[string])
		case DimSubjectKind:
			c = nullsLast(a.SubjectKind, b.SubjectKind, "", byRank(Kinds))
		case DimObjectKind:
			c = nullsLast(a.ObjectKind, b.ObjectKind, "", byRank(Kinds))
		case DimPredicate:
			c = nullsLast(a.Predicate, b.Predicate, "", byRank(predicateOrder))
		case DimMeasure:
			c = nullsLast(a.Measure, b.Measure, "", cmp.Compare[string])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// tierOrder is the tiers from the highest down, as the schema lists them.
var tierOrder = []Tier{TierStrategicPartner, TierElitePartner, TierGovernmentCoSponsor, TierSponsor}

// predicateOrder is the predicates in schema order.
var predicateOrder = func() []Predicate {
	out := make([]Predicate, len(Predicates))
	for i, p := range Predicates {
		out[i] = p.Predicate
	}
	return out
}()

// byRank compares values by their position in order; values not in it come after, by value.
func byRank[T cmp.Ordered](order []T) func(a, b T) int {
	return func(a, b T) int {
		ra, rb := slices.Index(order, a), slices.Index(order, b)
		if ra < 0 {
			ra = len(order)
		}
		if rb < 0 {
			rb = len(order)
		}
		if ra != rb {
			return cmp.Compare(ra, rb)
		}
		return cmp.Compare(a, b)
	}
}

// nullsLast compares a and b with compare, ordering the unknown value after all others.
func nullsLast[T comparable](a, b, unknown T, compare func(a, b T) int) int {
	switch {
	case a == b:
		return 0
	case a == unknown:
		return 1
	case b == unknown:
		return -1
	}
	return compare(a, b)
}
