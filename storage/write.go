package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"policygraph/errs"

	"github.com/google/uuid"
	"golang.org/x/text/language"
)

// Namespace is the UUID namespace of name-based (v5) IDs: seeded entities and
// facts get the same ID every time they are loaded, so re-seeding is idempotent.
var Namespace = uuid.MustParse("6f1f4c1e-9a57-4f43-9d0e-3c1b2b7f5a10")

// SlugID is the name-based ID of the entity with the slug.
func SlugID(slug string) uuid.UUID { return uuid.NewSHA1(Namespace, []byte("entity:"+slug)) }

// Limits on the size of text fields.
const (
	MaxNameLen  = 300
	MaxTextLen  = 4000
	MaxAliases  = 50
	MaxEvidence = 20
	maxSlugLen  = 120
)

// ---- nodes ----

// CreateNode writes a new node. A zero ID gets a random UUID; an empty slug is
// made from the name (with a numeric suffix where taken). For a SOURCE, text is
// its full text, against which evidence quotes are checked.
// Returns an *errs.Error: INVALID_ARGUMENT for a bad kind, empty or oversize name;
// INVALID_COUNTRY for a bad country code; ALREADY_EXISTS for a taken ID or slug.
func (g *Graph) CreateNode(n *Node, text string) (*Node, error) {
	n = cloneNode(n)
	if n.ID == uuid.Nil {
		n.ID = uuid.New()
	}
	wantSlug := n.Slug
	err := g.update(func(w writer) error {
		if _, err := w.Node(n.ID); err == nil {
			return errs.Errorf(errs.AlreadyExists, "id", "an entity with id %s exists", n.ID)
		} else if errs.CodeOf(err) != errs.NotFound {
			return err
		}
		// A retried transaction picks the slug again: another writer may have taken it.
		n.Slug = wantSlug
		if n.Slug == "" {
			s, err := freeSlug(w, n.Name)
			if err != nil {
				return err
			}
			n.Slug = s
		}
		n.CreatedAt, n.UpdatedAt = g.now(), g.now()
		return putNode(w, nil, n, text)
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// PutOutcome is what a seed write (PutNode, PutFact) did with one record.
type PutOutcome int

// The outcomes of PutNode and PutFact.
const (
	// PutCreated: no record had the ID; the record was written.
	PutCreated PutOutcome = iota
	// PutUnchanged: the store holds the record as given; nothing was written.
	PutUnchanged
	// PutKept: the store holds a different record with the ID (renamed,
	// retracted, or otherwise curated since it was seeded); it was left alone.
	PutKept
	// PutSkipped: no record had the ID, but writing it would undo curation
	// (a fact about a retracted entity, a node whose slug another entity took);
	// nothing was written.
	PutSkipped
)

func (o PutOutcome) String() string {
	switch o {
	case PutCreated:
		return "created"
	case PutUnchanged:
		return "unchanged"
	case PutKept:
		return "kept"
	case PutSkipped:
		return "skipped"
	}
	return fmt.Sprintf("PutOutcome(%d)", int(o))
}

// PutNode is the seed's write of a node: it creates n if no node has its ID,
// and otherwise leaves the stored node alone, whatever it holds: a seed adds
// what is missing and never overwrites or resurrects what curators changed.
// The outcome says which (PutKept when the stored node differs from n).
func (g *Graph) PutNode(n *Node, text string) (PutOutcome, error) {
	var out PutOutcome
	err := g.update(func(w writer) (err error) { out, err = g.putNodeTx(w, cloneNode(n), text); return err })
	return out, err
}

func (g *Graph) putNodeTx(w writer, n *Node, text string) (PutOutcome, error) {
	// A broken seed file is refused whether or not the store holds the node.
	if err := validateNode(n); err != nil {
		return 0, err
	}
	old, err := w.Node(n.ID)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return 0, err
	}
	if old != nil {
		if !sameNode(old, n) {
			return PutKept, nil
		}
		if text != "" {
			cur, err := w.SourceText(n.ID)
			if err != nil {
				return 0, err
			}
			if cur != text {
				return PutKept, nil
			}
		}
		return PutUnchanged, nil
	}
	if owner, err := w.SlugID(n.Slug); err == nil && owner != n.ID {
		return PutSkipped, nil // another entity has the slug now
	} else if err != nil && errs.CodeOf(err) != errs.NotFound {
		return 0, err
	}
	n.CreatedAt = g.now()
	n.UpdatedAt = n.CreatedAt
	return PutCreated, putNode(w, nil, n, text)
}

func sameNode(a, b *Node) bool {
	x, y := *a, *b
	x.CreatedAt, x.UpdatedAt = y.CreatedAt, y.UpdatedAt
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// NodePatch changes some of a node's fields; nil fields stay as they are.
type NodePatch struct {
	Name        *string
	Labels      []Label // replaces all labels when not nil
	Aliases     []string
	Description *string
	Year        *int
	OrgType     *string
	PlaceType   *string
	Code        *string
	ProductType *string
	Status      *string
	Programme   *string
	// By is who makes the update, kept in the revision it leaves.
	By string
}

// UpdateNode applies p to the node with the ID, re-indexing its names, and
// keeps the node as it was as a Revision (by p.By, at the update's time),
// in the same transaction. Returns an *errs.Error: NOT_FOUND, INVALID_ARGUMENT.
func (g *Graph) UpdateNode(id uuid.UUID, p NodePatch) (n *Node, err error) {
	err = g.update(func(w writer) error {
		old, err := w.Node(id)
		if err != nil {
			return err
		}
		n = cloneNode(old)
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&n.Name, p.Name)
		set(&n.Description, p.Description)
		set(&n.OrgType, p.OrgType)
		set(&n.PlaceType, p.PlaceType)
		set(&n.Code, p.Code)
		set(&n.ProductType, p.ProductType)
		set(&n.Status, p.Status)
		set(&n.Programme, p.Programme)
		if p.Year != nil {
			n.Year = *p.Year
		}
		if p.Labels != nil {
			n.Labels = p.Labels
		}
		if p.Aliases != nil {
			n.Aliases = p.Aliases
		}
		n.UpdatedAt = g.now()
		if err := putNode(w, old, n, ""); err != nil {
			return err
		}
		seq := 0
		err = w.Revisions(id, func(r *Revision) error { seq = r.Seq; return nil })
		if err != nil {
			return err
		}
		return w.setRevision(&Revision{Node: id, Seq: seq + 1, At: n.UpdatedAt, By: p.By, Previous: cloneNode(old)})
	})
	return n, err
}

// Revisions lists the revisions of the entity with the ID, oldest first: the
// values each update replaced. An entity never updated has none.
func (g *Graph) Revisions(id uuid.UUID) ([]*Revision, error) {
	var out []*Revision
	err := g.view(func(s Snapshot) error {
		return s.Revisions(id, func(r *Revision) error { out = append(out, r); return nil })
	})
	return out, err
}

func cloneNode(n *Node) *Node {
	c := *n
	c.Labels = append([]Label(nil), n.Labels...)
	c.Aliases = append([]string(nil), n.Aliases...)
	return &c
}

// CheckText rejects text that is not valid UTF-8, has NUL bytes or is longer than max.
func CheckText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return errs.Errorf(errs.InvalidArgument, field, "%s is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errs.Errorf(errs.InvalidArgument, field, "%s contains a NUL character", field)
	}
	if len(s) > max {
		return errs.Errorf(errs.InvalidArgument, field, "%s is longer than %d bytes", field, max)
	}
	return nil
}

func validateNode(n *Node) error {
	if !n.Kind.Valid() {
		return errs.Errorf(errs.InvalidArgument, "kind", "unknown entity kind %q", n.Kind)
	}
	if strings.TrimSpace(n.Name) == "" {
		return errs.Errorf(errs.InvalidArgument, "name", "name must not be empty")
	}
	if Fold(n.Name) == "" {
		return errs.Errorf(errs.InvalidArgument, "name", "name %q has no letters or digits", n.Name)
	}
	if err := CheckText("name", n.Name, MaxNameLen); err != nil {
		return err
	}
	if err := CheckText("description", n.Description, MaxTextLen); err != nil {
		return err
	}
	if len(n.Aliases) > MaxAliases {
		return errs.Errorf(errs.InvalidArgument, "aliases", "at most %d aliases", MaxAliases)
	}
	for _, a := range n.Aliases {
		if err := CheckText("aliases", a, MaxNameLen); err != nil {
			return err
		}
	}
	for _, l := range n.Labels {
		if err := CheckText("labels", l.Text, MaxNameLen); err != nil {
			return err
		}
		if _, err := language.Parse(l.Lang); err != nil || l.Lang == "" {
			return errs.Errorf(errs.InvalidArgument, "labels", "label language %q is not a BCP 47 tag", l.Lang)
		}
	}
	if len(n.Slug) > maxSlugLen || n.Slug != Slugify(n.Slug) {
		return errs.Errorf(errs.InvalidArgument, "slug", "slug %q must be lowercase letters, digits and single hyphens, at most %d long", n.Slug, maxSlugLen)
	}
	if slugIsID(n.Slug) {
		return errs.Errorf(errs.InvalidArgument, "slug", "slug %q reads as an ID: a reference to it would name the entity with that ID", n.Slug)
	}
	if n.Code != "" {
		if err := CheckCountry("code", n.Code); err != nil {
			return err
		}
	}
	if n.Year < 0 || n.Year > 9999 {
		return errs.Errorf(errs.InvalidDate, "year", "year %d out of range", n.Year)
	}
	return nil
}

// CheckCountry accepts an ISO 3166-1 alpha-2 country code ("US", "CN").
func CheckCountry(field, code string) error {
	r, err := language.ParseRegion(code)
	if err != nil || len(code) != 2 || strings.ToUpper(code) != code || !r.IsCountry() {
		return errs.Errorf(errs.InvalidCountry, field, "%q is not an ISO 3166-1 alpha-2 country code", code)
	}
	return nil
}

// Slugify makes a slug from a name: folded, words joined by hyphens.
func Slugify(name string) string { return strings.ReplaceAll(Fold(name), " ", "-") }

// slugIsID reports whether a slug parses as a UUID. References take an ID or a
// slug, trying the ID first (Graph.Ref), so such a slug could never be
// resolved, and might impersonate another entity.
func slugIsID(slug string) bool {
	_, err := uuid.Parse(slug)
	return err == nil
}

func freeSlug(s Snapshot, name string) (string, error) {
	base := Slugify(name)
	if len(base) > maxSlugLen-8 {
		cut := maxSlugLen - 8
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = strings.Trim(base[:cut], "-")
	}
	for i := 1; i < 1000; i++ {
		slug := base
		if i > 1 {
			slug = fmt.Sprintf("%s-%d", base, i)
		}
		if slugIsID(slug) {
			continue // a name that reads as an ID gets a suffix
		}
		if _, err := s.SlugID(slug); errs.CodeOf(err) == errs.NotFound {
			return slug, nil
		} else if err != nil {
			return "", err
		}
	}
	return "", errs.Errorf(errs.AlreadyExists, "slug", "no free slug for %q", name)
}

// putNode checks n and stores it in place of old (nil for a new node).
func putNode(w writer, old, n *Node, text string) error {
	if err := validateNode(n); err != nil {
		return err
	}
	if n.Kind == KindSource {
		if err := CheckText("text", text, 16<<20); err != nil {
			return err
		}
	}
	if owner, err := w.SlugID(n.Slug); err == nil {
		if owner != n.ID {
			return errs.Errorf(errs.AlreadyExists, "slug", "slug %q is taken", n.Slug)
		}
	} else if errs.CodeOf(err) != errs.NotFound {
		return err
	}
	if old != nil && old.Kind != n.Kind {
		return errs.Errorf(errs.InvalidArgument, "kind", "an entity's kind cannot change (%s to %s)", old.Kind, n.Kind)
	}
	return w.setNode(old, n, text)
}

// ---- facts ----

// FactKey is the natural key of a seeded fact, from which its v5 ID is made.
func FactKey(f *Fact) string {
	parts := []string{f.Subject.String(), string(f.Predicate), f.Object.String(), f.Value, f.Measure, string(f.Tier), f.Role}
	if f.Negated {
		parts = append(parts, "negated")
	}
	if q := f.Quantity; q != nil {
		parts = append(parts, fmt.Sprintf("%v %s %s", q.Amount, q.Bound, q.Unit))
	}
	for _, d := range []*Date{f.Date, f.Start, f.End} {
		if d != nil {
			parts = append(parts, d.String())
		}
	}
	return strings.Join(parts, "|")
}

// AddFact validates and writes a new fact with its adjacency and indexes, in one
// transaction. A zero ID gets a random UUID. Returns an *errs.Error: NOT_FOUND for an
// unknown subject, object or source; INVALID_ARGUMENT for a fact that does not
// fit its predicate; INVALID_COUNTRY; INVALID_DATE; QUOTE_NOT_IN_SOURCE;
// ALREADY_EXISTS for a taken ID.
func (g *Graph) AddFact(f *Fact) (*Fact, error) {
	f = cloneFact(f)
	if f.ID == uuid.Nil {
		f.ID = uuid.New()
	}
	f.CreatedAt = g.now()
	err := g.update(func(w writer) error {
		if _, err := w.Fact(f.ID); err == nil {
			return errs.Errorf(errs.AlreadyExists, "id", "a fact with id %s exists", f.ID)
		} else if errs.CodeOf(err) != errs.NotFound {
			return err
		}
		return putFact(w, f)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// PutFact is the seed's write of a fact: it creates f if no fact has its ID
// and leaves a stored fact alone (PutKept when it differs from f, retracted
// for one). A new fact about a retracted entity is not written (PutSkipped):
// the curator withdrew the entity and all it stands in. Returns the errors of
// AddFact for a fact that does not validate.
func (g *Graph) PutFact(f *Fact) (PutOutcome, error) {
	var out PutOutcome
	err := g.update(func(w writer) (err error) { out, err = g.putFactTx(w, cloneFact(f)); return err })
	return out, err
}

func (g *Graph) putFactTx(w writer, f *Fact) (PutOutcome, error) {
	old, err := w.Fact(f.ID)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return 0, err
	}
	if old != nil {
		if old.Retraction != nil {
			return PutKept, nil
		}
		// Validation fills in what it derives (the year, the default tier
		// and bound) before the comparison, and refuses a broken seed file
		// as it would on an empty store: the stored fact's subject and
		// object are live (RetractNode retracts their facts).
		f.CreatedAt, f.CreatedBy = old.CreatedAt, old.CreatedBy
		if err := validateFact(w, f); err != nil {
			return 0, err
		}
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(f)
		if !bytes.Equal(a, b) {
			return PutKept, nil
		}
		return PutUnchanged, nil
	}
	for _, id := range []uuid.UUID{f.Subject, f.Object} {
		if id == uuid.Nil {
			continue
		}
		n, err := w.Node(id)
		if err == nil && n.Retraction != nil {
			return PutSkipped, nil
		}
	}
	f.CreatedAt = g.now()
	return PutCreated, putFact(w, f)
}

// cloneFact copies f deeply enough that validation, which fills in defaults,
// never changes the caller's fact.
func cloneFact(f *Fact) *Fact {
	c := *f
	c.Evidence = append([]Evidence(nil), f.Evidence...)
	c.DisputedBy = append([]uuid.UUID(nil), f.DisputedBy...)
	if f.Quantity != nil {
		q := *f.Quantity
		if q.Upper != nil {
			u := *q.Upper
			q.Upper = &u
		}
		c.Quantity = &q
	}
	for _, d := range []**Date{&c.Date, &c.Start, &c.End} {
		if *d != nil {
			v := **d
			*d = &v
		}
	}
	if f.Inference != nil {
		in := *f.Inference
		c.Inference = &in
	}
	return &c
}

// factEnd reads the node at one end of a fact (field "subject" or "object",
// an end "a subject" or "an object") and checks that it may stand there: it
// exists, is not retracted and is of one of kinds.
func factEnd(s Snapshot, pred Predicate, id uuid.UUID, field, an string, kinds []Kind) (*Node, error) {
	n, err := s.Node(id)
	if err != nil {
		if e, ok := err.(*errs.Error); ok {
			e.Field, e.Message = field, field+": "+e.Message
		}
		return nil, err
	}
	if n.Retraction != nil {
		return nil, errs.Errorf(errs.InvalidArgument, field, "%s %s was retracted", field, n.Slug)
	}
	if !kindIn(n.Kind, kinds) {
		return nil, errs.Errorf(errs.InvalidArgument, field, "%s takes %s of kind %v, not %s", pred, an, kinds, n.Kind)
	}
	return n, nil
}

func validateFact(s Snapshot, f *Fact) error {
	spec := f.Predicate.Spec()
	if spec == nil {
		return errs.Errorf(errs.InvalidArgument, "predicate", "unknown predicate %q", f.Predicate)
	}
	subj, err := factEnd(s, f.Predicate, f.Subject, "subject", "a subject", spec.Subjects)
	if err != nil {
		return err
	}
	var obj *Node
	switch {
	case f.Object != uuid.Nil && !spec.ObjectRequired:
		return errs.Errorf(errs.InvalidArgument, "object", "%s takes no object", f.Predicate)
	case f.Object == uuid.Nil && spec.ObjectRequired:
		return errs.Errorf(errs.InvalidArgument, "object", "%s needs an object", f.Predicate)
	case f.Object != uuid.Nil:
		if obj, err = factEnd(s, f.Predicate, f.Object, "object", "an object", spec.Objects); err != nil {
			return err
		}
		if f.Object == f.Subject {
			return errs.Errorf(errs.InvalidArgument, "object", "a fact cannot link an entity to itself")
		}
	}
	if spec.Value {
		if err := CheckCountry("value", f.Value); err != nil {
			return err
		}
	} else if f.Value != "" {
		return errs.Errorf(errs.InvalidArgument, "value", "%s takes no value", f.Predicate)
	}
	if spec.Quantity {
		if f.Quantity == nil || f.Measure == "" {
			return errs.Errorf(errs.InvalidArgument, "quantity", "%s needs a measure and a quantity", f.Predicate)
		}
		if err := CheckText("measure", f.Measure, MaxNameLen); err != nil {
			return err
		}
		q := f.Quantity
		if q.Bound == "" {
			q.Bound = BoundExact
		}
		if !q.Bound.Valid() {
			return errs.Errorf(errs.InvalidArgument, "quantity.bound", "unknown bound %q", q.Bound)
		}
		if (q.Bound == BoundRange) != (q.Upper != nil) {
			return errs.Errorf(errs.InvalidArgument, "quantity.upper", "a RANGE quantity, and only one, has an upper amount")
		}
		if q.Upper != nil && *q.Upper < q.Amount {
			return errs.Errorf(errs.InvalidArgument, "quantity.upper", "upper amount %v is below amount %v", *q.Upper, q.Amount)
		}
	} else if f.Quantity != nil || f.Measure != "" {
		return errs.Errorf(errs.InvalidArgument, "quantity", "%s takes no quantity", f.Predicate)
	}
	if spec.Tier {
		if f.Tier == "" {
			f.Tier = TierSponsor
		}
		if !f.Tier.Valid() {
			return errs.Errorf(errs.InvalidArgument, "tier", "unknown tier %q", f.Tier)
		}
	} else if f.Tier != "" {
		return errs.Errorf(errs.InvalidArgument, "tier", "%s takes no tier", f.Predicate)
	}
	if !spec.Role && (f.Role != "" || f.Former) {
		return errs.Errorf(errs.InvalidArgument, "role", "%s takes no role", f.Predicate)
	}
	if err := CheckText("role", f.Role, MaxNameLen); err != nil {
		return err
	}
	if f.Start != nil && f.End != nil && f.End.Before(*f.Start) {
		return errs.Errorf(errs.InvalidDate, "end", "end %s is before start %s", f.End, f.Start)
	}
	if f.Date != nil && (f.Start != nil || f.End != nil) {
		return errs.Errorf(errs.InvalidDate, "date", "give a date or a start/end span, not both")
	}
	if len(f.Evidence) == 0 {
		return errs.Errorf(errs.InvalidArgument, "evidence", "a fact needs evidence: a source and a verbatim quote")
	}
	if len(f.Evidence) > MaxEvidence {
		return errs.Errorf(errs.InvalidArgument, "evidence", "at most %d pieces of evidence", MaxEvidence)
	}
	texts := map[uuid.UUID]string{}
	for i := range f.Evidence {
		e := &f.Evidence[i]
		field := fmt.Sprintf("evidence[%d]", i)
		for _, s := range []struct{ name, v string }{{"quote", e.Quote}, {"gloss", e.Gloss}, {"note", e.Note}} {
			if err := CheckText(field+"."+s.name, s.v, MaxTextLen); err != nil {
				return err
			}
		}
		if strings.TrimSpace(e.Quote) == "" {
			return errs.Errorf(errs.InvalidArgument, field+".quote", "the quote must not be empty")
		}
		text, ok := texts[e.Source]
		if !ok {
			src, err := s.Node(e.Source)
			if err != nil {
				return errs.Errorf(errs.NotFound, field+".source", "no source with id %s", e.Source)
			}
			if src.Kind != KindSource {
				return errs.Errorf(errs.InvalidArgument, field+".source", "%s is a %s, not a SOURCE", src.Name, src.Kind)
			}
			if text, err = s.SourceText(e.Source); err != nil {
				return err
			}
			texts[e.Source] = text
		}
		if !strings.Contains(text, e.Quote) {
			return errs.Errorf(errs.QuoteNotInSource, field+".quote", "the quote is not verbatim in the source (check spacing, non-breaking spaces and quotation marks): %q", clip(e.Quote, 80))
		}
	}
	if err := validateInference(f.Inference); err != nil {
		return err
	}
	f.Year = factYear(f, subj, obj)
	return nil
}

// validateInference checks an inferred fact's inference: a rule of the
// policy (InferenceRules) and the reasoning that applies it.
func validateInference(in *Inference) error {
	if in == nil {
		return nil
	}
	if FindInferenceRule(in.Rule) == nil {
		names := make([]string, len(InferenceRules))
		for i, r := range InferenceRules {
			names[i] = r.Name
		}
		return errs.Errorf(errs.InvalidArgument, "inference.rule", "unknown inference rule %q; the policy's rules are %s (docs/inference.md)", in.Rule, strings.Join(names, ", "))
	}
	if strings.TrimSpace(in.Reasoning) == "" {
		return errs.Errorf(errs.InvalidArgument, "inference.reasoning", "an inferred fact says how it follows from its quotes")
	}
	return CheckText("inference.reasoning", in.Reasoning, MaxTextLen)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func factYear(f *Fact, subj, obj *Node) int {
	switch {
	case f.Date != nil:
		return f.Date.Year
	case f.Start != nil:
		return f.Start.Year
	case obj != nil && obj.Kind == KindEvent && obj.Year != 0:
		return obj.Year
	case subj.Kind == KindEvent && subj.Year != 0:
		return subj.Year
	}
	return 0
}

// putFact checks a new fact and stores it.
func putFact(w writer, f *Fact) error {
	if err := validateFact(w, f); err != nil {
		return err
	}
	return w.setFact(nil, f)
}

// checkReason checks the reason given for retracting the record what: said,
// and within MaxTextLen.
func checkReason(reason, what string) error {
	if strings.TrimSpace(reason) == "" {
		return errs.Errorf(errs.InvalidArgument, "reason", "say why the %s is retracted", what)
	}
	return CheckText("reason", reason, MaxTextLen)
}

// RetractFact marks a fact withdrawn, keeping it with who, when and why, and takes
// it out of the active indexes. Returns an *errs.Error: NOT_FOUND, ALREADY_RETRACTED,
// INVALID_ARGUMENT for an empty reason.
func (g *Graph) RetractFact(id uuid.UUID, by, reason string) (f *Fact, err error) {
	if err := checkReason(reason, "fact"); err != nil {
		return nil, err
	}
	err = g.update(func(w writer) error {
		if f, err = w.Fact(id); err != nil {
			return err
		}
		if f.Retraction != nil {
			return errs.Errorf(errs.AlreadyRetracted, "id", "fact %s was retracted at %s", id, f.Retraction.At.Format(time.RFC3339))
		}
		f, err = retractFactTx(w, f, &Retraction{By: by, At: g.now(), Reason: reason})
		return err
	})
	return f, err
}

// RetractNode withdraws an entity and every active or negated fact about it (as
// subject or object), keeping them all with who, when and why, in one transaction.
// Returns an *errs.Error: NOT_FOUND, ALREADY_RETRACTED, INVALID_ARGUMENT for an empty reason.
func (g *Graph) RetractNode(id uuid.UUID, by, reason string) (n *Node, err error) {
	if err := checkReason(reason, "entity"); err != nil {
		return nil, err
	}
	err = g.update(func(w writer) error {
		old, err := w.Node(id)
		if err != nil {
			return err
		}
		if old.Retraction != nil {
			return errs.Errorf(errs.AlreadyRetracted, "id", "entity %s was retracted at %s", id, old.Retraction.At.Format(time.RFC3339))
		}
		// A fact write about the node that commits after this one began
		// makes it conflict and run again.
		if err := w.guardNode(id); err != nil {
			return err
		}
		r := &Retraction{By: by, At: g.now(), Reason: reason}
		for _, dir := range []Direction{Out, In} {
			ids, err := adjacentIDs(w, AdjQuery{Node: id, Dir: dir, Negated: true})
			if err != nil {
				return err
			}
			for _, fid := range ids {
				f, err := w.Fact(fid)
				if err != nil {
					return err
				}
				if _, err := retractFactTx(w, f, r); err != nil {
					return err
				}
			}
		}
		n = cloneNode(old)
		n.Retraction = r
		n.UpdatedAt = r.At
		return putNode(w, old, n, "")
	})
	return n, err
}

// retractFactTx stores f retracted by r, out of the active indexes, and
// returns it.
func retractFactTx(w writer, f *Fact, r *Retraction) (*Fact, error) {
	rf := cloneFact(f)
	rf.Retraction = r
	return rf, w.setFact(f, rf)
}

// Batch runs fn with a writer whose writes form one transaction: all or nothing.
func (g *Graph) Batch(fn func(w *Writer) error) error {
	return g.update(func(w writer) error { return fn(&Writer{g: g, w: w}) })
}

// Writer writes into one transaction; see Graph.Batch.
type Writer struct {
	g *Graph
	w writer
}

// PutNode is Graph.PutNode inside the batch.
func (w *Writer) PutNode(n *Node, text string) (PutOutcome, error) {
	return w.g.putNodeTx(w.w, cloneNode(n), text)
}

// PutFact is Graph.PutFact inside the batch.
func (w *Writer) PutFact(f *Fact) (PutOutcome, error) { return w.g.putFactTx(w.w, cloneFact(f)) }
