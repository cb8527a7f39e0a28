package hours_test

import (
	"reflect"
	"strings"
	"testing"

	"civico/internal/fault"
	"civico/internal/hours"
)

// samples are valid weeks of every shape, for the round trips.
func samples() map[string]hours.Week {
	iv := func(o, c string) hours.Interval { return hours.Interval{Open: o, Close: c} }
	office := [7][]hours.Interval{
		{iv("09:00", "12:30"), iv("15:00", "18:00")},
		{iv("09:00", "12:30")},
	}
	full := hours.Week{}
	for d := range full.Days {
		full.Days[d] = []hours.Interval{iv("00:00", "01:00"), iv("02:00", "03:00"), iv("04:00", "05:00"), iv("23:00", "00:30")}
	}
	for i := range hours.MaxExceptions {
		full.Exceptions = append(full.Exceptions, hours.Exception{
			Date:      "2026-" + []string{"01", "02", "03"}[i%3] + "-" + []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"}[i/3],
			Intervals: []hours.Interval{iv("00:00", "01:00"), iv("02:00", "03:00"), iv("04:00", "05:00"), iv("23:00", "00:30")},
			Note:      strings.Repeat("🚲", hours.MaxNote),
		})
	}
	return map[string]hours.Week{
		"empty":  {},
		"office": {Days: office},
		"the spec's example": {Days: office, Exceptions: []hours.Exception{
			{Date: "2026-12-25", Closed: true},
			{Date: "2026-12-24", Intervals: []hours.Interval{iv("09:00", "12:00")}, Note: "Vigilia di Natale"},
		}},
		"nights and whole days": {Days: [7][]hours.Interval{
			4: {iv("22:00", "02:00")}, 5: {iv("00:00", "24:00")}, 6: {iv("20:00", "00:00"), iv("09:00", "12:00")},
		}},
		"notes that look like syntax": {Exceptions: []hours.Exception{
			{Date: "2027-01-06", Closed: true, Note: `Befana; "chiuso", mon 09:00-12:00`},
			{Date: "2027-01-07", Intervals: []hours.Interval{iv("10:00", "11:00")}, Note: `""`},
			{Date: "2027-01-08", Closed: true, Note: "caffè · 日本 — l'ultimo"},
		}},
		"every bound reached": full,
	}
}

func TestString(t *testing.T) {
	got := samples()["the spec's example"].String()
	want := `mon 09:00-12:30,15:00-18:00; tue 09:00-12:30; 2026-12-25 closed; 2026-12-24 09:00-12:00 "Vigilia di Natale"`
	if got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
	if s := (hours.Week{}).String(); s != "" {
		t.Errorf("an empty week is %q", s)
	}
}

func TestParseRoundTrip(t *testing.T) {
	for name, w := range samples() {
		t.Run(name, func(t *testing.T) {
			if err := w.Validate(); err != nil {
				t.Fatalf("sample not valid: %v", err)
			}
			s := w.String()
			if len(s) > hours.MaxText {
				t.Fatalf("the text form is %d bytes, more than Parse reads (%d)", len(s), hours.MaxText)
			}
			got, err := hours.Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("Parse(%q)\n = %#v\nwant %#v", s, got, w)
			}
		})
	}
}

// What volunteers type in a spreadsheet reads as the schedule they mean,
// shown here in the canonical form.
func TestParseWhatPeopleType(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nothing", "", ""},
		{"blanks", "  \t ", ""},
		{"canonical", "mon 09:00-12:30,15:00-18:00; tue 09:00-12:30", "mon 09:00-12:30,15:00-18:00; tue 09:00-12:30"},
		{"a range", "mon-fri 09:00-12:30",
			"mon 09:00-12:30; tue 09:00-12:30; wed 09:00-12:30; thu 09:00-12:30; fri 09:00-12:30"},
		{"Italian names, short times, a slash", "Lun-Ven 9-12.30 / 15-18; sab 9:00-12:00; dom chiuso",
			"mon 09:00-12:30,15:00-18:00; tue 09:00-12:30,15:00-18:00; wed 09:00-12:30,15:00-18:00; thu 09:00-12:30,15:00-18:00; fri 09:00-12:30,15:00-18:00; sat 09:00-12:00"},
		{"whole Italian names in capitals", "LUNEDÌ 9-12; Martedi 10-11; mercoledì 14-15", "mon 09:00-12:00; tue 10:00-11:00; wed 14:00-15:00"},
		{"whole English names", "Thursday 9-12; SUNDAY 10-11", "thu 09:00-12:00; sun 10:00-11:00"},
		{"a range round Sunday", "ven-lun 20-02", "mon 20:00-02:00; fri 20:00-02:00; sat 20:00-02:00; sun 20:00-02:00"},
		{"a list, a colon, spaces everywhere, 'e'", "  mon , wed ,fri :  9:00 - 12:00 e 15:00 - 18:00 ;; ",
			"mon 09:00-12:00,15:00-18:00; wed 09:00-12:00,15:00-18:00; fri 09:00-12:00,15:00-18:00"},
		{"a no-break space and a dash", "mer\u00a09–12", "wed 09:00-12:00"},
		{"lines", "gio 9-12\nven 9-12\r\n", "thu 09:00-12:00; fri 09:00-12:00"},
		{"a day twice adds up", "mon 9-12; mon 15-18", "mon 09:00-12:00,15:00-18:00"},
		{"a range and a day", "lun-mar 9-12; mar 15-18", "mon 09:00-12:00; tue 09:00-12:00,15:00-18:00"},
		{"whole day", "dom 0-24", "sun 00:00-24:00"},
		{"exceptions", "2026-12-25 chiuso; 2026-1-6 CLOSED; 2026-12-24: 9-12",
			"2026-12-25 closed; 2026-01-06 closed; 2026-12-24 09:00-12:00"},
		{"a note", `2026-12-24 9-12 "Vigilia; orario ""ridotto"""`, `2026-12-24 09:00-12:00 "Vigilia; orario ""ridotto"""`},
		{"a note put on one line", "2026-12-24 9-12 \"  Vigilia\n di   Natale \"", `2026-12-24 09:00-12:00 "Vigilia di Natale"`},
		{"an empty note", `2026-12-25 closed ""`, "2026-12-25 closed"},
		{"days after exceptions", "2026-12-25 closed; sab 9-12", "sat 09:00-12:00; 2026-12-25 closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := hours.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := w.String(); got != tc.want {
				t.Errorf("Parse(%q)\n = %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ name, in, field, code string }{
		{"a day without hours", "mon", "hours", "invalid"},
		{"not a day", "xyz 9-12", "hours", "invalid"},
		{"hours without a day", "9-12", "hours", "invalid"},
		{"a note on a day", `mon 9-12 "note"`, "hours", "invalid"},
		{"an unterminated note", `2026-12-25 closed "Natale`, "hours", "invalid"},
		{"closed and open", "mon 9-12; lun chiuso", "hours", "invalid"},
		{"open and closed", "dom closed; sun 9-12", "hours", "invalid"},
		{"a day twice in a list", "mon,lun 9-12", "hours", "invalid"},
		{"a range of three", "mon-tue-wed 9-12", "hours", "invalid"},
		{"no closing time", "mon 9", "hours", "invalid"},
		{"four digits", "mon 0900-1200", "hours", "invalid"},
		{"one-digit minutes", "mon 9:5-12", "hours", "invalid"},
		{"a comma too many", "mon 9-12,", "hours", "invalid"},
		{"day first dates", "25/12/2026 closed", "hours", "invalid"},
		{"a two-digit year", "26-12-25 closed", "hours", "invalid"},
		{"something else after an entry", "mon 9-12 tue", "hours", "invalid"},
		{"not UTF-8", "mon 9-12; \xff", "hours", "invalid"},
		{"a stray symbol", "mon 9-12 @", "hours", "invalid"},
		{"five intervals", "mon 1-2,3-4,5-6,7-8,9-10", "hours.mon", "too_many"},
		{"too long", "mon 9-12;" + strings.Repeat(" ", hours.MaxText), "hours", "too_long"},
		// Readable, but not a valid schedule: Validate's fields.
		{"hour 25", "mon 25-26", "hours.mon", "invalid"},
		{"overlap", "mon 9-12,11-13", "hours.mon", hours.Overlap},
		{"overlap from a range", "lun-ven 9-12; mer 11-13", "hours.wed", hours.Overlap},
		{"opens and closes at once", "sab 9-9", "hours.sat", hours.EmptyInterval},
		{"February 30", "2026-02-30 closed", "hours.exceptions", "invalid"},
		{"a date twice", "2026-12-25 closed; 2026-12-25 9-12", "hours.exceptions", hours.DuplicateDate},
		{"a long note", `2026-12-25 closed "` + strings.Repeat("x", hours.MaxNote+1) + `"`, "hours.exceptions", "too_long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := hours.Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tc.in, w)
			}
			fields(t, err, tc.field, tc.code)
			if _, ok := fault.As(err); !ok {
				t.Fatalf("%v is not a *fault.Error", err)
			}
		})
	}
}
