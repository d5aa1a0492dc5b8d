package graph

import (
	"context"
	"sort"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Warning is a note on an answer that is right but easy to misread, sent
// beside the data as extensions.warnings: [{message, path}]. Unlike an error
// it leaves the answer whole (saved queries and dashboards read it as
// before).
type Warning struct {
	Message string   `json:"message"`
	Path    ast.Path `json:"path"`
}

// Warnings is the handler extension that collects the warnings the resolvers
// of one operation give (warn) and sends them as extensions.warnings, once
// each.
type Warnings struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = Warnings{}

// ExtensionName implements graphql.HandlerExtension.
func (Warnings) ExtensionName() string { return "Warnings" }

// Validate implements graphql.HandlerExtension.
func (Warnings) Validate(graphql.ExecutableSchema) error { return nil }

type warningsKey struct{}

type warningList struct {
	mu   sync.Mutex
	seen map[string]bool
	list []Warning
}

// InterceptResponse implements graphql.ResponseInterceptor.
func (Warnings) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	w := &warningList{seen: map[string]bool{}}
	resp := next(context.WithValue(ctx, warningsKey{}, w))
	w.mu.Lock()
	defer w.mu.Unlock()
	if resp != nil && len(w.list) > 0 {
		// Fields resolve concurrently: order the warnings by path, so that
		// one query always answers the same bytes (and the same ETag).
		sort.SliceStable(w.list, func(i, j int) bool { return w.list[i].Path.String() < w.list[j].Path.String() })
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["warnings"] = w.list
	}
	return resp
}

// warn adds a warning at the path of the field being resolved; without the
// Warnings extension (a test's bare executor) it is dropped.
func warn(ctx context.Context, msg string) {
	w, ok := ctx.Value(warningsKey{}).(*warningList)
	if !ok {
		return
	}
	path := graphql.GetPath(ctx)
	key := path.String() + "\x00" + msg
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen[key] {
		w.seen[key] = true
		w.list = append(w.list, Warning{Message: msg, Path: path})
	}
}

// negatedUnmarked is the warning of a list that holds negated facts beside
// positive ones (includeNegated: true) while the query does not select their
// negated field: "Qualcomm was not a strategic partner" would read as
// "Qualcomm SPONSORED WAIC 2023 as a STRATEGIC_PARTNER".
const negatedUnmarked = "this list holds negated facts (what did NOT happen) beside positive ones, " +
	"and the query does not select negated: select it to tell them apart"

// warnUnmarkedNegated warns (negatedUnmarked) when facts, the answer of the
// field being resolved, hold a negated fact and the query selects no negated
// field on them. connection says the field answers a FactConnection (its
// nodes and edges' node are the facts), not a list of facts.
func warnUnmarkedNegated(ctx context.Context, anyNegated, connection bool) {
	if !anyNegated {
		return
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return
	}
	op := graphql.GetOperationContext(ctx)
	selects := func(sel ast.SelectionSet) bool {
		for _, f := range graphql.CollectFields(op, sel, []string{"Fact", "Node"}) {
			if f.Name == "negated" {
				return true
			}
		}
		return false
	}
	if !connection {
		if !selects(fc.Field.Selections) {
			warn(ctx, negatedUnmarked)
		}
		return
	}
	var facts []ast.SelectionSet // every selection of the connection's facts
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, []string{"FactConnection"}) {
		switch f.Name {
		case "nodes":
			facts = append(facts, f.Selections)
		case "edges":
			for _, e := range graphql.CollectFields(op, f.Selections, []string{"FactEdge"}) {
				if e.Name == "node" {
					facts = append(facts, e.Selections)
				}
			}
		}
	}
	for _, sel := range facts {
		if !selects(sel) {
			warn(ctx, negatedUnmarked)
			return
		}
	}
}
