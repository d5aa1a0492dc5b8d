package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/google/uuid"
)

// The record codec: how Node and Fact values are stored under their 'n' and 'f'
// keys. Every read and write of a record goes through encodeNode, decodeNode,
// encodeFact and decodeFact.
//
// Format 2 records are compact binary: a tag byte (recordNode or recordFact),
// then the fields in a fixed order; strings and lists are a uvarint length and
// their bytes, integers are varints, IDs 16 raw bytes, times their
// MarshalBinary form behind a length, optional parts a presence byte. Decoding
// one is about ten times cheaper than decoding JSON, which dominated CPU
// profiles of the headline query (see BENCHMARKS.md). Format 1 stored JSON;
// decode still reads it (the first byte is '{'), so a format-1 store opens and
// its records are rewritten in the compact form as they change.
//
// A fact record may end with optional fields, each a tag byte and its
// payload, which a record without them does not hold: a record written
// before a field existed decodes unchanged, and one without the field
// encodes byte for byte as it did (so stores need no migration, and exports
// and backups of them do not change): factInference (Fact.Inference) and
// factDisputedBy (Fact.DisputedBy).
//
// A revision record (recordRevision, under an 'r' key) is the entity's node
// and the revision's number, time and author, then the previous node record
// as encodeNode writes it.

const (
	recordNode     byte = 0xA1
	recordFact     byte = 0xA2
	recordRevision byte = 0xA3
)

// The optional trailing fields of a fact record, in the order they are
// written (ascending tags, each at most once); an unknown tag is a malformed
// record.
const (
	factInference  byte = 0x01 // the rule, then the reasoning
	factDisputedBy byte = 'D'  // a count, then that many IDs
)

var errBadRecord = errors.New("malformed record")

type encoder struct{ b []byte }

func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) int(i int)       { e.b = binary.AppendVarint(e.b, int64(i)) }
func (e *encoder) id(id uuid.UUID) { e.b = append(e.b, id[:]...) }
func (e *encoder) float(f float64) { e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(f)) }
func (e *encoder) flag(ok bool) bool {
	if ok {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	return ok
}
func (e *encoder) time(t time.Time) {
	tb, err := t.MarshalBinary()
	if err != nil { // a zone offset that is not a whole minute; keep the instant
		tb, _ = t.UTC().MarshalBinary()
	}
	e.b = append(e.b, byte(len(tb)))
	e.b = append(e.b, tb...)
}
func (e *encoder) retraction(r *Retraction) {
	if e.flag(r != nil) {
		e.str(r.By)
		e.time(r.At)
		e.str(r.Reason)
	}
}
func (e *encoder) date(d *Date) {
	if e.flag(d != nil) {
		e.int(d.Year)
		e.int(d.Month)
		e.int(d.Day)
		e.str(string(d.Precision))
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = errBadRecord
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}
func (d *decoder) str() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = errBadRecord
		return ""
	}
	d.b = d.b[k:]
	return string(d.take(int(n)))
}
func (d *decoder) int() int {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.err = errBadRecord
		return 0
	}
	d.b = d.b[k:]
	return int(v)
}
func (d *decoder) count() int {
	n := d.int()
	if n < 0 || n > len(d.b) { // every element takes at least one byte
		d.err = errBadRecord
		return 0
	}
	return n
}
func (d *decoder) id() (id uuid.UUID) { copy(id[:], d.take(16)); return id }
func (d *decoder) float() float64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b))
}
func (d *decoder) flag() bool {
	b := d.take(1)
	return b != nil && b[0] == 1
}
func (d *decoder) time() (t time.Time) {
	n := d.take(1)
	if n == nil {
		return t
	}
	if err := t.UnmarshalBinary(d.take(int(n[0]))); err != nil && d.err == nil {
		d.err = errBadRecord
	}
	return t
}
func (d *decoder) retraction() *Retraction {
	if !d.flag() {
		return nil
	}
	return &Retraction{By: d.str(), At: d.time(), Reason: d.str()}
}
func (d *decoder) date() *Date {
	if !d.flag() {
		return nil
	}
	return &Date{Year: d.int(), Month: d.int(), Day: d.int(), Precision: Precision(d.str())}
}

func encodeNode(n *Node) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 160+len(n.Description))}
	e.b = append(e.b, recordNode)
	e.id(n.ID)
	for _, s := range []string{string(n.Kind), n.Slug, n.Name} {
		e.str(s)
	}
	e.int(len(n.Labels))
	for _, l := range n.Labels {
		e.str(l.Lang)
		e.str(l.Text)
	}
	e.int(len(n.Aliases))
	for _, a := range n.Aliases {
		e.str(a)
	}
	e.str(n.Description)
	e.int(n.Year)
	for _, s := range []string{n.OrgType, n.PlaceType, n.Code, n.ProductType, n.Status, n.Programme,
		n.Title, n.TitleEn, n.Author, n.Publisher, n.PublisherNote} {
		e.str(s)
	}
	if e.flag(n.PublishedAt != nil) {
		e.time(*n.PublishedAt)
	}
	e.str(n.Language)
	e.str(n.URL)
	e.time(n.CreatedAt)
	e.time(n.UpdatedAt)
	e.str(n.CreatedBy)
	e.retraction(n.Retraction)
	return e.b, nil
}

func decodeNode(b []byte) (*Node, error) {
	n := new(Node)
	if len(b) > 0 && b[0] == '{' {
		return n, json.Unmarshal(b, n)
	}
	if len(b) == 0 || b[0] != recordNode {
		return nil, errBadRecord
	}
	d := decoder{b: b[1:]}
	n.ID = d.id()
	n.Kind, n.Slug, n.Name = Kind(d.str()), d.str(), d.str()
	if c := d.count(); c > 0 {
		n.Labels = make([]Label, c)
		for i := range n.Labels {
			n.Labels[i] = Label{Lang: d.str(), Text: d.str()}
		}
	}
	if c := d.count(); c > 0 {
		n.Aliases = make([]string, c)
		for i := range n.Aliases {
			n.Aliases[i] = d.str()
		}
	}
	n.Description = d.str()
	n.Year = d.int()
	for _, p := range []*string{&n.OrgType, &n.PlaceType, &n.Code, &n.ProductType, &n.Status, &n.Programme,
		&n.Title, &n.TitleEn, &n.Author, &n.Publisher, &n.PublisherNote} {
		*p = d.str()
	}
	if d.flag() {
		t := d.time()
		n.PublishedAt = &t
	}
	n.Language, n.URL = d.str(), d.str()
	n.CreatedAt, n.UpdatedAt = d.time(), d.time()
	n.CreatedBy = d.str()
	n.Retraction = d.retraction()
	if d.err == nil && len(d.b) != 0 {
		d.err = errBadRecord
	}
	return n, d.err
}

func encodeFact(f *Fact) ([]byte, error) {
	size := 128
	for _, ev := range f.Evidence {
		size += len(ev.Quote) + len(ev.Gloss) + len(ev.Note) + 24
	}
	e := encoder{b: make([]byte, 0, size)}
	e.b = append(e.b, recordFact)
	e.id(f.ID)
	e.id(f.Subject)
	e.str(string(f.Predicate))
	e.id(f.Object)
	e.str(f.Value)
	e.str(f.Measure)
	if q := f.Quantity; e.flag(q != nil) {
		e.float(q.Amount)
		e.str(string(q.Bound))
		if e.flag(q.Upper != nil) {
			e.float(*q.Upper)
		}
		e.str(q.Unit)
	}
	e.str(string(f.Tier))
	e.str(f.Role)
	e.flag(f.Former)
	e.flag(f.Negated)
	e.date(f.Date)
	e.date(f.Start)
	e.date(f.End)
	e.int(f.Year)
	e.int(len(f.Evidence))
	for _, ev := range f.Evidence {
		e.id(ev.Source)
		e.str(ev.Quote)
		e.str(ev.Gloss)
		e.str(ev.Note)
	}
	e.time(f.CreatedAt)
	e.str(f.CreatedBy)
	e.retraction(f.Retraction)
	if in := f.Inference; in != nil {
		e.b = append(e.b, factInference)
		e.str(in.Rule)
		e.str(in.Reasoning)
	}
	if len(f.DisputedBy) > 0 {
		e.b = append(e.b, factDisputedBy)
		e.int(len(f.DisputedBy))
		for _, id := range f.DisputedBy {
			e.id(id)
		}
	}
	return e.b, nil
}

func decodeFact(b []byte) (*Fact, error) {
	f := new(Fact)
	if len(b) > 0 && b[0] == '{' {
		return f, json.Unmarshal(b, f)
	}
	if len(b) == 0 || b[0] != recordFact {
		return nil, errBadRecord
	}
	d := decoder{b: b[1:]}
	f.ID, f.Subject = d.id(), d.id()
	f.Predicate = Predicate(d.str())
	f.Object = d.id()
	f.Value, f.Measure = d.str(), d.str()
	if d.flag() {
		q := &Quantity{Amount: d.float(), Bound: Bound(d.str())}
		if d.flag() {
			u := d.float()
			q.Upper = &u
		}
		q.Unit = d.str()
		f.Quantity = q
	}
	f.Tier, f.Role = Tier(d.str()), d.str()
	f.Former, f.Negated = d.flag(), d.flag()
	f.Date, f.Start, f.End = d.date(), d.date(), d.date()
	f.Year = d.int()
	if c := d.count(); c > 0 {
		f.Evidence = make([]Evidence, c)
		for i := range f.Evidence {
			f.Evidence[i] = Evidence{Source: d.id(), Quote: d.str(), Gloss: d.str(), Note: d.str()}
		}
	}
	f.CreatedAt = d.time()
	f.CreatedBy = d.str()
	f.Retraction = d.retraction()
	// The optional fields: each at most once, in tag order.
	last := byte(0)
	for d.err == nil && len(d.b) > 0 {
		tag := d.take(1)[0]
		if tag <= last {
			d.err = errBadRecord
			break
		}
		last = tag
		switch tag {
		case factInference:
			f.Inference = &Inference{Rule: d.str(), Reasoning: d.str()}
		case factDisputedBy:
			c := d.count()
			f.DisputedBy = make([]uuid.UUID, c)
			for i := range f.DisputedBy {
				f.DisputedBy[i] = d.id()
			}
		default:
			d.err = errBadRecord
		}
	}
	return f, d.err
}

func encodeRevision(r *Revision) ([]byte, error) {
	node, err := encodeNode(r.Previous)
	if err != nil {
		return nil, err
	}
	e := encoder{b: make([]byte, 0, 64+len(r.By)+len(node))}
	e.b = append(e.b, recordRevision)
	e.id(r.Node)
	e.int(r.Seq)
	e.time(r.At)
	e.str(r.By)
	e.b = append(e.b, node...)
	return e.b, nil
}

func decodeRevision(b []byte) (*Revision, error) {
	if len(b) == 0 || b[0] != recordRevision {
		return nil, errBadRecord
	}
	d := decoder{b: b[1:]}
	r := &Revision{Node: d.id(), Seq: d.int(), At: d.time(), By: d.str()}
	if d.err != nil {
		return nil, d.err
	}
	n, err := decodeNode(d.b)
	if err != nil {
		return nil, err
	}
	r.Previous = n
	return r, nil
}
