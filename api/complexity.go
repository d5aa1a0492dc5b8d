package api

import (
	"reflect"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"policygraph/graph"
	"policygraph/graph/model"
	"policygraph/storage"
)

// The cost model of the complexity limit. gqlgen charges every field 1 plus what
// it selects; these costs replace that for the fields that fan out, so that a
// query's complexity grows with the records it can make the server read:
//
//   - a field with a first argument (entities, facts, sponsorships, search and
//     every connection) costs connectionCost plus first (or last, when given)
//     times what each item selects;
//   - nodes(ids) costs 1 plus len(ids) times what each node selects;
//   - the edges and nodes lists of a connection cost 1 plus what they select
//     (the connection already multiplied by first);
//   - any other list of objects is a traversal of unknown width: traversalCost
//     plus listEstimate times what each item selects, or, for lists of values kept
//     inside a record (labels, evidence...), 1 plus inlineEstimate times that;
//   - a field that leads to one other entity or fact (subject, series, parent...)
//     costs hopCost plus what it selects.
//
// Everything else keeps gqlgen's 1 plus what it selects.
//
// On top of that shape, costModel prices what some fields read whatever they
// select: the lists that start from an index (facts, entities, sponsorships,
// sponsorshipsByYear, factCounts, timeSeries) cost one point per record their
// query reads, as storage estimates it from the graph's size (FactScan,
// EntityScan, SponsorshipScan), so that a count or a scan of the whole graph
// costs the graph's size, and Source.text costs its bytes, so that the
// complexity limit refuses what would exceed the response size limit. The
// estimates follow the composed filters as storage runs them: an or costs
// the sum of its clauses, a not reads the whole graph (it narrows nothing),
// and each clause that looks another record up (a country, a kind) costs one
// more read per candidate. The connections beside typed lists (fields named
// ...Connection below Query) read one entity's list and filter it in memory:
// they cost what storage estimates for that (FactListScan, EntityListScan).
const (
	connectionCost = 10
	traversalCost  = 5
	listEstimate   = 10
	inlineEstimate = 2
	hopCost        = 2
)

// inlineTypes are object types stored inside their parent's record: listing them
// reads nothing more.
var inlineTypes = map[string]bool{"Label": true, "Evidence": true, "KindCount": true, "PredicateInfo": true}

// fieldCosts is the graph.ComplexityRoot that puts the cost model into gqlgen's
// complexity calculation. It is built by reflection over the generated struct and
// the schema, so new fields are priced by the same rules without code here.
var fieldCosts = sync.OnceValue(func() graph.ComplexityRoot {
	var root graph.ComplexityRoot
	schema := graph.Schema()
	rv := reflect.ValueOf(&root).Elem()
	for i := range rv.NumField() {
		def := schema.Types[rv.Type().Field(i).Name]
		if def == nil {
			continue
		}
		tv := rv.Field(i)
		for j := range tv.NumField() {
			fd := fieldByGoName(def, tv.Type().Field(j).Name)
			ft := tv.Field(j).Type()
			if fd == nil || ft.Kind() != reflect.Func || ft.NumIn() != 1+len(fd.Arguments) {
				continue
			}
			if cost := costOf(schema, def, fd); cost != nil {
				names := make([]string, len(fd.Arguments))
				for k, a := range fd.Arguments {
					names[k] = a.Name
				}
				tv.Field(j).Set(reflect.MakeFunc(ft, func(in []reflect.Value) []reflect.Value {
					args := make(map[string]reflect.Value, len(names))
					for k, name := range names {
						args[name] = in[1+k]
					}
					return []reflect.Value{reflect.ValueOf(cost(int(in[0].Int()), args))}
				}))
			}
		}
	}
	return root
})

// countsVersion is the version of the counts costModel reads on g: the read
// model's latest snapshot's, or the store's head.
func countsVersion(g *storage.Graph) uint64 {
	if m := g.ReadModel(); m != nil {
		return m.Snapshot().Version()
	}
	return g.Version()
}

// costModel is the cost model of a handler on g under l: the shape of
// fieldCosts, plus what the fields that scan read (see above).
func costModel(g *storage.Graph, l Limits) graph.ComplexityRoot {
	root := fieldCosts()
	q := &root.Query

	facts := q.Facts
	q.Facts = func(child int, f *model.FactFilter, order *model.SortOrder, first *int, after *string, last *int, before *string, sort []*model.FactSort) int {
		scan := g.FactScan(withSort(factShape(f), sort))
		if walkShape(f, order, last, before, sort) {
			// A walk (storage.FactQuery.Walkable) is cut from the read
			// model's walk index at its cursor: a page costs its size.
			n := 50
			if first != nil {
				n = max(0, *first)
			}
			scan = g.FactPageScan(factShape(f), n)
		}
		return satAdd(facts(child, f, order, first, after, last, before, sort), scan)
	}
	counts := q.FactCounts
	q.FactCounts = func(child int, f *model.FactFilter, by []storage.Dimension) int {
		return satAdd(counts(child, f, by), g.FactScan(factShape(f)))
	}
	series := q.TimeSeries
	q.TimeSeries = func(child int, f *model.FactFilter, by []storage.Dimension) int {
		return satAdd(series(child, f, by), g.FactScan(factShape(f)))
	}
	entities := q.Entities
	q.Entities = func(child int, f *model.EntityFilter, orderBy *model.EntityOrder, order *model.SortOrder, first *int, after *string, last *int, before *string, sort []*model.EntitySort) int {
		return satAdd(entities(child, f, orderBy, order, first, after, last, before, sort), g.EntityScan(entityShape(f)))
	}
	sponsorships := q.Sponsorships
	q.Sponsorships = func(child int, series, event, country *string, inferred *bool, tier *storage.Tier, from, to *int, order *model.SortOrder, first *int, after *string, last *int, before *string, f *model.FactFilter, sort []*model.FactSort) int {
		// The scan reads the candidates and their sponsors; the filter and sort
		// look records up for each candidate.
		scan := g.SponsorshipScan(sponsorshipShape(series, event, country))
		return satAdd(sponsorships(child, series, event, country, inferred, tier, from, to, order, first, after, last, before, f, sort),
			satAdd(scan, storage.FactFilterScan(scan/2, withSort(factShape(f), sort))))
	}
	byYear := q.SponsorshipsByYear
	q.SponsorshipsByYear = func(child int, series, event, country *string, inferred *bool, tier *storage.Tier, from, to *int, order *model.SortOrder) int {
		return satAdd(byYear(child, series, event, country, inferred, tier, from, to, order),
			g.SponsorshipScan(sponsorshipShape(series, event, country)))
	}

	// A point of complexity buys this many bytes of answer: at the default
	// limits, 8 MiB / 20,000 = 419 bytes.
	bytesPerPoint := int64(DefaultMaxResponseBytes / DefaultLimits().MaxComplexity)
	if l.MaxResponseBytes > 0 && l.MaxComplexity > 0 {
		bytesPerPoint = max(1, l.MaxResponseBytes/int64(l.MaxComplexity))
	}
	root.Source.Text = func(child int) int {
		n := int64(g.MaxSourceText())
		return int(min(1+n/bytesPerPoint, int64(maxInt)))
	}
	addListScans(&root, g)
	return root
}

// addListScans adds to the cost of each connection beside a typed list (a
// field named ...Connection of a type other than Query) what storage
// estimates that filtering and ordering the list reads: FactListScan for a
// FactFilter, EntityListScan for an EntityFilter.
func addListScans(root *graph.ComplexityRoot, g *storage.Graph) {
	schema := graph.Schema()
	rv := reflect.ValueOf(root).Elem()
	for i := range rv.NumField() {
		def := schema.Types[rv.Type().Field(i).Name]
		if def == nil || def.Name == "Query" {
			continue
		}
		tv := rv.Field(i)
		for j := range tv.NumField() {
			fd := fieldByGoName(def, tv.Type().Field(j).Name)
			fv := tv.Field(j)
			if fd == nil || !strings.HasSuffix(fd.Name, "Connection") || fv.Kind() != reflect.Func || fv.IsNil() ||
				fv.Type().NumIn() != 1+len(fd.Arguments) {
				continue
			}
			filterAt, sortAt := -1, -1
			for k, a := range fd.Arguments {
				switch a.Name {
				case "filter":
					filterAt = 1 + k
				case "sort":
					sortAt = 1 + k
				}
			}
			if filterAt < 0 {
				continue
			}
			inner := reflect.ValueOf(fv.Interface())
			fv.Set(reflect.MakeFunc(fv.Type(), func(in []reflect.Value) []reflect.Value {
				cost := int(inner.Call(in)[0].Int())
				var sort []*model.FactSort
				if sortAt > 0 {
					sort, _ = in[sortAt].Interface().([]*model.FactSort)
				}
				switch f := in[filterAt].Interface().(type) {
				case *model.FactFilter:
					cost = satAdd(cost, g.FactListScan(withSort(factShape(f), sort)))
				case *model.EntityFilter:
					cost = satAdd(cost, g.EntityListScan(entityShape(f)))
				}
				return []reflect.Value{reflect.ValueOf(cost)}
			}))
		}
	}
}

// The shapes of filters, for the scan estimates: which fields are set is what
// matters; references are not resolved (any ID stands for a set one).
var someID = uuid.Max

func refShape(s *string) uuid.UUID {
	if s == nil || *s == "" {
		return uuid.Nil
	}
	return someID
}

// factShape is the storage query of a FactFilter, its clauses included (but
// those nested deeper than storage.MaxFilterDepth, which the resolver
// refuses).
// walkShape reports whether a facts query pages a walk forward: a filter of
// predicates and years only, the default order, no last or before.
func walkShape(f *model.FactFilter, order *model.SortOrder, last *int, before *string, sort []*model.FactSort) bool {
	if f == nil || last != nil || (before != nil && *before != "") || len(sort) > 0 || (order != nil && *order != model.SortOrderAsc) {
		return false
	}
	rest := *f
	rest.Predicates, rest.YearFrom, rest.YearTo = nil, nil, nil
	// The schema's defaults, which gqlgen fills in, filter nothing.
	if rest.IncludeNegated != nil && !*rest.IncludeNegated {
		rest.IncludeNegated = nil
	}
	if rest.IncludeRetracted != nil && !*rest.IncludeRetracted {
		rest.IncludeRetracted = nil
	}
	if rest.IncludeInferred != nil && *rest.IncludeInferred {
		rest.IncludeInferred = nil
	}
	if len(rest.SubjectKinds) == 0 && len(rest.ObjectKinds) == 0 && len(rest.And) == 0 && len(rest.Or) == 0 {
		rest.SubjectKinds, rest.ObjectKinds, rest.And, rest.Or = nil, nil, nil, nil
	}
	return reflect.ValueOf(rest).IsZero()
}

func factShape(f *model.FactFilter) storage.FactQuery {
	return factClauseShape(f, 0)
}

func factClauseShape(f *model.FactFilter, depth int) storage.FactQuery {
	var q storage.FactQuery
	if f == nil || depth > storage.MaxFilterDepth {
		return q
	}
	q = storage.FactQuery{Predicates: f.Predicates, Negated: f.Negated, SubjectKinds: f.SubjectKinds, ObjectKinds: f.ObjectKinds,
		IncludeNegated:   depth == 0 && f.IncludeNegated != nil && *f.IncludeNegated,
		IncludeRetracted: depth == 0 && f.IncludeRetracted != nil && *f.IncludeRetracted, SubjectCountry: str(f.SubjectCountry),
		Subject: refShape(f.Subject), Object: refShape(f.Object), Series: refShape(f.Series),
		YearFrom: f.YearFrom, YearTo: f.YearTo}
	for _, c := range f.And {
		q.And = append(q.And, factClauseShape(c, depth+1))
	}
	for _, c := range f.Or {
		q.Or = append(q.Or, factClauseShape(c, depth+1))
	}
	if f.Not != nil {
		not := factClauseShape(f.Not, depth+1)
		q.Not = &not
	}
	return q
}

// withSort is q ordered by sort, for the estimates (an order by object name
// reads the objects).
func withSort(q storage.FactQuery, sort []*model.FactSort) storage.FactQuery {
	for _, o := range sort {
		q.Sort = append(q.Sort, storage.FactSort{Key: o.Field})
	}
	return q
}

func entityShape(f *model.EntityFilter) storage.EntityQuery { return entityClauseShape(f, 0) }

func entityClauseShape(f *model.EntityFilter, depth int) storage.EntityQuery {
	if f == nil || depth > storage.MaxFilterDepth {
		return storage.EntityQuery{}
	}
	q := storage.EntityQuery{Kinds: f.Kinds, Country: str(f.Country), Series: refShape(f.Series),
		SponsoredSeries: refShape(f.SponsoredSeries), SponsoredEvent: refShape(f.SponsoredEvent), Product: refShape(f.Product),
		SanctionedBy: refShape(f.SanctionedBy), ControlledBy: refShape(f.ControlledBy), YearFrom: f.YearFrom, YearTo: f.YearTo}
	if f.SanctionedBy != nil && *f.SanctionedBy == "*" {
		q.SanctionedBy = storage.AnyAuthority
	}
	if f.ControlledBy != nil && *f.ControlledBy == "*" {
		q.ControlledBy = storage.AnyAuthority
	}
	for _, c := range f.And {
		q.And = append(q.And, entityClauseShape(c, depth+1))
	}
	for _, c := range f.Or {
		q.Or = append(q.Or, entityClauseShape(c, depth+1))
	}
	if f.Not != nil {
		not := entityClauseShape(f.Not, depth+1)
		q.Not = &not
	}
	return q
}

func sponsorshipShape(series, event, country *string) storage.SponsorshipQuery {
	return storage.SponsorshipQuery{Series: refShape(series), Event: refShape(event), SponsorCountry: str(country)}
}

// fieldByGoName finds the schema field gqlgen named goName in the Go code.
func fieldByGoName(def *ast.Definition, goName string) *ast.FieldDefinition {
	for _, f := range def.Fields {
		if strings.EqualFold(strings.ReplaceAll(f.Name, "_", ""), goName) {
			return f
		}
	}
	return nil
}

// costOf returns the cost function of a field, or nil to keep gqlgen's default.
func costOf(schema *ast.Schema, parent *ast.Definition, fd *ast.FieldDefinition) func(child int, args map[string]reflect.Value) int {
	elem := schema.Types[fd.Type.Name()]
	if elem == nil || (elem.Kind != ast.Object && elem.Kind != ast.Interface && elem.Kind != ast.Union) {
		return nil // scalars and enums, and lists of them
	}
	switch {
	case fd.Arguments.ForName("first") != nil:
		return func(child int, args map[string]reflect.Value) int {
			n := intArg(args["first"], listEstimate)
			if last, ok := args["last"]; ok && last.Kind() == reflect.Pointer && !last.IsNil() {
				n = intArg(last, n) // first is left to its default, or the field is refused
			}
			return satAdd(connectionCost, satMul(max(n, 0), child))
		}
	case fd.Arguments.ForName("ids") != nil:
		return func(child int, args map[string]reflect.Value) int {
			n := listEstimate
			if v, ok := args["ids"]; ok && v.Kind() == reflect.Slice {
				n = v.Len()
			}
			return satAdd(1, satMul(n, child))
		}
	case fd.Type.Elem != nil && strings.HasSuffix(parent.Name, "Connection"):
		return func(child int, _ map[string]reflect.Value) int { return satAdd(1, child) }
	case fd.Type.Elem != nil && inlineTypes[elem.Name]:
		return func(child int, _ map[string]reflect.Value) int { return satAdd(1, satMul(inlineEstimate, child)) }
	case fd.Type.Elem != nil:
		return func(child int, _ map[string]reflect.Value) int {
			return satAdd(traversalCost, satMul(listEstimate, child))
		}
	case isRecord(schema, elem):
		return func(child int, _ map[string]reflect.Value) int { return satAdd(hopCost, child) }
	}
	return nil
}

// isRecord reports whether values of def are entities or facts: reaching one is a hop.
func isRecord(schema *ast.Schema, def *ast.Definition) bool {
	if def.Name == "Node" || def.Name == "Entity" {
		return true
	}
	for _, iface := range def.Interfaces {
		if iface == "Node" {
			return true
		}
	}
	return false
}

// intArg reads an optional Int argument (*int), or def when it is absent or null.
func intArg(v reflect.Value, def int) int {
	if !v.IsValid() {
		return def
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return def
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Int {
		return def
	}
	return int(v.Int())
}

const maxInt = int(^uint(0) >> 1)

// satAdd and satMul saturate instead of overflowing, so that no query can wrap
// its cost around to a small number.
func satAdd(a, b int) int {
	if a > maxInt-b {
		return maxInt
	}
	return a + b
}

func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > maxInt/b {
		return maxInt
	}
	return a * b
}

// str is *s, or "" for nil (an argument left out).
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
