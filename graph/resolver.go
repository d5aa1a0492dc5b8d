// Package graph is policygraph's GraphQL face: the schema (*.graphqls), gqlgen's
// generated executor, thin resolvers over storage, per-request loaders and the
// error presenter.
package graph

//go:generate go tool gqlgen generate

import (
	"context"

	"policygraph/storage"
)

// Resolver holds the dependencies of every resolver; NewHandler builds it once.
type Resolver struct {
	// store is reached only through graph(ctx) and the loaders, which bind
	// it to the request's context.
	store *storage.Graph
}

// NewResolver makes the resolvers of the graph g.
func NewResolver(g *storage.Graph) *Resolver { return &Resolver{store: g} }

// graph is the store as seen by one request: its reads stop when the request's
// time is up (see storage.Graph.WithContext). It is the one way resolvers
// reach the store, but for the loaders, which bind it to the context too.
func (r *Resolver) graph(ctx context.Context) *storage.Graph { return r.store.WithContext(ctx) }
