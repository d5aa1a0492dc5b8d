package graph

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"policygraph/errs"
)

func TestMarshalSliceRunsInlineOverTheReadModel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		loaders *Loaders
		inline  bool
	}{
		{"direct loaders (a read model)", &Loaders{direct: true}, true},
		{"batching loaders (no read model)", &Loaders{}, false},
		{"no loaders", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, func(_ context.Context, p any) error { return fmt.Errorf("%v", p) })
			if tc.loaders != nil {
				ctx = context.WithValue(ctx, loadersKey{}, tc.loaders)
			}
			caller := goroutineID()
			const n = 8
			ids := make([]uint64, n)
			ret := noEC.marshalSlice(ctx, n, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
				if got := *graphql.GetFieldContext(ctx).Index; got != i {
					t.Errorf("element %d has index %d in its field context", i, got)
				}
				ids[i] = goroutineID()
				if i == 3 {
					panic("element 3 fails")
				}
				return graphql.MarshalInt(i)
			})
			others := 0
			for i, id := range ids {
				if id != caller {
					others++
				}
				if got, want := render(ret[i]), strconv.Itoa(i); i != 3 && got != want {
					t.Errorf("element %d = %s", i, got)
				}
			}
			if got := render(ret[3]); got != "null" {
				t.Errorf("the element that panicked = %s, want null", got)
			}
			if errs := graphql.GetErrors(ctx); len(errs) != 1 {
				t.Errorf("errors %v, want one for the panic", errs)
			}
			if tc.inline && others != 0 {
				t.Errorf("%d of %d elements ran in another goroutine than the caller's", others, n)
			}
			if !tc.inline && others == 0 {
				t.Errorf("every element ran in the caller's goroutine: gqlgen's concurrent marshalling was not used")
			}
		})
	}
}

// TestMarshalSliceStopsPastTheDeadline: over the read model, a list whose
// request has timed out marshals no more elements, and says TIMEOUT.
func TestMarshalSliceStopsPastTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	ctx = graphql.WithResponseContext(ctx, graphql.DefaultErrorPresenter, func(_ context.Context, p any) error { return fmt.Errorf("%v", p) })
	ctx = context.WithValue(ctx, loadersKey{}, &Loaders{direct: true})
	marshalled := 0
	ret := noEC.marshalSlice(ctx, 6, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if marshalled++; i == 2 {
			<-ctx.Done() // the time limit passes while element 2 is marshalled
		}
		return graphql.MarshalInt(i)
	})
	if marshalled != 3 {
		t.Errorf("marshalled %d elements, want 3: the rest come after the deadline", marshalled)
	}
	for i := 3; i < 6; i++ {
		if got := render(ret[i]); got != "null" {
			t.Errorf("element %d = %s, want null", i, got)
		}
	}
	if list := graphql.GetErrors(ctx); len(list) != 1 || errs.CodeOf(list[0]) != errs.Timeout {
		t.Errorf("errors %v, want one TIMEOUT", list)
	}
}

// TestExecutionContextAsksItsResolvers: an operation's lists and fields run
// inline when its resolvers' graph has a read model, whatever its context
// holds, and ask the context's loaders otherwise.
func TestExecutionContextAsksItsResolvers(t *testing.T) {
	withResolvers := func(r ResolverRoot) *executionContext {
		return &executionContext{ExecutionContextState: &graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]{
			ExecutableSchemaState: &graphql.ExecutableSchemaState[ResolverRoot, DirectiveRoot, ComplexityRoot]{Resolvers: r},
		}}
	}
	direct := context.WithValue(context.Background(), loadersKey{}, &Loaders{direct: true})
	for _, tc := range []struct {
		name string
		ec   *executionContext
		ctx  context.Context
		want bool
	}{
		{"read model, no loaders in the context", withResolvers(&Resolver{direct: true}), context.Background(), true},
		{"no read model", withResolvers(&Resolver{}), direct, false},
		{"no resolvers: the context's loaders", withResolvers(nil), direct, true},
		{"no execution context: the context's loaders", noEC, context.Background(), false},
	} {
		if got := tc.ec.inline(tc.ctx); got != tc.want {
			t.Errorf("%s: inline = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// noEC is an operation's execution context without resolvers: its lists
// ask the context's loaders whether to run inline.
var noEC *executionContext

func render(m graphql.Marshaler) string {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}
