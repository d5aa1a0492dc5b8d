// Package storage is policygraph's property graph: entities (nodes) and facts
// (edges or literal statements, each with evidence and time) kept in an ordered,
// transactional key-value store (Badger by default) with forward and reverse
// adjacency and secondary indexes.
package storage

import (
	"slices"
	"strings"
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

// Kinds is the registry of entity kinds, in schema order: the one list the
// schema's EntityKind enum and its entity types, graph/model's typed views,
// the RDF export's classes and the explorer's tables are checked against
// (graph/registry_test.go).
var Kinds = []Kind{KindEventSeries, KindEvent, KindOrganization, KindPerson, KindPlace,
	KindProduct, KindSanction, KindExportControl, KindPlan, KindTopic, KindLawsuit, KindSource}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Class is the kind's name as a type: EXPORT_CONTROL is ExportControl. It is
// the kind's class in the RDF export and its object type in the schema.
func (k Kind) Class() string {
	var b strings.Builder
	for w := range strings.SplitSeq(string(k), "_") {
		if w != "" {
			b.WriteString(w[:1])
			b.WriteString(strings.ToLower(w[1:]))
		}
	}
	return b.String()
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

// Bounds lists every bound, in schema order.
var Bounds = []Bound{BoundExact, BoundMoreThan, BoundAtLeast, BoundAbout, BoundRange}

// Valid reports whether b is one of Bounds.
func (b Bound) Valid() bool { return slices.Contains(Bounds, b) }

// Tier is a sponsorship level.
type Tier string

// The tiers.
const (
	TierStrategicPartner    Tier = "STRATEGIC_PARTNER"
	TierElitePartner        Tier = "ELITE_PARTNER"
	TierGovernmentCoSponsor Tier = "GOVERNMENT_CO_SPONSOR"
	TierSponsor             Tier = "SPONSOR"
)

// Tiers lists every tier, in schema order.
var Tiers = []Tier{TierStrategicPartner, TierElitePartner, TierGovernmentCoSponsor, TierSponsor}

// Valid reports whether t is one of Tiers.
func (t Tier) Valid() bool { return slices.Contains(Tiers, t) }

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
	Note   string    `json:"note,omitempty"`  // a remark on the quote (an inferred fact says why in Fact.Inference)
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
	// Inference is set when the fact is inferred: its sources imply it
	// rather than state it, by a rule of the inference policy
	// (docs/inference.md). Nil for a fact its quotes state outright.
	Inference *Inference `json:"inference,omitempty"`
}

// Inference says how an inferred fact follows from its evidence: the rule
// of the inference policy it applies (one of InferenceRules) and the
// reasoning, in words, from the quotes to the fact.
type Inference struct {
	Rule      string `json:"rule" yaml:"rule"`
	Reasoning string `json:"reasoning" yaml:"reasoning"`
}

// InferenceRule is one rule of the inference policy: its name and what it
// allows. docs/inference.md explains each; a test keeps the two alike.
type InferenceRule struct {
	Name, Summary string
}

// InferenceRules is the inference policy: the rules by which a fact may be
// inferred. A fact's Inference must name one of them.
var InferenceRules = []InferenceRule{
	{"COUNTRY_FROM_GROUPING", "An organization the source names among a country's firms or bodies is of that country."},
	{"COUNTRY_FROM_NAME", "An organization whose name names a country is of that country."},
	{"COUNTRY_FROM_LOCATION", "A body of a city or region the source places in a country is of that country."},
	{"COUNTRY_FROM_CONTRAST", "Firms the source sets against a country's firms as what changed are of that country."},
	{"MAKER_FROM_NAME", "A product named after a firm is made by it."},
	{"RECURRING_EVENT", "An event held every year at a place since a year had an edition each year since, at that place."},
	{"DATE_FROM_PUBLICATION", "A relative time (\"5 years ago\", \"this week\", \"in February\") is resolved from the source's publication date."},
	{"REFERENT_FROM_CONTEXT", "A pronoun or a short or generic name (\"they\", \"the Asian country\", \"the Ministry\", \"Shanghai officials\") stands for the entity the surrounding sentences name."},
	{"TIER_FROM_COUNT", "Named members that complete a list of a stated size hold that list's tier."},
}

// FindInferenceRule returns the rule named name, or nil.
func FindInferenceRule(name string) *InferenceRule {
	for i := range InferenceRules {
		if InferenceRules[i].Name == name {
			return &InferenceRules[i]
		}
	}
	return nil
}

// Disputed reports whether another fact contradicts this one.
func (f *Fact) Disputed() bool { return len(f.DisputedBy) > 0 }

// Active reports whether the fact is neither retracted nor negated.
func (f *Fact) Active() bool { return f.Retraction == nil && !f.Negated }

// Revision is an entity as it was before one update (Graph.UpdateNode): each
// update keeps one, so an entity's history stays readable. Seq numbers an
// entity's revisions from 1, oldest first.
type Revision struct {
	Node uuid.UUID `json:"node"`
	Seq  int       `json:"seq"`
	// At is when the update replaced these values; By who made it.
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
	// Previous is the whole entity record as it was before the update.
	Previous *Node `json:"previous"`
}
