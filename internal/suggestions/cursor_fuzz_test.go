package suggestions

import (
	"errors"
	"strings"
	"testing"

	"civico/internal/cursor"
)

// The cursor of the queue and of the author's list comes back from the
// client (?cursor=): outside data. Whatever the text, decodeCursor never
// panics and answers ErrBadCursor, or a position at or above zero whose
// cursor decodes to it again; a position the list writes reads back as it
// was for its own list, and never for another list.
func FuzzListCursor(f *testing.F) {
	s := &Service{cursors: cursor.NewWithKey([]byte("0123456789abcdef0123456789abcdef"))}
	const key, other = "a:65f1c0ffee0000000000abcd", "u:65f1c0ffee0000000000abcd"
	f.Add("", int64(0))
	f.Add(s.encodeCursor(key, 42), int64(42))
	f.Add(s.encodeCursor(other, 7), int64(-1))
	f.Add(s.cursors.Encode("s", key, "-3"), int64(1<<62))
	f.Add(s.cursors.Encode("s", key, "9223372036854775808"), int64(3))
	f.Add(s.cursors.Encode("p", key, "1"), int64(1))
	f.Add("YQ~", int64(5))
	f.Add(strings.Repeat("~", 2000), int64(0))
	f.Fuzz(func(t *testing.T, raw string, pos int64) {
		if pos >= 0 {
			c := s.encodeCursor(key, pos)
			if got, err := s.decodeCursor(key, c); err != nil || got != pos {
				t.Fatalf("the cursor of %d decodes to %d, %v", pos, got, err)
			}
			if _, err := s.decodeCursor(other, c); !errors.Is(err, ErrBadCursor) {
				t.Fatalf("the cursor of %d for %s is taken for %s: %v", pos, key, other, err)
			}
		}
		got, err := s.decodeCursor(key, raw)
		switch {
		case err != nil:
			if !errors.Is(err, ErrBadCursor) || got != 0 {
				t.Fatalf("decodeCursor(%q) = %d, %v", raw, got, err)
			}
		case got < 0:
			t.Fatalf("decodeCursor(%q) = %d", raw, got)
		default:
			if back, err := s.decodeCursor(key, s.encodeCursor(key, got)); err != nil || back != got {
				t.Fatalf("%q decodes to %d, whose cursor decodes to %d, %v", raw, got, back, err)
			}
		}
	})
}
