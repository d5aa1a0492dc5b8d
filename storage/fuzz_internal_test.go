package storage

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"policygraph/errs"

	"github.com/google/uuid"
)

// FuzzIndexKeys checks that the index keys keep their parts apart: the year and
// the trailing ID read back, year order is byte order, and a predicate is never
// a prefix of another predicate's keys.
func FuzzIndexKeys(f *testing.F) {
	f.Add("SPONSORED", "MEASURE", 2019, 2023, []byte("0123456789abcdef"))
	f.Add("EVENT", "EVENT_SERIES", 0, 65535, []byte{})
	f.Fuzz(func(t *testing.T, a, b string, y1, y2 int, idB []byte) {
		if strings.IndexByte(a, 0) >= 0 || strings.IndexByte(b, 0) >= 0 {
			return // names and predicates never hold NUL (CheckText, the closed enums)
		}
		y1, y2 = y1&0xffff, y2&0xffff
		var id uuid.UUID
		copy(id[:], idB)
		k1, k2 := yearKey(Predicate(a), y1, id), yearKey(Predicate(a), y2, id)
		n := len(strKey(prefixYear, a))
		if yearAt(k1, n) != y1 || lastID(k1) != id {
			t.Fatalf("yearKey(%q, %d, %s) reads back %d %s", a, y1, id, yearAt(k1, n), lastID(k1))
		}
		if (y1 < y2) != (bytes.Compare(k1, k2) < 0) {
			t.Fatalf("years %d, %d sort as keys %x, %x", y1, y2, k1, k2)
		}
		if nk := nodeYearKey(Kind(a), y1, id); yearAt(nk, len(strKey(prefixNodeYear, a))) != y1 || lastID(nk) != id {
			t.Fatalf("nodeYearKey(%q, %d) does not read back", a, y1)
		}
		if a != b {
			pa := strKey(prefixPred, a)
			if bytes.HasPrefix(predKey(Predicate(b), id), pa) {
				t.Fatalf("predicate %q's keys start with predicate %q's prefix", b, a)
			}
			if bytes.HasPrefix(valueKey(Predicate(a), b, id), strKey(prefixValue, a, a)) && a != b {
				t.Fatalf("value %q's keys start with value %q's prefix", b, a)
			}
		}
	})
}

// FuzzSlugAndSearchTerms checks the search form of names: folding is idempotent (slugs rely
// on it: a slug must equal Slugify of itself), its output is valid UTF-8 with
// single inner spaces only, and each search term is a word-start suffix.
func FuzzSlugAndSearchTerms(f *testing.F) {
	for _, s := range []string{"Thượng Hải", "thuong  hai", "Đà Nẵng", "İstanbul", "ǅemal", "WAIC 2023", "  --  ", "ﬁne", "ß", "Ⅻ", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		folded := Fold(s)
		if !utf8.ValidString(folded) {
			t.Fatalf("Fold(%q) = %q, not valid UTF-8", s, folded)
		}
		if again := Fold(folded); again != folded {
			t.Fatalf("Fold is not idempotent: Fold(%q) = %q, Fold of that = %q", s, folded, again)
		}
		if strings.HasPrefix(folded, " ") || strings.HasSuffix(folded, " ") || strings.Contains(folded, "  ") {
			t.Fatalf("Fold(%q) = %q has stray spaces", s, folded)
		}
		if slug := Slugify(s); Slugify(slug) != slug {
			t.Fatalf("Slugify(%q) = %q, which is not its own slug (%q)", s, slug, Slugify(slug))
		}
		for _, term := range searchTerms(s) {
			if !strings.HasSuffix(folded, term) || (term != folded && folded[len(folded)-len(term)-1] != ' ') {
				t.Fatalf("search term %q of %q is not a word-start suffix of %q", term, s, folded)
			}
		}
	})
}

// FuzzParseDateExact checks that ParseDate accepts only what String writes back
// byte for byte, and that the JSON form round-trips.
func FuzzParseDateExact(f *testing.F) {
	for _, s := range []string{"2023", "2023-07", "2023-07-06", "2024-02-29", "2023-02-29", "+023", "2023-7-6", "0000", "9999-12-31", "2023-00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			if errs.CodeOf(err) != errs.InvalidDate {
				t.Fatalf("ParseDate(%q) error %v has code %q", s, err, errs.CodeOf(err))
			}
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDate(%q) = %+v, which writes as %q", s, d, d.String())
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Date
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Fatalf("JSON round trip of %q: %s -> %+v, %v", s, b, back, err)
		}
		if e := d.Earliest(); e.Year() != d.Year || (d.Month != 0 && int(e.Month()) != d.Month) || (d.Day != 0 && e.Day() != d.Day) {
			t.Fatalf("Earliest(%q) = %s", s, e)
		}
	})
}
