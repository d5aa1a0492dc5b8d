package storage

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold reduces a name to its search form: lower case, no diacritics (Vietnamese
// đ becomes d), runs of anything but letters and digits become one space.
// "Thượng Hải" and "thuong  hai" fold alike.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		space = true
	}
	return b.String()
}

// searchTerms returns the index terms of a name: its folded form from each word
// start, so that a prefix query matches the name's start or any word's start.
func searchTerms(name string) []string {
	f := Fold(name)
	if f == "" {
		return nil
	}
	terms := []string{f}
	for i := 0; i < len(f); i++ {
		if f[i] == ' ' {
			terms = append(terms, f[i+1:])
		}
	}
	return terms
}
