package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"policygraph/errs"
)

// PresentError is the GraphQL layer's one error presenter: it maps an error
// to what the client sees (extensions.code from the table in package errs).
//
//   - An *errs.Error (storage's, or a resolver's) keeps its code, message,
//     field and hint.
//   - A GraphQL error that has a code, or wraps another GraphQL error, passes
//     through as gqlgen made it.
//   - gqlgen's uncoded errors that are the client's doing get a code: an
//     argument that could not be decoded (an ID that is not a UUID, reported
//     at the argument's path, not the field's) is INVALID_ARGUMENT with the
//     argument's path as its field; introspection asked of a server without
//     it is INTROSPECTION_DISABLED.
//   - Anything else is logged in full and answered "internal error" (INTERNAL).
func PresentError(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	var se *errs.Error
	if errors.As(err, &se) {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		gerr.Message = se.Message
		gerr.Extensions = map[string]any{"code": string(se.Code)}
		if se.Field != "" {
			gerr.Extensions["field"] = se.Field
		}
		if se.Hint != "" {
			gerr.Extensions["hint"] = se.Hint
		}
		return gerr
	}
	var gerr *gqlerror.Error
	if errors.As(err, &gerr) {
		if gerr.Err == nil || errors.As(gerr.Err, new(*gqlerror.Error)) {
			return gerr
		}
		if errors.As(gerr.Err, &se) {
			return PresentError(ctx, log, gerr.Err)
		}
		if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			return gerr
		}
		if gerr.Err.Error() == "introspection disabled" { // gqlgen's words, when Introspection is off
			out := graphql.DefaultErrorPresenter(ctx, errors.New("introspection is disabled on this server"))
			out.Extensions = map[string]any{"code": string(errs.IntrospectionDisabled)}
			return out
		}
		if len(gerr.Path) > 0 && gerr.Path.String() != graphql.GetPath(ctx).String() {
			if _, isField := gerr.Path[0].(ast.PathName); isField {
				out := graphql.DefaultErrorPresenter(ctx, fmt.Errorf("argument %s: %v", gerr.Path, gerr.Err))
				out.Extensions = map[string]any{"code": string(errs.InvalidArgument), "field": gerr.Path.String()}
				return out
			}
		}
	}
	if log == nil {
		log = slog.Default()
	}
	log.ErrorContext(ctx, "internal error", "err", err, "path", graphql.GetPath(ctx).String())
	out := graphql.DefaultErrorPresenter(ctx, errors.New("internal error"))
	out.Extensions = map[string]any{"code": string(errs.Internal)}
	return out
}
