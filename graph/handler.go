package graph

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	hlru "github.com/hashicorp/golang-lru/v2"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"policygraph/storage"
)

// Error codes the API adds to storage's (extensions.code).
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeWritesDisabled  = "WRITES_DISABLED"
	CodeInternal        = "INTERNAL"
	// CodeDiskFull is storage's: a write refused while the disk is nearly full.
	CodeDiskFull = string(storage.CodeDiskFull)
)

// Options configure the GraphQL handler.
type Options struct {
	// Token is the bearer token that writes need; empty refuses every write.
	Token string
	// Introspection allows schema introspection (the IDE needs it).
	Introspection bool
	Logger        *slog.Logger
	// MaxBodyBytes bounds a POST body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// CacheSize is how many query results the response cache holds; 0 disables it.
	CacheSize int
	// CacheControl is sent with successful GET query responses (with their ETag).
	CacheControl string
	// Metrics, when not nil, records requests, errors and cache use.
	Metrics *Metrics
	// Limits bound what one request may cost; nil means DefaultLimits.
	Limits *Limits
}

// DefaultMaxBodyBytes is the default bound on a POST body.
const DefaultMaxBodyBytes = 1 << 20

type actorKey struct{}

// actor is who the request authenticated as; "" for anonymous readers.
func actor(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// HasToken reports whether r carries Authorization: Bearer <token>, compared in
// constant time. With no token configured nothing has it.
func HasToken(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token != "" && ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Authenticate records the request's actor when it carries the bearer token.
// The comparison takes constant time.
func Authenticate(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if HasToken(r, token) {
				r = r.WithContext(context.WithValue(r.Context(), actorKey{}, "curator"))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// NewHandler builds the /graphql handler: GET and POST transports, a parsed-query
// cache, automatic persisted queries, the error presenter, the write guard and
// per-operation loaders. Wrap it in Authenticate (see server.go).
func NewHandler(g *storage.Graph, o Options) http.Handler {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	limits := DefaultLimits()
	if o.Limits != nil {
		limits = *o.Limits
	}
	res := &Resolver{Graph: g}
	es := NewExecutableSchema(Config{Resolvers: res, Complexity: fieldCosts()})
	srv := handler.New(es)
	limits.apply(srv)
	srv.AddTransport(transport.Options{})
	refusals, _ := hlru.New[string, *cachedResponse](1000) // only fails for a size <= 0
	t := &Transport{MaxBodyBytes: o.MaxBodyBytes, Version: g.Version, CacheControl: o.CacheControl, Metrics: o.Metrics,
		Refusals: refusals, RefusalDelay: limits.RefusalDelay, tarpit: make(chan struct{}, maxTarpitted)}
	if t.MaxBodyBytes == 0 {
		t.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.CacheSize > 0 {
		t.Cache = NewResponseCache(o.CacheSize)
	}
	srv.AddTransport(t)
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if o.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx)
		if op.Operation != nil && op.Operation.Operation == ast.Mutation && actor(ctx) == "" {
			err := &gqlerror.Error{Message: "writes need the header Authorization: Bearer <token>",
				Extensions: map[string]any{"code": CodeUnauthenticated}}
			if o.Token == "" {
				err = &gqlerror.Error{Message: "writes are disabled: the server was started without a write token",
					Extensions: map[string]any{"code": CodeWritesDisabled}}
			}
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
		}
		if op.Operation != nil && op.Operation.Operation == ast.Mutation {
			// A nearly full disk refuses writes before they run (507 under
			// application/graphql-response+json); one that fills while a
			// write runs refuses its commit, a field error DISK_FULL.
			if err := g.Writable(); err != nil {
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{presentError(ctx, log, err)}})
			}
		}
		// Loaders for this operation only, made here rather than per HTTP
		// request so that answers from the response cache make none.
		return next(WithLoaders(ctx, g))
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return presentError(ctx, log, err)
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "path", graphql.GetPath(ctx).String(), "stack", string(debug.Stack()))
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}
	})
	return limits.Guard(srv, log)
}

// presentError maps an error to what the client sees: storage's own errors keep
// their code and message; GraphQL errors pass through; anything else is logged in
// full and answered "internal error".
func presentError(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	var se *storage.Error
	if errors.As(err, &se) {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		gerr.Message = se.Message
		gerr.Extensions = map[string]any{"code": string(se.Code)}
		if se.Field != "" {
			gerr.Extensions["field"] = se.Field
		}
		return gerr
	}
	var gerr *gqlerror.Error
	if errors.As(err, &gerr) {
		if gerr.Err == nil || errors.As(gerr.Err, new(*gqlerror.Error)) {
			return gerr
		}
		if errors.As(gerr.Err, &se) {
			return presentError(ctx, log, gerr.Err)
		}
		if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			return gerr
		}
		if aerr := argumentError(ctx, gerr); aerr != nil {
			return aerr
		}
	}
	log.ErrorContext(ctx, "internal error", "err", err, "path", graphql.GetPath(ctx).String())
	out := graphql.DefaultErrorPresenter(ctx, errors.New("internal error"))
	out.Extensions = map[string]any{"code": CodeInternal}
	return out
}
