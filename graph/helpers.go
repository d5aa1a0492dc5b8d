package graph

import (
	"context"
	"fmt"
	"strings"
	"time"

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
	return model.DropNil(got), nil
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
	return viewsOf[T](r.rd(ctx), nodes, k), nil
}

// viewsOf wraps the nodes of kind k in their typed view T, reading through rd.
func viewsOf[T any](rd model.Reader, nodes []*storage.Node, k storage.Kind) []*T {
	return model.ViewsOf[T](rd, nodes, k)
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
func entities(rd model.Reader, nodes []*storage.Node) []model.Entity {
	out := make([]model.Entity, 0, len(nodes))
	for _, n := range nodes {
		if e := model.View(rd, n); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// factsOf wraps facts for the schema, reading through rd, passing err on:
// factsOf(r.rd(ctx))(r.active(...)).
func factsOf(rd model.Reader) func(facts []*storage.Fact, err error) ([]*model.Fact, error) {
	return func(facts []*storage.Fact, err error) ([]*model.Fact, error) {
		if err != nil {
			return nil, err
		}
		return model.Facts(rd, facts), nil
	}
}

// entityFacts is the facts field every entity kind shares. Which facts it
// keeps, negated and retracted ones, is storage.FactQuery's rule, as for the
// facts query.
func (r *Resolver) entityFacts(ctx context.Context, n *storage.Node, preds []storage.Predicate, dir *model.Direction, negated, includeNegated, includeRetracted, includeInferred *bool, asOf *time.Time) ([]*model.Fact, error) {
	d := model.DirectionBoth
	if dir != nil {
		d = *dir
	}
	keep := storage.FactQuery{Negated: negated, IncludeNegated: includeNegated != nil && *includeNegated,
		IncludeRetracted: includeRetracted != nil && *includeRetracted,
		ExcludeInferred:  includeInferred != nil && !*includeInferred, AsOf: asOf}
	retracted := keep.ScansRetracted()
	if len(preds) == 0 {
		preds = []storage.Predicate{""}
	}
	var out []*storage.Fact
	for _, dd := range []storage.Direction{storage.Out, storage.In} {
		if (dd == storage.Out && d == model.DirectionIn) || (dd == storage.In && d == model.DirectionOut) {
			continue
		}
		for _, p := range preds {
			facts, err := r.adjacent(ctx, storage.AdjQuery{Node: n.ID, Dir: dd, Predicate: p, Negated: !keep.PositiveOnly(), Retracted: retracted})
			if err != nil {
				return nil, err
			}
			for _, f := range facts {
				if keep.Keeps(f.Negated) && keep.KeepsRecord(f) {
					out = append(out, f)
				}
			}
		}
	}
	facts := model.Facts(r.rd(ctx), out)
	if negated == nil && keep.IncludeNegated {
		warnUnmarkedNegated(ctx, anyNegated(facts), false)
	}
	return facts, nil
}

// startOf is the start (or point in time: a fact has one or the other) of the
// node's first active fact with pred that is dated.
func (r *Resolver) startOf(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate) (*model.PartialDate, error) {
	return r.firstDate(ctx, n, dir, pred, func(f *storage.Fact) *storage.Date { return f.Start })
}

// endOf is the end (or point in time) of the node's first active fact with pred that is dated.
func (r *Resolver) endOf(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate) (*model.PartialDate, error) {
	return r.firstDate(ctx, n, dir, pred, func(f *storage.Fact) *storage.Date { return f.End })
}

// firstDate is, of the node's first active fact with pred that is dated, the
// end of its span that end picks (start or end), else its point in time.
func (r *Resolver) firstDate(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate, end func(*storage.Fact) *storage.Date) (*model.PartialDate, error) {
	facts, err := r.active(ctx, n, dir, pred)
	if err != nil {
		return nil, err
	}
	for _, f := range facts {
		if d := end(f); d != nil {
			return model.NewPartialDate(d), nil
		}
		if f.Date != nil {
			return model.NewPartialDate(f.Date), nil
		}
	}
	return nil, nil
}

// lookup resolves an (id, slug) pair of arguments to a node of kind k (""
// for any kind): nil, with no error, when it names nothing; nil with a
// WRONG_KIND error (wrongKind) when it names an entity of another kind, or,
// by ID, a fact.
func (r *Resolver) lookup(ctx context.Context, id *uuid.UUID, slug *string, k storage.Kind) (*storage.Node, error) {
	var n *storage.Node
	var err error
	switch {
	case id != nil:
		n, err = r.node(ctx, *id)
		if err == nil && n == nil {
			return nil, r.factNotEntity(ctx, *id, k)
		}
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
		return nil, wrongKind(n, k, id != nil)
	}
	return n, nil
}

// lookupAs is lookup returning the typed view T of kind k.
func lookupAs[T any](ctx context.Context, r *Resolver, id *uuid.UUID, slug *string, k storage.Kind) (*T, error) {
	n, err := r.lookup(ctx, id, slug, k)
	if err != nil || n == nil {
		return nil, err
	}
	return model.ViewAs[T](r.rd(ctx), n), nil
}

// lookupField names the Query field that finds an entity of kind k by ID or
// slug, for the hints of WRONG_KIND errors: the kind's Class, lowerCamelCase
// (EXPORT_CONTROL: exportControl). graph/registry_test.go checks that the
// schema has one for every kind.
func lookupField(k storage.Kind) string {
	c := k.Class()
	if c == "" {
		return ""
	}
	return strings.ToLower(c[:1]) + c[1:]
}

// wrongKind is the error of a lookup of kind want that found n, of another
// kind, by ID (byID) or slug: it names n's kind and the lookups that find it
// ("waic-2023 is an EVENT, not an ORGANIZATION: use event(slug:) or
// entity(slug:)"), and hints the call.
func wrongKind(n *storage.Node, want storage.Kind, byID bool) error {
	arg, val := "slug", n.Slug
	if byID {
		arg, val = "id", n.ID.String()
	}
	field := lookupField(n.Kind)
	return &errs.Error{Code: errs.WrongKind, Field: arg,
		Message: fmt.Sprintf("%s is %s, not %s: use %s(%s:) or entity(%s:)", val, withArticle(string(n.Kind)), withArticle(string(want)), field, arg, arg),
		Hint:    fmt.Sprintf("%s(%s: %q)", field, arg, val)}
}

// factNotEntity is the error of a lookup of an entity (of kind k, "" for any)
// by an ID that names none: WRONG_KIND when it names a fact, else nil (the
// lookup answers null).
func (r *Resolver) factNotEntity(ctx context.Context, id uuid.UUID, k storage.Kind) error {
	f, err := r.fact(ctx, id)
	if err != nil || f == nil {
		return err
	}
	want := "an entity"
	if k != "" {
		want = withArticle(string(k))
	}
	return &errs.Error{Code: errs.WrongKind, Field: "id",
		Message: fmt.Sprintf("%s is a fact, not %s: use fact(id:) or node(id:)", id, want),
		Hint:    fmt.Sprintf("fact(id: %q)", id.String())}
}

// entityNotFact is the error of fact(id:) given an ID that names no fact:
// WRONG_KIND when it names an entity, else nil (the lookup answers null).
func (r *Resolver) entityNotFact(ctx context.Context, id uuid.UUID) error {
	n, err := r.node(ctx, id)
	if err != nil || n == nil {
		return err
	}
	return &errs.Error{Code: errs.WrongKind, Field: "id",
		Message: fmt.Sprintf("%s is %s, not a fact: use %s(id:) or entity(id:)", id, withArticle(string(n.Kind)), lookupField(n.Kind)),
		Hint:    fmt.Sprintf("%s(id: %q)", lookupField(n.Kind), id.String())}
}

// withArticle is a kind with its indefinite article: "an EVENT", "a PERSON".
func withArticle(kind string) string {
	if kind != "" && strings.ContainsRune("AEIOU", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
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
