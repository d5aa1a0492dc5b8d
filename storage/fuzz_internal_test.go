package storage

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"policygraph/errs"
)

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
