package graph

import (
	"context"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// This file maps factCounts and timeSeries onto storage.CountFacts and
// storage.TimeSeries.

func (r *Resolver) factCounts(ctx context.Context, f *model.FactFilter, groupBy []storage.Dimension) ([]*model.FactGroup, error) {
	q, err := r.factQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	groups, err := r.graph(ctx).CountFacts(q, groupBy)
	if err != nil {
		return nil, err
	}
	return model.FactGroups(groups), nil
}

func (r *Resolver) timeSeries(ctx context.Context, f *model.FactFilter, seriesBy []storage.Dimension) ([]*model.Series, error) {
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
	return model.SeriesList(series), nil
}
