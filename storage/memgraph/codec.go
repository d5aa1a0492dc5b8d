package memgraph

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"policygraph/storage"
)

// The model's record codec: storage.Node and storage.Fact kept as compact
// bytes (the layout is drawn in doc.go). It differs from the store's codec
// (storage/codec.go) in what it can assume inside one model: references are
// internal IDs, categorical strings are dictionary IDs, evidence quotes are
// spans of their source's text, times drop the bytes that never vary, and
// absent optional fields take no byte at all. Decoding gives exactly what
// the store's codec gives for the same record (TestCodecMatchesStore).

var errBadRecord = errors.New("memgraph: malformed record")

// noNode is the internal ID of "no entity": the object of a literal fact.
const noNode = ^uint32(0)

// Kinds and predicates are one byte: their index in kindList and predList.
// predList is sorted by name, so that predicate order is byte order, as in
// the store's keys.
var (
	kindList  = slices.Clone(storage.Kinds)
	kindIndex = indexOf(kindList)
	predList  = func() []storage.Predicate {
		ps := make([]storage.Predicate, len(storage.Predicates))
		for i, s := range storage.Predicates {
			ps[i] = s.Predicate
		}
		slices.Sort(ps)
		return ps
	}()
	predIndex = indexOf(predList)
)

func indexOf[T comparable](xs []T) map[T]uint8 {
	m := make(map[T]uint8, len(xs))
	for i, x := range xs {
		m[x] = uint8(i)
	}
	return m
}

// dict interns categorical strings (org types, tiers, country codes, authors
// of writes...): ID 0 is "". It only grows; strs is shared with the
// snapshots, which each keep the slice header of their time, so appending
// never disturbs a reader. One writer adds to it (the model's, or a
// builder); drafts look strings up from other goroutines, so ids is written
// under mu, and read under it by all but the writer.
type dict struct {
	strs []string
	mu   sync.RWMutex
	ids  map[string]uint32
}

func newDict() *dict { return &dict{strs: []string{""}, ids: map[string]uint32{"": 0}} }

func (d *dict) id(s string) uint32 {
	if id, ok := d.ids[s]; ok {
		return id
	}
	id := uint32(len(d.strs))
	s = string([]byte(s)) // do not keep a caller's larger string alive
	d.strs = append(d.strs, s)
	d.mu.Lock()
	d.ids[s] = id
	d.mu.Unlock()
	return id
}

func (d *dict) table() []string { return d.strs }

// lookup is id without adding: for another goroutine than the writer.
func (d *dict) lookup(s string) (uint32, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	id, ok := d.ids[s]
	return id, ok
}

// interner gives categorical strings their dictionary IDs: a dict, or a
// draft's private continuation of one (draftDict).
type interner interface {
	id(s string) uint32
	// table is the dictionary as of now: ID -> string.
	table() []string
}

// refs is what encoding needs from the model being written: the internal ID
// of an entity, and the span of a quote in its source's text.
type refs interface {
	nodeIID(id uuid.UUID) (uint32, bool)
	quoteSpan(source uint32, quote string) (blob, off uint32, ok bool)
}

// Node record presence bits.
const (
	nLabels = 1 << iota
	nAliases
	nDescription
	nYear
	nClass
	nSourceMeta
	nPublished
	nUpdated
	nCreatedBy
	nRetraction
)

// Fact record presence bits.
const (
	fObject = 1 << iota
	fValue
	fMeasure
	fQuantity
	fTier
	fRole
	fFormer
	fNegated
	fDate
	fStart
	fEnd
	fYear
	fCreatedBy
	fRetraction
	fDisputedBy
	fInference // storage.Fact.Inference: its rule (dictionary) and reasoning, last
)

// Quantity and evidence presence bits.
const (
	qIntAmount = 1 << iota
	qUpper
	qBound
	qUnit
)
const (
	eSourceIID = 1 << iota
	eQuoteSpan
	eGloss
	eNote
)

type enc struct {
	b []byte
	d interner
}

func (e *enc) uv(v uint64)      { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) sv(v int64)       { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(s string)     { e.uv(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) dictStr(s string) { e.uv(uint64(e.d.id(s))) }

// timeEpoch is 2020-01-01 in the seconds of time's binary form, so that
// recent times are short varints.
var timeEpoch = func() int64 {
	b, _ := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).MarshalBinary()
	return int64(binary.BigEndian.Uint64(b[1:9]))
}()

// tm appends t as the fields of its MarshalBinary form (what the store's
// codec keeps): a header byte (version in bits 0-1, bit 2 nanoseconds
// present, bit 3 zone offset present, i.e. not UTC), the seconds from
// timeEpoch as a varint, then the present parts. Decoding rebuilds the
// binary form and unmarshals it, so zones come back as the store gives them.
func (e *enc) tm(t time.Time) {
	tb, err := t.MarshalBinary()
	if err != nil { // as the store's codec: keep the instant
		tb, _ = t.UTC().MarshalBinary()
	}
	e.timeBytes(tb)
}

func (e *enc) timeBytes(tb []byte) {
	ver := tb[0]
	sec := int64(binary.BigEndian.Uint64(tb[1:9]))
	nsec := binary.BigEndian.Uint32(tb[9:13])
	off := int16(binary.BigEndian.Uint16(tb[13:15]))
	h := ver & 3
	if nsec != 0 {
		h |= 4
	}
	if off != -1 {
		h |= 8
	}
	e.b = append(e.b, h)
	e.sv(sec - timeEpoch)
	if nsec != 0 {
		e.uv(uint64(nsec))
	}
	if off != -1 {
		e.sv(int64(off))
	}
	if ver == 2 {
		e.b = append(e.b, tb[15])
	}
}

func (e *enc) date(d *storage.Date) {
	e.sv(int64(d.Year))
	e.uv(uint64(d.Month))
	e.uv(uint64(d.Day))
	e.dictStr(string(d.Precision))
}

func (e *enc) retraction(r *storage.Retraction) {
	e.dictStr(r.By)
	e.tm(r.At)
	e.str(r.Reason)
}

// sameTime reports whether a and b have the same stored form.
func sameTime(a, b time.Time) bool {
	x, err1 := a.MarshalBinary()
	y, err2 := b.MarshalBinary()
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// encodeNode appends n's record to buf. The ID is not in the record: it is
// the key of the ID index.
func encodeNode(buf []byte, d interner, n *storage.Node) ([]byte, error) {
	k, ok := kindIndex[n.Kind]
	if !ok {
		return buf, fmt.Errorf("node %s: unknown kind %q", n.ID, n.Kind)
	}
	e := enc{b: buf, d: d}
	e.b = append(e.b, k)
	e.str(n.Slug)
	e.str(n.Name)
	var m uint64
	set := func(bit uint64, ok bool) {
		if ok {
			m |= bit
		}
	}
	set(nLabels, len(n.Labels) > 0)
	set(nAliases, len(n.Aliases) > 0)
	set(nDescription, n.Description != "")
	set(nYear, n.Year != 0)
	set(nClass, n.OrgType != "" || n.PlaceType != "" || n.Code != "" || n.ProductType != "" || n.Status != "" || n.Programme != "")
	set(nSourceMeta, n.Title != "" || n.TitleEn != "" || n.Author != "" || n.Publisher != "" || n.PublisherNote != "" || n.Language != "" || n.URL != "")
	set(nPublished, n.PublishedAt != nil)
	set(nUpdated, !sameTime(n.CreatedAt, n.UpdatedAt))
	set(nCreatedBy, n.CreatedBy != "")
	set(nRetraction, n.Retraction != nil)
	e.uv(m)
	if m&nLabels != 0 {
		e.uv(uint64(len(n.Labels)))
		for _, l := range n.Labels {
			e.dictStr(l.Lang)
			e.str(l.Text)
		}
	}
	if m&nAliases != 0 {
		e.uv(uint64(len(n.Aliases)))
		for _, a := range n.Aliases {
			e.str(a)
		}
	}
	if m&nDescription != 0 {
		e.str(n.Description)
	}
	if m&nYear != 0 {
		e.sv(int64(n.Year))
	}
	if m&nClass != 0 {
		for _, s := range []string{n.OrgType, n.PlaceType, n.Code, n.ProductType, n.Status, n.Programme} {
			e.dictStr(s)
		}
	}
	if m&nSourceMeta != 0 {
		e.str(n.Title)
		e.str(n.TitleEn)
		e.str(n.Author)
		e.dictStr(n.Publisher)
		e.str(n.PublisherNote)
		e.dictStr(n.Language)
		e.str(n.URL)
	}
	if m&nPublished != 0 {
		e.tm(*n.PublishedAt)
	}
	e.tm(n.CreatedAt)
	if m&nUpdated != 0 {
		e.tm(n.UpdatedAt)
	}
	if m&nCreatedBy != 0 {
		e.dictStr(n.CreatedBy)
	}
	if m&nRetraction != 0 {
		e.retraction(n.Retraction)
	}
	return e.b, nil
}

// encodeFact appends f's record to buf, with its entities as internal IDs
// and its quotes as spans where r finds them.
func encodeFact(buf []byte, d interner, r refs, f *storage.Fact) ([]byte, error) {
	p, ok := predIndex[f.Predicate]
	if !ok {
		return buf, fmt.Errorf("fact %s: unknown predicate %q", f.ID, f.Predicate)
	}
	subj, ok := r.nodeIID(f.Subject)
	if !ok {
		return buf, fmt.Errorf("fact %s: no subject entity %s", f.ID, f.Subject)
	}
	obj := noNode
	if f.Object != uuid.Nil {
		if obj, ok = r.nodeIID(f.Object); !ok {
			return buf, fmt.Errorf("fact %s: no object entity %s", f.ID, f.Object)
		}
	}
	e := enc{b: buf, d: d}
	e.b = append(e.b, p)
	e.uv(uint64(subj))
	var m uint64
	set := func(bit uint64, ok bool) {
		if ok {
			m |= bit
		}
	}
	set(fObject, obj != noNode)
	set(fValue, f.Value != "")
	set(fMeasure, f.Measure != "")
	set(fQuantity, f.Quantity != nil)
	set(fTier, f.Tier != "")
	set(fRole, f.Role != "")
	set(fFormer, f.Former)
	set(fNegated, f.Negated)
	set(fDate, f.Date != nil)
	set(fStart, f.Start != nil)
	set(fEnd, f.End != nil)
	set(fYear, f.Year != 0)
	set(fCreatedBy, f.CreatedBy != "")
	set(fRetraction, f.Retraction != nil)
	set(fDisputedBy, len(f.DisputedBy) > 0)
	set(fInference, f.Inference != nil)
	e.uv(m)
	if m&fObject != 0 {
		e.uv(uint64(obj))
	}
	if m&fValue != 0 {
		e.dictStr(f.Value)
	}
	if m&fMeasure != 0 {
		e.dictStr(f.Measure)
	}
	if q := f.Quantity; q != nil {
		var qm byte
		if a := int64(q.Amount); float64(a) == q.Amount && (q.Amount != 0 || !math.Signbit(q.Amount)) {
			qm |= qIntAmount
		}
		if q.Upper != nil {
			qm |= qUpper
		}
		if q.Bound != "" {
			qm |= qBound
		}
		if q.Unit != "" {
			qm |= qUnit
		}
		e.b = append(e.b, qm)
		if qm&qIntAmount != 0 {
			e.sv(int64(q.Amount))
		} else {
			e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(q.Amount))
		}
		if q.Upper != nil {
			e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(*q.Upper))
		}
		if q.Bound != "" {
			e.dictStr(string(q.Bound))
		}
		if q.Unit != "" {
			e.dictStr(q.Unit)
		}
	}
	if m&fTier != 0 {
		e.dictStr(string(f.Tier))
	}
	if m&fRole != 0 {
		e.str(f.Role)
	}
	for _, dt := range []*storage.Date{f.Date, f.Start, f.End} {
		if dt != nil {
			e.date(dt)
		}
	}
	if m&fYear != 0 {
		e.sv(int64(f.Year))
	}
	e.uv(uint64(len(f.Evidence)))
	for _, ev := range f.Evidence {
		var em byte
		src, srcOK := r.nodeIID(ev.Source)
		var blob, off uint32
		spanOK := false
		if srcOK {
			em |= eSourceIID
			if blob, off, spanOK = r.quoteSpan(src, ev.Quote); spanOK {
				em |= eQuoteSpan
			}
		}
		if ev.Gloss != "" {
			em |= eGloss
		}
		if ev.Note != "" {
			em |= eNote
		}
		e.b = append(e.b, em)
		if srcOK {
			e.uv(uint64(src))
		} else {
			e.b = append(e.b, ev.Source[:]...)
		}
		if spanOK {
			e.uv(uint64(blob))
			e.uv(uint64(off))
			e.uv(uint64(len(ev.Quote)))
		} else {
			e.str(ev.Quote)
		}
		if ev.Gloss != "" {
			e.str(ev.Gloss)
		}
		if ev.Note != "" {
			e.str(ev.Note)
		}
	}
	e.tm(f.CreatedAt)
	if m&fCreatedBy != 0 {
		e.dictStr(f.CreatedBy)
	}
	if m&fRetraction != 0 {
		e.retraction(f.Retraction)
	}
	if m&fDisputedBy != 0 {
		e.uv(uint64(len(f.DisputedBy)))
		for _, id := range f.DisputedBy {
			e.b = append(e.b, id[:]...)
		}
	}
	if m&fInference != 0 {
		e.dictStr(f.Inference.Rule)
		e.str(f.Inference.Reasoning)
	}
	return e.b, nil
}

// dec reads a record. Strings are not copied: they point into the record's
// bytes, which are never modified once written (a base slab, or a record
// of the overlay), so a decoded record is as immutable as its source.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errBadRecord
	}
	d.b = nil
}

func (d *dec) byte1() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) uv() uint64 {
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *dec) sv() int64 {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *dec) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *dec) str() string {
	b := d.take(d.uv())
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// count reads a list length, refusing one longer than the bytes left (every
// element takes at least one byte).
func (d *dec) count() int {
	n := d.uv()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) dictStr(strs []string) string {
	id := d.uv()
	if id >= uint64(len(strs)) {
		d.fail()
		return ""
	}
	return strs[id]
}

func (d *dec) u64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *dec) tm() (t time.Time) {
	h := d.byte1()
	var tb [16]byte
	tb[0] = h & 3
	binary.BigEndian.PutUint64(tb[1:9], uint64(d.sv()+timeEpoch))
	if h&4 != 0 {
		binary.BigEndian.PutUint32(tb[9:13], uint32(d.uv()))
	}
	off := int16(-1)
	if h&8 != 0 {
		off = int16(d.sv())
	}
	binary.BigEndian.PutUint16(tb[13:15], uint16(off))
	n := 15
	if tb[0] == 2 {
		tb[15] = d.byte1()
		n = 16
	}
	if d.err != nil {
		return t
	}
	if err := t.UnmarshalBinary(tb[:n]); err != nil {
		d.fail()
	}
	return t
}

func (d *dec) date(strs []string) *storage.Date {
	return &storage.Date{Year: int(d.sv()), Month: int(d.uv()), Day: int(d.uv()), Precision: storage.Precision(d.dictStr(strs))}
}

func (d *dec) retraction(strs []string) *storage.Retraction {
	return &storage.Retraction{By: d.dictStr(strs), At: d.tm(), Reason: d.str()}
}

// decodeNode decodes a node record; strs is the dictionary of the snapshot
// reading it.
func decodeNode(b []byte, id uuid.UUID, strs []string) (*storage.Node, error) {
	d := dec{b: b}
	k := d.byte1()
	if int(k) >= len(kindList) {
		return nil, errBadRecord
	}
	n := &storage.Node{ID: id, Kind: kindList[k], Slug: d.str(), Name: d.str()}
	m := d.uv()
	if m&nLabels != 0 {
		n.Labels = make([]storage.Label, d.count())
		for i := range n.Labels {
			n.Labels[i] = storage.Label{Lang: d.dictStr(strs), Text: d.str()}
		}
	}
	if m&nAliases != 0 {
		n.Aliases = make([]string, d.count())
		for i := range n.Aliases {
			n.Aliases[i] = d.str()
		}
	}
	if m&nDescription != 0 {
		n.Description = d.str()
	}
	if m&nYear != 0 {
		n.Year = int(d.sv())
	}
	if m&nClass != 0 {
		for _, p := range []*string{&n.OrgType, &n.PlaceType, &n.Code, &n.ProductType, &n.Status, &n.Programme} {
			*p = d.dictStr(strs)
		}
	}
	if m&nSourceMeta != 0 {
		n.Title, n.TitleEn, n.Author = d.str(), d.str(), d.str()
		n.Publisher, n.PublisherNote = d.dictStr(strs), d.str()
		n.Language, n.URL = d.dictStr(strs), d.str()
	}
	if m&nPublished != 0 {
		t := d.tm()
		n.PublishedAt = &t
	}
	n.CreatedAt = d.tm()
	n.UpdatedAt = n.CreatedAt
	if m&nUpdated != 0 {
		n.UpdatedAt = d.tm()
	}
	if m&nCreatedBy != 0 {
		n.CreatedBy = d.dictStr(strs)
	}
	if m&nRetraction != 0 {
		n.Retraction = d.retraction(strs)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errBadRecord
	}
	return n, d.err
}

// resolver is what decoding a fact needs from the snapshot reading it: the
// UUID of an internal ID, and the text of a blob.
type resolver interface {
	nodeUUID(iid uint32) uuid.UUID
	blob(id uint32) (string, bool)
}

// decodeFact decodes a fact record.
func decodeFact(b []byte, id uuid.UUID, strs []string, r resolver) (*storage.Fact, error) {
	d := dec{b: b}
	p := d.byte1()
	if int(p) >= len(predList) {
		return nil, errBadRecord
	}
	f := &storage.Fact{ID: id, Predicate: predList[p]}
	f.Subject = r.nodeUUID(uint32(d.uv()))
	m := d.uv()
	if m&fObject != 0 {
		f.Object = r.nodeUUID(uint32(d.uv()))
	}
	if m&fValue != 0 {
		f.Value = d.dictStr(strs)
	}
	if m&fMeasure != 0 {
		f.Measure = d.dictStr(strs)
	}
	if m&fQuantity != 0 {
		q := &storage.Quantity{}
		qm := d.byte1()
		if qm&qIntAmount != 0 {
			q.Amount = float64(d.sv())
		} else {
			q.Amount = math.Float64frombits(d.u64())
		}
		if qm&qUpper != 0 {
			u := math.Float64frombits(d.u64())
			q.Upper = &u
		}
		if qm&qBound != 0 {
			q.Bound = storage.Bound(d.dictStr(strs))
		}
		if qm&qUnit != 0 {
			q.Unit = d.dictStr(strs)
		}
		f.Quantity = q
	}
	if m&fTier != 0 {
		f.Tier = storage.Tier(d.dictStr(strs))
	}
	if m&fRole != 0 {
		f.Role = d.str()
	}
	f.Former, f.Negated = m&fFormer != 0, m&fNegated != 0
	if m&fDate != 0 {
		f.Date = d.date(strs)
	}
	if m&fStart != 0 {
		f.Start = d.date(strs)
	}
	if m&fEnd != 0 {
		f.End = d.date(strs)
	}
	if m&fYear != 0 {
		f.Year = int(d.sv())
	}
	if c := d.count(); c > 0 {
		f.Evidence = make([]storage.Evidence, c)
		for i := range f.Evidence {
			ev := &f.Evidence[i]
			em := d.byte1()
			if em&eSourceIID != 0 {
				ev.Source = r.nodeUUID(uint32(d.uv()))
			} else {
				copy(ev.Source[:], d.take(16))
			}
			if em&eQuoteSpan != 0 {
				blob, off, n := d.uv(), d.uv(), d.uv()
				text, ok := r.blob(uint32(blob))
				if !ok || off+n > uint64(len(text)) {
					d.fail()
				} else {
					ev.Quote = text[off : off+n]
				}
			} else {
				ev.Quote = d.str()
			}
			if em&eGloss != 0 {
				ev.Gloss = d.str()
			}
			if em&eNote != 0 {
				ev.Note = d.str()
			}
		}
	} else {
		// The store's codec gives an empty list as nil, and so do we.
		f.Evidence = nil
	}
	f.CreatedAt = d.tm()
	if m&fCreatedBy != 0 {
		f.CreatedBy = d.dictStr(strs)
	}
	if m&fRetraction != 0 {
		f.Retraction = d.retraction(strs)
	}
	if m&fDisputedBy != 0 {
		f.DisputedBy = make([]uuid.UUID, d.count())
		for i := range f.DisputedBy {
			copy(f.DisputedBy[i][:], d.take(16))
		}
	}
	if m&fInference != 0 {
		f.Inference = &storage.Inference{Rule: d.dictStr(strs), Reasoning: d.str()}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errBadRecord
	}
	return f, d.err
}

// factMeta is what the indexes need of a fact, read from its record without
// decoding the rest.
type factMeta struct {
	pred    uint8
	subject uint32
	object  uint32 // noNode for a literal fact
	state   storage.FactState
	value   uint32 // dictionary ID of the value, 0 for none
	year    int
}

// peekFact reads a fact record's indexed fields.
func peekFact(b []byte) (fm factMeta, err error) {
	d := dec{b: b}
	fm.pred = d.byte1()
	fm.subject = uint32(d.uv())
	m := d.uv()
	fm.object = noNode
	if m&fObject != 0 {
		fm.object = uint32(d.uv())
	}
	if m&fValue != 0 {
		fm.value = uint32(d.uv())
	}
	switch {
	case m&fRetraction != 0:
		fm.state = storage.Retracted
	case m&fNegated != 0:
		fm.state = storage.Negated
	}
	if m&fYear == 0 {
		return fm, d.err
	}
	// The year follows the measure, quantity, tier, role and dates.
	if m&fMeasure != 0 {
		d.uv()
	}
	if m&fQuantity != 0 {
		qm := d.byte1()
		if qm&qIntAmount != 0 {
			d.sv()
		} else {
			d.take(8)
		}
		if qm&qUpper != 0 {
			d.take(8)
		}
		if qm&qBound != 0 {
			d.uv()
		}
		if qm&qUnit != 0 {
			d.uv()
		}
	}
	if m&fTier != 0 {
		d.uv()
	}
	if m&fRole != 0 {
		d.take(d.uv())
	}
	for _, bit := range []uint64{fDate, fStart, fEnd} {
		if m&bit != 0 {
			d.sv()
			d.uv()
			d.uv()
			d.uv()
		}
	}
	fm.year = int(d.sv())
	return fm, d.err
}

// nodeSlug reads a node record's slug without decoding the rest.
func nodeSlug(b []byte) string {
	d := dec{b: b[1:]}
	return d.str()
}
