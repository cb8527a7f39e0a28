package impact_test

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"strconv"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/impact"
)

var (
	monthForm = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
	dayForm   = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
)

// bound is what a person means by v as the start (or, with end, the end)
// of a period, worked out without the service: a month, a day (the whole
// of it when it ends the period), or an RFC 3339 instant.
func bound(v string, end bool) (time.Time, bool) {
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	if m := monthForm.FindStringSubmatch(v); m != nil {
		y, mo := num(m[1]), num(m[2])
		if mo < 1 || mo > 12 {
			return time.Time{}, false
		}
		t := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
		if end {
			t = time.Date(y, time.Month(mo)+1, 1, 0, 0, 0, 0, time.UTC)
		}
		return t, true
	}
	if m := dayForm.FindStringSubmatch(v); m != nil {
		y, mo, d := num(m[1]), num(m[2]), num(m[3])
		t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
		if mo < 1 || mo > 12 || d < 1 || t.Day() != d {
			return time.Time{}, false
		}
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t.UTC(), err == nil && len(v) <= 40
}

// The period of an impact report comes from ?from= and ?to=: outside
// data. Whatever the text, Period never panics and either
//   - refuses with a validation error naming from or to (invalid,
//     before_from, period_too_long, out_of_range), exactly when a bound is
//     not a month, day or RFC 3339 time, or the period is empty, longer
//     than MaxSpan or outside the years 2000-9999; or
//   - answers the UTC instants a person means (the last twelve calendar
//     months when both are empty), start before end.
//
// The report over an accepted period splits it into contiguous calendar
// months, clipped to it, and its CSV reads back with one record per month
// plus the header and the total, each as wide as the header.
func FuzzPeriod(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"2026-01", "2026-03"}, {"2026-03-01", "2026-03-01"}, {"2026-03-01T09:00:00+01:00", "2026-03-02T09:00:00Z"},
		{"2026-03", "2026-02"}, {"2020-01", "2026-12"}, {"1999-12", "2000-02"}, {"9999-11", "9999-12"}, {"2026-13", ""},
		{"2026-02-30", ""}, {"2026-1-01", ""}, {"", "2026-02-29"}, {"2024-02-29", "2024-02-29"}, {"26-03", ""},
		{"2026-03-01T00:00:00.999999999Z", "2026-03-01T00:00:01Z"}, {"2026-03-01T00:00:00+23:59", ""},
		{"2026-03-01 00:00:00Z", ""}, {"２０２６-03", ""}, {"2026-03\x00", ""}, {"+2026-03", ""}, {"0000-01", "0001-01"},
	} {
		f.Add(s[0], s[1])
	}
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	svc := impact.New(nil, nil, nil, nil, nil, nil, clock.NewFake(now))
	f.Fuzz(func(t *testing.T, from, to string) {
		start, end, err := svc.Period(from, to)

		wantEnd := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		toOK, fromOK := true, true
		if to != "" {
			wantEnd, toOK = bound(to, true)
		}
		wantStart := wantEnd.AddDate(0, -impact.DefaultMonths, 0)
		if from != "" {
			wantStart, fromOK = bound(from, false)
		}
		wantErr := map[string]string{}
		switch {
		case !fromOK || !toOK:
			if !fromOK {
				wantErr["from"] = "invalid"
			}
			if !toOK {
				wantErr["to"] = "invalid"
			}
		case !wantStart.Before(wantEnd):
			wantErr["to"] = "before_from"
		case wantEnd.Sub(wantStart) > impact.MaxSpan:
			wantErr["from"] = "period_too_long"
		case wantStart.Year() < 2000 || wantEnd.Year() > 9999:
			wantErr["from"] = "out_of_range"
		}

		if err != nil {
			fe, ok := fault.As(err)
			if !ok || fe.Kind != fault.Invalid || !equalFields(fe.Fields, wantErr) {
				t.Fatalf("Period(%q, %q): %v, want the fields %v", from, to, err, wantErr)
			}
			return
		}
		switch {
		case len(wantErr) > 0:
			t.Fatalf("Period(%q, %q) = %v, %v; want the fields %v", from, to, start, end, wantErr)
		case !start.Equal(wantStart) || !end.Equal(wantEnd) || start.Location() != time.UTC || end.Location() != time.UTC:
			t.Fatalf("Period(%q, %q) = %v, %v; want %v, %v", from, to, start, end, wantStart, wantEnd)
		}

		r := impact.Compute(impact.Facts{}, start, end)
		if len(r.Monthly) == 0 || !r.Monthly[0].From.Equal(start) || !r.Monthly[len(r.Monthly)-1].To.Equal(end) {
			t.Fatalf("Period(%q, %q): months %v", from, to, r.Monthly)
		}
		for i, m := range r.Monthly {
			if !m.From.Before(m.To) || m.Month != m.From.Format("2006-01") || (i > 0 && !m.From.Equal(r.Monthly[i-1].To)) {
				t.Fatalf("Period(%q, %q): month %d is %s %v-%v", from, to, i, m.Month, m.From, m.To)
			}
		}
		b, err := impact.CSV(r)
		if err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(bytes.NewReader(b))
		cr.FieldsPerRecord = len(impact.CSVHeader())
		recs, err := cr.ReadAll()
		if err != nil || len(recs) != len(r.Monthly)+2 || recs[len(recs)-1][0] != "total" {
			t.Fatalf("Period(%q, %q): CSV of %d months reads back as %d records, %v", from, to, len(r.Monthly), len(recs), err)
		}
	})
}

func equalFields(got map[string]string, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
