package pwa_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"civico/internal/config"
	"civico/internal/testutil"
)

// startWithMail starts a server that sends its mail to a real SMTP server
// of the test's own.
func startWithMail(t *testing.T) (*testutil.Server, *testutil.SMTPServer) {
	t.Helper()
	smtp := testutil.SMTP(t)
	srv := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.SMTPURL = smtp.URL() }))
	return srv, smtp
}

// mailLink is the path and query of the link in m that goes to screen
// (such as "/reset"), to open on the test's server whatever public URL the
// mail was written with.
func mailLink(t *testing.T, m testutil.Mail, screen string) string {
	t.Helper()
	for _, l := range m.Links {
		u, err := url.Parse(l)
		if err == nil && u.Path == screen && u.Query().Get("token") != "" {
			return u.RequestURI()
		}
	}
	t.Fatalf("no %s link in the mail to %v %q: %v\n%s", screen, m.To, m.Subject(), m.Links, m.Text)
	return ""
}

// nextMailTo is the next mail, which must go to address.
func nextMailTo(t *testing.T, smtp *testutil.SMTPServer, address string) testutil.Mail {
	t.Helper()
	m := smtp.Next(t)
	if !slices.Contains(m.To, address) {
		t.Fatalf("the next mail goes to %v (%q), want %s", m.To, m.Subject(), address)
	}
	return m
}

// TestForgotPassword: a resident signs up and confirms her address from the
// link in the welcome mail (the banner asking for it goes away), signs out,
// forgets her password, asks for a link (an unknown address gets the same
// answer and no mail), opens the link from the mail, sets a new password and
// signs in with it; the old one no longer works, and the link works once.
func TestForgotPassword(t *testing.T) {
	t.Parallel()
	srv, smtp := startWithMail(t)
	const email, oldPW, newPW = "carla@example.org", "correct horse battery", "una nuova frase segreta"
	carla := newTab(t, srv, "carla")

	carla.open("/signup")
	carla.fill(`#signup-form [name=name]`, "Carla D.")
	carla.fill(`#signup-form [name=email]`, email)
	carla.fill(`#signup-form [name=password]`, oldPW)
	carla.click(`#signup-form button[type=submit]`)
	carla.waitPath("/")
	carla.waitJS("the banner asking to confirm", `!document.getElementById('verify-banner').hidden`)
	carla.waitText("#verify-banner", email)
	carla.screen("home-verify-banner")

	// The welcome mail's link confirms the address; the banner goes.
	verify := mailLink(t, nextMailTo(t, smtp, email), "/verify")
	carla.open(verify)
	carla.waitJS("address confirmed", `document.getElementById('verify-done')`)
	carla.waitText("#verify-done", email)
	carla.screen("verify-done")
	carla.click(`#verify-done a[href="/"]`)
	carla.waitPath("/")
	carla.waitJS("banner gone", `document.getElementById('verify-banner').hidden`)

	carla.open("/account")
	carla.click("#signout")
	carla.waitPath("/signin")
	carla.click("#forgot-link")
	carla.waitPath("/forgot")
	carla.screen("forgot")

	// An address with no account: the same answer, and no mail.
	carla.fill(`#forgot-form [name=email]`, "nobody@example.org")
	carla.click(`#forgot-form button[type=submit]`)
	carla.waitJS("link sent", `document.getElementById('forgot-sent')`)
	var unknown string
	carla.eval(`document.getElementById('forgot-sent').textContent.replace('nobody@example.org', '…')`, &unknown)

	carla.open("/forgot")
	carla.fill(`#forgot-form [name=email]`, email)
	carla.click(`#forgot-form button[type=submit]`)
	carla.waitJS("link sent", `document.getElementById('forgot-sent')`)
	var known string
	carla.eval(`document.getElementById('forgot-sent').textContent.replace('`+email+`', '…')`, &known)
	if known != unknown {
		t.Errorf("the screen tells the addresses apart:\nknown   %q\nunknown %q", known, unknown)
	}
	carla.screen("forgot-sent")
	reset := mailLink(t, nextMailTo(t, smtp, email), "/reset")

	carla.open(reset)
	carla.screen("reset")
	carla.fill(`#reset-form [name=password]`, newPW)
	carla.fill(`#reset-form [name=repeat]`, newPW+"!")
	carla.click(`#reset-form button[type=submit]`)
	carla.waitJS("the two passwords differ", `document.querySelector('#reset-form [name=repeat][aria-invalid=true]')`)
	carla.fill(`#reset-form [name=repeat]`, newPW)
	carla.click(`#reset-form button[type=submit]`)
	carla.waitPath("/signin")
	carla.waitJS("told to sign in", `document.querySelector('main .notice')`)

	carla.fill(`#signin-form [name=email]`, email)
	carla.fill(`#signin-form [name=password]`, oldPW)
	carla.click(`#signin-form button[type=submit]`)
	carla.waitJS("the old password refused", `document.querySelector('#signin-form .form-error')`)
	carla.fill(`#signin-form [name=password]`, newPW)
	carla.click(`#signin-form button[type=submit]`)
	carla.waitPath("/")
	carla.waitText("main h1", "Le mie vie")

	// The link works once: a second use says so and offers a new one.
	carla.open(reset)
	carla.fill(`#reset-form [name=password]`, "ancora un’altra frase")
	carla.fill(`#reset-form [name=repeat]`, "ancora un’altra frase")
	carla.click(`#reset-form button[type=submit]`)
	carla.waitJS("link refused", `document.querySelector('#link-failed a[href="/forgot"]')`)
	var said string
	carla.eval(`document.getElementById('link-failed').textContent`, &said)
	if strings.Contains(said, "invalid_reset_token") || strings.Contains(said, "error.") {
		t.Errorf("a used link shows a raw code: %q", said)
	}
	smtp.None(t)
}

// TestEmailSettings: the email choices sit beside the push ones and are
// saved with them; changing the address sends a link to the new one and a
// notice to the old, and the account shows the new address as waiting
// until its link is opened.
func TestEmailSettings(t *testing.T) {
	t.Parallel()
	srv, smtp := startWithMail(t)
	u := srv.Register(t, "Dario")
	nextMailTo(t, smtp, u.Email) // the welcome mail
	dario := newTab(t, srv, "dario")
	dario.signIn(u)

	dario.open("/settings")
	dario.waitJS("email choices", `document.querySelector('#email-prefs input[name="email.digest"][value="weekly"]:checked')`)
	dario.waitJS("not yet confirmed", `document.getElementById('email-unverified')`)
	dario.screen("settings-email")
	dario.click(`#email-prefs input[name="email.digest"][value="daily"]`)
	dario.click(`#email-prefs input[name="email.replies"][value="digest"]`)
	dario.click(`#prefs-form button[type=submit]`)
	dario.waitText("#toast", "Salvato")
	dario.open("/settings")
	dario.waitJS("choices kept", `document.querySelector('#email-prefs input[name="email.digest"][value="daily"]:checked') &&
	  document.querySelector('#email-prefs input[name="email.replies"][value="digest"]:checked')`)

	const newEmail = "dario.nuovo@example.org"
	dario.open("/account")
	dario.fill(`#email-form [name=email]`, newEmail)
	dario.fill(`#email-form [name=current_password]`, "not the password")
	dario.click(`#email-form button[type=submit]`)
	dario.waitJS("wrong password refused", `document.querySelector('#email-form .form-error')`)
	dario.fill(`#email-form [name=current_password]`, u.Password)
	dario.click(`#email-form button[type=submit]`)
	dario.waitText("#email-pending", newEmail)
	dario.screen("account-email-pending")

	// Two mails, in no set order: the link to the new address, the notice to the old.
	var link string
	got := map[string]bool{}
	for range 2 {
		m := smtp.Next(t)
		switch {
		case slices.Contains(m.To, newEmail):
			link = mailLink(t, m, "/verify")
		case slices.Contains(m.To, u.Email):
		default:
			t.Fatalf("a mail to %v", m.To)
		}
		got[m.To[0]] = true
	}
	if !got[newEmail] || !got[u.Email] {
		t.Fatalf("mails went to %v, want one to the new address and one to the old", got)
	}
	dario.open(link)
	dario.waitText("#verify-done", newEmail)
	dario.open("/account")
	dario.waitText("#email-current", newEmail)
	if n := dario.count("#email-pending"); n != 0 {
		t.Errorf("the new address is still shown as waiting")
	}
}
