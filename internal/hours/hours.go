// Package hours is a place's weekly opening schedule with dated exceptions
// (holidays, closures, special hours), read in the place's own time zone:
// whether it is open at a given instant, its JSON and its one-line text form
// (the CSV column).
//
// Times are wall-clock "HH:MM" in the place's zone, never offsets: a place
// open 09:00-12:00 opens at 09:00 on the clock on the wall, before and after
// the change to summer time alike.
package hours

import (
	"time"
	"unicode/utf8"

	"civico/internal/fault"
	"civico/internal/wording"
)

// Days are the weekday keys of the JSON form, Monday first.
var Days = [7]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// Bounds of a schedule: enough for any real place, small enough that
// OpenAt stays cheap across thousands of places in a search.
const (
	MaxIntervals  = 4   // per day, or per exception
	MaxExceptions = 60  // dated exceptions kept on one place
	MaxNote       = 200 // characters of an exception's note
)

// MaxText bounds the text Parse reads: the longest text form (String) of a
// week that passes Validate, every day and exception full and every note
// 200 four-byte characters, so that whatever is exported reads back in.
// Anything longer is refused before it is looked at.
const MaxText = 7*(len("; ")+len("mon ")+maxIntervalsText) +
	MaxExceptions*(len("; ")+len("2026-12-25 ")+maxIntervalsText+len(` ""`)+MaxNote*utf8.UTFMax)

// maxIntervalsText is the length of a day's intervals, all of them used.
const maxIntervalsText = MaxIntervals*len("09:00-12:30") + MaxIntervals - 1

// The field codes Validate reports beyond the shared ones (invalid,
// too_many, too_long, required, and wording's codes for a note).
const (
	// Overlap: two intervals of one day cover the same minutes.
	Overlap = "overlap"
	// EmptyInterval: an interval opens and closes at the same time (write
	// 00:00-24:00 for a whole day).
	EmptyInterval = "empty_interval"
	// DuplicateDate: two exceptions for one date.
	DuplicateDate = "duplicate_date"
	// ClosedWithIntervals: an exception both closed and with hours.
	ClosedWithIntervals = "closed_with_intervals"
)

const minutesPerDay = 24 * 60

// Interval is an opening from Open to Close, wall-clock "HH:MM" in the
// place's time zone. A Close at or before Open crosses midnight: the
// interval belongs to the day it opens and ends the next day.
type Interval struct {
	Open, Close string
}

// Exception replaces a date's weekly intervals: Closed, or open only
// during Intervals.
type Exception struct {
	Date      string     `json:"date"` // YYYY-MM-DD, local
	Closed    bool       `json:"closed,omitempty"`
	Intervals []Interval `json:"intervals,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// Week is the weekly schedule. Its JSON form is
// {"mon":[["09:00","12:30"],["15:00","18:00"]],…,"exceptions":[{"date":"2026-12-25","closed":true}]}.
type Week struct {
	Days       [7][]Interval // index 0 is Monday
	Exceptions []Exception
}

// span is an interval as minutes from the midnight that starts the day it
// opens: [from, to), to up to 2×1440 for one that crosses midnight.
type span struct {
	from, to int
	close    string
}

// clock reads a strict "HH:MM"; "24:00" only when asClose.
func clock(s string, asClose bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h == 24 && m == 0 && asClose {
		return minutesPerDay, true
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// span is iv in minutes, false when its times are not valid.
func (iv Interval) span() (span, bool) {
	o, ok1 := clock(iv.Open, false)
	c, ok2 := clock(iv.Close, true)
	if !ok1 || !ok2 {
		return span{}, false
	}
	if c <= o {
		c += minutesPerDay
	}
	return span{o, c, iv.Close}, true
}

// date is a civil date; dates are computed at noon UTC so that no zone's
// change of offset moves them.
type date struct{ t time.Time }

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{time.Date(y, m, d, 12, 0, 0, 0, time.UTC)}
}

func (d date) add(days int) date { return date{d.t.AddDate(0, 0, days)} }
func (d date) key() string       { return d.t.Format(time.DateOnly) }
func (d date) weekday() int      { return (int(d.t.Weekday()) + 6) % 7 } // Monday 0

// on gives the intervals that open on d: its exception's if it has one
// (none when closed), else its weekday's.
func (w Week) on(d date) []Interval {
	if len(w.Exceptions) > 0 {
		k := d.key()
		for _, e := range w.Exceptions {
			if e.Date == k {
				if e.Closed {
					return nil
				}
				return e.Intervals
			}
		}
	}
	return w.Days[d.weekday()]
}

// local is t's civil date and its wall-clock minute in loc (UTC when nil).
func local(t time.Time, loc *time.Location) (date, int) {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	return dateOf(lt), lt.Hour()*60 + lt.Minute()
}

// OpenAt tells whether the place is open at t, read in loc: an interval of
// t's local date contains its wall-clock time, or an interval of the day
// before crosses midnight into it (whatever exception t's date has: the
// night's opening began the day before).
func (w Week) OpenAt(t time.Time, loc *time.Location) bool {
	d, m := local(t, loc)
	for k := -1; k <= 0; k++ {
		at := m - k*minutesPerDay
		for _, iv := range w.on(d.add(k)) {
			if s, ok := iv.span(); ok && s.from <= at && at < s.to {
				return true
			}
		}
	}
	return false
}

// Today gives the intervals that open on t's local date in loc, its
// exception applied (none when closed): the day's hours a page shows. An
// opening of the evening before that runs past midnight is not among them;
// ClosesAt tells when that one ends.
func (w Week) Today(t time.Time, loc *time.Location) []Interval {
	d, _ := local(t, loc)
	iv := w.on(d)
	if len(iv) == 0 {
		return nil
	}
	return append([]Interval(nil), iv...)
}

// closesHorizon is how many days ahead ClosesAt follows openings that
// continue one another (22:00-24:00 then 00:00-02:00) before it calls the
// place open round the clock.
const closesHorizon = 7

// ClosesAt tells, when the place is open at t (read in loc), the
// wall-clock time its opening ends, as written in the schedule, and true;
// "", false when it is closed. Openings that follow on without a gap count
// as one; a place that does not close within a week gives "", true.
func (w Week) ClosesAt(t time.Time, loc *time.Location) (string, bool) {
	d, m := local(t, loc)
	var spans []span // minutes from d's midnight
	for k := -1; k <= closesHorizon; k++ {
		for _, iv := range w.on(d.add(k)) {
			if s, ok := iv.span(); ok {
				spans = append(spans, span{s.from + k*minutesPerDay, s.to + k*minutesPerDay, s.close})
			}
		}
	}
	end, close := -1, ""
	extend := func(at int) bool { // the latest-ending span containing at
		found := false
		for _, s := range spans {
			if s.from <= at && at < s.to && s.to > end {
				end, close, found = s.to, s.close, true
			}
		}
		return found
	}
	if !extend(m) {
		return "", false
	}
	for extend(end) {
	}
	if end > closesHorizon*minutesPerDay {
		return "", true
	}
	return close, true
}

// Empty tells whether no opening hours are known: no intervals on any day
// and no exceptions.
func (w Week) Empty() bool {
	for _, d := range w.Days {
		if len(d) > 0 {
			return false
		}
	}
	return len(w.Exceptions) == 0
}

// Validate checks the schedule's bounds and syntax; a *fault.Error with
// fields such as "hours.mon" or "hours.exceptions" on failure.
func (w Week) Validate() error {
	f := fault.Fields{}
	for i, ivs := range w.Days {
		if code := checkIntervals(ivs); code != "" {
			f.Add("hours."+Days[i], code)
		}
	}
	const field = "hours.exceptions"
	f.Check(len(w.Exceptions) > MaxExceptions, field, "too_many")
	seen := make(map[string]bool, len(w.Exceptions))
	for _, e := range w.Exceptions {
		f.Check(!validDate(e.Date), field, "invalid")
		f.Check(seen[e.Date], field, DuplicateDate)
		seen[e.Date] = true
		f.Check(e.Closed && len(e.Intervals) > 0, field, ClosedWithIntervals)
		f.Check(!e.Closed && len(e.Intervals) == 0, field, "required")
		if code := checkIntervals(e.Intervals); code != "" {
			f.Add(field, code)
		}
		if code := checkNote(e.Note); code != "" {
			f.Add(field, code)
		}
	}
	return f.Err()
}

// checkIntervals is the problem with one day's intervals, or "".
func checkIntervals(ivs []Interval) string {
	if len(ivs) > MaxIntervals {
		return "too_many"
	}
	spans := make([]span, 0, len(ivs))
	for _, iv := range ivs {
		s, ok := iv.span()
		if !ok {
			return "invalid"
		}
		// Equal times would be a whole day or nothing: 00:00-24:00 says which.
		if iv.Open == iv.Close {
			return EmptyInterval
		}
		spans = append(spans, s)
	}
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if a.from < b.to && b.from < a.to {
				return Overlap
			}
		}
	}
	return ""
}

// validDate is a real calendar date written YYYY-MM-DD.
func validDate(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Format(time.DateOnly) == s
}

// checkNote is the problem with a note, or "". A note must be in the
// normal form of one line (wording.Line), which Parse and UnmarshalJSON
// put it in, so that the text form stays one line and reads back the same.
func checkNote(s string) string {
	if p := wording.Problem(s); p != "" {
		return p
	}
	if utf8.RuneCountInString(s) > MaxNote {
		return "too_long"
	}
	if s != wording.Line(s) {
		return "invalid"
	}
	return ""
}
