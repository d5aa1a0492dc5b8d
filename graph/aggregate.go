package graph

import (
	"context"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// This file maps factCounts and timeSeries onto storage.CountFacts and
// storage.TimeSeries.

func (r *Resolver) factCounts(ctx context.Context, f *model.FactFilter, groupBy []storage.Dimension) ([]*storage.Group, error) {
	q, err := r.factQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	groups, err := r.graph(ctx).CountFacts(q, groupBy)
	if err != nil {
		return nil, err
	}
	return pointers(groups), nil
}

func (r *Resolver) timeSeries(ctx context.Context, f *model.FactFilter, seriesBy []storage.Dimension) ([]*storage.Series, error) {
	q, err := r.factQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	series, err := r.graph(ctx).TimeSeries(q, seriesBy)
	if err != nil {
		if e, ok := err.(*errs.Error); ok && (e.Field == "yearFrom" || e.Field == "yearTo") {
			e.Field = "filter." + e.Field
		}
		return nil, err
	}
	return pointers(series), nil
}

// pointers points at each element of s, the shape gqlgen wants for a list of objects.
func pointers[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}
