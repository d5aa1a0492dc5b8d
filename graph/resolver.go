// Package graph is policygraph's GraphQL schema: the *.graphqls, gqlgen's
// generated executor, thin resolvers over storage and per-request loaders. It
// knows nothing of HTTP: serving it is package api's.
package graph

import (
	"context"

	"github.com/vektah/gqlparser/v2/ast"

	"policygraph/storage"
)

//go:generate go tool gqlgen generate
//go:generate go run ./internal/slicepatch

// Resolver holds the dependencies of every resolver; NewHandler builds it once.
type Resolver struct {
	// store is reached only through graph(ctx) and the loaders, which bind
	// it to the request's context.
	store *storage.Graph
	// runQuery runs a saved query for savedQueryLive (SetQueryRunner).
	runQuery QueryRunner
	// direct: the graph has a read model, and so the loaders answer at once
	// (executionContext.inline).
	direct bool
}

// NewResolver makes the resolvers of the graph g.
func NewResolver(g *storage.Graph) *Resolver {
	return &Resolver{store: g, direct: g.ReadModel() != nil}
}

// graph is the store as seen by one request: its reads stop when the request's
// time is up (see storage.Graph.WithContext). It is the one way resolvers
// reach the store, but for the loaders, which bind it to the context too.
func (r *Resolver) graph(ctx context.Context) *storage.Graph { return r.store.WithContext(ctx) }

type actorKey struct{}

// WithActor records who the request authenticated as (the HTTP layer's
// Authenticate does); writes record it as their actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor is who the request authenticated as; "" for anonymous readers.
func Actor(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// actor is Actor, as the resolvers call it.
func actor(ctx context.Context) string { return Actor(ctx) }

// Schema is the parsed GraphQL schema (*.graphqls), fixed for the life of the
// process.
func Schema() *ast.Schema { return parsedSchema }
