package graph

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// node loads one node through the request's loader; nil if the ID names none.
func (r *Resolver) node(ctx context.Context, id uuid.UUID) (*storage.Node, error) {
	if id == uuid.Nil {
		return nil, nil
	}
	return r.loaders(ctx).nodes.Load(ctx, id)
}

// nodes loads many nodes, dropping IDs that name none.
func (r *Resolver) nodes(ctx context.Context, ids []uuid.UUID) ([]*storage.Node, error) {
	got, err := r.loaders(ctx).nodes.LoadAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := got[:0]
	for _, n := range got {
		if n != nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// adjacent loads the facts next to a node through the request's loader.
func (r *Resolver) adjacent(ctx context.Context, q storage.AdjQuery) ([]*storage.Fact, error) {
	return r.loaders(ctx).adj.Load(ctx, q)
}

// active returns the node's active facts with the predicate in the direction.
func (r *Resolver) active(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate) ([]*storage.Fact, error) {
	return r.adjacent(ctx, storage.AdjQuery{Node: n.ID, Dir: dir, Predicate: pred})
}

// negatedOnly returns the node's negated (not retracted) facts with the predicate.
func (r *Resolver) negatedOnly(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate) ([]*storage.Fact, error) {
	all, err := r.adjacent(ctx, storage.AdjQuery{Node: n.ID, Dir: dir, Predicate: pred, Negated: true})
	if err != nil {
		return nil, err
	}
	out := make([]*storage.Fact, 0, len(all))
	for _, f := range all {
		if f.Negated {
			out = append(out, f)
		}
	}
	return out, nil
}

// related returns the distinct entities at the other end of n's active facts.
func (r *Resolver) related(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate) ([]*storage.Node, error) {
	facts, err := r.active(ctx, n, dir, pred)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(facts))
	seen := map[uuid.UUID]bool{}
	for _, f := range facts {
		id := f.Object
		if dir == storage.In {
			id = f.Subject
		}
		if id != uuid.Nil && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return r.nodes(ctx, ids)
}

// relatedAs is related, keeping the nodes of kind k wrapped in their typed view.
func relatedAs[T any](ctx context.Context, r *Resolver, n *storage.Node, dir storage.Direction, pred storage.Predicate, k storage.Kind) ([]*T, error) {
	nodes, err := r.related(ctx, n, dir, pred)
	if err != nil {
		return nil, err
	}
	return viewsOf[T](nodes, k), nil
}

// viewsOf wraps the nodes of kind k in their typed view T.
func viewsOf[T any](nodes []*storage.Node, k storage.Kind) []*T {
	out := make([]*T, 0, len(nodes))
	for _, n := range nodes {
		if n != nil && n.Kind == k {
			if v := model.ViewAs[T](n); v != nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// firstAs returns the first related entity of kind k, or nil.
func firstAs[T any](ctx context.Context, r *Resolver, n *storage.Node, dir storage.Direction, pred storage.Predicate, k storage.Kind) (*T, error) {
	all, err := relatedAs[T](ctx, r, n, dir, pred, k)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[0], nil
}

// entities wraps nodes in their typed views.
func entities(nodes []*storage.Node) []model.Entity {
	out := make([]model.Entity, 0, len(nodes))
	for _, n := range nodes {
		if e := model.View(n); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// factsOf wraps facts for the schema, passing err on.
func factsOf(facts []*storage.Fact, err error) ([]*model.Fact, error) {
	if err != nil {
		return nil, err
	}
	return model.Facts(facts), nil
}

// entityFacts is the facts field every entity kind shares.
func (r *Resolver) entityFacts(ctx context.Context, n *storage.Node, preds []storage.Predicate, dir *model.Direction, negated *bool, includeRetracted *bool) ([]*model.Fact, error) {
	d := model.DirectionBoth
	if dir != nil {
		d = *dir
	}
	retracted := includeRetracted != nil && *includeRetracted
	if len(preds) == 0 {
		preds = []storage.Predicate{""}
	}
	var out []*storage.Fact
	for _, dd := range []storage.Direction{storage.Out, storage.In} {
		if (dd == storage.Out && d == model.DirectionIn) || (dd == storage.In && d == model.DirectionOut) {
			continue
		}
		for _, p := range preds {
			facts, err := r.adjacent(ctx, storage.AdjQuery{Node: n.ID, Dir: dd, Predicate: p, Negated: negated == nil || *negated, Retracted: retracted})
			if err != nil {
				return nil, err
			}
			for _, f := range facts {
				if negated == nil || f.Negated == *negated {
					out = append(out, f)
				}
			}
		}
	}
	return model.Facts(out), nil
}

// startOf is the start (or point in time: a fact has one or the other) of the
// node's first active fact with pred that is dated.
func (r *Resolver) startOf(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate) (*model.PartialDate, error) {
	facts, err := r.active(ctx, n, dir, pred)
	if err != nil {
		return nil, err
	}
	for _, f := range facts {
		if f.Start != nil {
			return model.NewPartialDate(f.Start), nil
		}
		if f.Date != nil {
			return model.NewPartialDate(f.Date), nil
		}
	}
	return nil, nil
}

// endOf is the end (or point in time) of the node's first active fact with pred that is dated.
func (r *Resolver) endOf(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate) (*model.PartialDate, error) {
	facts, err := r.active(ctx, n, dir, pred)
	if err != nil {
		return nil, err
	}
	for _, f := range facts {
		if f.End != nil {
			return model.NewPartialDate(f.End), nil
		}
		if f.Date != nil {
			return model.NewPartialDate(f.Date), nil
		}
	}
	return nil, nil
}

// lookup resolves an (id, slug) pair of arguments to a node of kind k; nil when
// it names none. kind "" accepts any kind.
func (r *Resolver) lookup(ctx context.Context, id *uuid.UUID, slug *string, k storage.Kind) (*storage.Node, error) {
	var n *storage.Node
	var err error
	switch {
	case id != nil:
		n, err = r.node(ctx, *id)
	case slug != nil:
		n, err = r.graph(ctx).NodeBySlug(*slug)
		if errs.CodeOf(err) == errs.NotFound {
			return nil, nil
		}
	default:
		return nil, &errs.Error{Code: errs.InvalidArgument, Field: "id", Message: "give an id or a slug"}
	}
	if err != nil || n == nil {
		return nil, err
	}
	if k != "" && n.Kind != k {
		return nil, nil
	}
	return n, nil
}

// lookupAs is lookup returning the typed view T of kind k.
func lookupAs[T any](ctx context.Context, r *Resolver, id *uuid.UUID, slug *string, k storage.Kind) (*T, error) {
	n, err := r.lookup(ctx, id, slug, k)
	if err != nil || n == nil {
		return nil, err
	}
	return model.ViewAs[T](n), nil
}

// ref resolves an optional slug-or-ID argument; uuid.Nil when absent.
func (r *Resolver) ref(ctx context.Context, field string, s *string) (uuid.UUID, error) {
	if s == nil || *s == "" {
		return uuid.Nil, nil
	}
	id, err := r.graph(ctx).Ref(*s)
	if err != nil {
		if e, ok := err.(*errs.Error); ok {
			e.Field = field
			e.Message = fmt.Sprintf("%s: %s", field, e.Message)
		}
		return uuid.Nil, err
	}
	return id, nil
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}
