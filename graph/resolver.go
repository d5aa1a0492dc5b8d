// Package graph is policygraph's GraphQL face: the schema (*.graphqls), gqlgen's
// generated executor, thin resolvers over storage, per-request loaders and the
// error presenter.
package graph

//go:generate go tool gqlgen generate

import (
	"policygraph/storage"
)

// Resolver holds the dependencies of every resolver; NewHandler builds it once.
type Resolver struct {
	Graph *storage.Graph
}
