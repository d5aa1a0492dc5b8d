package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"policygraph/storage"
)

// Error codes of the request limits (extensions.code).
const (
	CodeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeTooManyAliases  = "TOO_MANY_ALIASES"
	CodeTokenLimit      = "TOKEN_LIMIT_EXCEEDED"
	CodeRequestTooLarge = "REQUEST_TOO_LARGE"
	CodeBadRequest      = "BAD_REQUEST"
	// CodeIntrospectionDisabled answers __schema and __type when introspection is off.
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
	CodeTimeout               = string(storage.CodeTimeout)
)

func init() {
	// The query limits refuse a request before it runs, as a validation error
	// does: the transports answer them with a 4xx status, not 200.
	for _, code := range []string{CodeDepthLimit, CodeComplexityLimit, CodeTooManyAliases, CodeTokenLimit} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

// Limits bound what one request to /graphql may cost. A zero field means no
// limit. (The body size is Options.MaxBodyBytes, which the transport enforces.)
type Limits struct {
	// MaxDepth bounds how deeply fields nest (introspection aside).
	MaxDepth int
	// MaxComplexity bounds the query's cost in the model of complexity.go; it
	// also bounds the number of fields once fragments are expanded.
	MaxComplexity int
	// MaxAliases bounds the aliased fields plus the fields repeated under one
	// parent, once fragments are expanded.
	MaxAliases int
	// MaxTokens bounds the lexical tokens of the query text.
	MaxTokens int
	// Timeout bounds the time one request may run; reads stop when it passes.
	Timeout time.Duration
	// RefusalDelay holds back the answer to a refused request (one that is
	// malformed, too large, or over a limit) by this long, without using CPU,
	// so that a client flooding the server with abusive requests is slowed to
	// that pace while well-behaved requests, never refused, are not delayed.
	RefusalDelay time.Duration
}

// DefaultLimits are the limits the server runs with unless told otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:      12,
		MaxComplexity: 20000,
		MaxAliases:    30,
		MaxTokens:     5000,
		Timeout:       5 * time.Second,
		RefusalDelay:  50 * time.Millisecond,
	}
}

// apply installs the query limits (depth, aliases, tokens, complexity) and the
// per-field deadline check on srv.
func (l Limits) apply(srv *handler.Server) {
	srv.Use(queryLimits{l})
	if l.MaxTokens > 0 {
		// The parser's own limit is a backstop; queryLimits answers first, with its code.
		srv.SetParserTokenLimit(l.MaxTokens + 16)
	}
	if l.MaxComplexity > 0 {
		srv.Use(extension.FixedComplexityLimit(l.MaxComplexity))
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if st := stateOf(ctx); st != nil {
			op := graphql.GetOperationContext(ctx)
			st.mutation = op.Operation != nil && op.Operation.Operation == ast.Mutation
		}
		return next(ctx)
	})
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		if ctx.Err() != nil {
			return nil, storage.ContextError(ctx)
		}
		return next(ctx)
	})
}

// queryLimits refuses queries that are too long, too deep or too wide before
// gqlgen's complexity walk (which expands every fragment spread) runs.
type queryLimits struct{ Limits }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = queryLimits{}

func (queryLimits) ExtensionName() string                          { return "QueryLimits" }
func (queryLimits) Validate(schema graphql.ExecutableSchema) error { return nil }

func limitError(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
}

// MaxNameBytes bounds the names in a query (fields, aliases, arguments, types,
// fragments, variables). The schema's are short; a validation error on a long
// one costs an edit distance to every name the schema holds ("Did you mean"),
// about a second of CPU for a 1 MB name.
const MaxNameBytes = 1024

// MutateOperationParameters counts the query's tokens and measures its names.
// A query has no more tokens than bytes and no name longer than itself, so
// short queries (almost all) are not lexed twice.
func (q queryLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	countTokens := q.MaxTokens > 0 && len(p.Query) > q.MaxTokens
	if !countTokens && len(p.Query) <= MaxNameBytes {
		return nil
	}
	lx := lexer.New(&ast.Source{Input: p.Query})
	for n := 0; ; n++ {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil // the parser reports syntax errors
		}
		if tok.Kind == lexer.Name && len(tok.Value) > MaxNameBytes {
			return limitError(CodeTokenLimit, "the query has a name of %d bytes; the limit is %d", len(tok.Value), MaxNameBytes)
		}
		if countTokens && n >= q.MaxTokens {
			return limitError(CodeTokenLimit, "the query has more than %d tokens", q.MaxTokens)
		}
	}
}

// MutateOperationContext measures the operation's depth, aliases and fields.
func (q queryLimits) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil {
		return nil
	}
	w := shapeWalker{doc: op.Doc, fragments: map[string]*shape{}}
	s := w.selectionSet(op.Operation.SelectionSet, 0)
	s.close()
	switch {
	case q.MaxDepth > 0 && s.depth > q.MaxDepth:
		return limitError(CodeDepthLimit, "the query nests %d fields deep; the limit is %d", s.depth, q.MaxDepth)
	case q.MaxAliases > 0 && satAdd(s.aliases, s.repeats) > q.MaxAliases:
		return limitError(CodeTooManyAliases, "the query has %d aliased or repeated fields; the limit is %d", satAdd(s.aliases, s.repeats), q.MaxAliases)
	case q.MaxComplexity > 0 && s.fields > q.MaxComplexity:
		return limitError(CodeComplexityLimit, "the query selects %d fields once fragments are expanded, so its complexity exceeds the limit of %d", s.fields, q.MaxComplexity)
	}
	return nil
}

// shape is what a selection set asks for, fragments expanded.
type shape struct {
	depth, aliases, fields, repeats int
	// keys counts the response keys at this level not yet checked for repeats:
	// fragments merge theirs into the enclosing field's.
	keys map[string]int
}

func (s *shape) add(o *shape, depthOffset int) {
	s.depth = max(s.depth, o.depth+depthOffset)
	s.aliases = satAdd(s.aliases, o.aliases)
	s.fields = satAdd(s.fields, o.fields)
	s.repeats = satAdd(s.repeats, o.repeats)
}

// close counts the repeated response keys of a complete selection set.
func (s *shape) close() {
	for _, n := range s.keys {
		if n > 1 {
			s.repeats = satAdd(s.repeats, n-1)
		}
	}
	s.keys = nil
}

// shapeWalker measures selection sets, each named fragment once: a query that
// spreads fragments into fragments costs linear time to measure, not exponential.
type shapeWalker struct {
	doc       *ast.QueryDocument
	fragments map[string]*shape
}

func (w *shapeWalker) selectionSet(ss ast.SelectionSet, guard int) *shape {
	s := &shape{keys: map[string]int{}}
	if guard > 1000 {
		return s
	}
	for _, sel := range ss {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "__schema" || sel.Name == "__type" {
				continue // introspection has its own depth rule in the validator
			}
			s.fields = satAdd(s.fields, 1)
			key := sel.Name
			if sel.Alias != "" && sel.Alias != sel.Name {
				s.aliases = satAdd(s.aliases, 1)
				key = sel.Alias
			}
			s.keys[key] = satAdd(s.keys[key], 1)
			child := w.selectionSet(sel.SelectionSet, guard+1)
			child.close()
			s.add(child, 1)
			s.depth = max(s.depth, 1)
		case *ast.InlineFragment:
			s.merge(w.selectionSet(sel.SelectionSet, guard+1))
		case *ast.FragmentSpread:
			s.merge(w.fragment(sel.Name, guard+1))
		}
	}
	return s
}

func (s *shape) merge(o *shape) {
	s.add(o, 0)
	for k, n := range o.keys {
		s.keys[k] = satAdd(s.keys[k], n)
	}
}

func (w *shapeWalker) fragment(name string, guard int) *shape {
	if s, ok := w.fragments[name]; ok {
		if s == nil {
			return &shape{} // a cycle: the validator has refused it already
		}
		return s
	}
	w.fragments[name] = nil
	var s *shape
	if def := w.doc.Fragments.ForName(name); def != nil {
		s = w.selectionSet(def.SelectionSet, guard)
	} else {
		s = &shape{}
	}
	w.fragments[name] = s
	return s
}

// requestState is what the HTTP guard learns about a request as it runs.
type requestState struct {
	mutation bool
}

type stateKey struct{}

func stateOf(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

// Guard wraps the /graphql handler with the limits that act on the whole HTTP
// exchange: the time limit (503 TIMEOUT: the request's context ends, its reads
// stop, and its partial answer is replaced) and a last-resort recovery from
// panics outside the resolvers (500 INTERNAL, the details only in the log).
func (l Limits) Guard(next http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", fmt.Sprint(p), "path", r.URL.Path, "stack", string(debug.Stack()))
				writeError(w, mediaJSON, http.StatusInternalServerError, CodeInternal, "internal error")
			}
		}()
		if l.Timeout <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		st := &requestState{}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), stateKey{}, st), l.Timeout)
		defer cancel()
		buf := &bufferedResponse{header: http.Header{}}
		next.ServeHTTP(buf, r.WithContext(ctx))
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && buf.timedOut(st) {
			log.WarnContext(r.Context(), "request timed out", "timeout", l.Timeout.String(), "mutation", st.mutation)
			media := mediaJSON
			if strings.HasPrefix(buf.header.Get("Content-Type"), mediaGraphQLResponse) {
				media = mediaGraphQLResponse
			}
			writeError(w, media, http.StatusServiceUnavailable, CodeTimeout,
				fmt.Sprintf("the request took longer than %s and was stopped; ask for less (fewer or narrower fields, a smaller first)", l.Timeout))
			return
		}
		buf.copyTo(w)
	})
}

// bufferedResponse holds a response until the guard knows whether the request
// ran out of time.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		if k == "Vary" {
			addVary(w.Header(), v...) // add to what the middleware set (Origin), never replace it
			continue
		}
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}

// timedOut reports whether a response made after the deadline shows it: it is
// empty or null, or carries a TIMEOUT error. A mutation whose root field has data
// was committed, so its response is passed on as it is.
func (b *bufferedResponse) timedOut(st *requestState) bool {
	body := bytes.TrimSpace(b.body.Bytes())
	if len(body) == 0 || string(body) == "null" {
		return true
	}
	if !bytes.Contains(body, []byte(`"code":"`+CodeTimeout+`"`)) {
		return false
	}
	if st.mutation {
		var resp struct {
			Data map[string]json.RawMessage `json:"data"`
		}
		if json.Unmarshal(body, &resp) == nil {
			for _, v := range resp.Data {
				if s := strings.TrimSpace(string(v)); s != "" && s != "null" {
					return false
				}
			}
		}
	}
	return true
}

// graph is the store as seen by one request: its reads stop when the request's
// time is up (see storage.Graph.WithContext).
func (r *Resolver) graph(ctx context.Context) *storage.Graph { return r.Graph.WithContext(ctx) }

// argumentError recognises errors gqlgen makes without a code that are the
// client's doing. One is an argument that could not be decoded (an ID that is
// not a UUID, say): gqlgen reports it at the argument's path, not the field's.
// It is the client's mistake, so it gets INVALID_ARGUMENT, not INTERNAL.
func argumentError(ctx context.Context, gerr *gqlerror.Error) *gqlerror.Error {
	if gerr.Err != nil && gerr.Err.Error() == "introspection disabled" { // gqlgen's words, when Introspection is off
		out := graphql.DefaultErrorPresenter(ctx, errors.New("introspection is disabled on this server"))
		out.Extensions = map[string]any{"code": CodeIntrospectionDisabled}
		return out
	}
	if gerr.Err == nil || len(gerr.Path) == 0 || gerr.Path.String() == graphql.GetPath(ctx).String() {
		return nil
	}
	if _, isField := gerr.Path[0].(ast.PathName); !isField {
		return nil
	}
	out := graphql.DefaultErrorPresenter(ctx, fmt.Errorf("argument %s: %v", gerr.Path, gerr.Err))
	out.Extensions = map[string]any{"code": string(storage.CodeInvalidArgument), "field": gerr.Path.String()}
	return out
}
