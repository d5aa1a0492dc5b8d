package storage

import (
	"bytes"
	"encoding/json"
	"errors"
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
	err := g.update(func(tx Txn) error {
		if _, err := tx.Get(nodeKey(n.ID)); err == nil {
			return errs.Errorf(errs.AlreadyExists, "id", "an entity with id %s exists", n.ID)
		} else if !errors.Is(err, ErrKeyMissing) {
			return err
		}
		// A retried transaction picks the slug again: another writer may have taken it.
		n.Slug = wantSlug
		if n.Slug == "" {
			s, err := freeSlug(tx, n.Name)
			if err != nil {
				return err
			}
			n.Slug = s
		}
		n.CreatedAt, n.UpdatedAt = g.now(), g.now()
		return putNode(tx, nil, n, text)
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
	err := g.update(func(tx Txn) (err error) { out, err = g.putNodeTx(tx, cloneNode(n), text); return err })
	return out, err
}

func (g *Graph) putNodeTx(tx Txn, n *Node, text string) (PutOutcome, error) {
	// A broken seed file is refused whether or not the store holds the node.
	if err := validateNode(n); err != nil {
		return 0, err
	}
	old, err := getNode(tx, n.ID)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return 0, err
	}
	if old != nil {
		if !sameNode(old, n) {
			return PutKept, nil
		}
		if text != "" {
			cur, err := tx.Get(textKey(n.ID))
			if err != nil && !errors.Is(err, ErrKeyMissing) {
				return 0, err
			}
			if string(cur) != text {
				return PutKept, nil
			}
		}
		return PutUnchanged, nil
	}
	if owner, err := tx.Get(slugKey(n.Slug)); err == nil && !bytes.Equal(owner, n.ID[:]) {
		return PutSkipped, nil // another entity has the slug now
	} else if err != nil && !errors.Is(err, ErrKeyMissing) {
		return 0, err
	}
	n.CreatedAt = g.now()
	n.UpdatedAt = n.CreatedAt
	return PutCreated, putNode(tx, nil, n, text)
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
}

// UpdateNode applies p to the node with the ID, re-indexing its names.
// Returns an *errs.Error: NOT_FOUND, INVALID_ARGUMENT.
func (g *Graph) UpdateNode(id uuid.UUID, p NodePatch) (n *Node, err error) {
	err = g.update(func(tx Txn) error {
		old, err := getNode(tx, id)
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
		return putNode(tx, old, n, "")
	})
	return n, err
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

func freeSlug(tx Txn, name string) (string, error) {
	base := Slugify(name)
	if len(base) > maxSlugLen-8 {
		cut := maxSlugLen - 8
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = strings.Trim(base[:cut], "-")
	}
	for i := 1; i < 1000; i++ {
		s := base
		if i > 1 {
			s = fmt.Sprintf("%s-%d", base, i)
		}
		if slugIsID(s) {
			continue // a name that reads as an ID gets a suffix
		}
		if _, err := tx.Get(slugKey(s)); errors.Is(err, ErrKeyMissing) {
			return s, nil
		} else if err != nil {
			return "", err
		}
	}
	return "", errs.Errorf(errs.AlreadyExists, "slug", "no free slug for %q", name)
}

// putNode writes n and its index entries, removing old's (nil for a new node).
func putNode(tx Txn, old, n *Node, text string) error {
	if err := validateNode(n); err != nil {
		return err
	}
	if n.Kind == KindSource {
		if err := CheckText("text", text, 16<<20); err != nil {
			return err
		}
	}
	if owner, err := tx.Get(slugKey(n.Slug)); err == nil {
		if !bytes.Equal(owner, n.ID[:]) {
			return errs.Errorf(errs.AlreadyExists, "slug", "slug %q is taken", n.Slug)
		}
	} else if !errors.Is(err, ErrKeyMissing) {
		return err
	}
	if old != nil {
		if old.Kind != n.Kind {
			return errs.Errorf(errs.InvalidArgument, "kind", "an entity's kind cannot change (%s to %s)", old.Kind, n.Kind)
		}
		for _, k := range nodeIndexKeys(old) {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		if old.Slug != n.Slug {
			if err := tx.Delete(slugKey(old.Slug)); err != nil {
				return err
			}
		}
	}
	b, err := encodeNode(n)
	if err != nil {
		return err
	}
	if err := tx.Set(nodeKey(n.ID), b); err != nil {
		return err
	}
	if err := tx.Set(slugKey(n.Slug), n.ID[:]); err != nil {
		return err
	}
	for _, k := range nodeIndexKeys(n) {
		if err := tx.Set(k, nil); err != nil {
			return err
		}
	}
	if text != "" {
		return tx.Set(textKey(n.ID), []byte(text))
	}
	return nil
}

// nodeIndexKeys lists the value-less index keys of a node (not its slug).
func nodeIndexKeys(n *Node) [][]byte {
	if n.Retraction != nil {
		return nil
	}
	keys := [][]byte{kindKey(n.Kind, Fold(n.Name), n.ID)}
	if n.Year != 0 {
		keys = append(keys, nodeYearKey(n.Kind, n.Year, n.ID))
	}
	seen := map[string]bool{}
	for _, name := range n.Names() {
		for i, t := range searchTerms(name) {
			k := nameKey(t, i == 0, n.ID) // the first term is the whole name
			if !seen[string(k)] {
				seen[string(k)] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
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
	err := g.update(func(tx Txn) error {
		if _, err := tx.Get(factKey(f.ID)); err == nil {
			return errs.Errorf(errs.AlreadyExists, "id", "a fact with id %s exists", f.ID)
		} else if !errors.Is(err, ErrKeyMissing) {
			return err
		}
		return putFact(tx, f)
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
	err := g.update(func(tx Txn) (err error) { out, err = g.putFactTx(tx, cloneFact(f)); return err })
	return out, err
}

func (g *Graph) putFactTx(tx Txn, f *Fact) (PutOutcome, error) {
	old, err := getFact(tx, f.ID)
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
		if err := validateFact(tx, f); err != nil {
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
		n, err := getNode(tx, id)
		if err == nil && n.Retraction != nil {
			return PutSkipped, nil
		}
	}
	f.CreatedAt = g.now()
	return PutCreated, putFact(tx, f)
}

// cloneFact copies f deeply enough that validation, which fills in defaults,
// never changes the caller's fact.
func cloneFact(f *Fact) *Fact {
	c := *f
	c.Evidence = append([]Evidence(nil), f.Evidence...)
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
	return &c
}

func validateFact(tx Txn, f *Fact) error {
	spec := f.Predicate.Spec()
	if spec == nil {
		return errs.Errorf(errs.InvalidArgument, "predicate", "unknown predicate %q", f.Predicate)
	}
	subj, err := getNode(tx, f.Subject)
	if err != nil {
		if e, ok := err.(*errs.Error); ok {
			e.Field, e.Message = "subject", "subject: "+e.Message
		}
		return err
	}
	if subj.Retraction != nil {
		return errs.Errorf(errs.InvalidArgument, "subject", "subject %s was retracted", subj.Slug)
	}
	if !kindIn(subj.Kind, spec.Subjects) {
		return errs.Errorf(errs.InvalidArgument, "subject", "%s takes a subject of kind %v, not %s", f.Predicate, spec.Subjects, subj.Kind)
	}
	var obj *Node
	switch {
	case f.Object != uuid.Nil && !spec.ObjectRequired:
		return errs.Errorf(errs.InvalidArgument, "object", "%s takes no object", f.Predicate)
	case f.Object == uuid.Nil && spec.ObjectRequired:
		return errs.Errorf(errs.InvalidArgument, "object", "%s needs an object", f.Predicate)
	case f.Object != uuid.Nil:
		if obj, err = getNode(tx, f.Object); err != nil {
			if e, ok := err.(*errs.Error); ok {
				e.Field, e.Message = "object", "object: "+e.Message
			}
			return err
		}
		if obj.Retraction != nil {
			return errs.Errorf(errs.InvalidArgument, "object", "object %s was retracted", obj.Slug)
		}
		if !kindIn(obj.Kind, spec.Objects) {
			return errs.Errorf(errs.InvalidArgument, "object", "%s takes an object of kind %v, not %s", f.Predicate, spec.Objects, obj.Kind)
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
			src, err := getNode(tx, e.Source)
			if err != nil {
				return errs.Errorf(errs.NotFound, field+".source", "no source with id %s", e.Source)
			}
			if src.Kind != KindSource {
				return errs.Errorf(errs.InvalidArgument, field+".source", "%s is a %s, not a SOURCE", src.Name, src.Kind)
			}
			b, err := tx.Get(textKey(e.Source))
			if err != nil && !errors.Is(err, ErrKeyMissing) {
				return err
			}
			text = string(b)
			texts[e.Source] = text
		}
		if !strings.Contains(text, e.Quote) {
			return errs.Errorf(errs.QuoteNotInSource, field+".quote", "the quote is not verbatim in the source (check spacing, non-breaking spaces and quotation marks): %q", clip(e.Quote, 80))
		}
	}
	f.Year = factYear(f, subj, obj)
	return nil
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

type kv struct{ key, val []byte }

// factIndexKeys lists every key a fact owns besides its record.
func factIndexKeys(f *Fact) []kv {
	flag := flagActive
	switch {
	case f.Retraction != nil:
		flag = flagRetracted
	case f.Negated:
		flag = flagNegated
	}
	out := []kv{{adjKey(Out, f.Subject, f.Predicate, f.ID), adjValue(flag, f.Object)}}
	if f.Object != uuid.Nil {
		out = append(out, kv{adjKey(In, f.Object, f.Predicate, f.ID), adjValue(flag, f.Subject)})
	}
	if flag != flagActive {
		return out
	}
	out = append(out, kv{predKey(f.Predicate, f.ID), nil})
	if f.Value != "" {
		out = append(out, kv{valueKey(f.Predicate, f.Value, f.ID), f.Subject[:]})
	}
	if f.Year != 0 {
		out = append(out, kv{yearKey(f.Predicate, f.Year, f.ID), nil})
	}
	return out
}

func putFact(tx Txn, f *Fact) error {
	if err := validateFact(tx, f); err != nil {
		return err
	}
	return writeFact(tx, f)
}

// writeFact stores f's record and every key it owns (adjacency, indexes).
func writeFact(tx Txn, f *Fact) error {
	b, err := encodeFact(f)
	if err != nil {
		return err
	}
	if err := tx.Set(factKey(f.ID), b); err != nil {
		return err
	}
	for _, e := range factIndexKeys(f) {
		if err := tx.Set(e.key, e.val); err != nil {
			return err
		}
	}
	if f.Retraction != nil {
		return nil
	}
	// A live fact meets a concurrent RetractNode of its subject or object here.
	for _, id := range []uuid.UUID{f.Subject, f.Object} {
		if id != uuid.Nil {
			if err := tx.Delete(guardKey(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// RetractFact marks a fact withdrawn, keeping it with who, when and why, and takes
// it out of the active indexes. Returns an *errs.Error: NOT_FOUND, ALREADY_RETRACTED,
// INVALID_ARGUMENT for an empty reason.
func (g *Graph) RetractFact(id uuid.UUID, by, reason string) (f *Fact, err error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errs.Errorf(errs.InvalidArgument, "reason", "say why the fact is retracted")
	}
	if err := CheckText("reason", reason, MaxTextLen); err != nil {
		return nil, err
	}
	err = g.update(func(tx Txn) error {
		if f, err = getFact(tx, id); err != nil {
			return err
		}
		if f.Retraction != nil {
			return errs.Errorf(errs.AlreadyRetracted, "id", "fact %s was retracted at %s", id, f.Retraction.At.Format(time.RFC3339))
		}
		return retractFactTx(tx, f, &Retraction{By: by, At: g.now(), Reason: reason})
	})
	return f, err
}

// RetractNode withdraws an entity and every active or negated fact about it (as
// subject or object), keeping them all with who, when and why, in one transaction.
// Returns an *errs.Error: NOT_FOUND, ALREADY_RETRACTED, INVALID_ARGUMENT for an empty reason.
func (g *Graph) RetractNode(id uuid.UUID, by, reason string) (n *Node, err error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errs.Errorf(errs.InvalidArgument, "reason", "say why the entity is retracted")
	}
	if err := CheckText("reason", reason, MaxTextLen); err != nil {
		return nil, err
	}
	err = g.update(func(tx Txn) error {
		old, err := getNode(tx, id)
		if err != nil {
			return err
		}
		if old.Retraction != nil {
			return errs.Errorf(errs.AlreadyRetracted, "id", "entity %s was retracted at %s", id, old.Retraction.At.Format(time.RFC3339))
		}
		// Read the guard: a fact write about the node that commits after this
		// transaction began makes it conflict and run again (see guardKey).
		if _, err := tx.Get(guardKey(id)); err != nil && !errors.Is(err, ErrKeyMissing) {
			return err
		}
		r := &Retraction{By: by, At: g.now(), Reason: reason}
		for _, dir := range []Direction{Out, In} {
			ids, err := adjacentIDs(tx, AdjQuery{Node: id, Dir: dir, Negated: true})
			if err != nil {
				return err
			}
			for _, fid := range ids {
				f, err := getFact(tx, fid)
				if err != nil {
					return err
				}
				if err := retractFactTx(tx, f, r); err != nil {
					return err
				}
			}
		}
		n = cloneNode(old)
		n.Retraction = r
		n.UpdatedAt = r.At
		return putNode(tx, old, n, "")
	})
	return n, err
}

// retractFactTx marks f (as read in tx) retracted by r and moves its keys out
// of the active indexes.
func retractFactTx(tx Txn, f *Fact, r *Retraction) error {
	for _, k := range factIndexKeys(f) {
		if err := tx.Delete(k.key); err != nil {
			return err
		}
	}
	f.Retraction = r
	return writeFact(tx, f)
}

// Batch runs fn with a writer whose writes form one transaction: all or nothing.
func (g *Graph) Batch(fn func(w *Writer) error) error {
	return g.update(func(tx Txn) error { return fn(&Writer{g: g, tx: tx}) })
}

// Writer writes into one transaction; see Graph.Batch.
type Writer struct {
	g  *Graph
	tx Txn
}

// PutNode is Graph.PutNode inside the batch.
func (w *Writer) PutNode(n *Node, text string) (PutOutcome, error) {
	return w.g.putNodeTx(w.tx, cloneNode(n), text)
}

// PutFact is Graph.PutFact inside the batch.
func (w *Writer) PutFact(f *Fact) (PutOutcome, error) { return w.g.putFactTx(w.tx, cloneFact(f)) }
