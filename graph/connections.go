package graph

import (
	"context"
	"math"

	"github.com/google/uuid"

	"policygraph/graph/model"
	"policygraph/storage"
)

// This file holds the connections (connections.graphqls): each computes its
// whole list in storage (the list beside which it stands, narrowed by its
// filter and ordered by its sort) and pages it (paging.go).

// sponsorshipList is Query.sponsorships.
func (r *Resolver) sponsorshipList(ctx context.Context, series, event, sponsorCountry *string, includeInferred *bool, tier *storage.Tier, yearFrom, yearTo *int,
	order *model.SortOrder, f *model.FactFilter, sort []*model.FactSort, p pageArgs) (*model.FactConnection, error) {
	desc := order != nil && *order == model.SortOrderDesc
	if err := sortBeside(len(sort) > 0, "order", desc); err != nil {
		return nil, err
	}
	q, err := r.sponsorshipQuery(ctx, series, event, sponsorCountry, includeInferred, tier, yearFrom, yearTo)
	if err != nil {
		return nil, err
	}
	if f != nil {
		filter, err := r.factQuery(ctx, f)
		if err != nil {
			return nil, err
		}
		q.Filter = &filter
	}
	q.Sort = factSorts(sort)
	facts, err := r.sponsorships(ctx, q) // warns of countries matched by inference
	if err != nil {
		return nil, err
	}
	if desc {
		reverse(facts)
	}
	return factConnection(r.rd(ctx), facts, p, 50)
}

// directions are the ends of a fact an entity may be on, for Direction.
func directions(d *model.Direction) []storage.Direction {
	switch {
	case d != nil && *d == model.DirectionOut:
		return []storage.Direction{storage.Out}
	case d != nil && *d == model.DirectionIn:
		return []storage.Direction{storage.In}
	}
	return []storage.Direction{storage.Out, storage.In}
}

// factsAt is the connection beside a typed list of facts at n: n's facts on
// the ends dirs with one of preds (any predicate when none), in the scope
// the filter asks for (negated ones only with negated or includeNegated, or
// when a clause names negated; retracted ones only with includeRetracted),
// narrowed by the filter and ordered by sort. The facts are read through the
// request's loaders, as the typed lists read them.
func (r *Resolver) factsAt(ctx context.Context, n *storage.Node, dirs []storage.Direction, preds []storage.Predicate,
	f *model.FactFilter, sort []*model.FactSort, p pageArgs) (*model.FactConnection, error) {
	q, err := r.factQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	q.Sort = factSorts(sort)
	if len(preds) == 0 {
		preds = q.Predicates // the outermost predicates narrow the reads
	}
	if len(preds) == 0 {
		preds = []storage.Predicate{""}
	}
	var list []*storage.Fact
	seen := map[uuid.UUID]bool{}
	for _, dir := range dirs {
		for _, pred := range preds {
			facts, err := r.adjacent(ctx, storage.AdjQuery{Node: n.ID, Dir: dir, Predicate: pred, Negated: q.Keeps(true), Retracted: q.IncludeRetracted})
			if err != nil {
				return nil, err
			}
			for _, f := range facts {
				if !seen[f.ID] { // a fact from n to itself is at both ends
					seen[f.ID] = true
					list = append(list, f)
				}
			}
		}
	}
	facts, err := r.loaders(ctx).factLists.Load(ctx, &storage.FactList{Facts: list, Query: q})
	if err != nil {
		return nil, err
	}
	c, err := factConnection(r.rd(ctx), facts, p, 50)
	if err == nil && q.Negated == nil && q.Keeps(true) {
		warnUnmarkedNegated(ctx, anyNegated(c.Nodes), true)
	}
	return c, err
}

// sponsorshipYearConnection is SponsorshipYear.sponsorshipsConnection: the
// year's sponsorships, narrowed and ordered.
func (r *Resolver) sponsorshipYearConnection(ctx context.Context, y *model.SponsorshipYear, f *model.FactFilter, sort []*model.FactSort, p pageArgs) (*model.FactConnection, error) {
	q, err := r.factQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	q.Sort = factSorts(sort)
	list := make([]*storage.Fact, len(y.Sponsorships))
	for i, f := range y.Sponsorships {
		list[i] = f.Fact
	}
	facts, err := r.loaders(ctx).factLists.Load(ctx, &storage.FactList{Facts: list, Query: q})
	if err != nil {
		return nil, err
	}
	return factConnection(r.rd(ctx), facts, p, 50)
}

// entityPage is one page of a connection beside a typed list of entities.
type entityPage struct {
	rd    model.Reader // the request's, for the views of the nodes
	nodes []*storage.Node
	info  *model.PageInfo
	total int
}

// relatedAt is the connection beside a typed list of entities: those of kind
// k at the other end of n's active facts with pred on the end dir, not
// retracted, narrowed by the filter and ordered by sort (by year, then name,
// when none: events oldest first, other kinds by name).
func (r *Resolver) relatedAt(ctx context.Context, n *storage.Node, dir storage.Direction, pred storage.Predicate, k storage.Kind,
	f *model.EntityFilter, sort []*model.EntitySort, p pageArgs) (*entityPage, error) {
	q, err := r.entityQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	q.Sort = entitySorts(sort, storage.EntitySort{Key: storage.EntitiesByYear})
	related, err := r.related(ctx, n, dir, pred)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(related))
	for _, x := range related {
		if x.Kind == k {
			ids = append(ids, x.ID)
		}
	}
	if ids, err = r.loaders(ctx).entityLists.Load(ctx, &storage.EntityList{IDs: ids, Query: q}); err != nil {
		return nil, err
	}
	return r.entityPageOf(ctx, ids, p)
}

// entityPageOf cuts ids to the page p asks for (20 by default) and loads
// its entities.
func (r *Resolver) entityPageOf(ctx context.Context, ids []uuid.UUID, p pageArgs) (*entityPage, error) {
	pg, info, err := page(ids, p, 20)
	if err != nil {
		return nil, err
	}
	nodes, err := r.nodes(ctx, pg)
	if err != nil {
		return nil, err
	}
	return &entityPage{rd: r.rd(ctx), nodes: nodes, info: info, total: len(ids)}, nil
}

// typedEdges makes the edges and nodes of a page of entities of one kind,
// each seen as T; edge makes an edge of a cursor and a node.
func typedEdges[T, E any](rd model.Reader, nodes []*storage.Node, edge func(cursor string, node *T) E) ([]E, []*T) {
	edges, out := []E{}, []*T{}
	for _, n := range nodes {
		if v := model.ViewAs[T](rd, n); v != nil {
			edges = append(edges, edge(cursorOf(n.ID), v))
			out = append(out, v)
		}
	}
	return edges, out
}

func eventConnection(pg *entityPage, err error) (*model.EventConnection, error) {
	if err != nil {
		return nil, err
	}
	edges, nodes := typedEdges(pg.rd, pg.nodes, func(c string, v *model.Event) *model.EventEdge { return &model.EventEdge{Cursor: c, Node: v} })
	return &model.EventConnection{TotalCount: pg.total, PageInfo: pg.info, Edges: edges, Nodes: nodes}, nil
}

func personConnection(pg *entityPage, err error) (*model.PersonConnection, error) {
	if err != nil {
		return nil, err
	}
	edges, nodes := typedEdges(pg.rd, pg.nodes, func(c string, v *model.Person) *model.PersonEdge { return &model.PersonEdge{Cursor: c, Node: v} })
	return &model.PersonConnection{TotalCount: pg.total, PageInfo: pg.info, Edges: edges, Nodes: nodes}, nil
}

func organizationConnection(pg *entityPage, err error) (*model.OrganizationConnection, error) {
	if err != nil {
		return nil, err
	}
	edges, nodes := typedEdges(pg.rd, pg.nodes, func(c string, v *model.Organization) *model.OrganizationEdge {
		return &model.OrganizationEdge{Cursor: c, Node: v}
	})
	return &model.OrganizationConnection{TotalCount: pg.total, PageInfo: pg.info, Edges: edges, Nodes: nodes}, nil
}

func productConnection(pg *entityPage, err error) (*model.ProductConnection, error) {
	if err != nil {
		return nil, err
	}
	edges, nodes := typedEdges(pg.rd, pg.nodes, func(c string, v *model.Product) *model.ProductEdge { return &model.ProductEdge{Cursor: c, Node: v} })
	return &model.ProductConnection{TotalCount: pg.total, PageInfo: pg.info, Edges: edges, Nodes: nodes}, nil
}

// searchConnection is Query.searchConnection: search's hits, every one of
// them, paged.
func (r *Resolver) searchConnection(ctx context.Context, text string, kinds []storage.Kind, p pageArgs) (*model.SearchConnection, error) {
	if err := storage.CheckText("text", text, MaxSearchText); err != nil {
		return nil, err
	}
	hits, err := r.graph(ctx).SearchEntities(text, kinds, math.MaxInt)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(hits))
	for i, h := range hits {
		ids[i] = h.Node.ID
	}
	lo, hi, info, err := pageRange(ids, p, 10)
	if err != nil {
		return nil, err
	}
	c := &model.SearchConnection{TotalCount: len(ids), PageInfo: info, Edges: []*model.SearchEdge{}, Nodes: []model.Entity{}}
	for _, h := range hits[lo:hi] {
		e := model.View(r.rd(ctx), h.Node)
		c.Edges = append(c.Edges, &model.SearchEdge{Cursor: cursorOf(h.Node.ID), Score: h.Score, Node: e})
		c.Nodes = append(c.Nodes, e)
	}
	return c, nil
}
