package api

import (
	"encoding/json"
	"testing"
)

// TestCSVValue: what a cell holds for each kind of JSON value, formula
// neutralising included (OWASP: a leading ' for =, +, -, @, tab, CR). A JSON
// number is a number, so -5 stays -5; the same text as a string does not.
func TestCSVValue(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, ""},
		{json.Number("-5"), "-5"},
		{json.Number("12345678901234567890"), "12345678901234567890"}, // digits kept, not a float64
		{json.Number("1e3"), "1e3"},
		{"-5", "'-5"},
		{"=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"},
		{"+1", "'+1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"x=1", "x=1"},
		{"", ""},
		{true, "true"},
		{[]any{"a", json.Number("2")}, "a; 2"},
		{[]any{json.Number("-5"), json.Number("3")}, "'-5; 3"}, // a list is text, not a number
		{[]any{"=x"}, "'=x"},
		{map[string]any{"k": "v"}, `{"k":"v"}`},
	} {
		if got := csvValue(tc.in); got != tc.want {
			t.Errorf("csvValue(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
