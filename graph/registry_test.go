package graph_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"policygraph/graph"
	"policygraph/graph/model"
	"policygraph/storage"
)

// This file checks that every table of kinds and predicates outside storage
// agrees with storage's registries (storage.Kinds, storage.Predicates and the
// lists of tiers, bounds, precisions, dimensions and sort keys): the schema's enums and
// entity types, graph/model's typed views, and the explorer's tables. A kind
// or predicate added to storage and forgotten elsewhere, or one written
// elsewhere that storage does not know, fails here, naming the table.

// names is the names of a registry's values, as strings.
func names[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func predicateNames(keep func(storage.PredicateSpec) bool) []string {
	var out []string
	for _, p := range storage.Predicates {
		if keep(p) {
			out = append(out, string(p.Predicate))
		}
	}
	return out
}

// sameSet reports, in words, how got differs from the registry want as a set
// (both directions) and whether got repeats a name; "" when they agree.
func sameSet(got, want []string) string {
	return diff(got, want, true)
}

// subset reports, in words, the names of got the registry want does not
// have, and repeated names; "" when got is a subset of want. For tables
// that cover some values by design and give the rest a default.
func subset(got, want []string) string {
	return diff(got, want, false)
}

func diff(got, want []string, both bool) string {
	var out []string
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			out = append(out, fmt.Sprintf("%s twice", g))
		}
		seen[g] = true
		if !slices.Contains(want, g) {
			out = append(out, fmt.Sprintf("%s not in storage's registry", g))
		}
	}
	if both {
		for _, w := range want {
			if !seen[w] {
				out = append(out, fmt.Sprintf("%s missing", w))
			}
		}
	}
	return strings.Join(out, "; ")
}

// TestSchemaEnumsAgreeWithStorage: each enum of the schema that gqlgen.yml
// binds to a storage type has exactly the values of storage's registry, in
// its order; the enums gqlgen generates are GraphQL's own.
func TestSchemaEnumsAgreeWithStorage(t *testing.T) {
	registries := map[string][]string{
		"EntityKind":      names(storage.Kinds),
		"Predicate":       predicateNames(func(storage.PredicateSpec) bool { return true }),
		"SponsorTier":     names(storage.Tiers),
		"Bound":           names(storage.Bounds),
		"DatePrecision":   names(storage.Precisions),
		"FactDimension":   names(storage.Dimensions),
		"FactSortField":   names(storage.FactSortKeys),
		"EntitySortField": names(storage.EntitySortKeys),
	}
	bound := storageBound(t)
	s := graph.Schema()
	for name, def := range s.Types {
		if def.Kind != ast.Enum || def.BuiltIn || !bound[name] {
			continue
		}
		want, ok := registries[name]
		if !ok {
			t.Errorf("enum %s is bound to a storage type (gqlgen.yml) whose registry this test does not know: add it to registries", name)
			continue
		}
		var got []string
		for _, v := range def.EnumValues {
			got = append(got, v.Name)
		}
		if d := sameSet(got, want); d != "" {
			t.Errorf("enum %s and storage disagree: %s", name, d)
		} else if !slices.Equal(got, want) {
			t.Errorf("enum %s is in the order %v, storage's registry %v", name, got, want)
		}
	}
	for name := range registries {
		if def := s.Types[name]; def == nil || def.Kind != ast.Enum || !bound[name] {
			t.Errorf("the schema has no enum %s bound to storage in gqlgen.yml", name)
		}
	}
}

// storageBound is the schema types gqlgen.yml binds to a type of package storage.
func storageBound(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../gqlgen.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Models map[string]struct {
			Model any `yaml:"model"` // one type or a list
		} `yaml:"models"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("gqlgen.yml: %v", err)
	}
	out := map[string]bool{}
	for name, m := range cfg.Models {
		if s, ok := m.Model.(string); ok && strings.HasPrefix(s, "policygraph/storage.") {
			out[name] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("gqlgen.yml binds no type to storage")
	}
	return out
}

// TestEntityTypesAgreeWithKinds: each kind is an object type of its Class
// name implementing Entity, found by a Query field of that name in
// lowerCamelCase, and graph/model views a node of the kind as the Go type of
// that name (gqlgen.yml autobinds one to the other); every type implementing
// Entity is a kind's.
func TestEntityTypesAgreeWithKinds(t *testing.T) {
	s := graph.Schema()
	var types []string
	for _, def := range s.GetPossibleTypes(s.Types["Entity"]) {
		types = append(types, def.Name)
	}
	var classes []string
	for _, k := range storage.Kinds {
		classes = append(classes, k.Class())
		v := model.View(nil, &storage.Node{ID: uuid.New(), Kind: k})
		if v == nil {
			t.Errorf("graph/model has no view of %s", k)
			continue
		}
		if got := reflect.TypeOf(v).Elem().Name(); got != k.Class() {
			t.Errorf("graph/model views %s as %s, want %s", k, got, k.Class())
		}
	}
	if d := sameSet(types, classes); d != "" {
		t.Errorf("the types implementing Entity and the kinds' classes disagree: %s", d)
	}
	// Each kind has its lookup by ID or slug, named after its class
	// (WRONG_KIND's hints name it: see lookupField).
	for _, k := range storage.Kinds {
		c := k.Class()
		name := strings.ToLower(c[:1]) + c[1:]
		f := s.Query.Fields.ForName(name)
		if f == nil || f.Type.Name() != c || f.Arguments.ForName("id") == nil || f.Arguments.ForName("slug") == nil {
			t.Errorf("Query has no lookup %s(id:, slug:): %s of kind %s", name, c, k)
		}
	}
}

// The explorer's scripts, relative to this package.
const exploreAssets = "../web/explore/assets"

// TestExplorerTablesAgreeWithStorage: the explorer's tables of kinds,
// predicates, tiers and bounds (its JavaScript, read as text) name only what
// storage knows, and those meant to be complete name all of it.
func TestExplorerTablesAgreeWithStorage(t *testing.T) {
	kinds := names(storage.Kinds)
	preds := predicateNames(func(storage.PredicateSpec) bool { return true })
	literal := predicateNames(func(p storage.PredicateSpec) bool { return !p.ObjectRequired })
	tests := []struct {
		file, name string
		object     bool // an object's keys, else an array's strings
		complete   bool // every value of the registry, else a subset
		want       []string
	}{
		{"api.js", "KINDS", false, true, kinds},
		{"api.js", "LITERAL_PREDICATES", false, true, literal},
		{"api.js", "TIMELINE_PREDICATES", false, false, preds},
		{"explorer.js", "KIND_SHAPES", true, true, kinds},
		{"explorer.js", "KIND_ORDER", false, true, kinds},
		// Colours and rings: the kinds left out get OTHER_COLOUR and OUTER_RING.
		{"explorer.js", "KIND_COLOURS", true, false, kinds},
		{"explorer.js", "KIND_RING", true, false, kinds},
		{"explorer.js", "CARD_KINDS", true, false, preds},
		{"format.js", "TEMPLATES", true, true, preds},
		{"format.js", "TIERS", true, true, names(storage.Tiers)},
		{"format.js", "BOUNDS", true, false, names(storage.Bounds)},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(exploreAssets, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := jsTable(string(src), tt.name, tt.object)
			if err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			if len(got) == 0 {
				t.Fatalf("%s: read no names from %s", tt.file, tt.name)
			}
			t.Logf("%s: %v", tt.name, got)
			check := subset
			if tt.complete {
				check = sameSet
			}
			if d := check(got, tt.want); d != "" {
				t.Errorf("%s %s and storage disagree: %s", tt.file, tt.name, d)
			}
		})
	}
}

// jsTable reads the table const name = {...} or [...] of a script: the keys
// of an object at its top level, or the string literals of an array.
func jsTable(src, name string, object bool) ([]string, error) {
	open := "["
	if object {
		open = "{"
	}
	decl := regexp.MustCompile(`(?m)^(?:export )?const ` + name + ` = \` + open)
	loc := decl.FindStringIndex(src)
	if loc == nil {
		return nil, fmt.Errorf("no const %s = %s", name, open)
	}
	top, err := topLevel(src[loc[1]:])
	if err != nil {
		return nil, fmt.Errorf("const %s: %w", name, err)
	}
	var out []string
	re := regexp.MustCompile(`"([^"]*)"`)
	if object {
		re = regexp.MustCompile(`(?:^|,)\s*([A-Za-z_$][\w$]*|"[^"]*")\s*:`)
	}
	for _, m := range re.FindAllStringSubmatch(top, -1) {
		out = append(out, strings.Trim(m[1], `"`))
	}
	return out, nil
}

// topLevel is the text of a literal that src starts inside (just past its
// opening bracket), up to its closing bracket, with what is nested deeper
// (brackets, template literals, comments) left out; string literals at the
// top level are kept whole.
func topLevel(src string) (string, error) {
	var b strings.Builder
	// stack holds what encloses the scanner: a closing bracket, or '`' for a
	// template literal (whose ${ pushes '}').
	stack := []byte{'?'}
	for i := 0; i < len(src); i++ {
		c := src[i]
		top := stack[len(stack)-1]
		if top == '`' {
			switch {
			case c == '\\':
				i++
			case c == '`':
				stack = stack[:len(stack)-1]
			case c == '$' && i+1 < len(src) && src[i+1] == '{':
				stack = append(stack, '}')
				i++
			}
			continue
		}
		depth := len(stack)
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if depth == 1 {
				b.WriteString(src[i : j+1])
			}
			i = j
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return "", fmt.Errorf("unterminated comment")
			}
			i += 2 + end + 1
			continue
		case c == '`':
			stack = append(stack, '`')
			continue
		case c == '{':
			stack = append(stack, '}')
		case c == '[':
			stack = append(stack, ']')
		case c == '(':
			stack = append(stack, ')')
		case c == '}' || c == ']' || c == ')':
			if depth == 1 {
				return b.String(), nil
			}
			if c != top {
				return "", fmt.Errorf("%q closes %q at byte %d", c, top, i)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if depth == 1 && len(stack) == 1 {
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("no closing bracket")
}
