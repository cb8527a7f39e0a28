package referrals

import (
	"strconv"
	"testing"
	"unicode/utf8"

	"civico/internal/cursor"
	"civico/internal/fault"
)

// FuzzNewReferral: any input is either accepted with a note that fits, or
// refused as a validation error; never a panic.
func FuzzNewReferral(f *testing.F) {
	f.Add("6650c0ffee6650c0ffee6650", "6650c0ffee6650c0ffee6651", "", "Chiedere di Marta", 7, true)
	f.Add("", "", "6650c0ffee6650c0ffee6651", "  ", 0, true)
	f.Add("zz", "6650c0ffee6650c0ffee6651", "6650c0ffee6650c0ffee6652", "\xff", 61, false)
	f.Fuzz(func(t *testing.T, place, post, member, note string, days int, withDays bool) {
		in := NewReferral{PlaceID: place, PostID: post, MemberID: member, Note: note}
		if withDays {
			in.FollowUpDays = &days
		}
		clean, err := in.check()
		if err != nil {
			if fe, ok := fault.As(err); !ok || fe.Kind != fault.Invalid || len(fe.Fields) == 0 {
				t.Fatalf("error %v, want a validation error", err)
			}
			return
		}
		if clean == "" || !utf8.ValidString(clean) || utf8.RuneCountInString(clean) > MaxNote {
			t.Fatalf("accepted note %q", clean)
		}
		if (post == "") == (member == "") {
			t.Fatalf("accepted %q and %q: want exactly one person", post, member)
		}
		if withDays && (days < MinFollowUpDays || days > MaxFollowUpDays) {
			t.Fatalf("accepted %d days", days)
		}
	})
}

// FuzzListCursor: a cursor from a client is ours, for this list and
// filter, within the list; anything else is bad_cursor, never a panic.
func FuzzListCursor(f *testing.F) {
	cs := cursor.NewWithKey([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(cs.Encode("ref", "assoc", "assoc:a", "", "40"), int64(50))
	f.Add(cs.Encode("ref", "assoc", "assoc:a", "", "-1"), int64(50))
	f.Add(cs.Encode("ref", "ask", "assoc:a", "", "4"), int64(50))
	f.Add("bm9wZQ~AAAA", int64(3))
	f.Fuzz(func(t *testing.T, raw string, length int64) {
		n, err := decodePosition(cs, raw, "assoc", "assoc:a", "", length)
		if err != nil {
			if err != ErrBadCursor {
				t.Fatalf("error %v, want bad_cursor", err)
			}
			return
		}
		if n <= 0 || n > length {
			t.Fatalf("position %d outside 1..%d", n, length)
		}
		if c, ok := cs.Decode(raw, 5); !ok || c[4] != strconv.FormatInt(n, 10) {
			t.Fatalf("accepted %q as position %d", raw, n)
		}
	})
}
