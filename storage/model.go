// Package storage is policygraph's property graph: entities (nodes) and facts
// (edges or literal statements, each with evidence and time) kept in an ordered,
// transactional key-value store (Badger by default) with forward and reverse
// adjacency and secondary indexes.
package storage

import (
	"time"

	"github.com/google/uuid"
)

// Kind is what an entity is. The set is closed; see Kinds.
type Kind string

// The entity kinds.
const (
	KindEventSeries   Kind = "EVENT_SERIES"
	KindEvent         Kind = "EVENT"
	KindOrganization  Kind = "ORGANIZATION"
	KindPerson        Kind = "PERSON"
	KindPlace         Kind = "PLACE"
	KindProduct       Kind = "PRODUCT"
	KindSanction      Kind = "SANCTION"
	KindExportControl Kind = "EXPORT_CONTROL"
	KindPlan          Kind = "PLAN"
	KindTopic         Kind = "TOPIC"
	KindLawsuit       Kind = "LAWSUIT"
	KindSource        Kind = "SOURCE"
)

// Kinds lists every entity kind.
var Kinds = []Kind{KindEventSeries, KindEvent, KindOrganization, KindPerson, KindPlace,
	KindProduct, KindSanction, KindExportControl, KindPlan, KindTopic, KindLawsuit, KindSource}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// Label is a name in one language (BCP 47 tag such as "en" or "vi").
type Label struct {
	Lang string `json:"lang" yaml:"lang"`
	Text string `json:"text" yaml:"text"`
}

// Node is an entity of the graph: an event, an organization, a person, a source...
// Its identity and classification live here; every claim about it is a Fact.
type Node struct {
	ID          uuid.UUID `json:"id"`
	Kind        Kind      `json:"kind"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Labels      []Label   `json:"labels,omitempty"`
	Aliases     []string  `json:"aliases,omitempty"`
	Description string    `json:"description,omitempty"`

	// Classification, by kind.
	Year        int    `json:"year,omitempty"`        // EVENT: the edition's year
	OrgType     string `json:"orgType,omitempty"`     // ORGANIZATION
	PlaceType   string `json:"placeType,omitempty"`   // PLACE
	Code        string `json:"code,omitempty"`        // PLACE: ISO 3166-1 alpha-2 for countries
	ProductType string `json:"productType,omitempty"` // PRODUCT
	Status      string `json:"status,omitempty"`      // EXPORT_CONTROL
	Programme   string `json:"programme,omitempty"`   // SANCTION

	// Source metadata (kind SOURCE). The full text is stored apart; see Graph.SourceText.
	Title         string     `json:"title,omitempty"`
	TitleEn       string     `json:"titleEn,omitempty"`
	Author        string     `json:"author,omitempty"`
	Publisher     string     `json:"publisher,omitempty"`
	PublisherNote string     `json:"publisherNote,omitempty"`
	PublishedAt   *time.Time `json:"publishedAt,omitempty"`
	Language      string     `json:"language,omitempty"`
	URL           string     `json:"url,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
	// Retraction is set when the entity was withdrawn; it stays readable by ID and
	// slug but leaves the kind, name and year indexes.
	Retraction *Retraction `json:"retraction,omitempty"`
}

// Label returns the node's name in lang, falling back to the English name.
func (n *Node) Label(lang string) string {
	for _, l := range n.Labels {
		if l.Lang == lang {
			return l.Text
		}
	}
	return n.Name
}

// Names lists every name of the node: the English name, each label and each alias.
func (n *Node) Names() []string {
	out := []string{n.Name}
	for _, l := range n.Labels {
		out = append(out, l.Text)
	}
	return append(out, n.Aliases...)
}

// Quantity is a number as a source states it: "more than 400", "about 100", "20,000 to 30,000".
type Quantity struct {
	Amount float64  `json:"amount" yaml:"amount"`
	Bound  Bound    `json:"bound,omitempty" yaml:"bound"`
	Upper  *float64 `json:"upper,omitempty" yaml:"upper"`
	Unit   string   `json:"unit,omitempty" yaml:"unit"`
}

// Bound says how a stated Quantity relates to the true value.
type Bound string

// The bounds.
const (
	BoundExact    Bound = "EXACT"
	BoundMoreThan Bound = "MORE_THAN"
	BoundAtLeast  Bound = "AT_LEAST"
	BoundAbout    Bound = "ABOUT"
	BoundRange    Bound = "RANGE"
)

// Valid reports whether b is a known bound.
func (b Bound) Valid() bool {
	switch b {
	case BoundExact, BoundMoreThan, BoundAtLeast, BoundAbout, BoundRange:
		return true
	}
	return false
}

// Tier is a sponsorship level.
type Tier string

// The tiers.
const (
	TierStrategicPartner    Tier = "STRATEGIC_PARTNER"
	TierElitePartner        Tier = "ELITE_PARTNER"
	TierGovernmentCoSponsor Tier = "GOVERNMENT_CO_SPONSOR"
	TierSponsor             Tier = "SPONSOR"
)

// Valid reports whether t is a known tier.
func (t Tier) Valid() bool {
	switch t {
	case TierStrategicPartner, TierElitePartner, TierGovernmentCoSponsor, TierSponsor:
		return true
	}
	return false
}

// TierMeasure is the MEASURE key under which an event declares how many sponsors a tier has.
func (t Tier) TierMeasure() string {
	switch t {
	case TierStrategicPartner:
		return "strategic-partners"
	case TierElitePartner:
		return "elite-partners"
	case TierGovernmentCoSponsor:
		return "government-co-sponsors"
	}
	return "sponsors"
}

// Evidence is what a fact rests on: a source and the verbatim quote from it.
type Evidence struct {
	Source uuid.UUID `json:"source"`
	Quote  string    `json:"quote"`
	Gloss  string    `json:"gloss,omitempty"` // English rendering of the quote
	Note   string    `json:"note,omitempty"`  // how the quote supports the fact, when it is an inference
}

// Retraction records who withdrew a fact, when and why. Retracted facts are kept.
type Retraction struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Fact is one claim: subject, predicate, and either an object entity or a literal
// (Value, Quantity), with qualifiers, time and evidence, like a Wikidata statement.
type Fact struct {
	ID        uuid.UUID `json:"id"`
	Subject   uuid.UUID `json:"subject"`
	Predicate Predicate `json:"predicate"`
	Object    uuid.UUID `json:"object,omitempty"` // uuid.Nil for literal facts
	Value     string    `json:"value,omitempty"`
	Measure   string    `json:"measure,omitempty"`
	Quantity  *Quantity `json:"quantity,omitempty"`
	Tier      Tier      `json:"tier,omitempty"`
	Role      string    `json:"role,omitempty"`
	Former    bool      `json:"former,omitempty"`
	Negated   bool      `json:"negated,omitempty"`
	Date      *Date     `json:"date,omitempty"`
	Start     *Date     `json:"start,omitempty"`
	End       *Date     `json:"end,omitempty"`
	// Year is the year the fact belongs to, for the year index: its date or start,
	// else the year of the event it links. Zero when unknown. Derived on write.
	Year       int         `json:"year,omitempty"`
	Evidence   []Evidence  `json:"evidence"`
	CreatedAt  time.Time   `json:"createdAt"`
	CreatedBy  string      `json:"createdBy,omitempty"`
	Retraction *Retraction `json:"retraction,omitempty"`
	// DisputedBy lists the facts that contradict this one (another tier for
	// the same sponsorship, another country), each kept with its own
	// evidence; the link is kept on both facts. Empty when none does.
	DisputedBy []uuid.UUID `json:"disputedBy,omitempty"`
}

// Disputed reports whether another fact contradicts this one.
func (f *Fact) Disputed() bool { return len(f.DisputedBy) > 0 }

// Active reports whether the fact is neither retracted nor negated.
func (f *Fact) Active() bool { return f.Retraction == nil && !f.Negated }
