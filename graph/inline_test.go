package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"policygraph/graph"
	"policygraph/internal/testenv"
	"policygraph/storage"
)

// TestHotFieldsResolveInline: the fields a traversal asks of every object
// (a fact's subject, object and tierSize, an organization's country, parent
// and sanctions, a sanction's imposedBy) are resolved inline, in the
// goroutine marshalling their object, not deferred to FieldSet.Dispatch,
// which runs each in a goroutine of its own; and they answer the same
// values through the model's views as the resolvers did. Event.sponsorships
// stays a resolver, but is not deferred either (graph.resolveField) (the e2e question
// goldens check the values; this checks where they run).
func TestHotFieldsResolveInline(t *testing.T) {
	t.Run("store", func(t *testing.T) { testHotFieldsInline(t, testenv.Seeded(t), false) })
	t.Run("read model", func(t *testing.T) { testHotFieldsInline(t, testenv.SeededModel(t), true) })
}

// testHotFieldsInline asks the queries of g; with a model, resolver fields
// are not deferred either (graph.resolveField).
func testHotFieldsInline(t *testing.T, g *storage.Graph, model bool) {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: graph.NewResolver(g)}))
	srv.AddTransport(transport.POST{})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(graph.WithLoaders(storage.Pin(ctx), g, nil))
	})
	hot := map[string]bool{"Fact.subject": true, "Fact.object": true, "Fact.tierSize": true,
		"Organization.country": true, "Organization.parent": true, "Organization.sanctions": true,
		"Sanction.imposedBy": true}
	if model {
		// A resolver field (it has arguments): over the read model
		// resolveField runs it at once rather than deferring it.
		hot["Event.sponsorships"] = true
	}
	var mu sync.Mutex
	seen, deferred := map[string]int{}, map[string]int{}
	var root atomic.Value // the goroutine resolving the operation's root field
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		buf := make([]byte, 64)
		root.Store(strings.Fields(string(buf[:runtime.Stack(buf, false)]))[1])
		return next(ctx)
	})
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		name := fc.Object + "." + fc.Field.Name
		if hot[name] {
			buf := make([]byte, 64<<10)
			stack := string(buf[:runtime.Stack(buf, false)])
			mu.Lock()
			seen[name]++
			// Without a model: not deferred to Dispatch. With one: in the
			// goroutine of the root field, nothing spawned on the way.
			if !model && strings.Contains(stack, "(*FieldSet).executeDelayed") ||
				model && strings.Fields(stack)[1] != root.Load().(string) {
				deferred[name]++
			}
			mu.Unlock()
		}
		return next(ctx)
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	for _, q := range []string{
		`{ event(slug: "waic-2023") { places { name } participants { predicate } sponsorships { tier tierSize { amount } object { name } subject { name ... on Organization { country parent { name } sanctions { name imposedBy { name } } } } } } }`,
		`{ entities(filter: {sponsoredSeries: "waic", sanctionedBy: "*"}, first: 50) { nodes { ... on Organization { country sanctions { imposedBy { name } } } } } }`,
	} {
		body, _ := json.Marshal(map[string]any{"query": q})
		res, err := http.Post(hs.URL, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Data   map[string]any
			Errors []any
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || len(out.Errors) > 0 || out.Data == nil {
			t.Fatalf("%s: %v %v", q, err, out.Errors)
		}
	}
	for name := range hot {
		if seen[name] == 0 {
			t.Errorf("%s: never resolved by the queries (the test asks too little)", name)
		}
		if deferred[name] > 0 {
			t.Errorf("%s: %d of %d resolved in FieldSet.Dispatch or another goroutine, want inline", name, deferred[name], seen[name])
		}
	}
}
