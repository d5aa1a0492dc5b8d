package storage

// Predicate is the relation a fact states. The set is closed; each predicate says
// which kinds it links and which qualifiers it takes, and writes are checked against it.
type Predicate string

// The predicates.
const (
	PredEditionOf       Predicate = "EDITION_OF"
	PredHeldIn          Predicate = "HELD_IN"
	PredHeldOn          Predicate = "HELD_ON"
	PredOrganizedBy     Predicate = "ORGANIZED_BY"
	PredSponsored       Predicate = "SPONSORED"
	PredParticipatedIn  Predicate = "PARTICIPATED_IN"
	PredSpeakerAt       Predicate = "SPEAKER_AT"
	PredOpened          Predicate = "OPENED"
	PredDiscussed       Predicate = "DISCUSSED"
	PredMeasure         Predicate = "MEASURE"
	PredTarget          Predicate = "TARGET"
	PredCountry         Predicate = "COUNTRY"
	PredSubsidiaryOf    Predicate = "SUBSIDIARY_OF"
	PredHeadquarteredIn Predicate = "HEADQUARTERED_IN"
	PredListedIn        Predicate = "LISTED_IN"
	PredLocatedIn       Predicate = "LOCATED_IN"
	PredHoldsPosition   Predicate = "HOLDS_POSITION"
	PredImposedBy       Predicate = "IMPOSED_BY"
	PredTargets         Predicate = "TARGETS"
	PredTargetCountry   Predicate = "TARGET_COUNTRY"
	PredCoversProduct   Predicate = "COVERS_PRODUCT"
	PredTightens        Predicate = "TIGHTENS"
	PredIssued          Predicate = "ISSUED"
	PredMadeBy          Predicate = "MADE_BY"
	PredLaunched        Predicate = "LAUNCHED"
	PredAvailableIn     Predicate = "AVAILABLE_IN"
	PredEndorsedBy      Predicate = "ENDORSED_BY"
	PredAnnouncedAt     Predicate = "ANNOUNCED_AT"
	PredOperates        Predicate = "OPERATES"
	PredQuotedIn        Predicate = "QUOTED_IN"
	PredPlaintiff       Predicate = "PLAINTIFF"
	PredDefendant       Predicate = "DEFENDANT"
	PredPhotoCredit     Predicate = "PHOTO_CREDIT"
	PredMentions        Predicate = "MENTIONS"
)

// PredicateSpec is the shape of a predicate: what it may link and what it carries.
type PredicateSpec struct {
	Predicate Predicate
	// Subjects lists the kinds a subject may have; empty means any.
	Subjects []Kind
	// Objects lists the kinds an object may have; empty with ObjectRequired false means no object.
	Objects        []Kind
	ObjectRequired bool
	// Literal facts: Value (COUNTRY's ISO code) or Quantity with Measure.
	Value    bool
	Quantity bool
	Tier     bool
	Role     bool
	// Description says what the predicate means, for the schema's documentation.
	Description string
}

var anyKind []Kind

// Predicates is the registry of predicates, in schema order.
var Predicates = []PredicateSpec{
	{Predicate: PredEditionOf, Subjects: []Kind{KindEvent}, Objects: []Kind{KindEventSeries}, ObjectRequired: true, Description: "An event is an edition of a series."},
	{Predicate: PredHeldIn, Subjects: []Kind{KindEvent, KindEventSeries}, Objects: []Kind{KindPlace}, ObjectRequired: true, Description: "An event or series takes place in a place."},
	{Predicate: PredHeldOn, Subjects: []Kind{KindEvent}, Description: "An event's dates (start and end, or date)."},
	{Predicate: PredOrganizedBy, Subjects: []Kind{KindEvent}, Objects: []Kind{KindOrganization}, ObjectRequired: true, Description: "An event is organized by an organization."},
	{Predicate: PredSponsored, Subjects: []Kind{KindOrganization}, Objects: []Kind{KindEvent}, ObjectRequired: true, Tier: true, Description: "An organization sponsors an event, at a tier. Negated: it avoided sponsoring."},
	{Predicate: PredParticipatedIn, Subjects: []Kind{KindOrganization, KindPerson}, Objects: []Kind{KindEvent}, ObjectRequired: true, Description: "An organization or person takes part in an event. Negated: it is absent."},
	{Predicate: PredSpeakerAt, Subjects: []Kind{KindPerson}, Objects: []Kind{KindEvent}, ObjectRequired: true, Description: "A person speaks at an event."},
	{Predicate: PredOpened, Subjects: []Kind{KindPerson}, Objects: []Kind{KindEvent}, ObjectRequired: true, Description: "A person gives an event's opening speech."},
	{Predicate: PredDiscussed, Subjects: []Kind{KindEvent}, Objects: []Kind{KindTopic}, ObjectRequired: true, Description: "A topic on an event's agenda."},
	{Predicate: PredMeasure, Quantity: true, Description: "A number the source states about the subject (a count, an amount, a share)."},
	{Predicate: PredTarget, Subjects: []Kind{KindPlan}, Quantity: true, Description: "A plan's numeric target, dated by its target year."},
	{Predicate: PredCountry, Subjects: []Kind{KindOrganization, KindPerson, KindProduct, KindEvent}, Value: true, Description: "The subject's country (ISO 3166-1 alpha-2 in value)."},
	{Predicate: PredSubsidiaryOf, Subjects: []Kind{KindOrganization}, Objects: []Kind{KindOrganization}, ObjectRequired: true, Description: "An organization is a unit or subsidiary of another."},
	{Predicate: PredHeadquarteredIn, Subjects: []Kind{KindOrganization}, Objects: []Kind{KindPlace}, ObjectRequired: true, Description: "An organization is based in a place."},
	{Predicate: PredListedIn, Subjects: []Kind{KindOrganization}, Objects: []Kind{KindPlace}, ObjectRequired: true, Description: "An organization's shares are listed in a place."},
	{Predicate: PredLocatedIn, Subjects: []Kind{KindPlace}, Objects: []Kind{KindPlace}, ObjectRequired: true, Description: "A place lies within another."},
	{Predicate: PredHoldsPosition, Subjects: []Kind{KindPerson}, Objects: []Kind{KindOrganization, KindPlace}, ObjectRequired: true, Role: true, Description: "A person holds (or held, if former) a role at an organization or for a place."},
	{Predicate: PredImposedBy, Subjects: []Kind{KindSanction, KindExportControl}, Objects: []Kind{KindOrganization}, ObjectRequired: true, Description: "A sanction or export control is imposed by an authority."},
	{Predicate: PredTargets, Subjects: []Kind{KindSanction, KindExportControl}, Objects: []Kind{KindOrganization}, ObjectRequired: true, Description: "A sanction targets an organization; an export control is addressed to or affects one."},
	{Predicate: PredTargetCountry, Subjects: []Kind{KindExportControl, KindSanction}, Objects: []Kind{KindPlace}, ObjectRequired: true, Description: "A measure restricts exports to a country."},
	{Predicate: PredCoversProduct, Subjects: []Kind{KindExportControl}, Objects: []Kind{KindProduct}, ObjectRequired: true, Description: "An export control covers a product."},
	{Predicate: PredTightens, Subjects: []Kind{KindExportControl}, Objects: []Kind{KindExportControl}, ObjectRequired: true, Description: "An export control tightens an earlier one."},
	{Predicate: PredIssued, Subjects: []Kind{KindOrganization}, Objects: []Kind{KindPlan, KindExportControl, KindSanction}, ObjectRequired: true, Description: "An authority issues a plan or measure, on a date."},
	{Predicate: PredMadeBy, Subjects: []Kind{KindProduct}, Objects: []Kind{KindOrganization}, ObjectRequired: true, Description: "A product is made or offered by an organization."},
	{Predicate: PredLaunched, Subjects: []Kind{KindOrganization}, Objects: []Kind{KindProduct}, ObjectRequired: true, Description: "An organization launches a product, on a date."},
	{Predicate: PredAvailableIn, Subjects: []Kind{KindProduct}, Objects: []Kind{KindPlace}, ObjectRequired: true, Description: "A product is available in a market. Negated: it is not allowed there."},
	{Predicate: PredEndorsedBy, Subjects: []Kind{KindPlan}, Objects: []Kind{KindOrganization}, ObjectRequired: true, Description: "A plan or target is backed by an organization."},
	{Predicate: PredAnnouncedAt, Subjects: []Kind{KindPlan}, Objects: []Kind{KindEvent}, ObjectRequired: true, Description: "A plan or target is announced or re-committed at an event."},
	{Predicate: PredOperates, Subjects: []Kind{KindOrganization}, Objects: []Kind{KindPlace}, ObjectRequired: true, Description: "An organization operates a facility, opened on a date."},
	{Predicate: PredQuotedIn, Subjects: []Kind{KindPerson}, Objects: []Kind{KindSource}, ObjectRequired: true, Description: "A person is quoted in a source; the evidence holds the words."},
	{Predicate: PredPlaintiff, Subjects: []Kind{KindLawsuit}, Objects: []Kind{KindOrganization, KindPerson}, ObjectRequired: true, Description: "A party bringing a lawsuit."},
	{Predicate: PredDefendant, Subjects: []Kind{KindLawsuit}, Objects: []Kind{KindOrganization, KindPerson}, ObjectRequired: true, Description: "A party a lawsuit is brought against."},
	{Predicate: PredPhotoCredit, Subjects: []Kind{KindSource}, Objects: []Kind{KindOrganization, KindPerson}, ObjectRequired: true, Description: "Who a source credits for its photo."},
	{Predicate: PredMentions, Subjects: []Kind{KindSource}, Objects: anyKind, ObjectRequired: true, Description: "A theme a source discusses."},
}

var predicateIndex = func() map[Predicate]*PredicateSpec {
	m := make(map[Predicate]*PredicateSpec, len(Predicates))
	for i := range Predicates {
		m[Predicates[i].Predicate] = &Predicates[i]
	}
	return m
}()

// Spec returns the predicate's spec, or nil if p is not a known predicate.
func (p Predicate) Spec() *PredicateSpec { return predicateIndex[p] }

func kindIn(k Kind, kinds []Kind) bool {
	if len(kinds) == 0 {
		return true
	}
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}
