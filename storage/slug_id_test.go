package storage_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"policygraph/errs"
	"policygraph/storage"
)

// TestSlugThatReadsAsAnID: a slug that parses as a UUID is refused on create
// and on a seed write (a reference to it would resolve to the entity with
// that ID instead), and a name that reads as one gets a slug with a suffix.
func TestSlugThatReadsAsAnID(t *testing.T) {
	x := newFixture(t)
	g := x.g
	victim := x.qualcomm.ID.String()
	for _, tt := range []struct{ name, slug string }{
		{"another entity's id", victim},
		{"32 hex digits", strings.ReplaceAll(victim, "-", "")},
		{"an unused id", uuid.NewString()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := takeSnapshot(t, g)
			_, err := g.CreateNode(&storage.Node{Kind: storage.KindOrganization, Name: "Impostor", Slug: tt.slug}, "")
			wantCode(t, err, errs.InvalidArgument, "slug")
			assertUnchanged(t, g, before)
		})
	}
	t.Run("seed write", func(t *testing.T) {
		n := &storage.Node{ID: uuid.New(), Kind: storage.KindOrganization, Name: "Impostor", Slug: victim}
		before := takeSnapshot(t, g)
		_, err := g.PutNode(n, "")
		wantCode(t, err, errs.InvalidArgument, "slug")
		assertUnchanged(t, g, before)
	})
	t.Run("name that reads as an ID", func(t *testing.T) {
		n := mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: victim}, "")
		if n.Slug != victim+"-2" {
			t.Errorf("slug = %q, want %q", n.Slug, victim+"-2")
		}
		if id, err := g.Ref(n.Slug); err != nil || id != n.ID {
			t.Errorf("Ref(%q) = %s, %v; want %s", n.Slug, id, err, n.ID)
		}
	})
	// An ordinary slug of hex digits and hyphens that is no UUID is fine.
	mustCreate(t, g, &storage.Node{Kind: storage.KindOrganization, Name: "Hex", Slug: "deadbeef-2023"}, "")
}
