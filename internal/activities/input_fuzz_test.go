package activities

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"civico/internal/cursor"
)

// The fuzz targets use one fixed key: a cursor and a feed token are
// outside data (a client hands them back), the key is not.
var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

// FuzzCalendarToken: whatever comes as the last segment of a feed URL,
// ParseToken never panics and accepts only a token of the exact form,
// which it returns unchanged.
func FuzzCalendarToken(f *testing.F) {
	s := &Service{secret: fuzzKey}
	good := s.token("6a0e5f1e2b3c4d5e6f708192", "nonce")
	for _, seed := range []string{good, good + ".ics", "", ".ics", strings.Repeat("A", TokenLen), strings.Repeat("=", TokenLen), "../../etc/passwd", good[:31] + "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tok, ok := ParseToken(raw)
		if !ok {
			return
		}
		if len(tok) != TokenLen || !strings.HasPrefix(raw, tok) {
			t.Fatalf("%q parsed as %q", raw, tok)
		}
		if b, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(b) != 24 {
			t.Fatalf("%q accepted: %v", tok, err)
		}
		if tokenHash(tok) == "" {
			t.Fatal("no hash")
		}
	})
}

// FuzzEventsCursor: a list cursor from outside never panics, and one
// accepted holds a position the list can start from, for its street only.
func FuzzEventsCursor(f *testing.F) {
	cs := cursor.NewWithKey(fuzzKey)
	street := "6a0e5f1e2b3c4d5e6f708192"
	good := encodeCursor(cs, street, time.Unix(1_780_000_000, 0), position{At: time.Unix(1_780_100_000, 0), ID: "6a0e5f1e2b3c4d5e6f708193"})
	for _, seed := range []string{good, "", "~", "ev", good + "x", cs.Encode("ev", street, "-1", "0", "x"),
		cs.Encode("ev", street, "1", "99999999999999999999", "6a0e5f1e2b3c4d5e6f708193")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		pos, from, err := decodeCursor(cs, raw, street)
		if err != nil {
			return
		}
		if pos.At.Before(time.Unix(0, 0)) || from.Before(time.Unix(0, 0)) || len(pos.ID) != 24 {
			t.Fatalf("%q accepted as %+v from %v", raw, pos, from)
		}
		if _, _, err := decodeCursor(cs, raw, "6a0e5f1e2b3c4d5e6f708199"); err == nil {
			t.Fatalf("%q accepted for another street", raw)
		}
	})
}
