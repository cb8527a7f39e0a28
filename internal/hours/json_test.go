package hours_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"civico/internal/hours"
)

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		week hours.Week
		want string
	}{
		{"empty: every key, lists empty", hours.Week{},
			`{"mon":[],"tue":[],"wed":[],"thu":[],"fri":[],"sat":[],"sun":[],"exceptions":[]}`},
		{"the spec's example", samples()["the spec's example"],
			`{"mon":[["09:00","12:30"],["15:00","18:00"]],"tue":[["09:00","12:30"]],"wed":[],"thu":[],"fri":[],"sat":[],"sun":[],` +
				`"exceptions":[{"date":"2026-12-25","closed":true},{"date":"2026-12-24","intervals":[["09:00","12:00"]],"note":"Vigilia di Natale"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.week)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("Marshal = %s\nwant      %s", b, tc.want)
			}
			// Inside a place, by value and by pointer alike.
			p := struct {
				Hours  hours.Week  `json:"hours"`
				Change *hours.Week `json:"change"`
			}{tc.week, &tc.week}
			b, err = json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"hours":` + tc.want + `,"change":` + tc.want + `}`; string(b) != want {
				t.Errorf("in a place: %s", b)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for name, w := range samples() {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(w)
			if err != nil {
				t.Fatal(err)
			}
			var got hours.Week
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("Unmarshal(%s)\n = %#v\nwant %#v", b, got, w)
			}
		})
	}
}

func TestUnmarshalJSON(t *testing.T) {
	iv := func(o, c string) hours.Interval { return hours.Interval{Open: o, Close: c} }
	tests := []struct {
		name, in string
		want     hours.Week
	}{
		{"days left out are closed", `{"sat":[["09:00","12:00"]]}`, hours.Week{Days: [7][]hours.Interval{5: {iv("09:00", "12:00")}}}},
		{"null days and exceptions", `{"mon":null,"exceptions":null}`, hours.Week{}},
		{"the note on one line", `{"exceptions":[{"date":"2026-12-24","intervals":[["09:00","12:00"]],"note":"  Vigilia\n di  Natale "}]}`,
			hours.Week{Exceptions: []hours.Exception{{Date: "2026-12-24", Intervals: []hours.Interval{iv("09:00", "12:00")}, Note: "Vigilia di Natale"}}}},
		{"closed with no intervals", `{"exceptions":[{"date":"2026-12-25","closed":true,"intervals":[]}]}`,
			hours.Week{Exceptions: []hours.Exception{{Date: "2026-12-25", Closed: true}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// What was there before goes: a week is replaced whole.
			got := hours.Week{Days: [7][]hours.Interval{{iv("01:00", "02:00")}}}
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Unmarshal(%s) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

// Malformed weeks are refused with the field they are in, as the api's
// strict decoder would name one of its own: a validation error the api
// passes on.
func TestUnmarshalJSONRefuses(t *testing.T) {
	tests := []struct{ name, in, field, code string }{
		{"an unknown day", `{"lun":[]}`, "hours.lun", "unknown_field"},
		{"a day in capitals", `{"MON":[]}`, "hours.MON", "unknown_field"},
		{"a day twice", `{"mon":[],"mon":[["09:00","12:00"]]}`, "hours", "invalid_type"},
		{"not an object", `[]`, "hours", "invalid_type"},
		{"a string", `"mon 09:00-12:00"`, "hours", "invalid_type"},
		{"one time", `{"mon":[["09:00"]]}`, "hours.mon", "invalid_type"},
		{"three times", `{"mon":[["09:00","12:00","13:00"]]}`, "hours.mon", "invalid_type"},
		{"text interval", `{"tue":["09:00-12:00"]}`, "hours.tue", "invalid_type"},
		{"numbers", `{"wed":[[9,12]]}`, "hours.wed", "invalid_type"},
		{"an object for a day", `{"thu":{}}`, "hours.thu", "invalid_type"},
		{"a null interval", `{"fri":[null]}`, "hours.fri", "invalid_type"},
		{"a null time", `{"sat":[[null,"12:00"]]}`, "hours.sat", "invalid_type"},
		{"an interval as an object", `{"sun":[{"open":"09:00","close":"12:00"}]}`, "hours.sun", "invalid_type"},
		{"exceptions as an object", `{"exceptions":{}}`, "hours.exceptions", "invalid_type"},
		{"a null exception", `{"exceptions":[null]}`, "hours.exceptions", "invalid_type"},
		{"an unknown exception field", `{"exceptions":[{"date":"2026-12-25","closed":true,"reason":"x"}]}`, "hours.exceptions.reason", "unknown_field"},
		{"a field in capitals", `{"exceptions":[{"DATE":"2026-12-25","closed":true}]}`, "hours.exceptions.DATE", "unknown_field"},
		{"a field twice", `{"exceptions":[{"date":"2026-12-25","date":"2026-12-26","closed":true}]}`, "hours.exceptions", "invalid_type"},
		{"a numeric date", `{"exceptions":[{"date":20261225,"closed":true}]}`, "hours.exceptions", "invalid_type"},
		{"closed as text", `{"exceptions":[{"date":"2026-12-25","closed":"yes"}]}`, "hours.exceptions", "invalid_type"},
		{"bad exception intervals", `{"exceptions":[{"date":"2026-12-24","intervals":[["09:00"]]}]}`, "hours.exceptions", "invalid_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w hours.Week
			err := json.Unmarshal([]byte(tc.in), &w)
			if err == nil {
				t.Fatalf("Unmarshal(%s) = %#v, want an error", tc.in, w)
			}
			fields(t, err, tc.field, tc.code)

			// The same through a strict decoder of a whole body, as the api reads it.
			dec := json.NewDecoder(bytes.NewReader([]byte(`{"hours":` + tc.in + `}`)))
			dec.DisallowUnknownFields()
			var body struct {
				Hours *hours.Week `json:"hours"`
			}
			fields(t, dec.Decode(&body), tc.field, tc.code)
		})
	}
}

// Unmarshal reads the values without judging them; Validate judges.
func TestUnmarshalThenValidate(t *testing.T) {
	var w hours.Week
	if err := json.Unmarshal([]byte(`{"mon":[["9:00","12:00"]]}`), &w); err != nil {
		t.Fatal(err)
	}
	fields(t, w.Validate(), "hours.mon", "invalid")
}
