package mail_test

import (
	"net/mail"
	"strings"
	"testing"

	civmail "civico/internal/mail"
)

// FuzzParseURL: CIVICO_SMTP_URL never panics the parser; what it accepts
// is a usable relay (host, port in range, insecure only on loopback, no
// control characters in the credentials), and no error repeats the password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"smtp://user:pass@mail.example.org:587", "smtps://mail.example.org", "smtp+insecure://127.0.0.1:25",
		"smtp+insecure://[::1]", "smtp://u%0A:p@h", "smtp://h:", "http://x", "smtp://user:pw@[::1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tr, err := civmail.ParseURL(raw)
		if err != nil {
			if i := strings.Index(raw, "://"); i >= 0 {
				rest := raw[i+3:]
				if at := strings.LastIndex(rest, "@"); at > 0 {
					if c := strings.Index(rest[:at], ":"); c >= 0 {
						if pw := rest[c+1 : at]; len(pw) >= 6 && strings.Contains(err.Error(), pw) && !strings.Contains(civmail.URLProblems, pw) {
							t.Fatalf("the error %q shows the password %q", err, pw)
						}
					}
				}
			}
			return
		}
		if tr.Host == "" || tr.Port < 1 || tr.Port > 65535 {
			t.Fatalf("accepted %q as %+v", raw, tr)
		}
		if tr.Security == civmail.Plain && !strings.EqualFold(tr.Host, "localhost") && !strings.HasPrefix(tr.Host, "127.") && tr.Host != "::1" && !strings.Contains(tr.Host, ":") {
			t.Fatalf("insecure relay off loopback: %q -> %+v", raw, tr)
		}
		if strings.ContainsAny(tr.Username+tr.Password, "\r\n\x00") {
			t.Fatalf("control characters in the credentials: %+v", tr)
		}
		if tr.Password != "" && len(tr.Password) >= 4 && strings.Contains(tr.String(), ":"+tr.Password+"@") {
			t.Fatalf("String shows the password: %s", tr.String())
		}
	})
}

// FuzzAddress: Queue's address check never panics, and what it accepts is
// one bare address that net/mail reads back the same, short and free of
// anything that could break a header or the SMTP dialogue.
func FuzzAddress(f *testing.F) {
	for _, s := range []string{
		"anna@example.org", "a.b+c@sub.example.org", "Anna <anna@example.org>", "anna@example.org\r\nBcc: x@y",
		"\"a b\"@example.org", "anna@[127.0.0.1]", "àndrea@esempio.it", "a@b@c", "", "@", "a@",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got, err := civmail.CheckAddress(addr)
		if err != nil {
			return
		}
		if got != addr || len(got) > 254 || strings.ContainsAny(got, "\r\n\x00<>, \"") || strings.Count(got, "@") != 1 {
			t.Fatalf("accepted %q as %q", addr, got)
		}
		a, err := mail.ParseAddress(got)
		if err != nil || a.Address != got || a.Name != "" {
			t.Fatalf("accepted %q, which net/mail reads as %v %v", addr, a, err)
		}
	})
}
