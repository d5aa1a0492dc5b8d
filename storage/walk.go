package storage

import (
	"math"
	"reflect"

	"github.com/google/uuid"
)

// A walk is the commonest list of facts a client pages through to its end:
// facts of some predicates over a range of known years, in the default order
// (year, subject name, ID), forward by cursor. Cutting each page from the
// whole filtered and sorted list costs every page the whole list; a read
// model that keeps the facts in that order (FactWalker) cuts a page at its
// cursor instead, so a page costs its size.

// FactWalker is a snapshot that cuts walks from an index in walk order (the
// read model's).
type FactWalker interface {
	// FactWalk answers the n active facts of preds with a year in [from,
	// to] (from >= 1) that follow the fact after (uuid.Nil: from the
	// first) in walk order; ok is false when it cannot (then nothing was
	// read and the general path answers).
	FactWalk(preds []Predicate, from, to int, after uuid.UUID, n int) (page WalkPage, ok bool, err error)
	// WalkScan estimates the records a page of first facts of a walk over
	// preds reads; ok as for FactWalk.
	WalkScan(preds []Predicate, first int) (n int, ok bool)
}

// WalkPage is one page of a walk.
type WalkPage struct {
	IDs []uuid.UUID
	// Total is how many facts the whole walk holds.
	Total int
	// HasNext: facts follow the page.
	HasNext bool
	// AfterFound: the after cursor's fact is in the walk (false when it is
	// not, and then IDs is empty).
	AfterFound bool
}

// Walkable reports whether q is a walk: predicates and a range of known
// years (YearFrom >= 1), no other filter, no order but the default.
func (q FactQuery) Walkable() bool {
	if len(q.Predicates) == 0 || q.YearFrom == nil || *q.YearFrom < 1 {
		return false
	}
	rest := q
	rest.Predicates, rest.YearFrom, rest.YearTo = nil, nil, nil
	return emptyStruct(reflect.ValueOf(rest))
}

// emptyStruct reports whether every field of v is zero, an empty slice
// counting as zero (a query's resolver may leave Sort empty, not nil).
func emptyStruct(v reflect.Value) bool {
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Slice {
			if f.Len() > 0 {
				return false
			}
		} else if !f.IsZero() {
			return false
		}
	}
	return true
}

// walkYears is q's year range for a FactWalker.
func walkYears(q FactQuery) (int, int) {
	to := math.MaxInt32
	if q.YearTo != nil {
		to = *q.YearTo
	}
	return *q.YearFrom, to
}

// FactPage answers a page of the walk q (Walkable): the n facts after the
// fact after (uuid.Nil: from the first), from the read model's walk index;
// ok is false when q is not a walk or the graph has no such index (the
// caller then cuts the page from FindFacts, which answers the same).
func (g *Graph) FactPage(q FactQuery, after uuid.UUID, n int) (facts []*Fact, page WalkPage, ok bool, err error) {
	if err := g.ctxErr(); err != nil {
		return nil, page, false, err
	}
	if !q.Walkable() || g.ReadModel() == nil {
		return nil, page, false, nil
	}
	if err := q.Check("filter"); err != nil {
		return nil, page, false, err
	}
	from, to := walkYears(q)
	err = g.view(func(s Snapshot) error {
		w, isWalker := capability[FactWalker](s)
		if !isWalker {
			return nil
		}
		var err error
		if page, ok, err = w.FactWalk(q.Predicates, from, to, after, n); err != nil || !ok {
			return err
		}
		facts = make([]*Fact, len(page.IDs))
		for i, id := range page.IDs {
			if facts[i], err = s.Fact(id); err != nil {
				return err
			}
		}
		return nil
	})
	return facts, page, ok, err
}

// FactPageScan estimates the records a page of first facts of q reads: from
// the walk index when q is a walk the read model can cut (WalkScan), else
// FactScan's estimate of the whole list.
func (g *Graph) FactPageScan(q FactQuery, first int) int {
	if q.Walkable() {
		if m := g.ReadModel(); m != nil {
			if w, isWalker := m.Snapshot().(FactWalker); isWalker {
				if n, ok := w.WalkScan(q.Predicates, first); ok {
					return n
				}
			}
		}
	}
	return g.FactScan(q)
}
