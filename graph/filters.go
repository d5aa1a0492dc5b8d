package graph

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// This file decodes the filter and sort arguments into storage's queries;
// storage evaluates them (storage/filter.go).

// filters decodes one composed filter argument: references resolved to IDs,
// countries checked, and each clause checked against the bounds
// (storage.CheckClause) as it is reached, before anything it names is read,
// so that an oversized filter costs no read.
type filters struct {
	r       *Resolver
	ctx     context.Context
	clauses int
}

// factQuery decodes a FactFilter; a nil filter selects every fact.
func (r *Resolver) factQuery(ctx context.Context, f *model.FactFilter) (storage.FactQuery, error) {
	d := &filters{r: r, ctx: ctx}
	return d.fact(f, "filter", 0)
}

// entityQuery decodes an EntityFilter; a nil filter selects every entity.
func (r *Resolver) entityQuery(ctx context.Context, f *model.EntityFilter) (storage.EntityQuery, error) {
	d := &filters{r: r, ctx: ctx}
	return d.entity(f, "filter", 0)
}

// clause counts the clause at path, depth levels down, and refuses it past
// the bounds.
func (d *filters) clause(path string, depth int) error {
	d.clauses++
	return storage.CheckClause(path, depth, d.clauses)
}

func (d *filters) fact(f *model.FactFilter, path string, depth int) (storage.FactQuery, error) {
	var q storage.FactQuery
	if f == nil {
		return q, nil
	}
	if err := d.clause(path, depth); err != nil {
		return q, err
	}
	q.Predicates, q.YearFrom, q.YearTo, q.Negated = f.Predicates, f.YearFrom, f.YearTo, f.Negated
	q.SubjectKinds, q.ObjectKinds = f.SubjectKinds, f.ObjectKinds
	q.IncludeNegated = f.IncludeNegated != nil && *f.IncludeNegated
	q.IncludeRetracted = f.IncludeRetracted != nil && *f.IncludeRetracted
	q.Disputed = f.Disputed
	q.ExcludeInferred = f.IncludeInferred != nil && !*f.IncludeInferred
	q.AsOf = f.AsOf
	if depth > 0 && q.IncludeRetracted {
		return q, storage.ErrNestedScope(path + ".includeRetracted")
	}
	if depth > 0 && q.IncludeNegated {
		return q, storage.ErrNestedScope(path + ".includeNegated")
	}
	if f.Tier != nil {
		q.Tier = *f.Tier
	}
	var err error
	if q.SubjectCountry, err = d.r.country(path+".subjectCountry", f.SubjectCountry); err != nil {
		return q, err
	}
	for _, x := range []struct {
		field string
		in    *string
		out   *uuid.UUID
	}{{"subject", f.Subject, &q.Subject}, {"object", f.Object, &q.Object}, {"series", f.Series, &q.Series}} {
		if *x.out, err = d.r.ref(d.ctx, path+"."+x.field, x.in); err != nil {
			return q, err
		}
	}
	for i, c := range f.And {
		x, err := d.fact(c, fmt.Sprintf("%s.and[%d]", path, i), depth+1)
		if err != nil {
			return q, err
		}
		q.And = append(q.And, x)
	}
	for i, c := range f.Or {
		x, err := d.fact(c, fmt.Sprintf("%s.or[%d]", path, i), depth+1)
		if err != nil {
			return q, err
		}
		q.Or = append(q.Or, x)
	}
	if f.Not != nil {
		x, err := d.fact(f.Not, path+".not", depth+1)
		if err != nil {
			return q, err
		}
		q.Not = &x
	}
	return q, nil
}

func (d *filters) entity(f *model.EntityFilter, path string, depth int) (storage.EntityQuery, error) {
	var q storage.EntityQuery
	if f == nil {
		return q, nil
	}
	if err := d.clause(path, depth); err != nil {
		return q, err
	}
	q.Kinds, q.OrgType, q.Status, q.YearFrom, q.YearTo = f.Kinds, str(f.OrgType), str(f.Status), f.YearFrom, f.YearTo
	if f.Tier != nil {
		q.Tier = *f.Tier
	}
	var err error
	if q.Country, err = d.r.country(path+".country", f.Country); err != nil {
		return q, err
	}
	for _, x := range []struct {
		field string
		in    *string
		out   *uuid.UUID
	}{{"series", f.Series, &q.Series}, {"sponsoredSeries", f.SponsoredSeries, &q.SponsoredSeries},
		{"sponsoredEvent", f.SponsoredEvent, &q.SponsoredEvent}, {"product", f.Product, &q.Product}} {
		if *x.out, err = d.r.ref(d.ctx, path+"."+x.field, x.in); err != nil {
			return q, err
		}
	}
	if q.SanctionedBy, err = d.r.authority(d.ctx, path+".sanctionedBy", f.SanctionedBy); err != nil {
		return q, err
	}
	if q.ControlledBy, err = d.r.authority(d.ctx, path+".controlledBy", f.ControlledBy); err != nil {
		return q, err
	}
	for i, c := range f.And {
		x, err := d.entity(c, fmt.Sprintf("%s.and[%d]", path, i), depth+1)
		if err != nil {
			return q, err
		}
		q.And = append(q.And, x)
	}
	for i, c := range f.Or {
		x, err := d.entity(c, fmt.Sprintf("%s.or[%d]", path, i), depth+1)
		if err != nil {
			return q, err
		}
		q.Or = append(q.Or, x)
	}
	if f.Not != nil {
		x, err := d.entity(f.Not, path+".not", depth+1)
		if err != nil {
			return q, err
		}
		q.Not = &x
	}
	return q, nil
}

// factSorts decodes a sort argument of a list of facts.
func factSorts(by []*model.FactSort) []storage.FactSort {
	out := make([]storage.FactSort, 0, len(by))
	for _, o := range by {
		out = append(out, storage.FactSort{Key: o.Field, Desc: o.Direction != nil && *o.Direction == model.SortOrderDesc})
	}
	return out
}

// entitySorts decodes a sort argument of a list of entities; def when it is
// empty.
func entitySorts(by []*model.EntitySort, def ...storage.EntitySort) []storage.EntitySort {
	if len(by) == 0 {
		return def
	}
	out := make([]storage.EntitySort, 0, len(by))
	for _, o := range by {
		out = append(out, storage.EntitySort{Key: o.Field, Desc: o.Direction != nil && *o.Direction == model.SortOrderDesc})
	}
	return out
}

// sortBeside refuses sort beside an older ordering argument (order, orderBy)
// set away from its default: sort replaces them, so both cannot hold.
func sortBeside(sorted bool, field string, moved bool) error {
	if sorted && moved {
		return &errs.Error{Code: errs.InvalidArgument, Field: field, Message: fmt.Sprintf("sort replaces %s: give the direction in sort, e.g. sort: [{field: YEAR, direction: DESC}]", field)}
	}
	return nil
}
