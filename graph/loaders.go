package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"policygraph/storage"
)

// Loaders batch the reads of one request: every node and adjacency asked for in
// one tick is fetched in one store transaction, so traversals make no N+1 reads.
type Loaders struct {
	nodes *dataloadgen.Loader[uuid.UUID, *storage.Node]
	adj   *dataloadgen.Loader[storage.AdjQuery, []*storage.Fact]
}

type loadersKey struct{}

// NewLoaders makes the loaders of one request.
func NewLoaders(g *storage.Graph) *Loaders {
	wait := dataloadgen.WithWait(200 * time.Microsecond)
	return &Loaders{
		nodes: dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([]*storage.Node, []error) {
			nodes, err := g.WithContext(ctx).Nodes(ids)
			if err != nil {
				return nil, []error{err}
			}
			return nodes, nil
		}, wait),
		adj: dataloadgen.NewLoader(func(ctx context.Context, qs []storage.AdjQuery) ([][]*storage.Fact, []error) {
			facts, err := g.WithContext(ctx).Adjacent(qs)
			if err != nil {
				return nil, []error{err}
			}
			return facts, nil
		}, wait),
	}
}

// WithLoaders returns ctx carrying fresh loaders.
func WithLoaders(ctx context.Context, g *storage.Graph) context.Context {
	return context.WithValue(ctx, loadersKey{}, NewLoaders(g))
}

// LoaderMiddleware gives each request its own loaders.
func LoaderMiddleware(g *storage.Graph) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(WithLoaders(r.Context(), g)))
		})
	}
}

func (r *Resolver) loaders(ctx context.Context) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	return NewLoaders(r.Graph)
}
