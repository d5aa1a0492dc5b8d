package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"policygraph/api"
	"policygraph/errs"
	"policygraph/internal/testenv"
)

// misspelled are queries that fail validation on a near miss of something the
// schema holds: a "Did you mean" suggestion would name it.
var misspelled = map[string]string{
	"field":             `{ entity(slug: "waic") { nmae } }`,
	"field on a type":   `{ entity(slug: "waic") { ... on Organization { orgTyp } } }`,
	"argument":          `{ entity(slog: "waic") { name } }`,
	"enum value":        `{ entities(filter: { kinds: [ORGANISATION] }) { totalCount } }`,
	"input field":       `{ entities(filter: { contry: "US" }) { totalCount } }`,
	"type":              `query { ...F } fragment F on Organisation { name }`,
	"scalar leaf":       `{ entity(slug: "waic") }`,
	"enum order":        `{ entities(orderBy: NAM) { totalCount } }`,
	"variable enum use": `query($k: EntityKind = ORGANISATION) { entities(filter: { kinds: [$k] }) { totalCount } }`,
}

// TestNoSuggestionsWithoutIntrospection: with introspection off, validation
// errors name nothing of the schema that the query did not (issue 9, item 14);
// with it on, the same errors do suggest (so the queries are near misses).
func TestNoSuggestionsWithoutIntrospection(t *testing.T) {
	g := seeded(t)
	limits := api.DefaultLimits()
	limits.RefusalDelay = 0
	for _, introspection := range []bool{false, true} {
		h := api.NewHandler(g, api.Options{Introspection: introspection, Limits: &limits, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		a := serve(t, g, h, nil)
		for name, q := range misspelled {
			r := a.do(q, nil, false)
			if r.Status != http.StatusBadRequest || r.Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("%s: status %d: %s", name, r.Status, testenv.Clip(r.Raw))
			}
			suggests := strings.Contains(r.Raw, "Did you mean")
			if suggests != introspection {
				t.Errorf("introspection %v, %s: suggests %v: %s", introspection, name, suggests, r.Raw)
			}
		}
	}
}

// longNameQueries are distinct queries of about 1 MB (each is refused, and the
// refusal memo would answer a repeated one at once), each selecting a field
// whose near-1 MB name the schema does not have, in the places the validator
// would suggest a near miss for: a field, an argument, a type condition.
func longNameQuery(i int, where string) string {
	name := fmt.Sprintf("n%07d", i) + strings.Repeat("a", 1000000-16)
	switch where {
	case "argument":
		return `{ entity(` + name + `: "waic") { name } }`
	case "type":
		return `query { ...F } fragment F on ` + name + ` { name }`
	}
	return `{ ` + name + ` }`
}

// BenchmarkRefusedLongName measures what a refused query with a ~1 MB name
// costs (issue 9: ~250 ms of "Did you mean" suggestions each, computed by an
// edit distance between that name and every candidate in the schema).
//
//	go test ./api -run '^$' -bench RefusedLongName -benchtime 20x
func BenchmarkRefusedLongName(b *testing.B) {
	g := seeded(b)
	limits := api.DefaultLimits()
	limits.RefusalDelay = 0
	for _, where := range []string{"field", "argument", "type"} {
		b.Run(where, func(b *testing.B) {
			h := api.NewHandler(g, api.Options{Introspection: true, Limits: &limits, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			a := serve(b, g, h, nil)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				if r := a.do(longNameQuery(i, where), nil, false); r.Status != http.StatusBadRequest {
					b.Fatalf("status %d: %s", r.Status, testenv.Clip(r.Raw))
				}
			}
		})
	}
}

// TestLongNamesRefused: a name longer than MaxNameBytes is refused before the
// validator would spend a second suggesting near misses for it; a name of
// MaxNameBytes (a long alias) is still a name.
func TestLongNamesRefused(t *testing.T) {
	a := newAPI(t, seeded(t), nil)
	for _, where := range []string{"field", "argument", "type"} {
		a.do(longNameQuery(1, where), nil, false).WantError(t, http.StatusBadRequest, string(errs.TokenLimit))
	}
	alias := strings.Repeat("a", api.MaxNameBytes)
	r := a.do(`{ `+alias+`: entity(slug: "waic") { name } }`, nil, false).OK(t)
	if !strings.Contains(r.Raw, `"`+alias+`":{"name":`) {
		t.Fatalf("long alias: %s", testenv.Clip(r.Raw))
	}
	a.do(`{ `+alias+`b: entity(slug: "waic") { name } }`, nil, false).WantError(t, http.StatusBadRequest, string(errs.TokenLimit))
}
