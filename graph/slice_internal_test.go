package graph

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/99designs/gqlgen/graphql"
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
			ret := marshalSlice(ctx, n, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
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

func render(m graphql.Marshaler) string {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}
