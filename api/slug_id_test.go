package api_test

import (
	"net/http"
	"testing"

	"policygraph/storage"
)

// TestSlugThatReadsAsAnIDOverHTTP: createEntity and addSource refuse a slug
// that is an ID, so entity(slug:) can never find an impostor of the entity
// that addFact(subject:) resolves the same string to.
func TestSlugThatReadsAsAnIDOverHTTP(t *testing.T) {
	g := seeded(t)
	a := newAPI(t, g, nil)
	victim := storage.SlugID("qualcomm").String()
	a.do(createEntityMutation, map[string]any{"in": map[string]any{"kind": "ORGANIZATION", "name": "Impostor", "slug": victim}}, true).
		WantError(t, http.StatusOK, "INVALID_ARGUMENT")
	a.do(`mutation($in: AddSourceInput!) { addSource(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"title": "Impostor", "language": "en", "text": "Text.", "slug": victim}}, true).
		WantError(t, http.StatusOK, "INVALID_ARGUMENT")
	r := a.do(`query($s: String!) { entity(slug: $s) { name } }`, map[string]any{"s": victim}, false)
	if len(r.Errors) > 0 || r.Data["entity"] != nil {
		t.Errorf("entity(slug: %s) = %s, want null", victim, r.Raw)
	}
}
