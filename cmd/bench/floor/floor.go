// Package floor is the benchmark's GraphQL floor: gqlgen, with the same transports
// and extensions as the real API, serving recorded responses of the real API from
// in-memory Go structs, with no store, no loaders and no middleware. Its schema
// has the types, fields and arguments the bench's queries touch, copied from the
// real schema; each root field answers the value the real API answered to the
// same request. What the real API costs above this is the graph's own cost.
package floor

//go:generate go tool gqlgen generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
)

// Resolver answers each request with the response recorded for it: Expect
// then the same request sent to the floor records it (Recorded), and from
// then on that request is answered from memory. A request nothing was
// recorded for is answered with an error.
type Resolver struct {
	mu       sync.RWMutex
	answers  map[string]*answer
	expected *recording // the next request's response, until a root field takes it
}

// answer is one root field's recorded value, decoded on first use into the
// field's Go type, and the response's extensions.
type answer struct {
	raw        json.RawMessage
	extensions map[string]any
	once       sync.Once
	value      any
	err        error
}

type recording struct {
	data       map[string]json.RawMessage
	extensions map[string]any
}

// New returns a floor with nothing recorded.
func New() *Resolver { return &Resolver{answers: map[string]*answer{}} }

// Expect makes response, a response of the real API without errors, the
// answer to the next request the floor serves: send the floor the request
// that produced it, once, then check Recorded.
func (r *Resolver) Expect(response []byte) error {
	var resp struct {
		Data       map[string]json.RawMessage `json:"data"`
		Errors     json.RawMessage            `json:"errors"`
		Extensions map[string]any             `json:"extensions"`
	}
	if err := json.Unmarshal(response, &resp); err != nil {
		return fmt.Errorf("floor: decode a response: %w", err)
	}
	if len(resp.Errors) > 0 || len(resp.Data) == 0 {
		return fmt.Errorf("floor: a response with errors or no data: %.200s", response)
	}
	r.mu.Lock()
	r.expected = &recording{data: resp.Data, extensions: resp.Extensions}
	r.mu.Unlock()
	return nil
}

// Recorded reports whether every root field of the expected response was
// taken by a request, and forgets the rest.
func (r *Resolver) Recorded() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp := r.expected
	r.expected = nil
	if exp != nil && len(exp.data) > 0 {
		return errors.New("floor: the request did not ask for every field of the expected response")
	}
	return nil
}

// key names a root field of a request: the query, its variables, the field's
// alias. The variables are those gqlgen decoded, re-encoded (with sorted keys).
func key(ctx context.Context) (string, error) {
	oc := graphql.GetOperationContext(ctx)
	vars, err := json.Marshal(oc.Variables)
	if err != nil {
		return "", fmt.Errorf("floor: encode the variables: %w", err)
	}
	return oc.RawQuery + "\x00" + string(vars) + "\x00" + graphql.GetFieldContext(ctx).Field.Alias, nil
}

// recorded returns the value recorded for this root field, decoded into T,
// and adds the recorded response's extensions to the response.
func recorded[T any](ctx context.Context, r *Resolver) (T, error) {
	var zero T
	k, err := key(ctx)
	if err != nil {
		return zero, err
	}
	r.mu.RLock()
	a := r.answers[k]
	r.mu.RUnlock()
	if a == nil {
		if a = r.take(k, graphql.GetFieldContext(ctx).Field.Alias); a == nil {
			return zero, errors.New("floor: no answer recorded for this request")
		}
	}
	a.once.Do(func() {
		var v T
		a.err = json.Unmarshal(a.raw, &v)
		a.value = v
	})
	if a.err != nil {
		return zero, fmt.Errorf("floor: decode the recorded answer: %w", a.err)
	}
	for name, v := range a.extensions {
		if graphql.GetExtension(ctx, name) == nil {
			graphql.RegisterExtension(ctx, name, v)
		}
	}
	return a.value.(T), nil
}

// take records the expected response's value of the root field alias under k.
func (r *Resolver) take(k, alias string) *answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.answers[k]; a != nil {
		return a
	}
	if r.expected == nil {
		return nil
	}
	raw, ok := r.expected.data[alias]
	if !ok {
		return nil
	}
	delete(r.expected.data, alias)
	a := &answer{raw: raw, extensions: r.expected.extensions}
	r.answers[k] = a
	return a
}

// NewHandler is graph.NewHandler's setup (transports, query cache, APQ,
// introspection) around the floor schema.
func NewHandler(r *Resolver) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: r}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	return srv
}

// Query returns QueryResolver implementation.
func (r *Resolver) Query() QueryResolver { return &queryResolver{r} }

// queryResolver answers every root field with its recorded value; the
// arguments are part of the request the value was recorded for.
type queryResolver struct{ *Resolver }

// SponsorshipsByYear is the resolver for the sponsorshipsByYear field.
func (r *queryResolver) SponsorshipsByYear(ctx context.Context, series *string, event *string, sponsorCountry *string, includeInferred *bool, tier *string, yearFrom *int, yearTo *int, order *string) ([]*SponsorshipYear, error) {
	return recorded[[]*SponsorshipYear](ctx, r.Resolver)
}

// Organization is the resolver for the organization field.
func (r *queryResolver) Organization(ctx context.Context, id *string, slug *string) (*Organization, error) {
	return recorded[*Organization](ctx, r.Resolver)
}

// Event is the resolver for the event field.
func (r *queryResolver) Event(ctx context.Context, id *string, slug *string) (*Event, error) {
	return recorded[*Event](ctx, r.Resolver)
}

// Search is the resolver for the search field.
func (r *queryResolver) Search(ctx context.Context, text string, kinds []string, first *int) ([]*SearchHit, error) {
	return recorded[[]*SearchHit](ctx, r.Resolver)
}

// Facts is the resolver for the facts field.
func (r *queryResolver) Facts(ctx context.Context, filter *FactFilter, order *string, first *int, after *string, last *int, before *string) (*FactConnection, error) {
	return recorded[*FactConnection](ctx, r.Resolver)
}

// Entities is the resolver for the entities field.
func (r *queryResolver) Entities(ctx context.Context, filter *EntityFilter, first *int, after *string, last *int, before *string) (*EntityConnection, error) {
	return recorded[*EntityConnection](ctx, r.Resolver)
}
