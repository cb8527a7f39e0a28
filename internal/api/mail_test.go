package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"civico/internal/config"
	"civico/internal/testutil"
)

// mailServer is a Civico sending its mail to a real SMTP server of the test.
func mailServer(t *testing.T) (*testutil.Server, *testutil.SMTPServer) {
	t.Helper()
	smtp := testutil.SMTP(t)
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) {
		c.SMTPURL = smtp.URL()
		c.MailFrom = "Civico Test <civico@example.org>"
		c.PublicURL = "http://civico.test"
	}))
	return s, smtp
}

// linkWith returns the mail's link to path (e.g. "/reset") and its token.
func linkWith(t *testing.T, m testutil.Mail, path string) (string, string) {
	t.Helper()
	for _, l := range m.Links {
		u, err := url.Parse(l)
		if err == nil && u.Path == path && u.Query().Get("token") != "" {
			if u.Scheme+"://"+u.Host != "http://civico.test" {
				t.Fatalf("link %s does not point at the public URL", l)
			}
			return l, u.Query().Get("token")
		}
	}
	t.Fatalf("mail %q has no %s link: %v\n%s", m.Subject(), path, m.Links, m.Text)
	return "", ""
}

// nextMails takes n mails, sorted by recipient (workers send in any order).
func nextMails(t *testing.T, smtp *testutil.SMTPServer, n int) []testutil.Mail {
	t.Helper()
	out := make([]testutil.Mail, n)
	for i := range out {
		out[i] = smtp.Next(t)
	}
	slices.SortFunc(out, func(a, b testutil.Mail) int { return strings.Compare(a.To[0], b.To[0]) })
	return out
}

type meView struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	PendingEmail  string `json:"pending_email"`
}

func getMe(t *testing.T, s *testutil.Server, token string) meView {
	t.Helper()
	var me meView
	s.Do(t, "GET", "/me", nil, token).Expect(t, http.StatusOK).JSON(t, &me)
	return me
}

// A resident who forgot the password gets a link by mail and is back in;
// the link works once, every old session and access token ends, and an
// unknown address gets the same answer and no mail. The sign-up's
// verification link confirms the address.
func TestPasswordRecoveryAndVerificationByMail(t *testing.T) {
	s, smtp := mailServer(t)
	anna := s.Register(t, "Anna Verdi")

	// Sign-up sends the verification mail: envelope, headers, both parts.
	m := smtp.Next(t)
	if m.From != "civico@example.org" || len(m.To) != 1 || m.To[0] != anna.Email {
		t.Fatalf("envelope %s -> %v", m.From, m.To)
	}
	for _, h := range []string{"Message-Id", "Date", "From", "To", "Subject"} {
		if m.Header.Get(h) == "" {
			t.Errorf("the verification mail has no %s header", h)
		}
	}
	if !strings.Contains(m.Header.Get("Content-Type"), "multipart/alternative") || m.Text == "" || m.HTML == "" {
		t.Fatalf("want text and HTML parts: %s", m.Header.Get("Content-Type"))
	}
	if strings.Contains(m.HTML, "<img") {
		t.Error("the HTML part holds an image (tracking pixels are not allowed)")
	}
	if getMe(t, s, anna.Token).EmailVerified {
		t.Fatal("verified before the link was used")
	}
	_, verify := linkWith(t, m, "/verify")
	s.Do(t, "POST", "/auth/email/verify", map[string]string{"token": verify}, "").Expect(t, http.StatusOK)
	if !getMe(t, s, anna.Token).EmailVerified {
		t.Fatal("the verification link did not verify the address")
	}
	s.Do(t, "POST", "/auth/email/verify", map[string]string{"token": verify}, "").ExpectError(t, http.StatusBadRequest, "invalid_verification_token")

	// An unknown address and a known one get the same answer.
	unknown := s.Do(t, "POST", "/auth/password/forgot", map[string]string{"email": "nobody." + testutil.RandomHex(4) + "@example.org"}, "").Expect(t, http.StatusAccepted)
	smtp.None(t)
	known := s.Do(t, "POST", "/auth/password/forgot", map[string]string{"email": anna.Email}, "").Expect(t, http.StatusAccepted)
	if string(unknown.Body) != string(known.Body) {
		t.Fatalf("answers differ: %s vs %s", unknown.Body, known.Body)
	}
	m = smtp.Next(t)
	if m.To[0] != anna.Email {
		t.Fatalf("the reset mail went to %v", m.To)
	}
	_, reset := linkWith(t, m, "/reset")
	if strings.Contains(m.HTML, reset) == false || !strings.Contains(m.Text, reset) {
		t.Fatal("the reset link is not in both parts")
	}

	s.Do(t, "POST", "/auth/password/reset", map[string]string{"token": reset, "password": "short"}, "").ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	s.Do(t, "POST", "/auth/password/reset", map[string]string{"token": reset, "password": "a brand new secret"}, "").Expect(t, http.StatusNoContent)
	// Every session ended: the access token and the refresh token.
	s.Do(t, "GET", "/me", nil, anna.Token).Expect(t, http.StatusUnauthorized)
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": anna.RefreshToken}, "").Expect(t, http.StatusUnauthorized)
	s.Do(t, "POST", "/auth/login", map[string]string{"email": anna.Email, "password": anna.Password}, "").ExpectError(t, http.StatusUnauthorized, "invalid_credentials")
	var sess struct {
		AccessToken string `json:"access_token"`
	}
	s.Do(t, "POST", "/auth/login", map[string]string{"email": anna.Email, "password": "a brand new secret"}, "").Expect(t, http.StatusOK).JSON(t, &sess)
	getMe(t, s, sess.AccessToken)
	// The link works once.
	s.Do(t, "POST", "/auth/password/reset", map[string]string{"token": reset, "password": "another new secret"}, "").ExpectError(t, http.StatusBadRequest, "invalid_reset_token")

	// A newer link voids the older one.
	s.Do(t, "POST", "/auth/password/forgot", map[string]string{"email": anna.Email}, "").Expect(t, http.StatusAccepted)
	_, first := linkWith(t, smtp.Next(t), "/reset")
	s.Do(t, "POST", "/auth/password/forgot", map[string]string{"email": anna.Email}, "").Expect(t, http.StatusAccepted)
	_, second := linkWith(t, smtp.Next(t), "/reset")
	s.Do(t, "POST", "/auth/password/reset", map[string]string{"token": first, "password": "another new secret"}, "").ExpectError(t, http.StatusBadRequest, "invalid_reset_token")
	s.Do(t, "POST", "/auth/password/reset", map[string]string{"token": second, "password": "another new secret"}, "").Expect(t, http.StatusNoContent)

	// Bad input changes nothing and sends nothing.
	for _, bad := range []string{"not an address", "anna@example.org\r\nBcc: all@example.org", strings.Repeat("a", 250) + "@example.org"} {
		s.Do(t, "POST", "/auth/password/forgot", map[string]string{"email": bad}, "").ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	}
	for _, bad := range []string{"", "nonsense", "0123456789abcdef01234567.forged", strings.Repeat("x", 600)} {
		s.Do(t, "POST", "/auth/password/reset", map[string]string{"token": bad, "password": "whatever it is"}, "").ExpectError(t, http.StatusBadRequest, "invalid_reset_token")
		s.Do(t, "POST", "/auth/email/verify", map[string]string{"token": bad}, "").ExpectError(t, http.StatusBadRequest, "invalid_verification_token")
	}
	smtp.None(t)
	// A name cannot carry a header into a mail: line breaks become spaces.
	eve := "eve." + testutil.RandomHex(3) + "@example.org"
	s.Do(t, "POST", "/auth/register", map[string]string{"email": eve, "password": "long enough", "name": "Eve\r\nBcc: all@example.org"}, "").Expect(t, http.StatusCreated)
	m = smtp.Next(t)
	if len(m.To) != 1 || m.To[0] != eve || m.Header.Get("Bcc") != "" || strings.Contains(string(m.Data), "\r\nBcc:") {
		t.Fatalf("header injected: envelope %v, header %v", m.To, m.Header)
	}
	smtp.None(t)
}

// Changing the email sends a link to the new address and a notice to the
// old one; the account keeps the old address until the link is used.
func TestChangeEmailNeedsTheNewAddressVerified(t *testing.T) {
	s, smtp := mailServer(t)
	bruno := s.Register(t, "Bruno Neri")
	smtp.Next(t) // the sign-up's verification
	newAddr := "bruno.new." + testutil.RandomHex(3) + "@example.org"
	s.Do(t, "POST", "/me/email", map[string]string{"email": newAddr, "current_password": "wrong password"}, bruno.Token).ExpectError(t, http.StatusForbidden, "wrong_password")
	smtp.None(t)
	var me meView
	s.Do(t, "POST", "/me/email", map[string]string{"email": newAddr, "current_password": bruno.Password}, bruno.Token).Expect(t, http.StatusAccepted).JSON(t, &me)
	if me.Email != bruno.Email || me.PendingEmail != newAddr {
		t.Fatalf("after the request: %+v", me)
	}
	mails := nextMails(t, smtp, 2) // sorted by recipient: bruno.n… < bruno.ne…
	var toNew, toOld testutil.Mail
	for _, m := range mails {
		switch m.To[0] {
		case newAddr:
			toNew = m
		case bruno.Email:
			toOld = m
		default:
			t.Fatalf("a mail to %v", m.To)
		}
	}
	if toOld.Text == "" || !strings.Contains(toOld.Text, newAddr) {
		t.Fatalf("the old address's notice does not name the new one: %q", toOld.Text)
	}
	_, token := linkWith(t, toNew, "/verify")
	// Until verified the old address signs in.
	s.Do(t, "POST", "/auth/login", map[string]string{"email": newAddr, "password": bruno.Password}, "").ExpectError(t, http.StatusUnauthorized, "invalid_credentials")
	s.Do(t, "POST", "/auth/email/verify", map[string]string{"token": token}, "").Expect(t, http.StatusOK)
	if me := getMe(t, s, bruno.Token); me.Email != newAddr || !me.EmailVerified || me.PendingEmail != "" {
		t.Fatalf("after verification: %+v", me)
	}
	s.Do(t, "POST", "/auth/login", map[string]string{"email": newAddr, "password": bruno.Password}, "").Expect(t, http.StatusOK)
	// The old address is free again.
	s.Do(t, "POST", "/auth/register", map[string]string{"email": bruno.Email, "password": "long enough", "name": "Bruno Due"}, "").Expect(t, http.StatusCreated)
	smtp.Next(t)
	smtp.None(t)
}

// A reply to a resident without push goes by mail, with a one-click
// unsubscribe (RFC 8058) that works without signing in and turns exactly
// that setting off.
func TestReplyMailAndOneClickUnsubscribe(t *testing.T) {
	s, smtp := mailServer(t)
	anna, bruno := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Bianchi")
	for _, m := range nextMails(t, smtp, 2) {
		_, token := linkWith(t, m, "/verify")
		s.Do(t, "POST", "/auth/email/verify", map[string]string{"token": token}, "").Expect(t, http.StatusOK)
	}
	var settings struct {
		Email struct {
			Replies string `json:"replies"`
			Digest  string `json:"digest"`
		} `json:"email"`
	}
	s.Do(t, "GET", "/me/notifications", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &settings)
	if settings.Email.Replies != "immediately" || settings.Email.Digest != "weekly" {
		t.Fatalf("defaults: %+v", settings.Email)
	}
	sid := s.StreetWithMembers(t, anna, "Via Fondazza", bruno)
	pid := s.CreatePost(t, anna, sid, "request", "Cerco una scala")
	s.Reply(t, bruno, pid, "Ce l'ho io, <b>passo</b> stasera")

	m := smtp.Next(t)
	if m.To[0] != anna.Email {
		t.Fatalf("the reply mail went to %v", m.To)
	}
	if !strings.Contains(m.Text, "Ce l'ho io, <b>passo</b> stasera") || strings.Contains(m.HTML, "<b>passo</b>") {
		t.Fatalf("the reply's text must be in the text part as written and escaped in HTML:\n%s\n%s", m.Text, m.HTML)
	}
	if !slices.ContainsFunc(m.Links, func(l string) bool { return strings.HasSuffix(l, "/posts/"+pid) }) {
		t.Fatalf("no link to the post: %v", m.Links)
	}
	list := m.Header.Get("List-Unsubscribe")
	if m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.HasPrefix(list, "<http://civico.test/api/v1/mail/unsubscribe?t=") {
		t.Fatalf("List-Unsubscribe %q, -Post %q", list, m.Header.Get("List-Unsubscribe-Post"))
	}
	u, err := url.Parse(strings.Trim(list, "<>"))
	if err != nil {
		t.Fatal(err)
	}
	path := u.Path + "?" + u.RawQuery
	// Opening the link changes nothing; the mail client's POST does.
	s.DoRaw(t, "GET", path, nil, "").Expect(t, http.StatusOK)
	s.Do(t, "GET", "/me/notifications", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &settings)
	if settings.Email.Replies != "immediately" {
		t.Fatalf("a GET unsubscribed: %+v", settings.Email)
	}
	s.DoRaw(t, "POST", path, "List-Unsubscribe=One-Click", "", "Content-Type", "application/x-www-form-urlencoded").Expect(t, http.StatusOK)
	s.Do(t, "GET", "/me/notifications", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &settings)
	if settings.Email.Replies != "off" || settings.Email.Digest != "weekly" {
		t.Fatalf("after one-click: %+v", settings.Email)
	}
	s.DoRaw(t, "POST", u.Path+"?t=forged"+u.RawQuery[2:5], "List-Unsubscribe=One-Click", "", "Content-Type", "application/x-www-form-urlencoded").
		ExpectError(t, http.StatusBadRequest, "invalid_unsubscribe_token")

	// Off means off: the next reply sends nothing.
	s.Reply(t, bruno, pid, "Anzi, passo domani")
	smtp.None(t)
}
