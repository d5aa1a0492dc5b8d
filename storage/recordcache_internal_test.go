package storage

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRecordWeight: the weight the record cache gives a decoded record is at
// least the memory it takes (measured over many decodes), for records of
// many small strings and of a few long ones.
func TestRecordWeight(t *testing.T) {
	now := time.Now().UTC()
	tiny := make([]string, MaxAliases)
	for i := range tiny {
		tiny[i] = fmt.Sprint(i % 10)
	}
	nodes := map[string]*Node{
		"plain": {ID: uuid.New(), Kind: KindOrganization, Slug: "acme", Name: "Acme", CreatedAt: now, UpdatedAt: now},
		"many small strings": {ID: uuid.New(), Kind: KindOrganization, Slug: "a", Name: "A", Aliases: tiny,
			Labels: []Label{{"vi", "Ă"}, {"zh", "甲"}, {"fr", "A"}}, OrgType: "C", CreatedAt: now, UpdatedAt: now},
		"long text": {ID: uuid.New(), Kind: KindSource, Slug: "s", Name: strings.Repeat("n", MaxNameLen),
			Description: strings.Repeat("d", MaxTextLen), Title: "t", PublishedAt: &now, CreatedAt: now, UpdatedAt: now,
			Retraction: &Retraction{By: "x", At: now, Reason: strings.Repeat("r", 100)}},
	}
	ev := make([]Evidence, MaxEvidence)
	for i := range ev {
		ev[i] = Evidence{Source: uuid.New(), Quote: "q", Gloss: "g"}
	}
	facts := map[string]*Fact{
		"literal": {ID: uuid.New(), Subject: uuid.New(), Predicate: "COUNTRY", Value: "US", Evidence: ev[:1], CreatedAt: now},
		"many small evidence": {ID: uuid.New(), Subject: uuid.New(), Predicate: "SPONSORED", Object: uuid.New(), Tier: TierSponsor,
			Date: &Date{Year: 2023, Precision: "YEAR"}, Quantity: &Quantity{Amount: 1, Bound: BoundAbout}, Evidence: ev, CreatedAt: now},
		"long evidence": {ID: uuid.New(), Subject: uuid.New(), Predicate: "MENTIONS", Object: uuid.New(),
			Evidence: []Evidence{{Quote: strings.Repeat("q", MaxTextLen), Gloss: strings.Repeat("g", MaxTextLen)}}, CreatedAt: now},
	}
	measure := func(decode func() any) int64 {
		const n = 2000
		keep := make([]any, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range keep {
			keep[i] = decode()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return (int64(after.HeapAlloc) - int64(before.HeapAlloc) - n*16) / n // less keep's own slots
	}
	for name, n := range nodes {
		b, _ := encodeNode(n)
		got := measure(func() any { d, _ := decodeNode(b); return d })
		d, _ := decodeNode(b)
		if w := nodeWeight(d); w < got {
			t.Errorf("node %s: weighed %d, takes %d", name, w, got)
		} else {
			t.Logf("node %s (%d bytes encoded): weighed %d, takes %d", name, len(b), w, got)
		}
	}
	for name, f := range facts {
		b, _ := encodeFact(f)
		got := measure(func() any { d, _ := decodeFact(b); return d })
		d, _ := decodeFact(b)
		if w := factWeight(d); w < got {
			t.Errorf("fact %s: weighed %d, takes %d", name, w, got)
		} else {
			t.Logf("fact %s (%d bytes encoded): weighed %d, takes %d", name, len(b), w, got)
		}
	}
}
