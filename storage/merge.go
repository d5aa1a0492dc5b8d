package storage

import (
	"slices"
	"strings"

	"github.com/google/uuid"

	"policygraph/errs"
)

// Merging claims from several sources (issue 14). A source bundle's fact is
// first looked up by ID (the same bundle ingested again), then by claim: the
// same subject, predicate, object or value, qualifiers and compatible dates
// make one fact with one more piece of evidence, not a second fact. A claim
// that contradicts a stored one (another tier for the same sponsorship,
// another country) is written beside it, and the two are linked as disputing
// each other: neither is picked.

// MergeOutcome is what MergeFact did with a claim.
type MergeOutcome int

// The outcomes of MergeFact.
const (
	// MergeCreated: no stored fact states the claim; it was written.
	MergeCreated MergeOutcome = iota
	// MergeUnchanged: a stored fact states the claim with this evidence and
	// dates at least as precise (or was retracted, and is left so).
	MergeUnchanged
	// MergeMerged: a stored fact states the claim; the evidence was added to it.
	MergeMerged
	// MergeRefined: as MergeMerged, and the claim's more precise date
	// (2023-07 for 2023) replaced the stored one.
	MergeRefined
	// MergeDisputed: the claim contradicts stored facts; it was written and
	// linked with them as disputing each other.
	MergeDisputed
)

func (o MergeOutcome) String() string {
	return [...]string{"created", "unchanged", "merged", "refined", "disputed"}[o]
}

// MergeResult says what MergeFact did: the fact that now holds the claim
// and, for a dispute, the facts it disputes.
type MergeResult struct {
	Outcome  MergeOutcome
	Fact     uuid.UUID
	Disputes []uuid.UUID
}

// Snapshot is what the batch reads: the graph with the batch's own writes.
func (w *Writer) Snapshot() Snapshot { return w.w }

// Candidates lists the facts stored with subject and pred, whatever their
// state: what MergeFact compares a claim with. Ask before the batch writes:
// a scan in a transaction that holds writes costs in proportion to them
// (Badger sorts its pending writes for every iterator), which made an ingest
// quadratic in its size.
func (w *Writer) Candidates(subject uuid.UUID, pred Predicate) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := w.w.Adjacent(subject, Out, pred, func(e AdjEntry) error { ids = append(ids, e.Fact); return nil })
	return ids, err
}

// MergeFact writes the claim f states inside the batch: into the stored fact
// with f's ID, or into one of candidates (see Candidates) stating the same
// claim with compatible dates, or as a new fact, linked as disputed with the
// candidates it contradicts. Evidence already held (same source and quote)
// is not added twice, so merging the same claim again changes nothing.
// Returns the errors of AddFact for a claim that does not validate.
func (w *Writer) MergeFact(f *Fact, candidates []uuid.UUID) (MergeResult, error) {
	f = cloneFact(f)
	if err := validateFact(w.w, f); err != nil {
		return MergeResult{}, err
	}
	old, err := w.w.Fact(f.ID)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return MergeResult{}, err
	}
	if old != nil {
		if old.Retraction != nil {
			return MergeResult{Outcome: MergeUnchanged, Fact: old.ID}, nil
		}
		return w.mergeInto(old, f)
	}
	var disputes []*Fact
	for _, id := range candidates {
		c, err := w.w.Fact(id) // as this batch left it
		if err != nil {
			return MergeResult{}, err
		}
		if c.Retraction != nil || c.Subject != f.Subject || c.Predicate != f.Predicate {
			continue
		}
		if old == nil && SameClaim(c, f) && datesCompatible(c, f) {
			old = c
		}
		if Contradicts(c, f) {
			disputes = append(disputes, c)
		}
	}
	if old != nil {
		return w.mergeInto(old, f)
	}
	f.CreatedAt = w.g.now()
	res := MergeResult{Outcome: MergeCreated, Fact: f.ID}
	for _, c := range disputes {
		f.DisputedBy = append(f.DisputedBy, c.ID)
		res.Disputes = append(res.Disputes, c.ID)
	}
	if len(disputes) > 0 {
		res.Outcome = MergeDisputed
	}
	if err := w.w.setFact(nil, f); err != nil {
		return MergeResult{}, err
	}
	for _, c := range disputes {
		d := cloneFact(c)
		d.DisputedBy = append(d.DisputedBy, f.ID)
		if err := w.w.setFact(c, d); err != nil {
			return MergeResult{}, err
		}
	}
	return res, nil
}

// mergeInto adds f's evidence, and its dates where more precise, to old.
func (w *Writer) mergeInto(old, f *Fact) (MergeResult, error) {
	res := MergeResult{Outcome: MergeUnchanged, Fact: old.ID}
	n := cloneFact(old)
	for _, e := range f.Evidence {
		if !slices.ContainsFunc(n.Evidence, func(x Evidence) bool { return x.Source == e.Source && x.Quote == e.Quote }) {
			n.Evidence = append(n.Evidence, e)
			res.Outcome = MergeMerged
		}
	}
	for _, d := range []struct{ have, in **Date }{{&n.Date, &f.Date}, {&n.Start, &f.Start}, {&n.End, &f.End}} {
		if finer(*d.in, *d.have) {
			v := **d.in
			*d.have = &v
			res.Outcome = MergeRefined
		}
	}
	if res.Outcome == MergeUnchanged {
		return res, nil
	}
	if err := validateFact(w.w, n); err != nil { // re-derives the year of a refined date
		return MergeResult{}, err
	}
	return res, w.w.setFact(old, n)
}

// SameClaim reports whether a and b state the same thing, dates aside: the
// same subject, predicate, object, value, quantity and qualifiers. Two
// QUOTED_IN facts are the same claim only with the same first quote (each
// holds one statement).
func SameClaim(a, b *Fact) bool {
	if a.Subject != b.Subject || a.Predicate != b.Predicate || a.Object != b.Object || a.Value != b.Value ||
		a.Measure != b.Measure || a.Tier != b.Tier || a.Role != b.Role || a.Former != b.Former || a.Negated != b.Negated {
		return false
	}
	if (a.Quantity == nil) != (b.Quantity == nil) {
		return false
	}
	if q, r := a.Quantity, b.Quantity; q != nil {
		if q.Amount != r.Amount || q.Bound != r.Bound || q.Unit != r.Unit || (q.Upper == nil) != (r.Upper == nil) ||
			q.Upper != nil && *q.Upper != *r.Upper {
			return false
		}
	}
	if a.Predicate == PredQuotedIn {
		return len(a.Evidence) > 0 && len(b.Evidence) > 0 && a.Evidence[0].Quote == b.Evidence[0].Quote
	}
	return true
}

// Contradicts reports whether two positive facts cannot both hold: the same
// organization's sponsorship of the same event at two tiers, or two
// countries of one subject. Other differences are other claims.
func Contradicts(a, b *Fact) bool {
	if a.Subject != b.Subject || a.Predicate != b.Predicate || a.Negated || b.Negated {
		return false
	}
	switch a.Predicate {
	case PredSponsored:
		return a.Object == b.Object && a.Tier != b.Tier
	case PredCountry:
		return !strings.EqualFold(a.Value, b.Value)
	}
	return false
}

// datesCompatible reports whether each of a's dates and b's can be the same
// date told at two precisions (or one left untold).
func datesCompatible(a, b *Fact) bool {
	return dateCompatible(a.Date, b.Date) && dateCompatible(a.Start, b.Start) && dateCompatible(a.End, b.End)
}

func dateCompatible(a, b *Date) bool {
	if a == nil || b == nil {
		return true
	}
	if a.Year != b.Year {
		return false
	}
	if a.Month != 0 && b.Month != 0 && a.Month != b.Month {
		return false
	}
	return a.Day == 0 || b.Day == 0 || a.Day == b.Day
}

// finer reports whether d tells more than have: a date where there was none,
// or a month or day more.
func finer(d, have *Date) bool {
	if d == nil {
		return false
	}
	if have == nil {
		return true
	}
	return rank(d.Precision) > rank(have.Precision)
}

func rank(p Precision) int {
	switch p {
	case PrecisionMonth:
		return 1
	case PrecisionDay:
		return 2
	}
	return 0
}

// NamesKind lists the live entities of the kind one of whose names (English
// name, label or alias) folds as name does ("Thượng Hải" finds "thuong hai"),
// in ID order: the candidates a source's mention of name may stand for.
func (w *Writer) NamesKind(kind Kind, name string) ([]uuid.UUID, error) {
	folded := Fold(name)
	if folded == "" {
		return nil, nil
	}
	var out []uuid.UUID
	err := w.w.NameTerms(folded, true, func(term string, id uuid.UUID) error {
		if strings.TrimPrefix(term, string(wholeName)) != folded || slices.Contains(out, id) {
			return nil
		}
		n, err := w.w.Node(id)
		if err != nil {
			return err
		}
		if n.Kind == kind && n.Retraction == nil {
			out = append(out, id)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out, err
}
