package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSlice marshals a list of objects: gqlgen's generated code calls
// graphql.MarshalSliceConcurrently, which runs every element after the first
// in a goroutine of its own, and `go generate` (internal/slicepatch) points
// those calls here. Over the read model the loaders answer at once
// (Loaders.direct): an element's fields never wait for a batch to fill, so
// the goroutines buy nothing and cost a spawn, a stack that grows by copying
// (copystack was 20% of a traversal's CPU) and a wait per element. Then the
// elements are marshalled in order, each in the caller's goroutine, with a
// panic in one answered as gqlgen answers it (a null and an error). Without
// a read model the loaders batch what concurrent resolvers ask for, which
// needs the elements to run side by side: gqlgen's own function does that.
func marshalSlice(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); !ok || !l.direct {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshalElement)
	}
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		ret[i] = marshalOne(childCtx, i, omitPanicHandler, marshalElement)
	}
	return ret
}

func marshalOne(ctx context.Context, i int, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, r))
				m = graphql.Null
			}
		}()
	}
	return marshalElement(ctx, i)
}
