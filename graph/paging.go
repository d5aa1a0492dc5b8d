package graph

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"policygraph/errs"
	"policygraph/graph/model"
	"policygraph/storage"
)

// Paging, as Relay's cursor connections specification has it: first/after
// pages forward, last/before backward. Every connection computes its whole
// list (totalCount counts it) and cuts the page from it, so pageInfo is exact
// both ways: hasPreviousPage says whether items precede the page in the
// list, hasNextPage whether items follow it, however the page was asked for.

// MaxPageSize bounds first and last on every connection.
const MaxPageSize = 200

// pageArgs are the paging arguments of one connection field.
type pageArgs struct {
	first, last   *int
	after, before *string
	// firstGiven is whether the query gave first a value, rather than the
	// schema's default filling it in: first's default applies only when
	// last is not given.
	firstGiven bool
}

// paging reads the paging arguments of the field being resolved.
func paging(ctx context.Context, first *int, after *string, last *int, before *string) pageArgs {
	return pageArgs{first: first, after: after, last: last, before: before, firstGiven: argGiven(ctx, "first")}
}

// argGiven reports whether the query gave the argument name of the field
// being resolved a value (a literal, or a variable the request set), as
// opposed to leaving it out for its default. gqlgen hands a resolver the
// default of an argument left out, so only the query tells them apart.
func argGiven(ctx context.Context, name string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return false
	}
	a := fc.Field.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return false
	}
	switch a.Value.Kind {
	case ast.Variable:
		if !graphql.HasOperationContext(ctx) {
			return false
		}
		v, ok := graphql.GetOperationContext(ctx).Variables[a.Value.Raw]
		return ok && v != nil
	case ast.NullValue:
		return false
	}
	return true
}

func cursorOf(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// cursorIndex is the position in ids of the item the cursor (the argument
// field) names.
func cursorIndex(ids []uuid.UUID, field, cursor string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) != 16 {
		return 0, &errs.Error{Code: errs.InvalidArgument, Field: field, Message: fmt.Sprintf("%s is not a cursor this API gave", field)}
	}
	id, _ := uuid.FromBytes(b)
	for i, x := range ids {
		if x == id {
			return i, nil
		}
	}
	return 0, &errs.Error{Code: errs.InvalidArgument, Field: field, Message: fmt.Sprintf("%s: the cursor's item is no longer in this list (or was never in it)", field)}
}

// page cuts the page p asks for from ids, the whole list in its order, and
// says where it is; def is the page size when neither first nor last is
// given. It refuses first with last, a size out of [0, MaxPageSize], and a
// cursor that names no item of ids. after and before together bound the page
// on both sides; a before at or ahead of after leaves it empty.
func page(ids []uuid.UUID, p pageArgs, def int) ([]uuid.UUID, *model.PageInfo, error) {
	lo, hi, info, err := pageRange(ids, p, def)
	if err != nil {
		return nil, nil, err
	}
	return ids[lo:hi], info, nil
}

// pageRange is page's cut as bounds: the page is ids[lo:hi], so a caller
// with a list beside ids, in the same order, cuts that list the same way.
func pageRange(ids []uuid.UUID, p pageArgs, def int) (lo, hi int, info *model.PageInfo, err error) {
	if p.last != nil && p.first != nil && p.firstGiven {
		return 0, 0, nil, &errs.Error{Code: errs.InvalidArgument, Field: "last", Message: "give first (to page forward from after) or last (to page back from before), not both"}
	}
	n, field := def, "first"
	switch {
	case p.last != nil:
		n, field = *p.last, "last"
	case p.first != nil:
		n = *p.first
	}
	if n < 0 || n > MaxPageSize {
		return 0, 0, nil, &errs.Error{Code: errs.InvalidArgument, Field: field, Message: fmt.Sprintf("%s must be between 0 and %d", field, MaxPageSize)}
	}
	lo, hi = 0, len(ids)
	if p.after != nil && *p.after != "" {
		i, err := cursorIndex(ids, "after", *p.after)
		if err != nil {
			return 0, 0, nil, err
		}
		lo = i + 1
	}
	if p.before != nil && *p.before != "" {
		i, err := cursorIndex(ids, "before", *p.before)
		if err != nil {
			return 0, 0, nil, err
		}
		hi = i
	}
	hi = max(hi, lo)
	if field == "last" {
		lo = max(lo, hi-n)
	} else {
		hi = min(hi, lo+n)
	}
	info = &model.PageInfo{HasNextPage: hi < len(ids), HasPreviousPage: lo > 0}
	if hi > lo {
		s, e := cursorOf(ids[lo]), cursorOf(ids[hi-1])
		info.StartCursor, info.EndCursor = &s, &e
	}
	return lo, hi, info, nil
}

func factIDs(facts []*storage.Fact) []uuid.UUID {
	ids := make([]uuid.UUID, len(facts))
	for i, f := range facts {
		ids[i] = f.ID
	}
	return ids
}

// factConnection pages a computed list of facts.
func factConnection(rd model.Reader, facts []*storage.Fact, p pageArgs, def int) (*model.FactConnection, error) {
	lo, hi, info, err := pageRange(factIDs(facts), p, def)
	if err != nil {
		return nil, err
	}
	c := &model.FactConnection{TotalCount: len(facts), PageInfo: info, Edges: []*model.FactEdge{}, Nodes: []*model.Fact{}}
	for _, sf := range facts[lo:hi] {
		f := model.NewFact(rd, sf)
		c.Edges = append(c.Edges, &model.FactEdge{Cursor: cursorOf(sf.ID), Node: f})
		c.Nodes = append(c.Nodes, f)
	}
	return c, nil
}
