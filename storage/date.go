package storage

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"policygraph/errs"
)

// Precision is how much of a Date is known, as in Wikidata: "October 2022" is
// month-precise, not 2022-10-01.
type Precision string

// The precisions.
const (
	PrecisionYear  Precision = "YEAR"
	PrecisionMonth Precision = "MONTH"
	PrecisionDay   Precision = "DAY"
)

// Precisions lists every precision, coarsest first (schema order).
var Precisions = []Precision{PrecisionYear, PrecisionMonth, PrecisionDay}

// Date is a calendar date known to a precision. Month and Day are zero beyond it.
type Date struct {
	Year      int
	Month     int
	Day       int
	Precision Precision
}

// ParseDate reads "YYYY", "YYYY-MM" or "YYYY-MM-DD"; the form gives the precision.
// It returns an error with code INVALID_DATE for anything else or for a date that
// does not exist (2023-02-30).
func ParseDate(s string) (Date, error) {
	bad := func(why string) (Date, error) {
		return Date{}, errs.Errorf(errs.InvalidDate, "date", "invalid date %q: %s (want YYYY, YYYY-MM or YYYY-MM-DD)", s, why)
	}
	parts := strings.Split(s, "-")
	if len(parts) > 3 || s == "" {
		return bad("wrong form")
	}
	num := func(p string, width int) (int, bool) {
		if len(p) != width || strings.Trim(p, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.Atoi(p)
		return n, err == nil && n >= 0
	}
	d := Date{Precision: PrecisionYear}
	var ok bool
	if d.Year, ok = num(parts[0], 4); !ok || d.Year < 1 {
		return bad("year must have four digits")
	}
	if len(parts) >= 2 {
		d.Precision = PrecisionMonth
		if d.Month, ok = num(parts[1], 2); !ok || d.Month < 1 || d.Month > 12 {
			return bad("month must be 01 to 12")
		}
	}
	if len(parts) == 3 {
		d.Precision = PrecisionDay
		if d.Day, ok = num(parts[2], 2); !ok || d.Day < 1 || d.Day > daysIn(d.Year, d.Month) {
			return bad("no such day in that month")
		}
	}
	return d, nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// String formats d in the form ParseDate reads.
func (d Date) String() string {
	switch d.Precision {
	case PrecisionDay:
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
	case PrecisionMonth:
		return fmt.Sprintf("%04d-%02d", d.Year, d.Month)
	}
	return fmt.Sprintf("%04d", d.Year)
}

// DayOf is the calendar day of t, DAY-precise, as t's own offset reads it: a
// source published at 2023-07-03T02:00:00+07:00 was published on 2023-07-03,
// though it was still 2 July in UTC.
func DayOf(t time.Time) Date {
	return Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day(), Precision: PrecisionDay}
}

// Earliest is the first day the date may stand for, for ordering and ranges.
func (d Date) Earliest() time.Time {
	m, day := max(d.Month, 1), max(d.Day, 1)
	return time.Date(d.Year, time.Month(m), day, 0, 0, 0, 0, time.UTC)
}

// Before orders dates by their earliest day, then coarser before finer.
func (d Date) Before(e Date) bool {
	if a, b := d.Earliest(), e.Earliest(); !a.Equal(b) {
		return a.Before(b)
	}
	return len(d.String()) < len(e.String())
}

// MarshalJSON writes the date as its string form.
func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads the string form.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
