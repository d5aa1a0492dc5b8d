package model

import (
	"github.com/google/uuid"

	"policygraph/storage"
)

// The adapters gqlgen needs between storage's domain types and the schema,
// bound in gqlgen.yml. storage knows no GraphQL: the schema shows a field
// that storage leaves zero when it is not stated ("" or 0) as null, reads a
// name in a language, and tells entity kinds apart by type; that is done here.
//
// Each adapter wraps the storage record it shows by pointer (struct{
// *storage.Fact }) and gives each field the schema shows differently a method
// of the field's own name (Fact.Value() *string), which shadows the promoted
// field. gqlgen binds fields and methods by name, so gqlgen.yml maps no field,
// and the methods take no context, so gqlgen calls them inline: a method with
// a context, or a resolver, would run in a goroutine of its own per field
// per object. Why wrappers rather than defined types (type Fact
// storage.Fact, converted for free): Go forbids a method and a field of one
// name on one type, so a defined type needs a second name for each such
// field (ValueOpt), mapped field by field in gqlgen.yml, and a fact's
// dates, quantity and evidence, which are storage types, need converting
// methods either way. A wrapper costs one allocation of a pointer per object
// handed to gqlgen, one per list for a list (Facts); the headline query's
// cost is unchanged within noise (see the commit that made this file).
//
// Records are shared with storage's record cache: adapters never change them.

// Identified is anything with a global ID: the GraphQL Node interface.
type Identified interface{ GlobalID() uuid.UUID }

// Entity is a node seen through its kind: the GraphQL Entity interface.
type Entity interface {
	Identified
	// Base is the node the view shows.
	Base() *storage.Node
}

// entity is what every typed view shares: the node, the request's reader
// (see Reader), and the fields every kind has.
type entity struct {
	*storage.Node
	rd Reader
}

// GlobalID is the node's ID (Relay's Node.id).
func (e entity) GlobalID() uuid.UUID { return e.Node.ID }

// Base returns the node the view shows.
func (e entity) Base() *storage.Node { return e.Node }

// Name is the name in lang (nil or "en" for English), falling back to English.
func (e entity) Name(lang *string) string {
	if lang == nil || *lang == "en" {
		return e.Node.Name
	}
	return e.Node.Label(*lang)
}

// Description is the node's description, null when empty.
func (e entity) Description() *string { return opt(e.Node.Description) }

// CreatedBy is who wrote the entity, null when not recorded.
func (e entity) CreatedBy() *string { return opt(e.Node.CreatedBy) }

// Typed views of a node, one per kind, so that the schema can tell kinds
// apart. Each has the methods of its kind's own nullable fields.
type (
	EventSeries   struct{ entity }
	Event         struct{ entity }
	Organization  struct{ entity }
	Person        struct{ entity }
	Place         struct{ entity }
	Product       struct{ entity }
	Sanction      struct{ entity }
	ExportControl struct{ entity }
	Plan          struct{ entity }
	Topic         struct{ entity }
	Lawsuit       struct{ entity }
	Source        struct{ entity }
)

// views makes the typed view of each kind.
var views = map[storage.Kind]func(entity) Entity{
	storage.KindEventSeries:   func(e entity) Entity { return &EventSeries{e} },
	storage.KindEvent:         func(e entity) Entity { return &Event{e} },
	storage.KindOrganization:  func(e entity) Entity { return &Organization{e} },
	storage.KindPerson:        func(e entity) Entity { return &Person{e} },
	storage.KindPlace:         func(e entity) Entity { return &Place{e} },
	storage.KindProduct:       func(e entity) Entity { return &Product{e} },
	storage.KindSanction:      func(e entity) Entity { return &Sanction{e} },
	storage.KindExportControl: func(e entity) Entity { return &ExportControl{e} },
	storage.KindPlan:          func(e entity) Entity { return &Plan{e} },
	storage.KindTopic:         func(e entity) Entity { return &Topic{e} },
	storage.KindLawsuit:       func(e entity) Entity { return &Lawsuit{e} },
	storage.KindSource:        func(e entity) Entity { return &Source{e} },
}

// View wraps n in the typed view of its kind, reading what it links to
// through rd (the request's; see Reader). It returns nil for a nil node or
// one of no known kind.
func View(rd Reader, n *storage.Node) Entity {
	if n == nil {
		return nil
	}
	if v, ok := views[n.Kind]; ok {
		return v(entity{n, rd})
	}
	return nil
}

// ViewAs is View for a node of the kind of view T: nil for a node of
// another kind (or nil).
func ViewAs[T any](rd Reader, n *storage.Node) *T {
	v, _ := any(View(rd, n)).(*T)
	return v
}

// Year is the edition's year, null when unknown.
func (e Event) Year() *int { return opt(e.Node.Year) }

// OrgType is the organization's type, null when unknown.
func (o Organization) OrgType() *string { return opt(o.Node.OrgType) }

// PlaceType is the place's type, null when unknown.
func (p Place) PlaceType() *string { return opt(p.Node.PlaceType) }

// Code is a country's ISO code, null for other places.
func (p Place) Code() *string { return opt(p.Node.Code) }

// ProductType is the product's type, null when unknown.
func (p Product) ProductType() *string { return opt(p.Node.ProductType) }

// Programme is the sanction's programme, null when unknown.
func (s Sanction) Programme() *string { return opt(s.Node.Programme) }

// Status is the export control's status, null when unknown.
func (e ExportControl) Status() *string { return opt(e.Node.Status) }

// TitleEn is the source's English title, null when it has none.
func (s Source) TitleEn() *string { return opt(s.Node.TitleEn) }

// Author is the source's author, null when unknown.
func (s Source) Author() *string { return opt(s.Node.Author) }

// Publisher is the source's publisher, null when unknown.
func (s Source) Publisher() *string { return opt(s.Node.Publisher) }

// PublisherNote is a note on the publisher, null when there is none.
func (s Source) PublisherNote() *string { return opt(s.Node.PublisherNote) }

// Published is the day the source was published (DayOf its PublishedAt), null
// when unknown.
func (s Source) Published() *PartialDate {
	if s.Node.PublishedAt == nil {
		return nil
	}
	d := storage.DayOf(*s.Node.PublishedAt)
	return &PartialDate{&d}
}

// Language is the source's language, null when unknown.
func (s Source) Language() *string { return opt(s.Node.Language) }

// URL is where the source is, null when unknown.
func (s Source) URL() *string { return opt(s.Node.URL) }

// Fact is a fact as the schema shows it, reading the entities it links
// through rd (the request's; see Reader).
type Fact struct {
	*storage.Fact
	rd Reader
}

// NewFact wraps f; nil for nil.
func NewFact(rd Reader, f *storage.Fact) *Fact {
	if f == nil {
		return nil
	}
	return &Fact{f, rd}
}

// Facts wraps each fact, with one allocation for all of them.
func Facts(rd Reader, fs []*storage.Fact) []*Fact {
	vals := make([]Fact, len(fs))
	out := make([]*Fact, len(fs))
	for i, f := range fs {
		vals[i] = Fact{f, rd}
		out[i] = &vals[i]
	}
	return out
}

// GlobalID is the fact's ID (Relay's Node.id).
func (f Fact) GlobalID() uuid.UUID { return f.Fact.ID }

// Value is the literal value (a COUNTRY fact's code), null when there is none.
func (f Fact) Value() *string { return opt(f.Fact.Value) }

// Measure is what a MEASURE or TARGET fact counts, null for other facts.
func (f Fact) Measure() *string { return opt(f.Fact.Measure) }

// Role is a HOLDS_POSITION fact's role, null for other facts.
func (f Fact) Role() *string { return opt(f.Fact.Role) }

// CreatedBy is who wrote the fact, null when not recorded.
func (f Fact) CreatedBy() *string { return opt(f.Fact.CreatedBy) }

// RetractedBy is who retracted the fact, null while it stands.
func (f Fact) RetractedBy() *string {
	if f.Fact.Retraction == nil {
		return nil
	}
	return opt(f.Fact.Retraction.By)
}

// Year is the year the fact belongs to, null when unknown.
func (f Fact) Year() *int { return opt(f.Fact.Year) }

// Tier is a SPONSORED fact's tier, null for other facts.
func (f Fact) Tier() *storage.Tier { return opt(f.Fact.Tier) }

// Quantity is a MEASURE or TARGET fact's number, null for other facts.
func (f Fact) Quantity() *Quantity { return NewQuantity(f.Fact.Quantity) }

// Date is when the fact held, as a point in time; null when it has a span.
func (f Fact) Date() *PartialDate { return newDate(f.Fact.Date) }

// Start is the start of the span the fact held over, null when it has none.
func (f Fact) Start() *PartialDate { return newDate(f.Fact.Start) }

// End is the end of the span the fact held over, null when it has none.
func (f Fact) End() *PartialDate { return newDate(f.Fact.End) }

// Evidence is what the fact rests on, with one allocation for all of it.
func (f Fact) Evidence() []Evidence {
	out := make([]Evidence, len(f.Fact.Evidence))
	for i := range f.Fact.Evidence {
		out[i].Evidence = &f.Fact.Evidence[i]
	}
	return out
}

// Inferred reports whether the fact is inferred (it has an Inference).
func (f Fact) Inferred() bool { return f.Fact.Inference != nil }

// EntityRevision is an entity's values before one update, as the schema
// shows them.
type EntityRevision struct{ *storage.Revision }

// EntityRevisions wraps each revision.
func EntityRevisions(rs []*storage.Revision) []*EntityRevision {
	out := make([]*EntityRevision, len(rs))
	for i, r := range rs {
		out[i] = &EntityRevision{r}
	}
	return out
}

// By is who made the update, null when not recorded.
func (r EntityRevision) By() *string { return opt(r.Revision.By) }

// Name is the English name before the update.
func (r EntityRevision) Name() string { return r.Previous.Name }

// Labels are the names in other languages before the update.
func (r EntityRevision) Labels() []storage.Label {
	if r.Previous.Labels == nil {
		return []storage.Label{}
	}
	return r.Previous.Labels
}

// Aliases are the aliases before the update.
func (r EntityRevision) Aliases() []string {
	if r.Previous.Aliases == nil {
		return []string{}
	}
	return r.Previous.Aliases
}

// Description is the description before the update, null when empty.
func (r EntityRevision) Description() *string { return opt(r.Previous.Description) }

// Year is an event's year before the update, null when unknown.
func (r EntityRevision) Year() *int { return opt(r.Previous.Year) }

// OrgType is the orgType before the update, null when none.
func (r EntityRevision) OrgType() *string { return opt(r.Previous.OrgType) }

// PlaceType is the placeType before the update, null when none.
func (r EntityRevision) PlaceType() *string { return opt(r.Previous.PlaceType) }

// Code is the country code before the update, null when none.
func (r EntityRevision) Code() *string { return opt(r.Previous.Code) }

// ProductType is the productType before the update, null when none.
func (r EntityRevision) ProductType() *string { return opt(r.Previous.ProductType) }

// Status is the status before the update, null when none.
func (r EntityRevision) Status() *string { return opt(r.Previous.Status) }

// Programme is the programme before the update, null when none.
func (r EntityRevision) Programme() *string { return opt(r.Previous.Programme) }

// PartialDate is a date known to a precision.
type PartialDate struct{ *storage.Date }

// NewPartialDate wraps d; nil for nil.
func NewPartialDate(d *storage.Date) *PartialDate { return newDate(d) }

func newDate(d *storage.Date) *PartialDate {
	if d == nil {
		return nil
	}
	return &PartialDate{d}
}

// Value is the date as text at its precision ("2022-10").
func (d PartialDate) Value() string { return d.Date.String() }

// Month is the month, null below MONTH precision.
func (d PartialDate) Month() *int { return opt(d.Date.Month) }

// Day is the day, null below DAY precision.
func (d PartialDate) Day() *int { return opt(d.Date.Day) }

// Quantity is a number as a source states it.
type Quantity struct{ *storage.Quantity }

// NewQuantity wraps q; nil for nil.
func NewQuantity(q *storage.Quantity) *Quantity {
	if q == nil {
		return nil
	}
	return &Quantity{q}
}

// Unit is the quantity's unit, null when it has none.
func (q Quantity) Unit() *string { return opt(q.Quantity.Unit) }

// Bound is how the stated amount relates to the true value: EXACT when unset.
func (q Quantity) Bound() storage.Bound {
	if q.Quantity.Bound == "" {
		return storage.BoundExact
	}
	return q.Quantity.Bound
}

// Evidence is a source and the verbatim quote a fact rests on.
type Evidence struct{ *storage.Evidence }

// Gloss is the quote in English, null when there is none.
func (e Evidence) Gloss() *string { return opt(e.Evidence.Gloss) }

// Note says how the quote supports the fact, null when it says so plainly.
func (e Evidence) Note() *string { return opt(e.Evidence.Note) }

// SavedQuery is a saved query as the schema shows it.
type SavedQuery struct{ *storage.SavedQuery }

// NewSavedQuery wraps q; nil for nil.
func NewSavedQuery(q *storage.SavedQuery) *SavedQuery {
	if q == nil {
		return nil
	}
	return &SavedQuery{q}
}

// SavedQueries wraps each saved query.
func SavedQueries(qs []*storage.SavedQuery) []*SavedQuery {
	out := make([]*SavedQuery, len(qs))
	for i, q := range qs {
		out[i] = &SavedQuery{q}
	}
	return out
}

// Description is the saved query's description, null when empty.
func (s SavedQuery) Description() *string { return opt(s.SavedQuery.Description) }

// FactGroup is one cell of a pivot table: a value is null when its dimension
// was not counted by, or is unknown for the facts.
type FactGroup struct{ *storage.Group }

// FactGroups wraps each group, with one allocation for all of them.
func FactGroups(gs []storage.Group) []*FactGroup {
	vals := make([]FactGroup, len(gs))
	out := make([]*FactGroup, len(gs))
	for i := range gs {
		vals[i].Group = &gs[i]
		out[i] = &vals[i]
	}
	return out
}

// Year is the group's year.
func (g FactGroup) Year() *int { return opt(g.Group.Year) }

// SubjectCountry is the group's subject country.
func (g FactGroup) SubjectCountry() *string { return opt(g.Group.SubjectCountry) }

// ObjectCountry is the group's object country.
func (g FactGroup) ObjectCountry() *string { return opt(g.Group.ObjectCountry) }

// Tier is the group's tier.
func (g FactGroup) Tier() *storage.Tier { return opt(g.Group.Tier) }

// SubjectOrgType is the group's subject organization type.
func (g FactGroup) SubjectOrgType() *string { return opt(g.Group.SubjectOrgType) }

// SubjectKind is the group's subject kind.
func (g FactGroup) SubjectKind() *storage.Kind { return opt(g.Group.SubjectKind) }

// ObjectKind is the group's object kind.
func (g FactGroup) ObjectKind() *storage.Kind { return opt(g.Group.ObjectKind) }

// Predicate is the group's predicate.
func (g FactGroup) Predicate() *storage.Predicate { return opt(g.Group.Predicate) }

// Measure is the group's measure.
func (g FactGroup) Measure() *string { return opt(g.Group.Measure) }

// Series is one line of a yearly chart.
type Series struct{ *storage.Series }

// SeriesList wraps each series, with one allocation for all of them.
func SeriesList(ss []storage.Series) []*Series {
	vals := make([]Series, len(ss))
	out := make([]*Series, len(ss))
	for i := range ss {
		vals[i].Series = &ss[i]
		out[i] = &vals[i]
	}
	return out
}

// Key is the values of the series' dimensions, with its totals.
func (s Series) Key() *FactGroup { return &FactGroup{&s.Series.Key} }

// opt is v, or nil when v is its type's zero value.
func opt[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
