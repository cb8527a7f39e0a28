package conversations

import (
	"strconv"
	"testing"
	"unicode/utf8"

	"civico/internal/cursor"
	"civico/internal/fault"
)

// FuzzBody: a message's text is accepted trimmed, valid and bounded, or
// refused as a validation error of the body; never a panic.
func FuzzBody(f *testing.F) {
	f.Add("Ciao, abito al 12")
	f.Add("   ")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, body string) {
		fs := fault.Fields{}
		clean := checkBody(fs, body)
		if err := fs.Err(); err != nil {
			if fe, ok := fault.As(err); !ok || fe.Kind != fault.Invalid || fe.Fields["body"] == "" {
				t.Fatalf("error %v, want a validation error of body", err)
			}
			return
		}
		if clean == "" || !utf8.ValidString(clean) || utf8.RuneCountInString(clean) > MaxBody {
			t.Fatalf("accepted %q", clean)
		}
		if p := previewOf(clean); utf8.RuneCountInString(p) > Preview {
			t.Fatalf("preview of %d runes", utf8.RuneCountInString(p))
		}
	})
}

// FuzzCursors: a cursor from a client is ours, for this inbox or this
// conversation and within it; anything else is bad_cursor, never a panic.
func FuzzCursors(f *testing.F) {
	cs := cursor.NewWithKey([]byte("0123456789abcdef0123456789abcdef"))
	const user, cid = "6650c0ffee6650c0ffee6650", "6650c0ffee6650c0ffee6651"
	f.Add(cs.Encode("inbox:"+user, "1700000000000", cid), int64(10))
	f.Add(cs.Encode("msg:"+cid, "4"), int64(10))
	f.Add(cs.Encode("msg:"+cid, "-1"), int64(10))
	f.Add(cs.Encode("inbox:someone", "1", cid), int64(0))
	f.Add("bm9wZQ~AAAA", int64(3))
	f.Fuzz(func(t *testing.T, raw string, length int64) {
		if at, id, err := decodeInbox(cs, raw, user); err != nil {
			if err != ErrBadCursor {
				t.Fatalf("inbox: error %v, want bad_cursor", err)
			}
		} else if c, ok := cs.Decode(raw, 3); !ok || c[0] != "inbox:"+user || c[1] != strconv.FormatInt(at, 10) || c[2] != id {
			t.Fatalf("inbox: accepted %q as %d %s", raw, at, id)
		}
		n, err := decodeMessages(cs, raw, cid, length)
		if err != nil {
			if err != ErrBadCursor {
				t.Fatalf("messages: error %v, want bad_cursor", err)
			}
			return
		}
		if n < 0 || n > length {
			t.Fatalf("messages: position %d outside 0..%d", n, length)
		}
	})
}
