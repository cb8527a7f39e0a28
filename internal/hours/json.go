package hours

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"civico/internal/fault"
	"civico/internal/wording"
)

// The JSON form is decoded by hand, strictly: the api's decoder refuses
// unknown fields, but that setting does not reach inside a type that
// decodes itself. Errors are *fault.Error with the field's path
// ("hours.mon", "hours.exceptions") and the api's codes for a bad body:
// unknown_field, invalid_type.

func shapeError(field string) error   { return fault.Validation(field, "invalid_type") }
func unknownField(field string) error { return fault.Validation(field, "unknown_field") }

// isNull tells whether data is the JSON null.
func isNull(data []byte) bool { return string(bytes.TrimSpace(data)) == "null" }

// object calls each with each member of the JSON object data, in order,
// and refuses anything but an object and keys given twice (which
// encoding/json would silently let the last one win).
func object(data []byte, field string, each func(key string, value json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return shapeError(field)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return shapeError(field)
		}
		if seen[key] {
			return shapeError(field)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return shapeError(field)
		}
		if err := each(key, value); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return shapeError(field)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return shapeError(field)
	}
	return nil
}

// MarshalJSON writes the interval as ["09:00","12:30"].
func (iv Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]string{iv.Open, iv.Close})
}

// UnmarshalJSON reads ["09:00","12:30"]: an array of exactly two strings.
// Whether they are times is Validate's business.
func (iv *Interval) UnmarshalJSON(data []byte) error {
	var pair []*string
	if isNull(data) || json.Unmarshal(data, &pair) != nil || len(pair) != 2 || pair[0] == nil || pair[1] == nil {
		return shapeError("hours")
	}
	*iv = Interval{Open: *pair[0], Close: *pair[1]}
	return nil
}

// intervals decodes a list of intervals; null and [] are both none.
func intervals(data json.RawMessage, field string) ([]Interval, error) {
	var ivs []Interval
	if err := json.Unmarshal(data, &ivs); err != nil {
		return nil, shapeError(field)
	}
	if len(ivs) == 0 {
		return nil, nil
	}
	return ivs, nil
}

// UnmarshalJSON reads {"date":…,"closed":…,"intervals":…,"note":…}
// strictly; the note is put in its one-line normal form.
func (e *Exception) UnmarshalJSON(data []byte) error {
	const field = "hours.exceptions"
	if isNull(data) {
		return shapeError(field)
	}
	var out Exception
	err := object(data, field, func(key string, value json.RawMessage) error {
		var err error
		switch key {
		case "date":
			err = json.Unmarshal(value, &out.Date)
		case "closed":
			err = json.Unmarshal(value, &out.Closed)
		case "intervals":
			out.Intervals, err = intervals(value, field)
		case "note":
			err = json.Unmarshal(value, &out.Note)
			out.Note = wording.Line(out.Note)
		default:
			return unknownField(field + "." + key)
		}
		if err != nil {
			return shapeError(field)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*e = out
	return nil
}

// MarshalJSON writes every day, [] when closed, then the exceptions ([]
// when none): the same keys every time, for clients.
func (w Week) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, ivs := range w.Days {
		if ivs == nil {
			ivs = []Interval{}
		}
		v, err := json.Marshal(ivs)
		if err != nil {
			return nil, err
		}
		b.WriteString(`"` + Days[i] + `":`)
		b.Write(v)
		b.WriteByte(',')
	}
	exc := w.Exceptions
	if exc == nil {
		exc = []Exception{}
	}
	v, err := json.Marshal(exc)
	if err != nil {
		return nil, err
	}
	b.WriteString(`"exceptions":`)
	b.Write(v)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the week's JSON form. It replaces the whole week: a
// day left out is closed. Unknown keys and malformed shapes are refused;
// the values' bounds are Validate's.
func (w *Week) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil // encoding/json's convention: null leaves the value alone
	}
	var out Week
	err := object(data, "hours", func(key string, value json.RawMessage) error {
		field := "hours." + key
		if key == "exceptions" {
			var exc []Exception
			if err := json.Unmarshal(value, &exc); err != nil {
				if _, ok := fault.As(err); ok {
					return err
				}
				return shapeError(field)
			}
			if len(exc) > 0 {
				out.Exceptions = exc
			}
			return nil
		}
		for i, d := range Days {
			if key == d {
				var err error
				out.Days[i], err = intervals(value, field)
				return err
			}
		}
		return unknownField(field)
	})
	if err != nil {
		return err
	}
	*w = out
	return nil
}
