package graph

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// This file holds the resolvers' shared steps: decoding arguments into storage
// queries and storage results into API shapes. The logic of the questions lives
// in storage.

func (r *Resolver) identified(ctx context.Context, id uuid.UUID) (model.Identified, error) {
	n, err := r.node(ctx, id)
	if err != nil {
		return nil, err
	}
	if n != nil {
		return model.View(r.rd(ctx), n), nil
	}
	f, err := r.fact(ctx, id)
	if f == nil || err != nil {
		return nil, err // an untyped nil: no Identified holding a nil *Fact
	}
	return model.NewFact(r.rd(ctx), f), nil
}

// fact reads a fact under the request's deadline; nil when the ID names none.
func (r *Resolver) fact(ctx context.Context, id uuid.UUID) (*storage.Fact, error) {
	f, err := r.graph(ctx).Fact(id)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil
	}
	return f, err
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (r *Resolver) country(field string, s *string) (string, error) {
	if s == nil || *s == "" {
		return "", nil
	}
	return *s, storage.CheckCountry(field, *s)
}

// authority resolves sanctionedBy / controlledBy: "*" means any authority.
func (r *Resolver) authority(ctx context.Context, field string, s *string) (uuid.UUID, error) {
	if s != nil && *s == "*" {
		return storage.AnyAuthority, nil
	}
	return r.ref(ctx, field, s)
}

func (r *Resolver) entityList(ctx context.Context, f *model.EntityFilter, orderBy *model.EntityOrder, order *model.SortOrder, sort []*model.EntitySort, p pageArgs) (*model.EntityConnection, error) {
	byYear, desc := orderBy != nil && *orderBy == model.EntityOrderYear, order != nil && *order == model.SortOrderDesc
	if err := sortBeside(len(sort) > 0, "orderBy", byYear); err != nil {
		return nil, err
	}
	if err := sortBeside(len(sort) > 0, "order", desc); err != nil {
		return nil, err
	}
	q, err := r.entityQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	q.ByYear, q.Sort = byYear, entitySorts(sort)
	ids, err := r.graph(ctx).Entities(q)
	if err != nil {
		return nil, err
	}
	if desc {
		reverse(ids)
	}
	pg, err := r.entityPageOf(ctx, ids, p)
	if err != nil {
		return nil, err
	}
	c := &model.EntityConnection{TotalCount: pg.total, PageInfo: pg.info, Edges: []*model.EntityEdge{}, Nodes: []model.Entity{}}
	for _, n := range pg.nodes {
		e := model.View(r.rd(ctx), n)
		c.Edges = append(c.Edges, &model.EntityEdge{Cursor: cursorOf(n.ID), Node: e})
		c.Nodes = append(c.Nodes, e)
	}
	return c, nil
}

func (r *Resolver) factList(ctx context.Context, f *model.FactFilter, order *model.SortOrder, sort []*model.FactSort, p pageArgs) (*model.FactConnection, error) {
	desc := order != nil && *order == model.SortOrderDesc
	if err := sortBeside(len(sort) > 0, "order", desc); err != nil {
		return nil, err
	}
	q, err := r.factQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	q.Sort = factSorts(sort)
	if c, ok, err := r.factWalkPage(ctx, q, desc, p); ok || err != nil {
		return c, err
	}
	facts, err := r.graph(ctx).FindFacts(q)
	if err != nil {
		return nil, err
	}
	if desc {
		reverse(facts)
	}
	c, err := factConnection(r.rd(ctx), facts, p, 50)
	if err == nil && q.Negated == nil && q.Keeps(true) {
		warnUnmarkedNegated(ctx, anyNegated(c.Nodes), true)
	}
	return c, err
}

// factWalkPage answers a page of a walk (storage.FactQuery.Walkable: facts
// by predicates and known years, the default order, forward by first and
// after) from the read model's walk index, which cuts it at its cursor
// instead of from the whole list: the same page, pageInfo and totalCount.
// ok is false when the page is not such a walk's (or the cursor or size is
// not valid: the general path then answers, with its errors).
func (r *Resolver) factWalkPage(ctx context.Context, q storage.FactQuery, desc bool, p pageArgs) (*model.FactConnection, bool, error) {
	if desc || p.last != nil || (p.before != nil && *p.before != "") || !q.Walkable() {
		return nil, false, nil
	}
	n := 50
	if p.first != nil {
		n = *p.first
	}
	if n < 0 || n > MaxPageSize {
		return nil, false, nil
	}
	var after uuid.UUID
	if p.after != nil && *p.after != "" {
		b, err := base64.RawURLEncoding.DecodeString(*p.after)
		if err != nil || len(b) != 16 {
			return nil, false, nil
		}
		after, _ = uuid.FromBytes(b)
	}
	facts, pg, ok, err := r.graph(ctx).FactPage(q, after, n)
	if err != nil || !ok || (after != uuid.Nil && !pg.AfterFound) {
		return nil, false, err
	}
	c := &model.FactConnection{TotalCount: pg.Total, PageInfo: &model.PageInfo{HasNextPage: pg.HasNext, HasPreviousPage: after != uuid.Nil},
		Edges: []*model.FactEdge{}, Nodes: []*model.Fact{}}
	if len(facts) > 0 {
		s, e := cursorOf(facts[0].ID), cursorOf(facts[len(facts)-1].ID)
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &s, &e
	}
	for _, f := range model.Facts(r.rd(ctx), facts) {
		c.Edges = append(c.Edges, &model.FactEdge{Cursor: cursorOf(f.ID), Node: f})
		c.Nodes = append(c.Nodes, f)
	}
	if q.Negated == nil && q.Keeps(true) {
		warnUnmarkedNegated(ctx, anyNegated(c.Nodes), true)
	}
	return c, true, nil
}

// anyNegated reports whether facts hold a negated one.
func anyNegated(facts []*model.Fact) bool {
	for _, f := range facts {
		if f.Negated {
			return true
		}
	}
	return false
}

func (r *Resolver) sponsorshipQuery(ctx context.Context, series, event, sponsorCountry *string, includeInferred *bool, tier *storage.Tier, yearFrom, yearTo *int) (storage.SponsorshipQuery, error) {
	q := storage.SponsorshipQuery{YearFrom: yearFrom, YearTo: yearTo, ExcludeInferred: includeInferred != nil && !*includeInferred}
	var err error
	if q.Series, err = r.ref(ctx, "series", series); err != nil {
		return q, err
	}
	if q.Event, err = r.ref(ctx, "event", event); err != nil {
		return q, err
	}
	if q.SponsorCountry, err = r.country("sponsorCountry", sponsorCountry); err != nil {
		return q, err
	}
	if tier != nil {
		q.Tier = *tier
	}
	return q, nil
}

func (r *Resolver) sponsorshipsByYear(ctx context.Context, series, event, sponsorCountry *string, includeInferred *bool, tier *storage.Tier, yearFrom, yearTo *int, order *model.SortOrder) ([]*model.SponsorshipYear, error) {
	q, err := r.sponsorshipQuery(ctx, series, event, sponsorCountry, includeInferred, tier, yearFrom, yearTo)
	if err != nil {
		return nil, err
	}
	facts, err := r.sponsorships(ctx, q)
	if err != nil {
		return nil, err
	}
	out := []*model.SponsorshipYear{}
	var cur *model.SponsorshipYear
	seen := map[uuid.UUID]bool{}
	for _, f := range facts {
		if cur == nil || cur.Year != f.Year {
			cur = &model.SponsorshipYear{Year: f.Year, Events: []*model.Event{}}
			out = append(out, cur)
		}
		cur.Sponsorships = append(cur.Sponsorships, model.NewFact(r.rd(ctx), f))
		if !seen[f.Object] {
			seen[f.Object] = true
			n, err := r.node(ctx, f.Object)
			if err != nil {
				return nil, err
			}
			if ev := model.ViewAs[model.Event](r.rd(ctx), n); ev != nil { // a SPONSORED fact's object is an event
				cur.Events = append(cur.Events, ev)
			}
		}
	}
	if order != nil && *order == model.SortOrderDesc {
		reverse(out)
	}
	return out, nil
}

// sponsorships answers q and, when it matched sponsors by country through
// inferred COUNTRY facts (as it does unless includeInferred is false), says
// which in extensions.warnings: the answer marks what rests on an inference.
func (r *Resolver) sponsorships(ctx context.Context, q storage.SponsorshipQuery) ([]*storage.Fact, error) {
	facts, err := r.graph(ctx).Sponsorships(q)
	if err != nil || q.SponsorCountry == "" || q.ExcludeInferred {
		return facts, err
	}
	var sponsors []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, f := range facts {
		if !seen[f.Subject] {
			seen[f.Subject] = true
			sponsors = append(sponsors, f.Subject)
		}
	}
	inferred, err := r.graph(ctx).CountryInferred(sponsors, q.SponsorCountry)
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	for _, id := range sponsors {
		if inferred[id] {
			ids = append(ids, id)
		}
	}
	nodes, err := r.nodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	if len(names) > 0 {
		warn(ctx, fmt.Sprintf("sponsorCountry %s matched %s through inferred COUNTRY facts (the sources imply the country, not state it; "+
			"Organization.countryInference says why); includeInferred: false leaves them out", q.SponsorCountry, strings.Join(names, ", ")))
	}
	return facts, nil
}

// revisions is the revisions field every entity kind shares.
func (r *Resolver) revisions(ctx context.Context, n *storage.Node) ([]*model.EntityRevision, error) {
	revs, err := r.graph(ctx).Revisions(n.ID)
	if err != nil {
		return nil, err
	}
	return model.EntityRevisions(revs), nil
}

// MaxSearchText bounds the length of a search string.
const MaxSearchText = 200

func (r *Resolver) search(ctx context.Context, text string, kinds []storage.Kind, first *int) ([]*model.SearchHit, error) {
	if err := storage.CheckText("text", text, MaxSearchText); err != nil {
		return nil, err
	}
	limit := 10
	if first != nil {
		limit = *first
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, &errs.Error{Code: errs.InvalidArgument, Field: "first", Message: fmt.Sprintf("first must be between 0 and %d", MaxPageSize)}
	}
	hits, err := r.graph(ctx).SearchEntities(text, kinds, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*model.SearchHit, len(hits))
	for i, h := range hits {
		out[i] = &model.SearchHit{Entity: model.View(r.rd(ctx), h.Node), Score: h.Score}
	}
	return out, nil
}

func predicateInfos() []*model.PredicateInfo {
	out := make([]*model.PredicateInfo, 0, len(storage.Predicates))
	for _, p := range storage.Predicates {
		subj, obj := p.Subjects, p.Objects
		if len(subj) == 0 {
			subj = storage.Kinds
		}
		if len(obj) == 0 && p.ObjectRequired {
			obj = storage.Kinds
		}
		out = append(out, &model.PredicateInfo{Predicate: p.Predicate, Description: p.Description,
			SubjectKinds: subj, ObjectKinds: append([]storage.Kind{}, obj...), HasObject: p.ObjectRequired})
	}
	return out
}

func (r *Resolver) stats(ctx context.Context) (*model.GraphStats, error) {
	s, err := r.graph(ctx).Stats()
	if err != nil {
		return nil, err
	}
	out := &model.GraphStats{Entities: s.Nodes, Facts: s.Facts, ActiveFacts: s.ActiveFacts,
		Version: strconv.FormatUint(r.graph(ctx).Version(), 10), ByKind: []*model.KindCount{}}
	for _, k := range storage.Kinds {
		out.ByKind = append(out.ByKind, &model.KindCount{Kind: k, Count: s.ByKind[k]})
	}
	return out, nil
}
