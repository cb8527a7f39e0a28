package hours_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Rome on machines without a zone database

	"civico/internal/fault"
	"civico/internal/hours"
)

func rome(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// week reads a schedule written in the text form, which reads more
// plainly in a table than the struct.
func week(t testing.TB, s string) hours.Week {
	t.Helper()
	w, err := hours.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return w
}

// inRome is the instant the clocks in Rome show as "2006-01-02 15:04".
func inRome(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, rome(t))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func utc(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// 2026-06-05 is a Friday, 2026-12-25 too; 2026-12-24 and 2026-12-31 are
// Thursdays. Summer time ends on Sunday 2026-10-25 (03:00 CEST becomes
// 02:00 CET) and starts on Sunday 2027-03-28 (02:00 CET becomes 03:00 CEST).
func TestOpenAt(t *testing.T) {
	const (
		friNight  = "fri 22:00-02:00"
		twoNights = "fri,sat 22:00-02:00"
		office    = "mon-fri 09:00-12:30,15:00-18:00"
		holiday   = office + "; 2026-12-25 closed"
		eve       = office + "; 2026-12-24 09:00-12:00 \"Vigilia\""
		daily     = "mon-sun 09:00-12:00"
		night     = "sun 01:00-04:00"
	)
	tests := []struct {
		name, week, at string // at in Rome's wall-clock time, or RFC 3339 when it ends in Z
		open           bool
	}{
		{"before a night opening", friNight, "2026-06-05 21:59", false},
		{"night opening starts", friNight, "2026-06-05 22:00", true},
		{"night opening before midnight", friNight, "2026-06-05 23:59", true},
		{"Friday's night opening on Saturday at 01:00", friNight, "2026-06-06 01:00", true},
		{"night opening ends", friNight, "2026-06-06 02:00", false},
		{"Saturday at 03:00", friNight, "2026-06-06 03:00", false},
		{"Sunday 01:00 without a Saturday night", friNight, "2026-06-07 01:00", false},
		{"Sunday 01:00 after a Saturday night", twoNights, "2026-06-07 01:00", true},
		{"Thursday night", friNight, "2026-06-04 23:00", false},
		{"the night runs into a closed Saturday", twoNights + "; 2026-06-06 closed", "2026-06-06 01:00", true},
		{"the closed Saturday's own night", twoNights + "; 2026-06-06 closed", "2026-06-06 23:00", false},
		{"after the closed Saturday", twoNights + "; 2026-06-06 closed", "2026-06-07 01:00", false},
		{"an exception's night crosses into the new year", "2026-12-31 22:00-03:00", "2027-01-01 02:00", true},
		{"whole day, first minute", "sun 00:00-24:00", "2026-06-07 00:00", true},
		{"whole day, last minute", "sun 00:00-24:00", "2026-06-07 23:59", true},
		{"whole day over", "sun 00:00-24:00", "2026-06-08 00:00", false},
		{"open till midnight, last minute", "fri 22:00-24:00", "2026-06-05 23:59", true},
		{"open till midnight, next day", "fri 22:00-24:00", "2026-06-06 00:00", false},

		{"a Friday morning", holiday, "2026-12-18 10:00", true},
		{"Christmas on a Friday", holiday, "2026-12-25 10:00", false},
		{"Christmas afternoon", holiday, "2026-12-25 16:00", false},
		{"after Christmas", holiday, "2026-12-28 10:00", true},
		{"special hours: open", eve, "2026-12-24 11:59", true},
		{"special hours: closed before the usual 12:30", eve, "2026-12-24 12:15", false},
		{"special hours: no afternoon", eve, "2026-12-24 16:00", false},
		{"the day before: afternoon", eve, "2026-12-23 16:00", true},
		{"lunch break", office, "2026-06-05 13:00", false},
		{"closing time", office, "2026-06-05 18:00", false},
		{"a weekend", office, "2026-06-06 10:00", false},

		// Spring forward: 09:30 on the wall is 08:30Z in winter, 07:30Z in summer.
		{"09:30 CET the day before", daily, "2027-03-27T08:30:00Z", true},
		{"08:30 CET the day before", daily, "2027-03-27T07:30:00Z", false},
		{"09:30 CEST on the day", daily, "2027-03-28T07:30:00Z", true},
		{"08:59 CEST on the day", daily, "2027-03-28T06:59:00Z", false},
		{"12:30 CEST on the day", daily, "2027-03-28T10:30:00Z", false},
		{"00:59 CET, before a 01:00 opening", night, "2027-03-27T23:59:00Z", false},
		{"01:00 CET", night, "2027-03-28T00:00:00Z", true},
		{"01:59 CET", night, "2027-03-28T00:59:00Z", true},
		{"03:00 CEST, straight after 01:59", night, "2027-03-28T01:00:00Z", true},
		{"03:59 CEST", night, "2027-03-28T01:59:00Z", true},
		{"04:00 CEST", night, "2027-03-28T02:00:00Z", false},
		{"closing at 02:30, which never comes: 01:59", "sat 22:00-02:30", "2027-03-28T00:59:00Z", true},
		{"closing at 02:30, which never comes: 03:00", "sat 22:00-02:30", "2027-03-28T01:00:00Z", false},

		// Fall back: 09:30 is 07:30Z in summer, 08:30Z in winter; 02:00-02:59 comes twice.
		{"09:30 CEST the day before", daily, "2026-10-24T07:30:00Z", true},
		{"09:30 CET on the day", daily, "2026-10-25T08:30:00Z", true},
		{"08:30 CET on the day", daily, "2026-10-25T07:30:00Z", false},
		{"11:59 CET on the day", daily, "2026-10-25T10:59:00Z", true},
		{"12:00 CET on the day", daily, "2026-10-25T11:00:00Z", false},
		{"00:59 CEST", night, "2026-10-24T22:59:00Z", false},
		{"01:00 CEST", night, "2026-10-24T23:00:00Z", true},
		{"02:30 CEST, the first time", night, "2026-10-25T00:30:00Z", true},
		{"02:30 CET, the second time", night, "2026-10-25T01:30:00Z", true},
		{"03:59 CET", night, "2026-10-25T02:59:00Z", true},
		{"04:00 CET", night, "2026-10-25T03:00:00Z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := week(t, tc.week)
			var at time.Time
			if strings.HasSuffix(tc.at, "Z") {
				at = utc(t, tc.at)
			} else {
				at = inRome(t, tc.at)
			}
			if got := w.OpenAt(at, rome(t)); got != tc.open {
				t.Errorf("%q OpenAt %s (%s in Rome) = %v, want %v", tc.week, tc.at, at.In(rome(t)).Format("Mon 15:04 MST"), got, tc.open)
			}
			// ClosesAt, which the PWA shows as "open until", agrees.
			if _, open := w.ClosesAt(at, rome(t)); open != tc.open {
				t.Errorf("ClosesAt says open=%v where OpenAt says %v", open, tc.open)
			}
		})
	}
}

// The zone decides: one instant is mid-morning in Rome and night in New York.
func TestOpenAtZone(t *testing.T) {
	w := week(t, "mon-fri 09:00-12:00")
	at := utc(t, "2026-06-05T08:00:00Z")
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	if !w.OpenAt(at, rome(t)) {
		t.Error("closed at 10:00 in Rome")
	}
	if w.OpenAt(at, ny) {
		t.Error("open at 04:00 in New York")
	}
	if w.OpenAt(at, nil) {
		t.Error("open at 08:00 UTC with no zone given")
	}
	if !w.OpenAt(utc(t, "2026-06-05T09:00:00Z"), nil) {
		t.Error("a nil zone is not read as UTC")
	}
}

func TestToday(t *testing.T) {
	w := week(t, "mon-fri 09:00-12:30,15:00-18:00; fri 22:00-02:00; 2026-12-25 closed; 2026-12-24 09:00-12:00")
	iv := func(o, c string) hours.Interval { return hours.Interval{Open: o, Close: c} }
	tests := []struct {
		name, at string
		want     []hours.Interval
	}{
		{"a Wednesday", "2026-12-23 08:00", []hours.Interval{iv("09:00", "12:30"), iv("15:00", "18:00")}},
		{"special hours", "2026-12-24 20:00", []hours.Interval{iv("09:00", "12:00")}},
		{"holiday", "2026-12-25 10:00", nil},
		{"a Friday with its night", "2026-06-05 10:00", []hours.Interval{iv("09:00", "12:30"), iv("15:00", "18:00"), iv("22:00", "02:00")}},
		{"Saturday inside Friday's night: Saturday's own hours", "2026-06-06 01:00", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := w.Today(inRome(t, tc.at), rome(t))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Today(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
	// The caller may change what it got without changing the schedule.
	got := w.Today(inRome(t, "2026-12-23 08:00"), rome(t))
	got[0].Open = "00:00"
	if w.Days[2][0].Open != "09:00" {
		t.Error("Today hands out the schedule's own slice")
	}
}

func TestClosesAt(t *testing.T) {
	const office = "mon-fri 09:00-12:30,15:00-18:00; 2026-12-24 09:00-12:00; 2026-12-25 closed"
	tests := []struct {
		name, week, at string
		want           string
		open           bool
	}{
		{"morning", office, "2026-12-23 10:00", "12:30", true},
		{"afternoon", office, "2026-12-23 17:59", "18:00", true},
		{"lunch break", office, "2026-12-23 13:00", "", false},
		{"special hours", office, "2026-12-24 11:00", "12:00", true},
		{"holiday", office, "2026-12-25 11:00", "", false},
		{"inside last night's opening", "fri 22:00-02:00", "2026-06-06 01:00", "02:00", true},
		{"before midnight", "fri 22:00-02:00", "2026-06-05 23:00", "02:00", true},
		{"openings that follow on count as one", "fri 22:00-24:00; sat 00:00-02:00", "2026-06-05 23:00", "02:00", true},
		{"back to back in a day", "mon 09:00-12:00,12:00-14:00", "2026-06-01 10:00", "14:00", true},
		{"midnight as written", "fri 20:00-24:00", "2026-06-05 21:00", "24:00", true},
		{"round the clock", "mon-sun 00:00-24:00", "2026-06-05 21:00", "", true},
		{"an exception ends a run", "mon-sun 00:00-24:00; 2026-06-07 closed", "2026-06-05 21:00", "24:00", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, open := week(t, tc.week).ClosesAt(inRome(t, tc.at), rome(t))
			if got != tc.want || open != tc.open {
				t.Errorf("ClosesAt(%s) = %q, %v; want %q, %v", tc.at, got, open, tc.want, tc.open)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	tests := []struct {
		name  string
		week  hours.Week
		empty bool
	}{
		{"nothing", hours.Week{}, true},
		{"empty days", hours.Week{Days: [7][]hours.Interval{{}, {}}}, true},
		{"one interval", hours.Week{Days: [7][]hours.Interval{6: {{Open: "09:00", Close: "12:00"}}}}, false},
		{"only a closure", hours.Week{Exceptions: []hours.Exception{{Date: "2026-12-25", Closed: true}}}, false},
	}
	for _, tc := range tests {
		if got := tc.week.Empty(); got != tc.empty {
			t.Errorf("%s: Empty() = %v", tc.name, got)
		}
	}
}

// fields asserts err is a validation error naming field with code.
func fields(t *testing.T, err error, field, code string) {
	t.Helper()
	e, ok := fault.As(err)
	if !ok {
		t.Fatalf("error %v is not a *fault.Error", err)
	}
	if e.Kind != fault.Invalid || e.Fields[field] != code {
		t.Fatalf("error %v (fields %v), want %s: %s", err, e.Fields, field, code)
	}
}

func TestValidate(t *testing.T) {
	iv := func(o, c string) hours.Interval { return hours.Interval{Open: o, Close: c} }
	day := func(i int, ivs ...hours.Interval) hours.Week {
		var w hours.Week
		w.Days[i] = ivs
		return w
	}
	exc := func(es ...hours.Exception) hours.Week { return hours.Week{Exceptions: es} }
	many := func(n int) hours.Week {
		var w hours.Week
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			w.Exceptions = append(w.Exceptions, hours.Exception{Date: start.AddDate(0, 0, i).Format(time.DateOnly), Closed: true})
		}
		return w
	}
	tests := []struct {
		name        string
		week        hours.Week
		field, code string // "" when valid
	}{
		{"nothing", hours.Week{}, "", ""},
		{"two intervals", day(0, iv("09:00", "12:30"), iv("15:00", "18:00")), "", ""},
		{"whole day", day(6, iv("00:00", "24:00")), "", ""},
		{"across midnight", day(4, iv("22:00", "02:00")), "", ""},
		{"till midnight", day(4, iv("22:00", "24:00")), "", ""},
		{"back to back", day(0, iv("09:00", "12:00"), iv("12:00", "14:00")), "", ""},
		{"a night and an early morning", day(0, iv("00:00", "02:00"), iv("22:00", "03:00")), "", ""},
		{"four intervals", day(1, iv("08:00", "09:00"), iv("10:00", "11:00"), iv("12:00", "13:00"), iv("14:00", "15:00")), "", ""},
		{"60 exceptions", many(60), "", ""},
		{"special hours with a note", exc(hours.Exception{Date: "2026-12-24", Intervals: []hours.Interval{iv("09:00", "12:00")}, Note: "Vigilia di Natale"}), "", ""},
		{"a 200-character note", exc(hours.Exception{Date: "2026-12-25", Closed: true, Note: strings.Repeat("è", 200)}), "", ""},

		{"one-digit hour", day(0, iv("9:00", "12:00")), "hours.mon", "invalid"},
		{"24:00 as an opening", day(0, iv("24:00", "02:00")), "hours.mon", "invalid"},
		{"minute 60", day(2, iv("09:00", "23:60")), "hours.wed", "invalid"},
		{"hour 25", day(3, iv("09:00", "25:00")), "hours.thu", "invalid"},
		{"24:30", day(3, iv("09:00", "24:30")), "hours.thu", "invalid"},
		{"no time", day(5, iv("", "12:00")), "hours.sat", "invalid"},
		{"dot", day(6, iv("09.00", "12:00")), "hours.sun", "invalid"},
		{"five intervals", day(1, iv("08:00", "09:00"), iv("10:00", "11:00"), iv("12:00", "13:00"), iv("14:00", "15:00"), iv("16:00", "17:00")), "hours.tue", "too_many"},
		{"overlap", day(2, iv("09:00", "12:00"), iv("11:00", "13:00")), "hours.wed", hours.Overlap},
		{"one inside another", day(2, iv("09:00", "18:00"), iv("11:00", "13:00")), "hours.wed", hours.Overlap},
		{"overlap across midnight", day(4, iv("22:00", "02:00"), iv("23:00", "23:30")), "hours.fri", hours.Overlap},
		{"twice the same", day(4, iv("09:00", "12:00"), iv("09:00", "12:00")), "hours.fri", hours.Overlap},
		{"opens and closes at once", day(0, iv("09:00", "09:00")), "hours.mon", hours.EmptyInterval},
		{"midnight to midnight", day(0, iv("00:00", "00:00")), "hours.mon", hours.EmptyInterval},
		{"61 exceptions", many(61), "hours.exceptions", "too_many"},
		{"February 30", exc(hours.Exception{Date: "2026-02-30", Closed: true}), "hours.exceptions", "invalid"},
		{"one-digit month", exc(hours.Exception{Date: "2026-2-03", Closed: true}), "hours.exceptions", "invalid"},
		{"day first", exc(hours.Exception{Date: "25-12-2026", Closed: true}), "hours.exceptions", "invalid"},
		{"no date", exc(hours.Exception{Closed: true}), "hours.exceptions", "invalid"},
		{"a date twice", exc(hours.Exception{Date: "2026-12-25", Closed: true}, hours.Exception{Date: "2026-12-25", Intervals: []hours.Interval{iv("09:00", "12:00")}}), "hours.exceptions", hours.DuplicateDate},
		{"closed with hours", exc(hours.Exception{Date: "2026-12-25", Closed: true, Intervals: []hours.Interval{iv("09:00", "12:00")}}), "hours.exceptions", hours.ClosedWithIntervals},
		{"neither closed nor hours", exc(hours.Exception{Date: "2026-12-25", Note: "?"}), "hours.exceptions", "required"},
		{"bad special hours", exc(hours.Exception{Date: "2026-12-24", Intervals: []hours.Interval{iv("09:00", "12:00"), iv("10:00", "11:00")}}), "hours.exceptions", hours.Overlap},
		{"a 201-character note", exc(hours.Exception{Date: "2026-12-25", Closed: true, Note: strings.Repeat("è", 201)}), "hours.exceptions", "too_long"},
		{"a note of two lines", exc(hours.Exception{Date: "2026-12-25", Closed: true, Note: "Natale\nchiuso"}), "hours.exceptions", "invalid"},
		{"a note with spaces round it", exc(hours.Exception{Date: "2026-12-25", Closed: true, Note: " Natale"}), "hours.exceptions", "invalid"},
		{"a note that reads backwards", exc(hours.Exception{Date: "2026-12-25", Closed: true, Note: "\u202eelataN"}), "hours.exceptions", "invisible_characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.week.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			fields(t, err, tc.field, tc.code)
		})
	}
}
