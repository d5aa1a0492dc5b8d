package graph_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// This file checks that the schema explains itself: every element an analyst
// meets in the IDE's documentation pane carries a description.

// loadSchemaFiles loads the schema from this package's *.graphqls files, the
// files gqlgen generates the executable schema from.
func loadSchemaFiles(t testing.TB) *ast.Schema {
	t.Helper()
	files, err := filepath.Glob("*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.graphqls files here (%v)", err)
	}
	sort.Strings(files)
	var sources []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	return mustLoadSchema(t, sources...)
}

// mustLoadSchema loads a schema from sources, the built-in prelude added.
func mustLoadSchema(t testing.TB, sources ...*ast.Source) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(sources...)
	if err != nil {
		t.Fatalf("load schema: %v", err)
	}
	return s
}

// The kinds of schema element, as the reports name them.
const (
	elemType       = "type"
	elemField      = "field"
	elemArgument   = "argument"
	elemEnumValue  = "enum value"
	elemInputField = "input field"
	elemDirective  = "directive"
)

// schemaElement is one documentable element of a schema: a type, a field of an
// object or interface, an argument, an enum value, an input field, or a
// directive the schema declares.
type schemaElement struct {
	// Coord is the element's schema coordinate: Event, Event.sponsorships,
	// Event.sponsorships(tier:), Bound.ABOUT, EntityFilter.country, @name.
	Coord       string
	Kind        string
	Description string
	Directives  ast.DirectiveList
	Pos         *ast.Position
}

// schemaElements lists the elements of s that are not built in (the spec's
// scalars, directives and introspection types), ordered by coordinate.
func schemaElements(s *ast.Schema) []schemaElement {
	var out []schemaElement
	add := func(coord, kind, desc string, dirs ast.DirectiveList, pos *ast.Position) {
		out = append(out, schemaElement{Coord: coord, Kind: kind, Description: desc, Directives: dirs, Pos: pos})
	}
	for _, def := range s.Types {
		if def.BuiltIn {
			continue
		}
		add(def.Name, elemType, def.Description, def.Directives, def.Position)
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue // __typename and the introspection fields gqlparser adds to Query
			}
			coord := def.Name + "." + f.Name
			if def.Kind == ast.InputObject {
				add(coord, elemInputField, f.Description, f.Directives, f.Position)
				continue
			}
			add(coord, elemField, f.Description, f.Directives, f.Position)
			for _, a := range f.Arguments {
				add(coord+"("+a.Name+":)", elemArgument, a.Description, a.Directives, a.Position)
			}
		}
		for _, v := range def.EnumValues {
			add(def.Name+"."+v.Name, elemEnumValue, v.Description, v.Directives, v.Position)
		}
	}
	for _, d := range s.Directives {
		if d.Position == nil || d.Position.Src == nil || d.Position.Src.BuiltIn {
			continue
		}
		add("@"+d.Name, elemDirective, d.Description, nil, d.Position)
		for _, a := range d.Arguments {
			add("@"+d.Name+"("+a.Name+":)", elemArgument, a.Description, a.Directives, a.Position)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Coord < out[j].Coord })
	return out
}

// where names a position as file:line.
func where(p *ast.Position) string {
	if p == nil || p.Src == nil {
		return "?"
	}
	return fmt.Sprintf("%s:%d", p.Src.Name, p.Line)
}

// describedCount is how many elements of a kind there are, and how many lack a description.
type describedCount struct{ total, missing int }

// undocumented returns the elements of s without a description, as
// "kind coordinate (file:line)", and the counts by kind.
func undocumented(s *ast.Schema) ([]string, map[string]describedCount) {
	var missing []string
	counts := map[string]describedCount{}
	for _, e := range schemaElements(s) {
		c := counts[e.Kind]
		c.total++
		if strings.TrimSpace(e.Description) == "" {
			c.missing++
			missing = append(missing, fmt.Sprintf("%s %s (%s)", e.Kind, e.Coord, where(e.Pos)))
		}
		counts[e.Kind] = c
	}
	return missing, counts
}

func TestSchemaDescriptions(t *testing.T) {
	s := loadSchemaFiles(t)
	missing, counts := undocumented(s)
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Logf("%-12s %3d of %3d without a description", k, counts[k].missing, counts[k].total)
	}
	if strings.TrimSpace(s.Description) == "" {
		missing = append(missing, "the schema itself")
	}
	if len(missing) > 0 {
		t.Errorf("%d schema elements have no description; an analyst reads them in the IDE's docs pane. "+
			"Say what each means in the domain, with an example where it helps:\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
}

// TestSchemaDescriptionsFindEveryKind shows the check above sees each kind of
// element: a schema with one undocumented element of each kind is reported
// element by element, and its documented twin is not.
func TestSchemaDescriptionsFindEveryKind(t *testing.T) {
	const bare = `
schema { query: Query }
type Query { thing(id: ID, filter: Filter): Thing  any: Any  when: When }
interface Named { name: String }
type Thing implements Named { name: String  size: Size }
enum Size { SMALL LARGE }
input Filter { size: Size }
scalar When
union Any = Thing
directive @marked(why: String) on FIELD_DEFINITION
`
	got, _ := undocumented(mustLoadSchema(t, &ast.Source{Name: "bare.graphqls", Input: bare}))
	want := []string{
		"directive @marked", "argument @marked(why:)",
		"type Any", "type Filter", "input field Filter.size", "type Named", "field Named.name",
		"type Query", "field Query.any", "field Query.thing", "argument Query.thing(filter:)", "argument Query.thing(id:)", "field Query.when",
		"type Size", "enum value Size.LARGE", "enum value Size.SMALL",
		"type Thing", "field Thing.name", "field Thing.size", "type When",
	}
	for i, g := range got {
		got[i] = g[:strings.Index(g, " (")]
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("undocumented elements:\n got %q\nwant %q", got, want)
	}

	const documented = `
"The root." schema { query: Query }
"Reads." type Query { "A thing." thing("Its ID." id: ID, "Narrows." filter: Filter): Thing  "Any." any: Any  "When." when: When }
"Has a name." interface Named { "The name." name: String }
"A thing." type Thing implements Named { "The name." name: String  "Its size." size: Size }
"Sizes." enum Size { "Small." SMALL "Large." LARGE }
"A filter." input Filter { "By size." size: Size }
"A time." scalar When
"Anything." union Any = Thing
"Marks." directive @marked("Why." why: String) on FIELD_DEFINITION
`
	if got, _ := undocumented(mustLoadSchema(t, &ast.Source{Name: "documented.graphqls", Input: documented})); len(got) > 0 {
		t.Errorf("a fully documented schema reported undocumented: %q", got)
	}
}

// TestInterfaceFieldDescriptionsAgree checks that a field an object (or
// interface) takes from an interface it implements reads the same in both
// places, with the same argument descriptions: Event.slug says what
// Entity.slug says, so the docs pane does not contradict itself.
func TestInterfaceFieldDescriptionsAgree(t *testing.T) {
	var problems []string
	s := loadSchemaFiles(t)
	for _, def := range s.Types {
		if def.BuiltIn {
			continue
		}
		for _, iname := range def.Interfaces {
			iface := s.Types[iname]
			for _, ifield := range iface.Fields {
				f := def.Fields.ForName(ifield.Name)
				if f == nil {
					continue // the schema would not load
				}
				if f.Description != ifield.Description {
					problems = append(problems, fmt.Sprintf("%s.%s (%s) differs from %s.%s (%s)",
						def.Name, f.Name, where(f.Position), iname, ifield.Name, where(ifield.Position)))
				}
				for _, ia := range ifield.Arguments {
					if a := f.Arguments.ForName(ia.Name); a != nil && a.Description != ia.Description {
						problems = append(problems, fmt.Sprintf("%s.%s(%s:) (%s) differs from %s.%s(%s:)",
							def.Name, f.Name, a.Name, where(a.Position), iname, ifield.Name, ia.Name))
					}
				}
			}
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Errorf("%d descriptions of interface fields are not the interface's own:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}
