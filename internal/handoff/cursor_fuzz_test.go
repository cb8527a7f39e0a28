package handoff

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The cursor of the unanswered-requests list comes back from the client
// (?cursor=): outside data. Whatever the text, decodeCursor never panics
// and answers no position for no cursor, ErrBadCursor for what the list
// did not write, or a position (a millisecond and an id) whose cursor
// decodes to it again; a position the list writes reads back as it was.
func FuzzListCursor(f *testing.F) {
	f.Add("", int64(0), "65f1c0ffee0000000000abcd")
	f.Add(encodeCursor(listCursor{at: time.UnixMilli(1718000000000), id: "65f1c0ffee0000000000abcd"}), int64(1718000000000), "x")
	f.Add("MTcxODAwMDAwMDAwMA", int64(-1), "a:b") // no id
	f.Add("OjY1ZjE", int64(1<<62), "\xff")        // no time
	f.Add("LTE6eA", int64(-1<<63), "")            // a negative time
	f.Add("KzE6eA~", int64(1), strings.Repeat("i", 120))
	f.Add(strings.Repeat("MTox", 40), int64(7), "id")
	f.Fuzz(func(t *testing.T, raw string, ms int64, id string) {
		if id != "" {
			want := listCursor{at: time.UnixMilli(ms).UTC(), id: id}
			enc := encodeCursor(want)
			c, err := decodeCursor(enc)
			switch {
			case len(enc) > 100:
				if err == nil {
					t.Fatalf("a cursor of %d bytes decodes", len(enc))
				}
			case err != nil || c == nil || !c.at.Equal(want.at) || c.id != id:
				t.Fatalf("the cursor of %v, %q decodes to %+v, %v", want.at, id, c, err)
			}
		}

		c, err := decodeCursor(raw)
		switch {
		case err != nil:
			if !errors.Is(err, ErrBadCursor) || c != nil {
				t.Fatalf("decodeCursor(%q) = %+v, %v", raw, c, err)
			}
		case raw == "":
			if c != nil {
				t.Fatalf("no cursor decodes to %+v", c)
			}
		case c == nil || c.id == "" || len(raw) > 100 || c.at.Location() != time.UTC:
			t.Fatalf("decodeCursor(%q) = %+v", raw, c)
		default:
			back, err := decodeCursor(encodeCursor(*c))
			if err != nil || back == nil || !back.at.Equal(c.at) || back.id != c.id {
				t.Fatalf("%q decodes to %+v, whose cursor decodes to %+v, %v", raw, c, back, err)
			}
		}
	})
}
