package cursor_test

import (
	"slices"
	"strings"
	"testing"

	"civico/internal/cursor"
)

// The fuzz targets use one fixed key: a cursor is outside data (a client
// hands it back in ?cursor=), the key is not.
var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

// fuzzSigned are the only field lists the signer of FuzzCursorDecode ever
// signs: whatever the fuzzer makes of their cursors (or of nothing), a
// cursor that decodes must decode to one of them.
var fuzzSigned = [][]string{
	{"f", "65f1c0ffee0000000000abcd", "42"},
	{"p", "65f1c0ffee0000000000abcd", "1718000000000", "65f1c0ffee0000000000beef"},
	{"r", "65f1c0ffee0000000000abcd", "20"},
	{"mem", "65f1c0ffee0000000000abcd", "active", "anna rossi", "65f1c0ffee0000000000cafe"},
	{"x"},
	{"", ""},
}

// A cursor is what a client sends back: random text, a real cursor with a
// byte changed, cut or grown, or one made with another key never decodes
// to anything the signer did not sign, and never panics.
func FuzzCursorDecode(f *testing.F) {
	s := cursor.NewWithKey(fuzzKey)
	other := cursor.NewWithKey([]byte("another key, another server!!!!!"))
	for _, fields := range fuzzSigned {
		c := s.Encode(fields...)
		f.Add(c)
		f.Add(c[:len(c)-1])
		f.Add(c + "A")
		f.Add(strings.Replace(c, "~", "~~", 1))
		f.Add(strings.ToUpper(c))
		f.Add(other.Encode(fields...))
	}
	for _, junk := range []string{"", "~", "abc", "abc~def", "AAAA~AAAAAAAAAAAAAAAA", "%7E", "Zg~", "\x00~\x00",
		strings.Repeat("A", 1100) + "~AAAAAAAAAAAAAAAA"} {
		f.Add(junk)
	}
	signed := map[string]bool{}
	for _, fields := range fuzzSigned {
		signed[strings.Join(fields, "\x1f")] = true
	}
	f.Fuzz(func(t *testing.T, c string) {
		for n := 0; n <= 6; n++ {
			fields, ok := s.Decode(c, n)
			if !ok {
				if fields != nil {
					t.Fatalf("Decode(%q, %d) refused but returned %q", c, n, fields)
				}
				continue
			}
			if len(fields) != n {
				t.Fatalf("Decode(%q, %d) = %d fields", c, n, len(fields))
			}
			if !signed[strings.Join(fields, "\x1f")] {
				t.Fatalf("Decode(%q, %d) = %q: a value the signer never signed", c, n, fields)
			}
			if len(c) > 1024 {
				t.Fatalf("Decode accepted a cursor of %d bytes", len(c))
			}
			if _, ok := other.Decode(c, n); ok {
				t.Fatalf("a cursor of one key decodes with another: %q", c)
			}
		}
	})
}

// Fields the signer signs come back as they were, under the count they
// were signed with and no other; the cursor is plain URL-safe text.
func FuzzCursorRoundTrip(f *testing.F) {
	f.Add("f", "65f1c0ffee0000000000abcd", "42")
	f.Add("", "", "")
	f.Add("dir", "via del pratello · bologna", "65f1c0ffee0000000000abcd")
	f.Add("a~b", "c=d&e", "%2F?#")
	f.Add("caffè", "\xff\xfe", "🚲")
	f.Add("a\x1fb", "c", "d") // the separator inside a field: not three fields any more
	f.Add(strings.Repeat("x", 700), "y", "z")
	s := cursor.NewWithKey(fuzzKey)
	other := cursor.NewWithKey([]byte("another key, another server!!!!!"))
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		enc := s.Encode(in...)
		if i := strings.IndexFunc(enc, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '~')
		}); i >= 0 {
			t.Fatalf("Encode(%q) = %q: %q is not URL-safe", in, enc, enc[i])
		}
		if enc != s.Encode(in...) {
			t.Fatal("Encode is not deterministic")
		}
		if _, ok := other.Decode(enc, 3); ok {
			t.Fatalf("a cursor of one key decodes with another: %q", in)
		}
		for _, n := range []int{2, 4} {
			if got, ok := s.Decode(enc, n); ok && !strings.Contains(a+b+c, "\x1f") {
				t.Fatalf("Decode(Encode(%q), %d) = %q", in, n, got)
			}
		}
		got, ok := s.Decode(enc, 3)
		switch {
		case strings.Contains(a+b+c, "\x1f"):
			if ok {
				t.Fatalf("fields holding the separator came back as three: %q → %q", in, got)
			}
		case len(enc) > 1024:
			if ok {
				t.Fatalf("a cursor of %d bytes decodes", len(enc))
			}
		case !ok:
			t.Fatalf("Decode(Encode(%q), 3) refused", in)
		case !slices.Equal(got, in):
			t.Fatalf("Decode(Encode(%q), 3) = %q", in, got)
		}
	})
}
