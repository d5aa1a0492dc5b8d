// Package api is GraphQL over HTTP: the /graphql transport (GET and POST,
// content negotiation, ETags and the response cache), the request limits and
// admission, the cost model, authentication, metrics, the error presenter and
// the saved-query endpoint /q/ with its CSV form. The schema and resolvers are
// package graph's.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
	"go.opentelemetry.io/otel/trace"

	"policygraph/errs"
	"policygraph/graph"
	"policygraph/internal/bytecache"
	"policygraph/storage"
)

// Options configure the GraphQL handler.
type Options struct {
	// Token is the bearer token that writes need; empty refuses every write.
	// Ignored when Auth is set.
	Token string
	// Auth, when not nil, is the Auth that wraps the handler: its curators
	// decide which writes are disabled, and it counts refusals for want of a
	// scope.
	Auth *Auth
	// Introspection allows schema introspection (the IDE needs it).
	Introspection bool
	Logger        *slog.Logger
	// MaxBodyBytes bounds a POST body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// CacheSize is how many query results the response cache holds; 0 disables it.
	CacheSize int
	// CacheBytes bounds the bytes the response cache holds (0: DefaultCacheBytes;
	// less than 0: nothing is cached); a result over CacheBytes/16 is not cached.
	CacheBytes int64
	// QueryCacheBytes, APQCacheBytes and RefusalCacheBytes bound the caches of
	// parsed queries, of automatic persisted queries' texts and of refused
	// requests (0: their defaults below; less than 0: none). An entry over
	// 1/16 of its cache is not kept.
	QueryCacheBytes, APQCacheBytes, RefusalCacheBytes int64
	// CacheControl is sent with successful GET query responses (with their ETag).
	CacheControl string
	// Metrics, when not nil, records requests, errors and cache use.
	Metrics *Metrics
	// Limits bound what one request may cost; nil means DefaultLimits.
	Limits *Limits
	// TracerProvider, when not nil, traces each GraphQL operation in a span of
	// its own (see operationTracer); nil traces nothing, at no cost.
	TracerProvider trace.TracerProvider
	// Subscriptions bound the streams (WebSocket and server-sent events);
	// nil means DefaultSubscriptionLimits.
	Subscriptions *SubscriptionLimits
	// LiveConns, when not nil, tracks the subscription streams so that the
	// server can end them on shutdown (LiveConns.Close).
	LiveConns *LiveConns
	// AllowedOrigins are the origins (-cors-origins; "*" for any) whose pages
	// may open a WebSocket; the server's own origin always may.
	AllowedOrigins []string
	// MinVersionWait bounds how long a request with Policygraph-Min-Version
	// waits for the graph to reach it (-min-version-wait); 0 means
	// DefaultMinVersionWait.
	MinVersionWait time.Duration
}

// DefaultMaxBodyBytes is the default bound on a POST body.
const DefaultMaxBodyBytes = 1 << 20

// The caches' default bounds in bytes (app derives its own from the
// memory budget).
const (
	DefaultCacheBytes        = 64 << 20
	DefaultQueryCacheBytes   = 16 << 20
	DefaultAPQCacheBytes     = 4 << 20
	DefaultRefusalCacheBytes = 4 << 20
)

// entryShare is the share of a cache that one entry may take at most.
const entryShare = 16

func orDefault(n, def int64) int64 {
	if n == 0 {
		return def
	}
	return n
}

// NewHandler builds the /graphql handler: GET and POST transports, a parsed-query
// cache, automatic persisted queries, the error presenter, the write guard and
// per-operation loaders. Wrap it in Auth.Authenticate (see app.NewHandler).
func NewHandler(g *storage.Graph, o Options) http.Handler {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	limits := DefaultLimits()
	if o.Limits != nil {
		limits = *o.Limits
	}
	res := graph.NewResolver(g)
	es := graph.NewExecutableSchema(graph.Config{Resolvers: res, Complexity: costModel(g, limits)})
	srv := handler.New(es)
	if o.TracerProvider != nil {
		srv.Use(newOperationTracer(o.TracerProvider)) // first: its span holds the others' work
	}
	limits.apply(srv, func() uint64 { return countsVersion(g) })
	subLimits := DefaultSubscriptionLimits()
	if o.Subscriptions != nil {
		subLimits = *o.Subscriptions
	}
	withStreams := subscriptions(srv, g, o, subLimits, limits, log)
	srv.AddTransport(transport.Options{})
	refusalBytes := orDefault(o.RefusalCacheBytes, DefaultRefusalCacheBytes)
	pin := func(ctx context.Context) (context.Context, uint64) {
		ctx = storage.Pin(ctx)
		return ctx, g.PinnedVersion(ctx)
	}
	t := &Transport{MaxBodyBytes: o.MaxBodyBytes, Version: g.Version, Pin: pin, CacheControl: o.CacheControl, Metrics: o.Metrics,
		Refusals:     bytecache.New[string, *cachedResponse](refusalBytes, refusalBytes/entryShare, 0),
		RefusalDelay: limits.RefusalDelay, MaxResponseBytes: limits.MaxResponseBytes, Timeout: limits.Timeout, Log: log,
		tarpit:  make(chan struct{}, maxTarpitted),
		StoreID: g.StoreID().String(), WaitVersion: g.WaitVersion, MinVersionWait: o.MinVersionWait}
	if t.MaxBodyBytes == 0 {
		t.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.CacheSize > 0 {
		cacheBytes := orDefault(o.CacheBytes, DefaultCacheBytes)
		t.Cache = NewResponseCache(cacheBytes, cacheBytes/entryShare, o.CacheSize)
	}
	srv.AddTransport(t)
	queryBytes := orDefault(o.QueryCacheBytes, DefaultQueryCacheBytes)
	queries := newQueryCache(queryBytes, queryBytes/entryShare)
	srv.SetQueryCache(queries)
	if o.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		// Without introspection the schema is not public: a validation error
		// must not suggest the fields, arguments, types and values it holds.
		srv.SetDisableSuggestion(true) // fields and scalar leaves
		srv.SetValidationRulesFn(rulesWithoutSuggestions)
	}
	apqBytes := orDefault(o.APQCacheBytes, DefaultAPQCacheBytes)
	apq := newAPQCache(apqBytes, apqBytes/entryShare)
	srv.Use(extension.AutomaticPersistedQuery{Cache: apq})
	srv.Use(graph.Warnings{})
	caches := map[string]sizedCache{"query": queries, "apq": apq, "refusal": t.Refusals}
	if t.Cache != nil {
		caches["response"] = t.Cache
	}
	o.Metrics.cacheBytes(caches)
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx)
		if op.Operation != nil && op.Operation.Operation == ast.Mutation {
			if err := authorizeWrite(ctx, op, o); err != nil {
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
			}
			// A nearly full disk refuses writes before they run (507 under
			// application/graphql-response+json); one that fills while a
			// write runs refuses its commit, a field error DISK_FULL.
			if err := g.Writable(); err != nil {
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{graph.PresentError(ctx, log, err)}})
			}
		}
		// Loaders for this operation only, made here rather than per HTTP
		// request so that answers from the response cache make none.
		return next(graph.WithLoaders(ctx, g, log))
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return graph.PresentError(ctx, log, err)
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "path", graphql.GetPath(ctx).String(), "stack", string(debug.Stack()))
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": string(errs.Internal)}}
	})
	h := withStreams(limits.Guard(srv, log))
	res.SetQueryRunner(queryRunner(h))
	return h
}

// adminMutations are the mutations that need the admin scope; every other
// mutation needs write.
var adminMutations = map[string]bool{"saveQuery": true, "deleteSavedQuery": true}

// authorizeWrite refuses a mutation whose request's curator (see
// Authenticate) lacks a scope it needs: admin for the admin mutations it
// selects, write for the others (both, when it selects both kinds). Without
// a curator it is UNAUTHENTICATED, or WRITES_DISABLED when no curator has
// that scope; with one that lacks it, FORBIDDEN. A request that no
// Authenticate checked is allowed by its actor alone (graph.WithActor), as
// before curators had scopes.
func authorizeWrite(ctx context.Context, op *graphql.OperationContext, o Options) *gqlerror.Error {
	type need struct {
		scope Scope
		what  string
	}
	var needs []need
	for _, f := range graphql.CollectFields(op, op.Operation.SelectionSet, []string{"Mutation"}) {
		n := need{ScopeWrite, "mutation"}
		if adminMutations[f.Name] {
			n = need{ScopeAdmin, f.Name}
		}
		if !slices.ContainsFunc(needs, func(m need) bool { return m.scope == n.scope }) {
			needs = append(needs, n)
		}
	}
	refuse := func(code errs.Code, msg string) *gqlerror.Error {
		return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(code)}}
	}
	c, authenticated := RequestCurator(ctx)
	if !authenticated && graph.Actor(ctx) != "" {
		return nil
	}
	for _, n := range needs {
		if c == nil {
			enabled := o.Token != ""
			if o.Auth != nil {
				enabled = o.Auth.Curators().CanAny(n.scope)
			}
			switch {
			case !enabled && n.scope == ScopeWrite:
				return refuse(errs.WritesDisabled, "writes are disabled: the server was started without a write token")
			case !enabled:
				return refuse(errs.WritesDisabled, n.what+" is disabled: no curator's token has the admin scope")
			case n.scope == ScopeWrite:
				return refuse(errs.Unauthenticated, "writes need the header Authorization: Bearer <token>")
			default:
				return refuse(errs.Unauthenticated, n.what+" needs the header Authorization: Bearer <token> of a curator with the admin scope")
			}
		}
		if !c.Can(n.scope) {
			if o.Auth != nil {
				o.Auth.forbid(ctx, c, n.scope, n.what)
			}
			return refuse(errs.Forbidden, n.what+" needs a token with the "+string(n.scope)+" scope; curator "+strconv.Quote(c.Name)+"'s has "+scopeList(c))
		}
	}
	return nil
}

// rulesWithoutSuggestions are the default validation rules without the "Did
// you mean" suggestions of the rules gqlgen's SetDisableSuggestion leaves as
// they are: argument names, type names, enum values and input fields.
func rulesWithoutSuggestions() *rules.Rules {
	r := rules.NewDefaultRules()
	for name, quiet := range map[string]core.Rule{
		rules.KnownArgumentNamesRule.Name:  rules.KnownArgumentNamesRuleWithoutSuggestions,
		rules.KnownTypeNamesRule.Name:      rules.KnownTypeNamesRuleWithoutSuggestions,
		rules.ValuesOfCorrectTypeRule.Name: rules.ValuesOfCorrectTypeRuleWithoutSuggestions,
	} {
		r.RemoveRule(name)
		r.AddRule(quiet.Name, quiet.RuleFunc)
	}
	return r
}
