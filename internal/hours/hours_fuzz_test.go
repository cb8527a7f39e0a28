package hours_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"civico/internal/fault"
	"civico/internal/hours"
)

// fuzzInstants are the moments each fuzzed week is asked about: around
// midnight, and both changes of summer time in Rome.
var fuzzInstants = []string{
	"2026-06-05T21:30:00Z", "2026-06-05T23:59:00Z", "2026-06-06T00:00:00Z",
	"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2027-03-28T00:59:00Z",
	"2027-03-28T01:00:00Z", "2026-12-25T09:00:00Z",
}

// fuzzSeeds are the samples small enough to seed a fuzz target: the
// mutator and the minimizer crawl over a 50 KB input (the unit tests take
// that one).
func fuzzSeeds() []hours.Week {
	var out []hours.Week
	for _, w := range samples() {
		if len(w.String()) < 1000 {
			out = append(out, w)
		}
	}
	return out
}

// checkReading asks w about fuzzInstants: no panic, and ClosesAt agrees
// with OpenAt.
func checkReading(t *testing.T, loc *time.Location, instants []time.Time, w hours.Week) {
	t.Helper()
	for i, at := range instants {
		s := fuzzInstants[i]
		open := w.OpenAt(at, loc)
		if _, ok := w.ClosesAt(at, loc); ok != open {
			t.Fatalf("%q at %s: OpenAt %v, ClosesAt %v", w, s, open, ok)
		}
		w.Today(at, loc)
	}
}

// readingAt loads the zone and instants once: each fuzz input is read
// at all of them.
func readingAt(f *testing.F) (*time.Location, []time.Time) {
	f.Helper()
	loc := rome(f)
	var instants []time.Time
	for _, s := range fuzzInstants {
		instants = append(instants, utc(f, s))
	}
	return loc, instants
}

// checkTextRoundTrip: a valid week's text form reads back as the same week.
func checkTextRoundTrip(t *testing.T, w hours.Week) {
	t.Helper()
	s := w.String()
	back, err := hours.Parse(s)
	if err != nil {
		t.Fatalf("Parse(String()) of %#v: %v\ntext %q", w, err, s)
	}
	if !reflect.DeepEqual(back, w) {
		t.Fatalf("Parse(%q)\n = %#v\nwant %#v", s, back, w)
	}
	if back.String() != s {
		t.Fatalf("String is not stable: %q then %q", s, back.String())
	}
}

// checkJSONRoundTrip: a valid week's JSON reads back as the same week.
func checkJSONRoundTrip(t *testing.T, w hours.Week) []byte {
	t.Helper()
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", w, err)
	}
	var back hours.Week
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if !reflect.DeepEqual(back, w) {
		t.Fatalf("Unmarshal(%s)\n = %#v\nwant %#v", b, back, w)
	}
	b2, err := json.Marshal(back)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("Marshal is not stable: %s then %s (%v)", b, b2, err)
	}
	return b
}

// The text form is what a CSV import hands over: whatever it is, Parse
// does not panic, answers a *fault.Error or a valid week, and a week it
// reads writes back to text and JSON that read as the same week.
func FuzzParse(f *testing.F) {
	for _, w := range fuzzSeeds() {
		f.Add(w.String())
	}
	for _, s := range []string{
		"", ";", "mon", "mon-fri 09:00-12:30", "Lun-Ven 9-12.30 / 15-18; sab 9:00-12:00; dom chiuso",
		"ven-lun 20-02", "mon , wed ,fri :  9:00 - 12:00 e 15:00 - 18:00 ;; ", "mer\u00a09–12",
		`2026-12-24 9-12 "Vigilia; orario ""ridotto"""`, "2026-1-6 CLOSED", "2026-02-30 closed",
		"fri 22:00-02:00; sat 00:00-24:00", "mon 9-12,11-13", "dom 0-24", "\"", "2026-12-25 closed \"\u202e\"",
		"mon 24:00-01:00", "sun 00:00-00:00", "LUNEDÌ 9-12\nmartedi 9-12\r\n", strings.Repeat("mon 9-10;", 300),
	} {
		f.Add(s)
	}
	loc, instants := readingAt(f)
	f.Fuzz(func(t *testing.T, s string) {
		w, err := hours.Parse(s)
		if err != nil {
			if _, ok := fault.As(err); !ok {
				t.Fatalf("Parse(%q) error %v is not a *fault.Error", s, err)
			}
			return
		}
		if len(s) > hours.MaxText {
			t.Fatalf("Parse read %d bytes", len(s))
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("Parse(%q) gave a week Validate refuses: %v", s, err)
		}
		checkTextRoundTrip(t, w)
		checkJSONRoundTrip(t, w)
		checkReading(t, loc, instants, w)
	})
}

// The JSON form is what a client sends: whatever the bytes, decoding does
// not panic, and a week that decodes and validates marshals to JSON and
// text that read back as the same week.
func FuzzWeekJSON(f *testing.F) {
	for _, w := range fuzzSeeds() {
		b, _ := json.Marshal(w)
		f.Add(b)
	}
	for _, s := range []string{
		`null`, `{}`, `[]`, `{"lun":[]}`, `{"mon":[],"mon":[]}`, `{"mon":[["09:00"]]}`, `{"mon":[[null,"12:00"]]}`,
		`{"mon":[["9:00","12:00"]]}`, `{"fri":[["22:00","02:00"]],"sat":[["00:00","24:00"]]}`,
		`{"exceptions":[{"date":"2026-12-25","closed":true,"reason":"x"}]}`, `{"exceptions":[null]}`,
		`{"exceptions":[{"date":"2026-12-24","intervals":[["09:00","12:00"]],"note":"  a\n b "}]}`,
		`{"exceptions":[{"date":"2026-12-24","closed":true,"intervals":[]}]}`, `{"mon":[["09:00","12:00"]]} x`,
		`{"exceptions":[{"date":"2026-12-24","note":"\u00e8\"","closed":true}]}`, `{"mon":[["09:00","12:00"]],}`,
	} {
		f.Add([]byte(s))
	}
	loc, instants := readingAt(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var w hours.Week
		if err := json.Unmarshal(b, &w); err != nil {
			return
		}
		if w.Validate() != nil {
			checkReading(t, loc, instants, w) // even an invalid week is read without panic
			_ = w.String()
			return
		}
		checkJSONRoundTrip(t, w)
		checkTextRoundTrip(t, w)
		checkReading(t, loc, instants, w)
	})
}
