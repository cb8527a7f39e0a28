package mail_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"civico/internal/auth"
	civmail "civico/internal/mail"
)

func TestAccountMails(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	ctx := context.Background()
	anna := auth.Account{ID: "u1", Email: "anna@example.org", Name: `Anna <b>"Rossi"</b>`, Locale: "it"}
	john := auth.Account{ID: "u2", Email: "john@example.org", Name: "John", Locale: "en"}

	tests := []struct {
		name     string
		send     func() error
		to       string
		subject  string
		link     string // the link the mail must hold, exactly
		words    []string
		htmlLike []string // what the HTML part must hold
	}{
		{
			name: "reset it", send: func() error { return s.PasswordReset(ctx, anna, "u1.tok+en/1") },
			to: "anna@example.org", subject: "Civico: scegli una nuova password",
			link:     "https://civico.example.org/reset?token=" + url.QueryEscape("u1.tok+en/1"),
			words:    []string{`Ciao Anna <b>"Rossi"</b>,`, "un'ora", "Se non sei stato tu"},
			htmlLike: []string{"Anna &lt;b&gt;&#34;Rossi&#34;&lt;/b&gt;", `lang="it"`},
		},
		{
			name: "reset en", send: func() error { return s.PasswordReset(ctx, john, "u2.abc") },
			to: "john@example.org", subject: "Civico: choose a new password",
			link:  "https://civico.example.org/reset?token=u2.abc",
			words: []string{"Hello John,", "one hour", "If it was not you"},
		},
		{
			name: "verify a new address", send: func() error { return s.VerifyAddress(ctx, john, "new@example.org", "u2.v1") },
			to: "new@example.org", subject: "Civico: confirm your email address",
			link:  "https://civico.example.org/verify?token=u2.v1",
			words: []string{"to confirm that new@example.org is your email address", "24 hours"},
		},
		{
			name: "address changing", send: func() error { return s.AddressChanging(ctx, anna, "<i>evil</i>@example.org") },
			to: "anna@example.org", subject: "Civico: il tuo indirizzo email sta per cambiare",
			link:     "https://civico.example.org/forgot",
			words:    []string{"da anna@example.org a <i>evil</i>@example.org", "reimposta subito la password"},
			htmlLike: []string{"&lt;i&gt;evil&lt;/i&gt;@example.org"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatal(err)
			}
			got := e.smtp.Next(t)
			if len(got.To) != 1 || got.To[0] != tc.to {
				t.Errorf("to %v, want %s", got.To, tc.to)
			}
			if got.Subject() != tc.subject {
				t.Errorf("subject %q, want %q", got.Subject(), tc.subject)
			}
			if len(got.Links) != 1 || got.Links[0] != tc.link {
				t.Errorf("links %v, want [%s]", got.Links, tc.link)
			}
			if !strings.Contains(got.HTML, `href="`+strings.ReplaceAll(tc.link, "+", "&#43;")+`"`) && !strings.Contains(got.HTML, `href="`+tc.link+`"`) {
				t.Errorf("the HTML part does not link %s:\n%s", tc.link, got.HTML)
			}
			for _, w := range tc.words {
				if !strings.Contains(got.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, got.Text)
				}
			}
			for _, w := range tc.htmlLike {
				if !strings.Contains(got.HTML, w) {
					t.Errorf("HTML lacks %q:\n%s", w, got.HTML)
				}
			}
			if strings.Contains(got.HTML, "<img") || strings.Contains(got.HTML, "<b>") || strings.Contains(got.HTML, "<i>") {
				t.Errorf("HTML has an image or unescaped user text:\n%s", got.HTML)
			}
		})
	}

	// The same token is one mail; a new token another.
	if err := s.PasswordReset(ctx, john, "u2.abc"); err != nil {
		t.Fatal(err)
	}
	e.smtp.None(t)
	if err := s.PasswordReset(ctx, john, "u2.def"); err != nil {
		t.Fatal(err)
	}
	e.smtp.Next(t)
}

func TestAddressVerifiedClearsTheBounce(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	ctx := context.Background()
	e.smtp.FailNext(1, 550)
	queue(t, s, msg("n1", "anna@example.org"))
	waitStats(t, s, func(st civmail.Stats) bool { return st.Bounced == 1 })
	if b, _ := s.Bouncing(ctx, "anna@example.org"); !b {
		t.Fatal("not bouncing")
	}
	var p auth.Postman = s
	if err := p.AddressVerified(ctx, "Anna@Example.org"); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Bouncing(ctx, "anna@example.org"); b {
		t.Fatal("still bouncing once verified")
	}
}

func TestAccountMailToAMalformedAddressIsAValidationError(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	err := s.VerifyAddress(context.Background(), auth.Account{ID: "u", Email: "a@example.org"}, "x@y\r\nDATA", "t")
	if err == nil {
		t.Fatal("queued")
	}
	e.smtp.None(t)
}
