package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"policygraph/storage"
)

// inline reports whether the operation's loaders answer at once (a read
// model): then nothing gains from running fields or elements side by side.
func inline(ctx context.Context) bool {
	l, ok := ctx.Value(loadersKey{}).(*Loaders)
	return ok && l.direct
}

// inline is inline(ctx) for ec's operation, asked of its resolvers: their
// graph has a read model for its whole life (storage.OpenWith), and its
// loaders are then direct. Asked for every field and list, the context's
// lookup walked a chain that grows with the field's depth.
func (ec *executionContext) inline(ctx context.Context) bool {
	if ec != nil && ec.ExecutionContextState != nil && ec.ExecutableSchemaState != nil {
		if r, ok := ec.Resolvers.(*Resolver); ok {
			return r.direct
		}
	}
	return inline(ctx)
}

// resolveField resolves field i of an object's field set: generated code
// called out.ResolveConcurrently, which defers the field to the set's
// Dispatch, and Dispatch runs every deferred field but one in a goroutine of
// its own; `go generate` points those calls here. Over the read model the
// field is resolved at once, in the caller's goroutine, and counted as
// Dispatch counts it (a null where the field is non-null makes the object
// invalid); a field under @defer, and every field without a read model, go
// to gqlgen as before.
func (ec *executionContext) resolveField(ctx context.Context, out *graphql.FieldSet, field graphql.CollectedField,
	deferred *graphql.DeferredGroup, i int, recoverFromPanic, nonNull bool,
	resolve func(ctx context.Context) graphql.Marshaler) {
	oc := ec.OperationContext
	if field.IsDeferred() || !ec.inline(ctx) {
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	v := resolveNow(ctx, oc, recoverFromPanic, resolve)
	out.Values[i] = v
	if invalid := graphql.Marshaler(graphql.RequiredNull); nonNull && v == graphql.Null || !nonNull && v == invalid {
		out.Invalids++
	}
}

// resolveNow is gqlgen's recoverToNull: a panic is reported through oc and
// resolves to null.
func resolveNow(ctx context.Context, oc *graphql.OperationContext, recoverFromPanic bool,
	resolve func(ctx context.Context) graphql.Marshaler) (v graphql.Marshaler) {
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(ctx, oc.Recover(ctx, r))
				v = graphql.Null
			}
		}()
	}
	return resolve(ctx)
}

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
func (ec *executionContext) marshalSlice(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if !ec.inline(ctx) {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshalElement)
	}
	ret := make(graphql.Array, length)
	for i := range length {
		if err := storage.ContextError(ctx); err != nil {
			// Past the time limit the answer is refused whole (TIMEOUT, by
			// the transport): the rest of the list is not marshalled. This is
			// where in-memory work multiplies; the reads check the context
			// themselves (every scanCheckEvery-th record).
			graphql.AddError(ctx, err)
			for ; i < length; i++ {
				ret[i] = graphql.Null
			}
			break
		}
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
