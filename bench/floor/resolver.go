package floor

// THIS CODE WILL BE UPDATED WITH SCHEMA CHANGES. PREVIOUS IMPLEMENTATION FOR SCHEMA CHANGES WILL BE KEPT IN THE COMMENT SECTION. IMPLEMENTATION FOR UNCHANGED SCHEMA WILL BE KEPT.

import (
	"context"
)

// Resolver serves Years, built once, to every request.
type Resolver struct {
	Years []*SponsorshipYear
}

// SponsorshipsByYear is the resolver for the sponsorshipsByYear field.
func (r *queryResolver) SponsorshipsByYear(ctx context.Context, series *string, sponsorCountry *string) ([]*SponsorshipYear, error) {
	return r.Years, nil
}

// Query returns QueryResolver implementation.
func (r *Resolver) Query() QueryResolver { return &queryResolver{r} }

type queryResolver struct{ *Resolver }
