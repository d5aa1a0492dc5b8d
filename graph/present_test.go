package graph_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"policygraph/errs"
	"policygraph/graph"
)

// TestGqlgenCodesAreInTheTable: the codes gqlgen sets itself are the table's.
func TestGqlgenCodesAreInTheTable(t *testing.T) {
	for got, want := range map[string]errs.Code{errcode.ParseFailed: errs.ParseFailed, errcode.ValidationFailed: errs.ValidationFailed} {
		if got != string(want) {
			t.Errorf("gqlgen's code %s, the table's %s", got, want)
		}
	}
}

func TestPresentError(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coded := &gqlerror.Error{Message: "too deep", Extensions: map[string]any{"code": string(errs.DepthLimit)}}
	badArg := &gqlerror.Error{Message: "bad", Err: errors.New("invalid UUID length: 3"), Path: ast.Path{ast.PathName("entity"), ast.PathName("id")}}
	for _, tt := range []struct {
		name       string
		err        error
		code, want string
		field      string
	}{
		{"storage error", fmt.Errorf("read: %w", errs.Errorf(errs.NotFound, "slug", "no entity with slug %q", "x")), string(errs.NotFound), `no entity with slug "x"`, "slug"},
		{"storage error inside a GraphQL error", &gqlerror.Error{Err: errs.Errorf(errs.InvalidDate, "date", "bad date")}, string(errs.InvalidDate), "bad date", "date"},
		{"coded GraphQL error", coded, string(errs.DepthLimit), "too deep", ""},
		{"argument that does not decode", badArg, string(errs.InvalidArgument), "argument entity.id: invalid UUID length: 3", "entity.id"},
		{"introspection off", &gqlerror.Error{Err: errors.New("introspection disabled")}, string(errs.IntrospectionDisabled), "introspection is disabled on this server", ""},
		{"anything else", errors.New("disk on fire"), string(errs.Internal), "internal error", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := graph.PresentError(context.Background(), log, tt.err)
			if got.Extensions["code"] != tt.code || got.Message != tt.want {
				t.Errorf("got %q %v, want %q %s", got.Message, got.Extensions, tt.want, tt.code)
			}
			if f, _ := got.Extensions["field"].(string); f != tt.field {
				t.Errorf("field %q, want %q", f, tt.field)
			}
		})
	}
}

// TestPresentErrorHint: an error's hint (a WRONG_KIND lookup's: the call
// that finds the entity) reaches the client as extensions.hint.
func TestPresentErrorHint(t *testing.T) {
	err := fmt.Errorf("lookup: %w", &errs.Error{Code: errs.WrongKind, Field: "slug",
		Message: "waic-2023 is an EVENT, not an ORGANIZATION: use event(slug:) or entity(slug:)", Hint: `event(slug: "waic-2023")`})
	got := graph.PresentError(context.Background(), nil, err)
	if got.Extensions["code"] != string(errs.WrongKind) || got.Extensions["hint"] != `event(slug: "waic-2023")` || got.Extensions["field"] != "slug" {
		t.Errorf("extensions %v", got.Extensions)
	}
	if plain := graph.PresentError(context.Background(), nil, errs.Errorf(errs.NotFound, "", "no")); plain.Extensions["hint"] != nil {
		t.Errorf("a hint where the error has none: %v", plain.Extensions)
	}
}
