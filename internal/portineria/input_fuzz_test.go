package portineria

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"civico/internal/fault"
	"civico/internal/wording"
)

// What a desk volunteer types on a member's card, and the cursors of the
// roster's pages, are outside data. Whatever the text:
//   - email: normalising is idempotent and gives lower-case trimmed text;
//     an empty address is allowed (it is optional), any other is refused
//     as too_long or invalid, or is at most 254 bytes that net/mail reads
//     back as exactly that bare address with a dotted domain, showing what
//     it is (wording.Problem: staff read it in the roster and the export);
//   - phone: cleaning is idempotent; a phone is empty, or refused as
//     too_long or invalid, or at most MaxPhoneLen bytes of digits (three at
//     least), spaces and + - ( ) . /;
//   - cursor: a number cursor decodes to a number the roster wrote
//     (numberCursor round-trips), or is refused with ErrBadCursor.
func FuzzMemberInput(f *testing.F) {
	for _, s := range []string{
		"anna@example.org", " Anna@Example.ORG ", "a@b", "Anna <anna@example.org>", "anna\u200b@example.org",
		"anna\u0085@example.org", "+39 051 123 4567", "(051) 12-34.56/7", "12", "051 123 ext. 4", "０５１ １２３",
		"bjQy", "bi0x", "bjk5OTk5OTk5OTk5OTk5OTk5OTk5OQ", "bjE", "bjE=", "bj", "eDQy", "bjQy~", "", " ",
		strings.Repeat("9", 40),
	} {
		f.Add(s, int64(len(s)))
	}
	f.Add("bjA", int64(0))
	f.Add("", int64(-1))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		// Email.
		e := normalizeEmail(s)
		if normalizeEmail(e) != e || strings.ToLower(e) != e || strings.TrimSpace(e) != e {
			t.Fatalf("normalizeEmail(%q) = %q, then %q", s, e, normalizeEmail(e))
		}
		fs := fault.Fields{}
		checkEmail(fs, "email", e)
		switch code, refused := fs["email"]; {
		case len(fs) > 1 || len(fs) == 1 && !refused:
			t.Fatalf("checkEmail(%q) = %v", e, fs)
		case refused && (e == "" || code != "too_long" && code != "invalid"):
			t.Fatalf("checkEmail(%q) = %v", e, fs)
		case !refused && e != "":
			a, err := mail.ParseAddress(e)
			switch {
			case len(e) > 254:
				t.Fatalf("accepted %q, of %d bytes", e, len(e))
			case err != nil || a.Address != e || a.Name != "":
				t.Fatalf("accepted %q, which net/mail reads as %v (%v)", e, a, err)
			case !strings.Contains(e[strings.LastIndexByte(e, '@'):], "."):
				t.Fatalf("accepted %q, whose domain has no dot", e)
			case !utf8.ValidString(e) || wording.Problem(e) != "":
				t.Fatalf("accepted %q, which has %s", e, wording.Problem(e))
			}
		}

		// Phone.
		p := clean(s)
		if clean(p) != p {
			t.Fatalf("clean(%q) = %q, then %q", s, p, clean(p))
		}
		fs = fault.Fields{}
		checkPhone(fs, "phone", p)
		switch code, refused := fs["phone"]; {
		case len(fs) > 1 || len(fs) == 1 && !refused:
			t.Fatalf("checkPhone(%q) = %v", p, fs)
		case refused && (p == "" || code != "too_long" && code != "invalid"):
			t.Fatalf("checkPhone(%q) = %v", p, fs)
		case !refused && p != "":
			digits := 0
			for i := range len(p) {
				switch c := p[i]; {
				case '0' <= c && c <= '9':
					digits++
				case strings.IndexByte(" +-()./", c) < 0:
					t.Fatalf("accepted the phone %q, which holds %q", p, c)
				}
			}
			if len(p) > MaxPhoneLen || digits < 3 {
				t.Fatalf("accepted the phone %q: %d bytes, %d digits", p, len(p), digits)
			}
		}

		// Cursor.
		if n >= 0 {
			if got, err := decodeNumberCursor(numberCursor(n)); err != nil || got != n {
				t.Fatalf("numberCursor(%d) decodes to %d, %v", n, got, err)
			}
		}
		got, err := decodeNumberCursor(s)
		switch {
		case err != nil:
			if !errors.Is(err, ErrBadCursor) || got != 0 {
				t.Fatalf("decodeNumberCursor(%q) = %d, %v", s, got, err)
			}
		case s == "":
			if got != 0 {
				t.Fatalf("no cursor decodes to %d", got)
			}
		case got < 0 || len(s) > 200:
			t.Fatalf("decodeNumberCursor(%q) = %d", s, got)
		default:
			if back, err := decodeNumberCursor(numberCursor(got)); err != nil || back != got {
				t.Fatalf("%q decodes to %d, whose cursor %q decodes to %d, %v", s, got, numberCursor(got), back, err)
			}
		}
	})
}
