// Package floor is the benchmark's GraphQL floor: gqlgen, with the same transports
// and extensions as the real API, serving the headline query's response shape
// from in-memory Go structs, with no store, no loaders and no middleware. What
// the real API costs above this is the graph's own cost.
package floor

//go:generate go tool gqlgen generate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
)

// Resolver serves Years, built once, to every request.
type Resolver struct {
	Years []*SponsorshipYear
}

// FromResponse builds the floor's data from a response of the real API to the
// headline query, so both serve the same answer.
func FromResponse(body []byte) (*Resolver, error) {
	var resp struct {
		Data struct {
			SponsorshipsByYear []struct {
				Year         int `json:"year"`
				Sponsorships []struct {
					Tier     *SponsorTier `json:"tier"`
					TierSize *Quantity    `json:"tierSize"`
					Subject  Organization `json:"subject"`
					Evidence []*Evidence  `json:"evidence"`
				} `json:"sponsorships"`
			} `json:"sponsorshipsByYear"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("floor: decode the headline response: %w", err)
	}
	r := &Resolver{}
	for _, y := range resp.Data.SponsorshipsByYear {
		out := &SponsorshipYear{Year: y.Year, Sponsorships: []*Fact{}}
		for _, s := range y.Sponsorships {
			out.Sponsorships = append(out.Sponsorships, &Fact{Tier: s.Tier, TierSize: s.TierSize, Subject: &Organization{Name: s.Subject.Name}, Evidence: s.Evidence})
		}
		r.Years = append(r.Years, out)
	}
	return r, nil
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

// SponsorshipsByYear is the resolver for the sponsorshipsByYear field.
func (r *queryResolver) SponsorshipsByYear(ctx context.Context, series *string, sponsorCountry *string) ([]*SponsorshipYear, error) {
	return r.Years, nil
}

// Query returns QueryResolver implementation.
func (r *Resolver) Query() QueryResolver { return &queryResolver{r} }

type queryResolver struct{ *Resolver }
