package graph

import (
	"context"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// The mutations: each decodes its input, makes one storage call (one transaction)
// and returns what was written. Authentication happens before any of them runs
// (see Handler); the actor recorded is the authenticated one.

func labels(in []*model.LabelInput) []storage.Label {
	if in == nil {
		return nil
	}
	out := make([]storage.Label, 0, len(in))
	for _, l := range in {
		out = append(out, storage.Label{Lang: l.Lang, Text: l.Text})
	}
	return out
}

func (r *Resolver) createEntity(ctx context.Context, in model.CreateEntityInput) (model.Entity, error) {
	if in.Kind == storage.KindSource {
		return nil, &errs.Error{Code: errs.InvalidArgument, Field: "kind", Message: "create sources with addSource, which takes their text"}
	}
	n := &storage.Node{Kind: in.Kind, Name: in.Name, Slug: str(in.Slug), Labels: labels(in.Labels), Aliases: in.Aliases,
		Description: str(in.Description), OrgType: str(in.OrgType), PlaceType: str(in.PlaceType), Code: str(in.Code),
		ProductType: str(in.ProductType), Status: str(in.Status), Programme: str(in.Programme), CreatedBy: actor(ctx)}
	if in.Year != nil {
		n.Year = *in.Year
	}
	n, err := r.graph(ctx).CreateNode(n, "")
	if err != nil {
		return nil, err
	}
	return model.View(r.rd(ctx), n), nil
}

func (r *Resolver) updateEntity(ctx context.Context, in model.UpdateEntityInput) (model.Entity, error) {
	id, err := r.ref(ctx, "entity", &in.Entity)
	if err != nil {
		return nil, err
	}
	n, err := r.graph(ctx).UpdateNode(id, storage.NodePatch{Name: in.Name, Labels: labels(in.Labels), Aliases: in.Aliases,
		Description: in.Description, Year: in.Year, OrgType: in.OrgType, PlaceType: in.PlaceType, Code: in.Code,
		ProductType: in.ProductType, Status: in.Status, Programme: in.Programme, By: actor(ctx)})
	if err != nil {
		return nil, err
	}
	return model.View(r.rd(ctx), n), nil
}

func (r *Resolver) addSource(ctx context.Context, in model.AddSourceInput) (*model.Source, error) {
	name := str(in.TitleEn)
	if name == "" {
		name = in.Title
	}
	n := &storage.Node{Kind: storage.KindSource, Name: name, Slug: str(in.Slug), Title: in.Title, TitleEn: str(in.TitleEn),
		Author: str(in.Author), Publisher: str(in.Publisher), PublishedAt: in.PublishedAt, Language: in.Language,
		URL: str(in.URL), Labels: []storage.Label{{Lang: in.Language, Text: in.Title}}, CreatedBy: actor(ctx)}
	if err := storage.CheckText("title", in.Title, storage.MaxNameLen); err != nil {
		return nil, err
	}
	if len(in.Text) == 0 {
		return nil, &errs.Error{Code: errs.InvalidArgument, Field: "text", Message: "a source needs its text"}
	}
	n, err := r.graph(ctx).CreateNode(n, in.Text)
	if err != nil {
		return nil, err
	}
	return model.ViewAs[model.Source](r.rd(ctx), n), nil
}

func (r *Resolver) addFact(ctx context.Context, in model.AddFactInput) (*model.Fact, error) {
	f := &storage.Fact{Predicate: in.Predicate, Value: str(in.Value), Measure: str(in.Measure), Role: str(in.Role),
		Former: in.Former != nil && *in.Former, Negated: in.Negated != nil && *in.Negated, CreatedBy: actor(ctx)}
	var err error
	if f.Subject, err = r.ref(ctx, "subject", &in.Subject); err != nil {
		return nil, err
	}
	if f.Object, err = r.ref(ctx, "object", in.Object); err != nil {
		return nil, err
	}
	if in.Tier != nil {
		f.Tier = *in.Tier
	}
	if q := in.Quantity; q != nil {
		f.Quantity = &storage.Quantity{Amount: q.Amount, Upper: q.Upper, Unit: str(q.Unit), Bound: storage.BoundExact}
		if q.Bound != nil {
			f.Quantity.Bound = *q.Bound
		}
	}
	for _, d := range []struct {
		field string
		in    *string
		out   **storage.Date
	}{{"date", in.Date, &f.Date}, {"start", in.Start, &f.Start}, {"end", in.End, &f.End}} {
		if d.in == nil {
			continue
		}
		v, err := storage.ParseDate(*d.in)
		if err != nil {
			if e, ok := err.(*errs.Error); ok {
				e.Field = d.field
			}
			return nil, err
		}
		*d.out = &v
	}
	for _, e := range in.Evidence {
		src, err := r.ref(ctx, "evidence.source", &e.Source)
		if err != nil {
			return nil, err
		}
		f.Evidence = append(f.Evidence, storage.Evidence{Source: src, Quote: e.Quote, Gloss: str(e.Gloss), Note: str(e.Note)})
	}
	if in.Inference != nil {
		f.Inference = &storage.Inference{Rule: in.Inference.Rule, Reasoning: in.Inference.Reasoning}
	}
	added, err := r.graph(ctx).AddFact(f)
	return model.NewFact(r.rd(ctx), added), err
}

func (r *Resolver) retractFact(ctx context.Context, in model.RetractInput) (*model.Fact, error) {
	f, err := r.graph(ctx).RetractFact(in.ID, actor(ctx), in.Reason)
	return model.NewFact(r.rd(ctx), f), err
}

func (r *Resolver) retractEntity(ctx context.Context, in model.RetractInput) (model.Entity, error) {
	n, err := r.graph(ctx).RetractNode(uuid.UUID(in.ID), actor(ctx), in.Reason)
	if err != nil {
		return nil, err
	}
	return model.View(r.rd(ctx), n), nil
}
