package e2e

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"policygraph/internal/testenv"
	"policygraph/storage"
)

// lookupName is the Query field that looks up an entity of kind: EVENT_SERIES
// is eventSeries.
func lookupName(kind string) string {
	var b strings.Builder
	for i, w := range strings.Split(strings.ToLower(kind), "_") {
		if i > 0 {
			w = string(unicode.ToUpper(rune(w[0]))) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// TestLookupsOfEveryKind: every kind of entity has a direct lookup by ID and
// slug, named after it (topic, lawsuit...). A lookup given the slug or ID of an
// entity of another kind answers null with a WRONG_KIND error whose message
// names the kind and the lookups that find it, and whose hint is a call that
// does; a slug that names nothing answers null with no error, as documented.
func TestLookupsOfEveryKind(t *testing.T) {
	srv := testenv.Server(t)
	var kinds []string
	for _, v := range testenv.Value(srv.Query(t, `{ __type(name: "EntityKind") { enumValues { name } } }`, nil), "__type.enumValues").([]any) {
		kinds = append(kinds, v.(map[string]any)["name"].(string))
	}
	if len(kinds) != len(storage.Kinds) {
		t.Fatalf("kinds %v, storage's %v", kinds, storage.Kinds)
	}
	for i, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			d := srv.Query(t, fmt.Sprintf(`{ entities(filter: {kinds: [%s]}, first: 1) { nodes { id slug __typename } } }`, kind), nil)
			id, _ := testenv.Value(d, "entities.nodes.0.id").(string)
			slug, _ := testenv.Value(d, "entities.nodes.0.slug").(string)
			typ, _ := testenv.Value(d, "entities.nodes.0.__typename").(string)
			if slug == "" {
				t.Fatalf("the seed has no %s: %v", kind, d)
			}
			own := lookupName(kind)
			d = srv.Query(t, fmt.Sprintf(`{ bySlug: %s(slug: %q) { id __typename } byID: %s(id: %q) { slug } }`, own, slug, own, id), nil)
			if testenv.Value(d, "bySlug.id") != id || testenv.Value(d, "bySlug.__typename") != typ || testenv.Value(d, "byID.slug") != slug {
				t.Fatalf("%s(slug: %q) and (id:) = %v", own, slug, d)
			}

			other := lookupName(kinds[(i+1)%len(kinds)])
			for _, arg := range []struct{ name, value string }{{"slug", slug}, {"id", id}} {
				r := srv.Post(t, "", fmt.Sprintf(`{ x: %s(%s: %q) { id } }`, other, arg.name, arg.value), nil)
				if r.Status != 200 || r.Data == nil || r.Data["x"] != nil || r.Code() != "WRONG_KIND" {
					t.Fatalf("%s(%s: %q): want null and WRONG_KIND: %s", other, arg.name, arg.value, r.Raw)
				}
				msg := r.Errors[0].Message
				wantMsg := fmt.Sprintf("%s is ", arg.value)
				if !strings.HasPrefix(msg, wantMsg) || !strings.Contains(msg, " "+kind+",") ||
					!strings.Contains(msg, fmt.Sprintf("use %s(%s:) or entity(%s:)", own, arg.name, arg.name)) {
					t.Errorf("message %q: want it to say the %s is %s and name %s(%s:)", msg, arg.name, kind, own, arg.name)
				}
				hint, _ := r.Errors[0].Extensions["hint"].(string)
				if hint != fmt.Sprintf("%s(%s: %q)", own, arg.name, arg.value) {
					t.Errorf("hint %q", hint)
				}
				// The hint is a call that finds it.
				if got := testenv.Value(srv.Query(t, `{ x: `+hint+` { id } }`, nil), "x.id"); got != id {
					t.Errorf("%s finds %v, want %s", hint, got, id)
				}
			}
		})
	}

	t.Run("misses answer null without an error", func(t *testing.T) {
		r := srv.Post(t, "", `{ a: organization(slug: "aws") { id } b: event(slug: "WAIC 2023") { id } c: topic(slug: "nothing") { id }
			d: entity(slug: "nothing") { id } e: lawsuit(id: "00000000-0000-0000-0000-000000000001") { id } f: fact(id: "00000000-0000-0000-0000-000000000001") { id } }`, nil)
		if !r.Acked() {
			t.Fatalf("misses answered with errors: %s", r.Raw)
		}
		for k, v := range r.Data {
			if v != nil {
				t.Errorf("%s = %v, want null", k, v)
			}
		}
	})

	t.Run("a fact's ID asked of an entity lookup, and back", func(t *testing.T) {
		d := srv.Query(t, `{ organization(slug: "qualcomm") { id sponsorships { id } } }`, nil)
		orgID, factID := testenv.Value(d, "organization.id").(string), testenv.Value(d, "organization.sponsorships.0.id").(string)
		for _, c := range []struct{ query, hint string }{
			{fmt.Sprintf(`{ x: entity(id: %q) { id } }`, factID), fmt.Sprintf(`fact(id: %q)`, factID)},
			{fmt.Sprintf(`{ x: organization(id: %q) { id } }`, factID), fmt.Sprintf(`fact(id: %q)`, factID)},
			{fmt.Sprintf(`{ x: fact(id: %q) { id } }`, orgID), fmt.Sprintf(`organization(id: %q)`, orgID)},
		} {
			r := srv.Post(t, "", c.query, nil)
			if r.Data == nil || r.Data["x"] != nil || r.Code() != "WRONG_KIND" || r.Errors[0].Extensions["hint"] != c.hint {
				t.Errorf("%s: want null, WRONG_KIND and the hint %s: %s", c.query, c.hint, r.Raw)
			}
		}
	})
}
