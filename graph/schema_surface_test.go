package graph_test

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// This file enforces the schema-change policy (docs/schema-policy.md): what
// clients rely on (saved queries, dashboards, README's queries) is never
// removed or changed incompatibly without a deprecation period. The public
// surface of the schema is kept in testdata/schema-surface.txt, one element a
// line; the test compares the schema with it:
//
//   - an element of the snapshot missing from the schema, or changed in a way
//     that breaks a client (a field's type loosened, an argument's tightened, a
//     default changed, an interface or union member dropped), fails, unless it
//     was deprecated in the snapshot and testdata/schema-removals.txt names it
//     with the released version whose CHANGELOG.md section announced the
//     deprecation;
//   - a new required argument or input field on an existing field or input
//     type fails: queries that omit it would stop validating;
//   - any other difference (an addition, a new deprecation) fails until the
//     snapshot is refreshed with `go test ./graph -run TestSchemaSurface
//     -update`, so that every change is seen in review. -update refuses to
//     record a breaking change, or an addition or removal that CHANGELOG.md's
//     Unreleased section does not name.

var update = flag.Bool("update", false, "rewrite testdata/schema-surface.txt from the schema (it refuses breaking changes)")

const (
	surfaceFile   = "testdata/schema-surface.txt"
	removalsFile  = "testdata/schema-removals.txt"
	changelogFile = "../CHANGELOG.md"
)

// The keywords of the snapshot's lines: a type's kind, or a member's.
const (
	kwField      = "field"
	kwArgument   = "argument"
	kwInputField = "input-field"
	kwEnumValue  = "enum-value"
)

var typeKeywords = map[ast.DefinitionKind]string{
	ast.Object: "type", ast.Interface: "interface", ast.Union: "union",
	ast.Enum: "enum", ast.InputObject: "input", ast.Scalar: "scalar",
}

// surfaceElem is one element of the schema's public surface.
type surfaceElem struct {
	Keyword string // type, interface, union, enum, input, scalar; field, argument, input-field, enum-value
	// Coord is the element's schema coordinate: Event, Event.sponsorships,
	// Event.sponsorships(tier:), Bound.ABOUT.
	Coord      string
	Type       string   // fields, arguments and input fields: [Fact!]!
	Default    string   // arguments and input fields: the default value, as GraphQL text
	Interfaces []string // objects and interfaces, sorted
	Members    []string // unions, sorted
	Deprecated bool
}

// isType reports whether e is a type rather than a member of one.
func (e surfaceElem) isType() bool { return !strings.Contains(e.Coord, ".") }

// String renders e as its line of the snapshot.
func (e surfaceElem) String() string {
	var b strings.Builder
	b.WriteString(e.Keyword + " " + e.Coord)
	if len(e.Interfaces) > 0 {
		b.WriteString(" implements " + strings.Join(e.Interfaces, " & "))
	}
	if len(e.Members) > 0 {
		b.WriteString(" = " + strings.Join(e.Members, " | "))
	}
	if e.Type != "" {
		b.WriteString(": " + e.Type)
	}
	if e.Default != "" {
		b.WriteString(" = " + e.Default)
	}
	if e.Deprecated {
		b.WriteString(" @deprecated")
	}
	return b.String()
}

// surfaceOf lists the public surface of s (built-in types and introspection
// aside), ordered by coordinate.
func surfaceOf(s *ast.Schema) []surfaceElem {
	var out []surfaceElem
	deprecated := func(d ast.DirectiveList) bool { return d.ForName("deprecated") != nil }
	defaultOf := func(v *ast.Value) string {
		if v == nil {
			return ""
		}
		return v.String()
	}
	for _, def := range s.Types {
		if def.BuiltIn {
			continue
		}
		t := surfaceElem{Keyword: typeKeywords[def.Kind], Coord: def.Name,
			Interfaces: slices.Sorted(slices.Values(def.Interfaces)), Members: slices.Sorted(slices.Values(def.Types))}
		out = append(out, t)
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			coord := def.Name + "." + f.Name
			if def.Kind == ast.InputObject {
				out = append(out, surfaceElem{Keyword: kwInputField, Coord: coord, Type: f.Type.String(),
					Default: defaultOf(f.DefaultValue), Deprecated: deprecated(f.Directives)})
				continue
			}
			out = append(out, surfaceElem{Keyword: kwField, Coord: coord, Type: f.Type.String(), Deprecated: deprecated(f.Directives)})
			for _, a := range f.Arguments {
				out = append(out, surfaceElem{Keyword: kwArgument, Coord: coord + "(" + a.Name + ":)", Type: a.Type.String(),
					Default: defaultOf(a.DefaultValue), Deprecated: deprecated(a.Directives)})
			}
		}
		for _, v := range def.EnumValues {
			out = append(out, surfaceElem{Keyword: kwEnumValue, Coord: def.Name + "." + v.Name, Deprecated: deprecated(v.Directives)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Coord < out[j].Coord })
	return out
}

// surfaceLine matches a line of the snapshot: keyword, coordinate, then the
// parts each kind has.
var surfaceLine = regexp.MustCompile(`^([a-z-]+) ([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\([A-Za-z_][A-Za-z0-9_]*:\))?)?)` +
	`(?: implements ([A-Za-z0-9_ &]+?))?(?: = ([A-Za-z0-9_ |]+?))?(?:: ([][A-Za-z0-9_!]+))?(?: = (.+?))?( @deprecated)?$`)

// parseSurface reads a snapshot: one element a line, '#' comments and blank
// lines aside. Every line must be exactly as surfaceElem.String renders it.
func parseSurface(text string) ([]surfaceElem, error) {
	var out []surfaceElem
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := surfaceLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d %q is not an element of the surface", n, line)
		}
		e := surfaceElem{Keyword: m[1], Coord: m[2], Type: m[5], Default: m[6], Deprecated: m[7] != ""}
		keywords := []string{kwField, kwArgument, kwInputField, kwEnumValue}
		if e.isType() {
			keywords = slices.Collect(maps.Values(typeKeywords))
		}
		if !slices.Contains(keywords, e.Keyword) {
			return nil, fmt.Errorf("line %d %q: %q is not one of %v", n, line, e.Keyword, keywords)
		}
		if m[3] != "" {
			e.Interfaces = strings.Split(m[3], " & ")
		}
		if m[4] != "" {
			e.Members = strings.Split(m[4], " | ")
		}
		if e.String() != line {
			return nil, fmt.Errorf("line %d %q does not read back as written (%q)", n, line, e.String())
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// renderSurface writes a snapshot: a header, then one element a line.
func renderSurface(elems []surfaceElem) string {
	var b strings.Builder
	b.WriteString(`# The public surface of the GraphQL schema: every type, field, argument, input
# field and enum value, one a line, ordered by schema coordinate; " @deprecated"
# marks a deprecated one. TestSchemaSurface (schema_surface_test.go) fails when
# the schema differs from it. Refresh it with
#   go test ./graph -run TestSchemaSurface -update
# and log the change in CHANGELOG.md. Removals need a deprecation period: see
# docs/schema-policy.md.
`)
	for _, e := range elems {
		b.WriteString(e.String() + "\n")
	}
	return b.String()
}

// looserNonNull reports whether loose is strict with some of its non-null
// markers dropped (or none): [Fact!]! -> [Fact!] or [Fact]!, never a different
// named type or list shape.
func looserNonNull(strict, loose string) bool {
	i, j := 0, 0
	for i < len(strict) {
		switch {
		case j < len(loose) && strict[i] == loose[j]:
			i, j = i+1, j+1
		case strict[i] == '!':
			i++
		default:
			return false
		}
	}
	return j == len(loose)
}

// incompatibility says how cur breaks a client of old, the same coordinate in
// the snapshot; "" when it does not.
func incompatibility(old, cur surfaceElem) string {
	if old.Keyword != cur.Keyword {
		return fmt.Sprintf("was a %s, is a %s", old.Keyword, cur.Keyword)
	}
	var why []string
	for _, i := range old.Interfaces {
		if !slices.Contains(cur.Interfaces, i) {
			why = append(why, "no longer implements "+i)
		}
	}
	for _, m := range old.Members {
		if !slices.Contains(cur.Members, m) {
			why = append(why, "no longer holds "+m)
		}
	}
	switch old.Keyword {
	case kwField:
		// A client reading the field copes with fewer nulls, not more.
		if !looserNonNull(cur.Type, old.Type) {
			why = append(why, fmt.Sprintf("type %s is now %s", old.Type, cur.Type))
		}
	case kwArgument, kwInputField:
		// A client sending the value copes with a looser type, not a stricter one.
		if !looserNonNull(old.Type, cur.Type) {
			why = append(why, fmt.Sprintf("type %s is now %s", old.Type, cur.Type))
		}
		if old.Default != cur.Default {
			why = append(why, fmt.Sprintf("default %q is now %q, so queries that omit it change meaning", old.Default, cur.Default))
		}
	}
	return strings.Join(why, "; ")
}

// parentCoord is the coordinate of the element e belongs to: Event for
// Event.year, Event.sponsorships for Event.sponsorships(tier:); "" for a type.
func parentCoord(coord string) string {
	if i := strings.LastIndexByte(coord, '('); i >= 0 {
		return coord[:i]
	}
	if i := strings.LastIndexByte(coord, '.'); i >= 0 {
		return coord[:i]
	}
	return ""
}

// surfaceDiff is what differs between the snapshot and the schema.
type surfaceDiff struct {
	// Breaking changes no client was warned of: the test fails and -update
	// refuses to record them.
	Breaking []string
	// Changes that break no client, or whose deprecation period is over: the
	// test fails until -update records them.
	Pending []string
	// The additions and removals among them that CHANGELOG.md's Unreleased
	// section does not log: -update refuses to record them until it does.
	Unlogged []string
}

// diffSurface compares the schema's surface cur with the snapshot old.
// mayBreak says whether a removal or incompatible change of a coordinate is
// allowed, and if not, why not. unreleased is the text of CHANGELOG.md's
// Unreleased section, which must log each addition and removal.
func diffSurface(old, cur []surfaceElem, mayBreak func(coord string) error, unreleased string) surfaceDiff {
	var d surfaceDiff
	oldBy := map[string]surfaceElem{}
	for _, e := range old {
		oldBy[e.Coord] = e
	}
	curBy := map[string]surfaceElem{}
	for _, e := range cur {
		curBy[e.Coord] = e
	}
	// logged reports whether unreleased names coord in backticks, or an element
	// it belongs to that can stand for it: the field of an argument, or a type
	// or field that comes or goes with it (a new type logs its fields). A type
	// on both sides cannot: its mention would log everything in it. A member of
	// a type is also logged by the same member of an interface the type
	// implements (Entity.slug logs Event.slug). side is the schema coord is in.
	logged := func(coord string, side, other map[string]surfaceElem) bool {
		named := func(c string) bool {
			if strings.Contains(unreleased, "`"+c+"`") {
				return true
			}
			if typ, rest, ok := strings.Cut(c, "."); ok {
				for _, i := range side[typ].Interfaces {
					if strings.Contains(unreleased, "`"+i+"."+rest+"`") {
						return true
					}
				}
			}
			return false
		}
		for c := coord; c != ""; c = parentCoord(c) {
			_, stays := other[c]
			isField := strings.Contains(c, ".") && !strings.Contains(c, "(")
			if (c == coord || isField || !stays) && named(c) {
				return true
			}
		}
		return false
	}
	breaking := func(coord, what string, removed bool) {
		if err := mayBreak(coord); err != nil {
			d.Breaking = append(d.Breaking, fmt.Sprintf("%s %s without a deprecation period (%v)", coord, what, err))
			return
		}
		d.Pending = append(d.Pending, fmt.Sprintf("%s %s, its deprecation period over", coord, what))
		if removed && !logged(coord, oldBy, curBy) {
			d.Unlogged = append(d.Unlogged, coord+" (removed)")
		}
	}
	for _, o := range old {
		c, ok := curBy[o.Coord]
		switch {
		case !ok:
			breaking(o.Coord, "was removed", true)
		case incompatibility(o, c) != "":
			breaking(o.Coord, "changed: "+incompatibility(o, c), false)
		case o.String() != c.String():
			d.Pending = append(d.Pending, fmt.Sprintf("%s changed: %q is now %q", o.Coord, o.String(), c.String()))
		}
	}
	for _, c := range cur {
		if _, ok := oldBy[c.Coord]; ok {
			continue
		}
		_, parentKnown := oldBy[parentCoord(c.Coord)]
		required := strings.HasSuffix(c.Type, "!") && c.Default == ""
		if (c.Keyword == kwArgument || c.Keyword == kwInputField) && required && parentKnown {
			d.Breaking = append(d.Breaking, fmt.Sprintf("%s is a new required %s of %s: every query that omits it stops validating; make it nullable or give it a default",
				c.Coord, c.Keyword, parentCoord(c.Coord)))
			continue
		}
		d.Pending = append(d.Pending, fmt.Sprintf("%s was added: %q", c.Coord, c.String()))
		if !logged(c.Coord, curBy, oldBy) {
			d.Unlogged = append(d.Unlogged, c.Coord+" (added)")
		}
	}
	return d
}

// changelogRelease matches the heading of a released version in CHANGELOG.md.
var changelogRelease = regexp.MustCompile(`^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$`)

// changelogSections splits CHANGELOG.md at its "## " headings: the text of
// each released version's section by version, and the Unreleased section's.
func changelogSections(text string) (released map[string]string, unreleased string, err error) {
	released = map[string]string{}
	var cur *strings.Builder
	sections := map[string]*strings.Builder{}
	var order []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "## ") {
			name := strings.TrimPrefix(line, "## ")
			if m := changelogRelease.FindStringSubmatch(line); m != nil {
				name = m[1]
			} else if name != "[Unreleased]" {
				return nil, "", fmt.Errorf("CHANGELOG.md heading %q is neither \"## [Unreleased]\" nor \"## [X.Y.Z] - YYYY-MM-DD\"", line)
			}
			if _, dup := sections[name]; dup {
				return nil, "", fmt.Errorf("CHANGELOG.md has two sections %s", name)
			}
			cur = &strings.Builder{}
			sections[name] = cur
			order = append(order, name)
			continue
		}
		if cur != nil {
			cur.WriteString(line + "\n")
		}
	}
	if len(order) == 0 || order[0] != "[Unreleased]" {
		return nil, "", errors.New("CHANGELOG.md must start with a \"## [Unreleased]\" section, above the releases")
	}
	for _, name := range order[1:] {
		released[name] = sections[name].String()
	}
	return released, sections["[Unreleased]"].String(), nil
}

// removals reads testdata/schema-removals.txt: the coordinates whose removal
// (or incompatible change) is allowed, each with the release that deprecated it.
func removals(text string) (map[string]string, error) {
	out := map[string]string{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s line %d: want \"<coordinate> <release that deprecated it>\", got %q", removalsFile, n+1, line)
		}
		out[f[0]] = f[1]
	}
	return out, nil
}

// removalPolicy builds diffSurface's mayBreak: a coordinate may go (or change
// incompatibly) when it, or the element it belongs to, is listed in removals
// with a release that CHANGELOG.md dates and whose section names it, and the
// snapshot marked it deprecated (types cannot be marked: their listing and
// announcement suffice).
func removalPolicy(old []surfaceElem, allowed map[string]string, released map[string]string) func(string) error {
	oldBy := map[string]surfaceElem{}
	for _, e := range old {
		oldBy[e.Coord] = e
	}
	return func(coord string) error {
		for c := coord; c != ""; c = parentCoord(c) {
			release, ok := allowed[c]
			if !ok {
				continue
			}
			section, ok := released[release]
			if !ok {
				return fmt.Errorf("%s names release %s for %s, which CHANGELOG.md has no dated section for", removalsFile, release, c)
			}
			if !strings.Contains(section, "`"+c+"`") {
				return fmt.Errorf("CHANGELOG.md's %s section does not announce the deprecation of `%s`", release, c)
			}
			if e, ok := oldBy[c]; ok && !e.isType() && !e.Deprecated {
				return fmt.Errorf("%s is not marked @deprecated in %s: it was never deprecated", c, surfaceFile)
			}
			return nil
		}
		return fmt.Errorf("deprecate it with @deprecated(reason:) and announce it in CHANGELOG.md; remove it in a later release, listing it in %s with the release that deprecated it; see docs/schema-policy.md", removalsFile)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSchemaSurface(t *testing.T) {
	cur := surfaceOf(loadSchemaFiles(t))
	snapshot, err := os.ReadFile(surfaceFile)
	if errors.Is(err, os.ErrNotExist) && *update {
		snapshot, err = nil, nil // the first snapshot: everything is an addition
	}
	if err != nil {
		t.Fatal(err)
	}
	old, err := parseSurface(string(snapshot))
	if err != nil {
		t.Fatalf("%s: %v", surfaceFile, err)
	}
	allowed, err := removals(readFile(t, removalsFile))
	if err != nil {
		t.Fatal(err)
	}
	released, unreleased, err := changelogSections(readFile(t, changelogFile))
	if err != nil {
		t.Fatal(err)
	}
	policy := removalPolicy(old, allowed, released)
	for coord := range allowed {
		if err := policy(coord); err != nil {
			t.Errorf("%s: %s: %v", removalsFile, coord, err)
		}
	}
	d := diffSurface(old, cur, policy, unreleased)
	if len(d.Breaking) > 0 {
		t.Fatalf("the schema breaks clients (saved queries, dashboards, README's queries):\n  %s", strings.Join(d.Breaking, "\n  "))
	}
	if snapshot == nil {
		d.Unlogged = nil // the first snapshot is the baseline, not a change
	}
	if *update {
		if len(d.Unlogged) > 0 {
			t.Fatalf("log these in CHANGELOG.md's Unreleased section (by coordinate, in backticks) before recording them:\n  %s",
				strings.Join(d.Unlogged, "\n  "))
		}
		if len(d.Pending) > 0 {
			if err := os.WriteFile(surfaceFile, []byte(renderSurface(cur)), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s rewritten:\n  %s", surfaceFile, strings.Join(d.Pending, "\n  "))
		}
		return
	}
	if len(d.Pending) > 0 {
		msg := fmt.Sprintf("the schema differs from %s; log the change in CHANGELOG.md's Unreleased section and refresh the snapshot with\n"+
			"  go test ./graph -run TestSchemaSurface -update\n  %s", surfaceFile, strings.Join(d.Pending, "\n  "))
		if len(d.Unlogged) > 0 {
			msg += "\nnot yet logged in CHANGELOG.md:\n  " + strings.Join(d.Unlogged, "\n  ")
		}
		t.Error(msg)
	}
}

// TestSchemaSurfaceCatchesRemovals takes elements out of the real schema and
// checks that the committed snapshot and policy refuse it: a removed field, a
// removed argument and a removed enum value, none of them deprecated.
func TestSchemaSurfaceCatchesRemovals(t *testing.T) {
	s := loadSchemaFiles(t)
	event := s.Types["Event"]
	event.Fields = slices.DeleteFunc(event.Fields, func(f *ast.FieldDefinition) bool { return f.Name == "absentees" })
	sponsorships := s.Types["Query"].Fields.ForName("sponsorshipsByYear")
	sponsorships.Arguments = slices.DeleteFunc(sponsorships.Arguments, func(a *ast.ArgumentDefinition) bool { return a.Name == "tier" })
	tiers := s.Types["SponsorTier"]
	tiers.EnumValues = slices.DeleteFunc(tiers.EnumValues, func(v *ast.EnumValueDefinition) bool { return v.Name == "ELITE_PARTNER" })

	old, err := parseSurface(readFile(t, surfaceFile))
	if err != nil {
		t.Fatal(err)
	}
	released, _, err := changelogSections(readFile(t, changelogFile))
	if err != nil {
		t.Fatal(err)
	}
	d := diffSurface(old, surfaceOf(s), removalPolicy(old, map[string]string{}, released), "")
	var got []string
	for _, b := range d.Breaking {
		got = append(got, b[:strings.IndexByte(b, ' ')])
	}
	want := []string{"Event.absentees", "Query.sponsorshipsByYear(tier:)", "SponsorTier.ELITE_PARTNER"}
	if !slices.Equal(got, want) {
		t.Errorf("breaking changes found: %q, want %q\n%s", got, want, strings.Join(d.Breaking, "\n"))
	}
}

// TestSchemaSurfacePolicy runs the policy over small schemas: what it lets
// pass, what waits for -update, and what it refuses.
func TestSchemaSurfacePolicy(t *testing.T) {
	const base = `
type Query { event(slug: String, lang: String = "en"): Event  old: String @deprecated(reason: "Use event.")  kind: Kind }
type Event { name: String!  year: Int  tiers: [Kind!]! }
enum Kind { A B  C @deprecated(reason: "Use B.") }
input Filter { year: Int  kind: Kind }
`
	const changelog = "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n### Added\n- `Event.year`.\n### Deprecated\n- `Query.old`: use event.\n- `Kind.C`: use B.\n\n## [0.1.0] - 2026-11-30\n- first.\n"
	snapshot := surfaceOf(mustLoadSchema(t, &ast.Source{Name: "base.graphqls", Input: base}))
	released, _, err := changelogSections(changelog)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		from, to   string // text of base replaced, for the new schema
		removals   map[string]string
		unreleased string   // CHANGELOG.md's Unreleased section
		breaking   []string // coordinates refused
		pending    int      // changes that wait for -update
		unlogged   []string // additions and removals CHANGELOG.md does not log
	}{
		{name: "unchanged"},
		{name: "field removed", from: "  year: Int  tiers", to: "  tiers", breaking: []string{"Event.year"}},
		{name: "argument removed", from: `, lang: String = "en"`, breaking: []string{"Query.event(lang:)"}},
		{name: "enum value removed", from: " A B ", to: " B ", breaking: []string{"Kind.A"}},
		{name: "input field removed", from: "input Filter { year: Int  kind: Kind }", to: "input Filter { year: Int }", breaking: []string{"Filter.kind"}},
		{name: "type removed", from: "input Filter { year: Int  kind: Kind }", breaking: []string{"Filter", "Filter.kind", "Filter.year"}},
		{name: "deprecated field removed without an allow-list entry", from: `  old: String @deprecated(reason: "Use event.")`, breaking: []string{"Query.old"}},
		{name: "deprecated field removed after its deprecation release", from: `  old: String @deprecated(reason: "Use event.")`,
			removals: map[string]string{"Query.old": "0.2.0"}, unreleased: "### Removed\n- `Query.old`, deprecated in 0.2.0.\n", pending: 1},
		{name: "deprecated field removed after its deprecation release, not logged", from: `  old: String @deprecated(reason: "Use event.")`,
			removals: map[string]string{"Query.old": "0.2.0"}, unreleased: "### Removed\n- From `Query`: old.\n", pending: 1, unlogged: []string{"Query.old"}},
		{name: "deprecated enum value removed after its deprecation release", from: `  C @deprecated(reason: "Use B.")`,
			removals: map[string]string{"Kind.C": "0.2.0"}, pending: 1, unlogged: []string{"Kind.C"}},
		{name: "removal listed for a release that did not announce it", from: `  old: String @deprecated(reason: "Use event.")`,
			removals: map[string]string{"Query.old": "0.1.0"}, breaking: []string{"Query.old"}},
		{name: "removal listed for a release not yet made", from: `  old: String @deprecated(reason: "Use event.")`,
			removals: map[string]string{"Query.old": "0.3.0"}, breaking: []string{"Query.old"}},
		{name: "removal of an element never deprecated, though listed", from: "  year: Int  tiers", to: "  tiers",
			removals: map[string]string{"Event.year": "0.2.0"}, breaking: []string{"Event.year"}},
		{name: "field type loosened", from: "name: String!", to: "name: String", breaking: []string{"Event.name"}},
		{name: "field type changed", from: "year: Int", to: "year: String", breaking: []string{"Event.year"}},
		{name: "field type tightened", from: "year: Int", to: "year: Int!", pending: 1},
		{name: "list element loosened", from: "[Kind!]!", to: "[Kind]!", breaking: []string{"Event.tiers"}},
		{name: "argument made required", from: "event(slug: String,", to: "event(slug: String!,", breaking: []string{"Query.event(slug:)"}},
		{name: "argument default changed", from: `lang: String = "en"`, to: `lang: String = "vi"`, breaking: []string{"Query.event(lang:)"}},
		{name: "required argument added to a field", from: "event(slug: String,", to: "event(slug: String, id: ID!,", breaking: []string{"Query.event(id:)"}},
		{name: "required input field added", from: "input Filter { year: Int", to: "input Filter { from: Int!  year: Int", breaking: []string{"Filter.from"}},
		{name: "optional argument added, logged by its field", from: "event(slug: String,", to: "event(slug: String, id: ID,",
			unreleased: "- `Query.event` takes an id.\n", pending: 1},
		{name: "required argument with a default added", from: "event(slug: String,", to: "event(slug: String, first: Int! = 10,",
			pending: 1, unlogged: []string{"Query.event(first:)"}},
		{name: "field added", from: "year: Int", to: "year: Int  place: String", unreleased: "- `Event.place`.\n", pending: 1},
		{name: "field added, logged only by its type", from: "year: Int", to: "year: Int  place: String", unreleased: "- `Event` has a place.\n",
			pending: 1, unlogged: []string{"Event.place"}},
		{name: "new type with required fields added", from: "enum Kind", to: "input Range { from: Int!  to: Int! }\nenum Kind",
			unreleased: "- `Range`, a span of years.\n", pending: 3},
		{name: "field added with an interface, logged by the interface's", from: "type Event { name: String!",
			to:         "interface Labelled { label: String }\ntype Event implements Labelled { label: String  name: String!",
			unreleased: "- `Labelled`, with `Labelled.label`, which events have.\n", pending: 4},
		{name: "field added with an interface, not logged", from: "type Event { name: String!",
			to:         "interface Labelled { label: String }\ntype Event implements Labelled { label: String  name: String!",
			unreleased: "- `Labelled`.\n", pending: 4, unlogged: []string{"Event.label"}},
		{name: "field deprecated", from: "year: Int", to: `year: Int @deprecated(reason: "Use dates.")`, pending: 1},
		{name: "enum value deprecated", from: " A B ", to: ` A @deprecated(reason: "Use B.") B `, pending: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := base
			if c.from != "" {
				if !strings.Contains(base, c.from) {
					t.Fatalf("%q is not in the base schema", c.from)
				}
				text = strings.Replace(base, c.from, c.to, 1)
			}
			cur := surfaceOf(mustLoadSchema(t, &ast.Source{Name: "changed.graphqls", Input: text}))
			d := diffSurface(snapshot, cur, removalPolicy(snapshot, c.removals, released), c.unreleased)
			coords := func(lines []string) []string {
				var out []string
				for _, l := range lines {
					out = append(out, l[:strings.IndexByte(l, ' ')])
				}
				sort.Strings(out)
				return out
			}
			if got := coords(d.Breaking); !slices.Equal(got, c.breaking) || len(d.Pending) != c.pending {
				t.Errorf("breaking %q (want %q), %d pending (want %d):\n  %s\n  %s", got, c.breaking, len(d.Pending), c.pending,
					strings.Join(d.Breaking, "\n  "), strings.Join(d.Pending, "\n  "))
			}
			if got := coords(d.Unlogged); !slices.Equal(got, c.unlogged) {
				t.Errorf("unlogged %q, want %q", got, c.unlogged)
			}
		})
	}
}

// TestSchemaSurfaceSnapshotReadsBack checks that a rendered snapshot parses
// back to the same elements, every kind of line included.
func TestSchemaSurfaceSnapshotReadsBack(t *testing.T) {
	const schema = `
type Query implements Named & Thing { name: String  any: Any  list(first: Int = 20, kinds: [Kind!] = [A, B], s: String = "a = b"): [[Kind!]]! @deprecated(reason: "No.") }
interface Named { name: String }
interface Thing { name: String }
union Any = Query | Other
type Other { x: Int }
enum Kind { A B @deprecated(reason: "Use A.") }
input In { x: Int! = 3  y: String @deprecated(reason: "Use x.") }
scalar When
`
	elems := surfaceOf(mustLoadSchema(t, &ast.Source{Name: "all.graphqls", Input: schema}))
	back, err := parseSurface(renderSurface(elems))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(elems) {
		t.Fatalf("%d elements read back, %d written", len(back), len(elems))
	}
	for i := range elems {
		if back[i].String() != elems[i].String() {
			t.Errorf("line %q reads back as %q", elems[i], back[i])
		}
	}
	for _, bad := range []string{"field Query.x Int", "field Query.x: Int extra", "type Query.x: Int", "field Query", "fields Query.x: Int"} {
		if _, err := parseSurface(bad + "\n"); err == nil {
			t.Errorf("the malformed line %q was accepted", bad)
		}
	}
}

// TestChangelogShape checks CHANGELOG.md's form, which the policy reads: an
// Unreleased section first, then released versions, newest first, each dated.
func TestChangelogShape(t *testing.T) {
	text := readFile(t, changelogFile)
	released, _, err := changelogSections(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(released) == 0 {
		t.Fatal("CHANGELOG.md has no released version")
	}
	var dates []string
	for _, line := range strings.Split(text, "\n") {
		if m := changelogRelease.FindStringSubmatch(line); m != nil {
			dates = append(dates, m[2])
		}
	}
	if !slices.IsSortedFunc(dates, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("CHANGELOG.md's releases are not newest first: %v", dates)
	}
}

// deprecationProblem is a deprecated element that does not say why
// (Missing "reason") or is not announced in CHANGELOG.md (Missing "changelog").
type deprecationProblem struct {
	Elem    schemaElement
	Missing string
}

func (p deprecationProblem) String() string {
	if p.Missing == "reason" {
		return fmt.Sprintf("%s %s (%s) is deprecated without a reason: say what to use instead, @deprecated(reason: \"Use ...\")",
			p.Elem.Kind, p.Elem.Coord, where(p.Elem.Pos))
	}
	return fmt.Sprintf("%s %s (%s) is deprecated but CHANGELOG.md does not announce `%s`", p.Elem.Kind, p.Elem.Coord, where(p.Elem.Pos), p.Elem.Coord)
}

// deprecationProblems lists the deprecated elements of s that give no reason
// (or only the spec's default, "No longer supported"), and those whose
// coordinate, in backticks, the changelog's sections do not mention.
func deprecationProblems(s *ast.Schema, changelog string) []deprecationProblem {
	var out []deprecationProblem
	for _, e := range schemaElements(s) {
		d := e.Directives.ForName("deprecated")
		if d == nil {
			continue
		}
		reason := d.Arguments.ForName("reason")
		if reason == nil || reason.Value == nil || strings.TrimSpace(reason.Value.Raw) == "" || reason.Value.Raw == "No longer supported" {
			out = append(out, deprecationProblem{e, "reason"})
		}
		if !strings.Contains(changelog, "`"+e.Coord+"`") {
			out = append(out, deprecationProblem{e, "changelog"})
		}
	}
	return out
}

func TestDeprecationsHaveReasons(t *testing.T) {
	released, unreleased, err := changelogSections(readFile(t, changelogFile))
	if err != nil {
		t.Fatal(err)
	}
	announced := unreleased // the sections, not the header's examples
	for _, text := range released {
		announced += text
	}
	if p := deprecationProblems(loadSchemaFiles(t), announced); len(p) > 0 {
		lines := make([]string, len(p))
		for i, x := range p {
			lines[i] = x.String()
		}
		t.Errorf("%d deprecations are not explained:\n  %s", len(p), strings.Join(lines, "\n  "))
	}

	const schema = `
type Query {
  a: Int @deprecated(reason: "Use b.")
  b: Int @deprecated
  c(x: Int @deprecated(reason: "")): Int
  d: Kind
}
enum Kind { A @deprecated(reason: "No longer supported") B }
input In { x: Int @deprecated(reason: "Use y.")  y: Int }
`
	var got []string
	for _, p := range deprecationProblems(mustLoadSchema(t, &ast.Source{Name: "dep.graphqls", Input: schema}), "- `Query.a`: use b.\n- `Query.b`\n") {
		got = append(got, p.Elem.Coord+" "+p.Missing)
	}
	sort.Strings(got)
	want := []string{"In.x changelog", "Kind.A changelog", "Kind.A reason", "Query.b reason", "Query.c(x:) changelog", "Query.c(x:) reason"}
	if !slices.Equal(got, want) {
		t.Errorf("deprecation problems %q, want %q", got, want)
	}
}
