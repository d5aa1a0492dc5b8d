package storage_test

import (
	"encoding/json"
	"testing"
	"time"

	"policygraph/errs"
	"policygraph/storage"
)

func TestParseDate(t *testing.T) {
	good := []struct {
		in   string
		want storage.Date
	}{
		{"2022", storage.Date{Year: 2022, Precision: storage.PrecisionYear}},
		{"2022-10", storage.Date{Year: 2022, Month: 10, Precision: storage.PrecisionMonth}},
		{"2023-07-06", storage.Date{Year: 2023, Month: 7, Day: 6, Precision: storage.PrecisionDay}},
		{"2024-02-29", storage.Date{Year: 2024, Month: 2, Day: 29, Precision: storage.PrecisionDay}},
		{"2000-02-29", storage.Date{Year: 2000, Month: 2, Day: 29, Precision: storage.PrecisionDay}},
		{"2023-12-31", storage.Date{Year: 2023, Month: 12, Day: 31, Precision: storage.PrecisionDay}},
		{"0001", storage.Date{Year: 1, Precision: storage.PrecisionYear}},
		{"9999-01", storage.Date{Year: 9999, Month: 1, Precision: storage.PrecisionMonth}},
	}
	for _, tt := range good {
		t.Run(tt.in, func(t *testing.T) {
			d, err := storage.ParseDate(tt.in)
			if err != nil {
				t.Fatalf("ParseDate(%q): %v", tt.in, err)
			}
			if d != tt.want {
				t.Errorf("ParseDate(%q) = %+v, want %+v", tt.in, d, tt.want)
			}
			if d.String() != tt.in {
				t.Errorf("String() = %q, want %q", d.String(), tt.in)
			}
		})
	}
	bad := []string{
		"", "22", "202", "20222", "2022-1", "2022-13", "2022-00", "2022-10-5", "2022-10-05-01",
		"2023-02-29", "1900-02-29", "2023-04-31", "2023-01-32", "2023-01-00", "0000", "abcd", "2022-ab",
		"2022/10", "2022-", "-2022", "2022--10", " 2022", "2022 ", "2022-10-", "２０２２",
	}
	for _, in := range bad {
		t.Run("bad "+in, func(t *testing.T) {
			d, err := storage.ParseDate(in)
			wantCode(t, err, errs.InvalidDate, "date")
			if d != (storage.Date{}) {
				t.Errorf("ParseDate(%q) returned %+v with its error", in, d)
			}
		})
	}
}

// ParseDate's num helper uses strconv.Atoi after a length check, and Atoi takes a sign.
func TestParseDateRejectsSigns(t *testing.T) {
	for _, in := range []string{"+022", "2022-+1", "2022-01-+5"} {
		if d, err := storage.ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = %v, want INVALID_DATE", in, d)
		}
	}
}

// FuzzParseDate checks that whatever ParseDate accepts, String() writes in a
// form that parses to the same Date.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2022", "2022-10", "2023-07-06", "2024-02-29", "2023-02-29", "+022"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := storage.ParseDate(s)
		if err != nil {
			if errs.CodeOf(err) != errs.InvalidDate {
				t.Fatalf("ParseDate(%q) error %v has code %q, want INVALID_DATE", s, err, errs.CodeOf(err))
			}
			return
		}
		again, err := storage.ParseDate(d.String())
		if err != nil {
			t.Fatalf("ParseDate(%q) = %+v, whose String() %q does not parse: %v", s, d, d.String(), err)
		}
		if again != d {
			t.Fatalf("ParseDate(%q) = %+v, but its String() %q parses to %+v", s, d, d.String(), again)
		}
	})
}

func TestDateOrder(t *testing.T) {
	tests := []struct {
		a, b   string
		before bool
	}{
		{"2022", "2023", true},
		{"2023", "2022", false},
		{"2022-10", "2022-11", true},
		{"2022", "2022-01", true},  // coarser first on the same earliest day
		{"2022-01", "2022", false}, //
		{"2022-01", "2022-01-01", true},
		{"2022-12", "2023", true},
		{"2023-07-06", "2023-07-08", true},
		{"2023-07-06", "2023-07-06", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			a, b := *date(t, tt.a), *date(t, tt.b)
			if got := a.Before(b); got != tt.before {
				t.Errorf("%s.Before(%s) = %v, want %v", tt.a, tt.b, got, tt.before)
			}
		})
	}
	if got := date(t, "2022-10").Earliest(); !got.Equal(time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Earliest(2022-10) = %v", got)
	}
}

func TestDateJSON(t *testing.T) {
	type wrap struct {
		D storage.Date `json:"d"`
	}
	for _, s := range []string{"2022", "2022-10", "2023-07-06"} {
		b, err := json.Marshal(wrap{*date(t, s)})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"d":"` + s + `"}`; string(b) != want {
			t.Errorf("Marshal = %s, want %s", b, want)
		}
		var w wrap
		if err := json.Unmarshal(b, &w); err != nil || w.D != *date(t, s) {
			t.Errorf("Unmarshal(%s) = %+v, %v", b, w.D, err)
		}
	}
	var w wrap
	for _, in := range []string{`{"d":"2023-02-29"}`, `{"d":2022}`} {
		if err := json.Unmarshal([]byte(in), &w); err == nil {
			t.Errorf("Unmarshal(%s) accepted a bad date: %+v", in, w.D)
		}
	}
}

// TestDayOf: the day of a timestamp is the day its own offset reads, at DAY
// precision, whatever the day in UTC.
func TestDayOf(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"2023-07-03T22:51:00+07:00", "2023-07-03"},
		{"2023-07-03T02:00:00+07:00", "2023-07-03"}, // 2 July in UTC
		{"2023-07-03T23:30:00-05:00", "2023-07-03"}, // 4 July in UTC
		{"2024-02-29T00:00:00Z", "2024-02-29"},
	} {
		ts, err := time.Parse(time.RFC3339, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		d := storage.DayOf(ts)
		if d.String() != tt.want || d.Precision != storage.PrecisionDay {
			t.Errorf("DayOf(%s) = %s %s, want %s DAY", tt.in, d, d.Precision, tt.want)
		}
		if _, err := storage.ParseDate(d.String()); err != nil {
			t.Errorf("DayOf(%s) = %s, which ParseDate refuses: %v", tt.in, d, err)
		}
	}
}
