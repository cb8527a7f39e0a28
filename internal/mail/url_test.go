package mail_test

import (
	"strings"
	"testing"

	civmail "civico/internal/mail"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want civmail.Transport
		bad  bool
	}{
		{raw: "smtp://user:p%40ss%3Aword@mail.example.org", want: civmail.Transport{Host: "mail.example.org", Port: 587, Security: civmail.StartTLS, Username: "user", Password: "p@ss:word"}},
		{raw: "smtp://mail.example.org:2525", want: civmail.Transport{Host: "mail.example.org", Port: 2525, Security: civmail.StartTLS}},
		{raw: "SMTPS://u%2Bx:pw@mail.example.org/", want: civmail.Transport{Host: "mail.example.org", Port: 465, Security: civmail.ImplicitTLS, Username: "u+x", Password: "pw"}},
		{raw: "smtp+insecure://127.0.0.1:2525", want: civmail.Transport{Host: "127.0.0.1", Port: 2525, Security: civmail.Plain}},
		{raw: "smtp+insecure://localhost", want: civmail.Transport{Host: "localhost", Port: 25, Security: civmail.Plain}},
		{raw: "smtp+insecure://[::1]:25", want: civmail.Transport{Host: "::1", Port: 25, Security: civmail.Plain}},
		{raw: "smtp+insecure://mail.example.org:25", bad: true},
		{raw: "smtp+insecure://10.0.0.1", bad: true},
		{raw: "http://mail.example.org", bad: true},
		{raw: "mail.example.org:587", bad: true},
		{raw: "smtp://", bad: true},
		{raw: "smtp://mail.example.org:0", bad: true},
		{raw: "smtp://mail.example.org:99999", bad: true},
		{raw: "smtp://mail.example.org:", bad: true},
		{raw: "smtp://mail.example.org/path", bad: true},
		{raw: "smtp://mail.example.org?x=1", bad: true},
		{raw: "smtp://us%0Aer:pw@mail.example.org", bad: true},
		{raw: "smtp://user:pw%0D@mail.example.org", bad: true},
		{raw: "", bad: true},
	}
	for _, tc := range tests {
		got, err := civmail.ParseURL(tc.raw)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.raw, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestParseURLNeverShowsThePassword(t *testing.T) {
	for _, raw := range []string{
		"smtp://user:s3cretpw@mail.example.org:notaport",
		"ftp://user:s3cretpw@mail.example.org",
		"smtp+insecure://user:s3cretpw@mail.example.org",
		"smtp://user:s3cretpw@mail.example.org/x",
		"smtp://user:s3cretpw@[bad",
	} {
		_, err := civmail.ParseURL(raw)
		if err == nil {
			t.Errorf("%q accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("%q: the error shows the password: %v", raw, err)
		}
	}
	tr, err := civmail.ParseURL("smtps://user:s3cretpw@mail.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if s := tr.String(); strings.Contains(s, "s3cretpw") || s != "smtps://user@mail.example.org:465" {
		t.Errorf("String() = %q", s)
	}
}
