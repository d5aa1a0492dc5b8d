package storage

// Optional views of fields whose zero value means "not stated": the GraphQL layer
// binds these so that clients see null, not "" or 0.

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optInt(i int) *int {
	if i == 0 {
		return nil
	}
	return &i
}

// DescriptionOpt is Description, nil when empty.
func (n *Node) DescriptionOpt() *string { return optStr(n.Description) }

// OrgTypeOpt is OrgType, nil when empty.
func (n *Node) OrgTypeOpt() *string { return optStr(n.OrgType) }

// PlaceTypeOpt is PlaceType, nil when empty.
func (n *Node) PlaceTypeOpt() *string { return optStr(n.PlaceType) }

// CodeOpt is Code, nil when empty.
func (n *Node) CodeOpt() *string { return optStr(n.Code) }

// ProductTypeOpt is ProductType, nil when empty.
func (n *Node) ProductTypeOpt() *string { return optStr(n.ProductType) }

// StatusOpt is Status, nil when empty.
func (n *Node) StatusOpt() *string { return optStr(n.Status) }

// ProgrammeOpt is Programme, nil when empty.
func (n *Node) ProgrammeOpt() *string { return optStr(n.Programme) }

// TitleEnOpt is TitleEn, nil when empty.
func (n *Node) TitleEnOpt() *string { return optStr(n.TitleEn) }

// AuthorOpt is Author, nil when empty.
func (n *Node) AuthorOpt() *string { return optStr(n.Author) }

// PublisherOpt is Publisher, nil when empty.
func (n *Node) PublisherOpt() *string { return optStr(n.Publisher) }

// PublisherNoteOpt is PublisherNote, nil when empty.
func (n *Node) PublisherNoteOpt() *string { return optStr(n.PublisherNote) }

// LanguageOpt is Language, nil when empty.
func (n *Node) LanguageOpt() *string { return optStr(n.Language) }

// URLOpt is URL, nil when empty.
func (n *Node) URLOpt() *string { return optStr(n.URL) }

// YearOpt is Year, nil when unknown.
func (n *Node) YearOpt() *int { return optInt(n.Year) }

// ValueOpt is Value, nil when empty.
func (f *Fact) ValueOpt() *string { return optStr(f.Value) }

// MeasureOpt is Measure, nil when empty.
func (f *Fact) MeasureOpt() *string { return optStr(f.Measure) }

// RoleOpt is Role, nil when empty.
func (f *Fact) RoleOpt() *string { return optStr(f.Role) }

// CreatedByOpt is CreatedBy, nil when empty.
func (f *Fact) CreatedByOpt() *string { return optStr(f.CreatedBy) }

// YearOpt is Year, nil when unknown.
func (f *Fact) YearOpt() *int { return optInt(f.Year) }

// TierOpt is Tier, nil when the fact has none.
func (f *Fact) TierOpt() *Tier {
	if f.Tier == "" {
		return nil
	}
	t := f.Tier
	return &t
}

// MonthOpt is Month, nil below MONTH precision.
func (d Date) MonthOpt() *int { return optInt(d.Month) }

// DayOpt is Day, nil below DAY precision.
func (d Date) DayOpt() *int { return optInt(d.Day) }

// UnitOpt is Unit, nil when empty.
func (q Quantity) UnitOpt() *string { return optStr(q.Unit) }

// BoundOrExact is Bound, EXACT when unset.
func (q Quantity) BoundOrExact() Bound {
	if q.Bound == "" {
		return BoundExact
	}
	return q.Bound
}

// GlossOpt is Gloss, nil when empty.
func (e Evidence) GlossOpt() *string { return optStr(e.Gloss) }

// NoteOpt is Note, nil when empty.
func (e Evidence) NoteOpt() *string { return optStr(e.Note) }

// NameIn is the name in lang (nil or "en" for English), falling back to English.
func (n *Node) NameIn(lang *string) string {
	if lang == nil || *lang == "en" {
		return n.Name
	}
	return n.Label(*lang)
}

func opt[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// YearOpt is Year, nil when not grouped by or unknown.
func (g Group) YearOpt() *int { return opt(g.Year) }

// SubjectCountryOpt is SubjectCountry, nil when not grouped by or unknown.
func (g Group) SubjectCountryOpt() *string { return opt(g.SubjectCountry) }

// ObjectCountryOpt is ObjectCountry, nil when not grouped by or unknown.
func (g Group) ObjectCountryOpt() *string { return opt(g.ObjectCountry) }

// TierOpt is Tier, nil when not grouped by or the facts have none.
func (g Group) TierOpt() *Tier { return opt(g.Tier) }

// SubjectOrgTypeOpt is SubjectOrgType, nil when not grouped by or unknown.
func (g Group) SubjectOrgTypeOpt() *string { return opt(g.SubjectOrgType) }

// SubjectKindOpt is SubjectKind, nil when not grouped by.
func (g Group) SubjectKindOpt() *Kind { return opt(g.SubjectKind) }

// ObjectKindOpt is ObjectKind, nil when not grouped by or the facts have no object.
func (g Group) ObjectKindOpt() *Kind { return opt(g.ObjectKind) }

// PredicateOpt is Predicate, nil when not grouped by.
func (g Group) PredicateOpt() *Predicate { return opt(g.Predicate) }

// MeasureOpt is Measure, nil when not grouped by or the facts have none.
func (g Group) MeasureOpt() *string { return opt(g.Measure) }
