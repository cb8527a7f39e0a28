package auth

import (
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"civico/internal/fault"
	"civico/internal/wording"
)

// An email address is outside data (registration, sign-in, a volunteer
// added by address): registration normalises it then checks it. Whatever
// the text:
//   - normalising is idempotent and gives lower-case text with no white
//     space around it, so every spelling of one address finds one account;
//   - the check refuses with one code on the email field (required,
//     too_long or invalid), or accepts an address of at most 254 bytes that
//     net/mail reads back as exactly that bare address (no display name,
//     comment or angle brackets), with a dotted domain, in valid UTF-8 and
//     showing what it is (no control, format or other invisible character,
//     wording.Problem): people read it in staff lists and exports.
func FuzzEmail(f *testing.F) {
	for _, s := range []string{
		"anna@example.org", "  Anna.Rossi@Example.ORG ", "a@b", "a@b.c", "@example.org", "anna@", "anna",
		"Anna <anna@example.org>", "anna@example.org (Anna)", `"anna rossi"@example.org`, "anna@[192.0.2.1]",
		"anna@@example.org", "anna@example..org", ".anna@example.org", "anna.@example.org",
		"anna+civico@example.org", "niccolò@esempio.it", "anna@exämple.org", "ANNA@EXAMPLE.ORG",
		"anna\u200b@example.org", "anna\u202e@example.org", "anna\u0085@example.org", "ａnna@example.org",
		"anna@example.org\x00", "\xffanna@example.org", "anna@example.org\n", "K@example.org", "İ@example.org",
		strings.Repeat("a", 243) + "@example.org", strings.Repeat("a", 242) + "@example.org",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e := normalizeEmail(in)
		if again := normalizeEmail(e); again != e {
			t.Fatalf("normalizeEmail(%q) = %q, then %q", in, e, again)
		}
		if strings.ToLower(e) != e || strings.TrimSpace(e) != e {
			t.Fatalf("normalizeEmail(%q) = %q: not lower case and trimmed", in, e)
		}
		if ascii(in) && normalizeEmail(strings.ToUpper(in)) != e {
			t.Fatalf("%q and %q have different normal forms", in, strings.ToUpper(in))
		}

		fs := fault.Fields{}
		checkEmail(fs, e)
		if len(fs) > 0 {
			if code := fs["email"]; len(fs) != 1 || (code != "required" && code != "too_long" && code != "invalid") {
				t.Fatalf("checkEmail(%q) = %v", e, fs)
			}
			if e == "" && fs["email"] != "required" || e != "" && fs["email"] == "required" {
				t.Fatalf("checkEmail(%q) = %v", e, fs)
			}
			return
		}
		switch a, err := mail.ParseAddress(e); {
		case len(e) == 0 || len(e) > 254:
			t.Fatalf("accepted %q, of %d bytes", e, len(e))
		case err != nil:
			t.Fatalf("accepted %q, which net/mail refuses: %v", e, err)
		case a.Address != e || a.Name != "":
			t.Fatalf("accepted %q, which net/mail reads as %q named %q", e, a.Address, a.Name)
		case !utf8.ValidString(e):
			t.Fatalf("accepted %q, which is not UTF-8", e)
		case wording.Problem(e) != "":
			t.Fatalf("accepted %q, which has %s", e, wording.Problem(e))
		}
		local, domain, _ := cut(e)
		if local == "" || !strings.Contains(domain, ".") {
			t.Fatalf("accepted %q: local part %q, domain %q", e, local, domain)
		}
	})
}

// cut splits an address at its last @.
func cut(e string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(e, '@')
	if i < 0 {
		return e, "", false
	}
	return e[:i], e[i+1:], true
}

func ascii(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
