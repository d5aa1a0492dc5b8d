package graph

import (
	"context"

	"github.com/google/uuid"

	"policygraph/bundle"
	"policygraph/graph/model"
)

// ingestSource parses the bundle and ingests it in one transaction (see
// bundle.Ingest); a textFile is refused, as the server reads no files for
// a client.
func (r *Resolver) ingestSource(ctx context.Context, in model.IngestSourceInput) (*model.IngestReport, error) {
	format := bundle.YAML
	if in.Format != nil && *in.Format == model.BundleFormatJSON {
		format = bundle.JSON
	}
	b, err := bundle.Parse([]byte(in.Bundle), format, "bundle")
	if err != nil {
		return nil, err
	}
	if err := b.InlineOnly(); err != nil {
		return nil, err
	}
	rep, err := bundle.Ingest(r.graph(ctx), b, bundle.Options{By: actor(ctx), DryRun: in.DryRun != nil && *in.DryRun})
	if err != nil {
		return nil, err
	}
	return &model.IngestReport{DryRun: rep.DryRun, Source: rep.Source, Created: changes(rep.Created),
		Merged: changes(rep.Merged), Refined: changes(rep.Refined), Disputed: changes(rep.Disputed),
		Unchanged: changes(rep.Unchanged)}, nil
}

func changes(c bundle.Changes) *model.IngestChanges {
	return &model.IngestChanges{Count: c.Count(), Entities: append([]string{}, c.Entities...), Facts: append([]uuid.UUID{}, c.Facts...)}
}

// disputedBy loads the facts that contradict obj, in one read.
func (r *Resolver) disputedBy(ctx context.Context, obj *model.Fact) ([]*model.Fact, error) {
	out := []*model.Fact{}
	if len(obj.Fact.DisputedBy) == 0 {
		return out, nil
	}
	facts, err := r.graph(ctx).Facts(append([]uuid.UUID(nil), obj.Fact.DisputedBy...))
	if err != nil {
		return nil, err
	}
	for _, f := range facts {
		if f != nil {
			out = append(out, model.NewFact(r.rd(ctx), f))
		}
	}
	return out, nil
}
