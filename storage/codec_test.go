package storage

import (
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
	f.Add(n)
	f.Add(fa)
	f.Add([]byte(`{"id":"00000000-0000-0000-0000-000000000000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeNode(b) // must not panic
		decodeFact(b)
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
