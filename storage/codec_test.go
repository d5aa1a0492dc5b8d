package storage

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCodecRoundTrip(t *testing.T) {
	at := time.Date(2023, 7, 6, 9, 0, 0, 123, time.FixedZone("", 7*3600))
	upper := 30000.0
	nodes := []*Node{
		{ID: uuid.New(), Kind: KindOrganization, Slug: "qualcomm", Name: "Qualcomm", CreatedAt: at.UTC(), UpdatedAt: at.UTC()},
		{ID: uuid.New(), Kind: KindSource, Slug: "s", Name: "Bài báo", Labels: []Label{{"vi", "Thượng Hải"}, {"en", "Shanghai"}},
			Aliases: []string{"a", ""}, Description: "d", Year: 2023, Title: "t", PublishedAt: &at, Language: "vi",
			URL: "https://x", CreatedBy: "seed", Retraction: &Retraction{By: "me", At: at, Reason: "why"}},
	}
	for _, n := range nodes {
		b, _ := encodeNode(n)
		got, err := decodeNode(b)
		if err != nil || !sameJSON(t, got, n) {
			t.Errorf("node round trip: %v\n got %+v\nwant %+v", err, got, n)
		}
		if _, err := decodeNode(b[:len(b)-1]); err == nil {
			t.Errorf("a truncated node record decodes")
		}
		j, _ := json.Marshal(n)
		if got, err := decodeNode(j); err != nil || !sameJSON(t, got, n) {
			t.Errorf("format 1 (JSON) node: %v", err)
		}
	}
	facts := []*Fact{
		{ID: uuid.New(), Subject: uuid.New(), Predicate: PredSponsored, Object: uuid.New(), Tier: TierElitePartner, Year: 2023,
			Evidence: []Evidence{{Source: uuid.New(), Quote: "“q”", Gloss: "g"}}, CreatedAt: at},
		{ID: uuid.New(), Subject: uuid.New(), Predicate: PredMeasure, Measure: "m", Quantity: &Quantity{Amount: 20000, Bound: BoundRange, Upper: &upper, Unit: "people"},
			Former: true, Negated: true, Date: &Date{Year: 2022, Month: 10, Precision: PrecisionMonth}, Start: &Date{Year: 1, Precision: PrecisionYear},
			End: &Date{Year: 2, Month: 2, Day: 2, Precision: PrecisionDay}, Evidence: []Evidence{{Quote: "a", Note: "n"}, {Quote: "b"}},
			CreatedBy: "c", Retraction: &Retraction{By: "x", At: at, Reason: "r"}},
	}
	for _, f := range facts {
		b, _ := encodeFact(f)
		got, err := decodeFact(b)
		if err != nil || !reflect.DeepEqual(got.Evidence, f.Evidence) || !sameJSON(t, got, f) {
			t.Errorf("fact round trip: %v\n got %+v\nwant %+v", err, got, f)
		}
		if _, err := decodeFact(append(b, 0)); err == nil {
			t.Errorf("a fact record with trailing bytes decodes")
		}
	}
}

func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func FuzzDecodeRecord(f *testing.F) {
	n, _ := encodeNode(&Node{ID: uuid.New(), Kind: KindEvent, Slug: "e", Name: "E", Labels: []Label{{"en", "E"}}})
	fa, _ := encodeFact(&Fact{ID: uuid.New(), Predicate: PredCountry, Value: "US", Evidence: []Evidence{{Quote: "q"}}})
	in, _ := encodeFact(&Fact{ID: uuid.New(), Predicate: PredCountry, Value: "CN", Evidence: []Evidence{{Quote: "q"}},
		Inference: &Inference{Rule: "COUNTRY_FROM_NAME", Reasoning: "r"}})
	rv, _ := encodeRevision(&Revision{Node: uuid.New(), Seq: 1, By: "b", Previous: &Node{Kind: KindEvent, Name: "E"}})
	f.Add(n)
	f.Add(fa)
	f.Add(in)
	f.Add(rv)
	f.Add([]byte(`{"id":"00000000-0000-0000-0000-000000000000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeNode(b) // must not panic
		decodeFact(b)
		decodeRevision(b)
	})
}

// TestCodecDisputedBy: a fact's dispute links round trip in a tagged section
// after the fields records had before it; a record without it (every record
// written before) decodes with none, and an unknown section is malformed.
func TestCodecDisputedBy(t *testing.T) {
	f := &Fact{ID: uuid.New(), Subject: uuid.New(), Predicate: PredCountry, Value: "CN", Evidence: []Evidence{{Quote: "q"}}}
	plain, _ := encodeFact(f)
	d := cloneFact(f)
	d.DisputedBy = []uuid.UUID{uuid.New(), uuid.New()}
	b, _ := encodeFact(d)
	if string(b[:len(plain)]) != string(plain) {
		t.Fatal("the dispute section changed the fields before it")
	}
	got, err := decodeFact(b)
	if err != nil || !reflect.DeepEqual(got.DisputedBy, d.DisputedBy) || !got.Disputed() {
		t.Errorf("DisputedBy round trip: %v %v", err, got)
	}
	if got, err := decodeFact(plain); err != nil || got.DisputedBy != nil || got.Disputed() {
		t.Errorf("a record without the section: %v %v", err, got)
	}
	if _, err := decodeFact(b[:len(b)-1]); err == nil {
		t.Error("a truncated dispute section decodes")
	}
	if _, err := decodeFact(append(plain, 'Z', 0)); err == nil {
		t.Error("an unknown section decodes")
	}
}

// TestFactRecordWrittenBeforeInference decodes a fact record as the codec
// wrote it before Fact.Inference existed (commit bd9ae47, hex below), and
// encodes it back byte for byte; an inferred fact's record is that record
// with its inference after it, and decodes to it.
func TestFactRecordWrittenBeforeInference(t *testing.T) {
	old, err := hex.DecodeString("a2ffeeddccbbaa9988776655443322110000112233445566778899aabbccddeeff07434f554e54525900000000000000000000000000000000025553000000000000000000000200112233445566778899aabbccddeef00171016708696e6665727265640f010000000edc38799000000000ffff0473656564010763757261746f720f010000000edc38799000000000ffff0172")
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeFact(old)
	if err != nil {
		t.Fatalf("an old record does not decode: %v", err)
	}
	if f.Value != "US" || f.Inference != nil || f.Retraction == nil || f.Evidence[0].Note != "inferred" {
		t.Fatalf("old record = %+v", f)
	}
	if b, _ := encodeFact(f); !bytes.Equal(b, old) {
		t.Errorf("re-encoded differently:\n got %x\nwant %x", b, old)
	}
	f.Inference = &Inference{Rule: "COUNTRY_FROM_CONTRAST", Reasoning: "set against the only US sponsor"}
	b, _ := encodeFact(f)
	if !bytes.HasPrefix(b, old) {
		t.Errorf("an inferred fact's record does not start with the record without it")
	}
	got, err := decodeFact(b)
	if err != nil || !sameJSON(t, got, f) {
		t.Errorf("inferred fact round trip: %v\n got %+v\nwant %+v", err, got, f)
	}
	for name, bad := range map[string][]byte{
		"an unknown field":      append(bytes.Clone(old), 0x7f),
		"a field twice":         append(bytes.Clone(b), b[len(old):]...),
		"a truncated inference": b[:len(b)-1],
	} {
		if _, err := decodeFact(bad); err == nil {
			t.Errorf("%s decodes", name)
		}
	}
}

func TestRevisionRecordRoundTrip(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	r := &Revision{Node: uuid.New(), Seq: 3, At: at, By: "curator",
		Previous: &Node{ID: uuid.New(), Kind: KindOrganization, Slug: "q", Name: "Q", Aliases: []string{"a"}, CreatedAt: at, UpdatedAt: at}}
	b, err := encodeRevision(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRevision(b)
	if err != nil || !sameJSON(t, got, r) {
		t.Errorf("revision round trip: %v\n got %+v\nwant %+v", err, got, r)
	}
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-1], append(bytes.Clone(b), 0)} {
		if _, err := decodeRevision(bad); err == nil {
			t.Errorf("a damaged revision record %x decodes", bad)
		}
	}
}
