package cursor_test

import (
	"strings"
	"testing"

	"civico/internal/cursor"
)

func TestRoundTripAndTamper(t *testing.T) {
	s := cursor.NewWithKey([]byte("0123456789abcdef0123456789abcdef"))
	c := s.Encode("f", "street", "42")
	got, ok := s.Decode(c, 3)
	if !ok || strings.Join(got, ",") != "f,street,42" {
		t.Fatalf("decode = %v %v", got, ok)
	}
	other := cursor.NewWithKey([]byte("another key, another server!!!!!"))
	forged := other.Encode("f", "street", "41")
	body, mac, _ := strings.Cut(c, "~")
	bad := []string{
		"", "abc", c + "x", "x" + c, forged, strings.Replace(c, body[:4], "AAAA", 1),
		body + "~" + mac[:len(mac)-2], strings.Repeat("a", 2000),
	}
	for _, b := range bad {
		if _, ok := s.Decode(b, 3); ok {
			t.Errorf("accepted %q", b)
		}
	}
	if _, ok := s.Decode(c, 2); ok {
		t.Error("accepted a cursor with the wrong number of fields")
	}
}

func TestLimit(t *testing.T) {
	cases := []struct{ n, def, want int }{{0, 20, 20}, {-3, 50, 50}, {7, 20, 7}, {100, 20, 100}, {101, 20, 100}, {5000, 20, 100}}
	for _, c := range cases {
		if got := cursor.Limit(c.n, c.def); got != c.want {
			t.Errorf("Limit(%d, %d) = %d, want %d", c.n, c.def, got, c.want)
		}
	}
}
