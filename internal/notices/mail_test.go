package notices_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/mail"
	"civico/internal/notices"
	"civico/internal/push"
	"civico/internal/testutil"
)

// mailEnv is env with the real mail channel: the outbox and its sender,
// talking SMTP to a server started by the test.
func mailEnv(t *testing.T) (*env, *mail.Service, *testutil.SMTPServer) {
	t.Helper()
	smtp := testutil.SMTP(t)
	var m *mail.Service
	e, _ := newEnv(t, func(e *env) outbox {
		var err error
		m, err = mail.New(context.Background(), e.st, e.clock, mail.Options{URL: smtp.URL(), From: "Civico <civico@example.org>",
			PublicURL: publicURL, Rate: 1000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		m.Start()
		return m
	})
	return e, m, smtp
}

func TestReplyMailThroughSMTPAndItsOneClickUnsubscribe(t *testing.T) {
	e, _, smtp := mailEnv(t)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	sid := e.street("Via Zamboni", anna, bruno)
	p := e.post(anna, sid, "request", "Serve un trapano <subito>")
	e.reply(bruno, p.ID, "Te lo porto io, <b>stasera</b> & domani")

	got := smtp.Next(t)
	if got.From != "civico@example.org" || !slices.Equal(got.To, []string{anna.Email}) {
		t.Fatalf("envelope %s -> %v", got.From, got.To)
	}
	h := got.Header
	if s := got.Subject(); s != "Nuova risposta a «Serve un trapano <subito>»" {
		t.Fatalf("subject %q", s)
	}
	if !strings.Contains(h.Get("To"), anna.Email) || h.Get("Message-ID") == "" || h.Get("Date") == "" ||
		!strings.HasPrefix(h.Get("Content-Type"), "multipart/alternative") {
		t.Fatalf("headers %v", h)
	}
	unsubscribe := strings.TrimSuffix(strings.TrimPrefix(h.Get("List-Unsubscribe"), "<"), ">")
	if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.HasPrefix(unsubscribe, publicURL+"/api/v1/mail/unsubscribe?t=") {
		t.Fatalf("List-Unsubscribe %q, %q", h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
	}
	postURL := publicURL + "/posts/" + p.ID
	if !slices.Contains(got.Links, postURL) || !slices.Contains(got.Links, unsubscribe) {
		t.Fatalf("links %v", got.Links)
	}
	if !strings.Contains(got.Text, "> Te lo porto io, <b>stasera</b> & domani") {
		t.Fatalf("text part:\n%s", got.Text)
	}
	if !strings.Contains(got.HTML, "Te lo porto io, &lt;b&gt;stasera&lt;/b&gt; &amp; domani") || strings.Contains(got.HTML, "<b>stasera") ||
		!strings.Contains(got.HTML, `href="`+postURL+`"`) {
		t.Fatalf("HTML part:\n%s", got.HTML)
	}

	// The mail client's one-click POST carries the link's token.
	if s, err := e.n.Unsubscribe(e.ctx, tokenOf(t, unsubscribe)); err != nil || s != notices.SettingReplies {
		t.Fatalf("unsubscribe = %q, %v", s, err)
	}
	if s, _ := e.n.Settings(e.ctx, anna.UserID); s != (notices.Settings{Replies: "off", Digest: "weekly"}) {
		t.Fatalf("settings after unsubscribing: %+v", s)
	}
	e.reply(bruno, p.ID, "Ci sei?")
	smtp.None(t)
}

func TestReplyMailThroughSMTPWaitsForTheEndOfQuietHours(t *testing.T) {
	e, m, smtp := mailEnv(t)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	if _, err := e.push.SetSettings(e.ctx, anna.UserID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:00"}}); err != nil {
		t.Fatal(err)
	}
	sid := e.street("Via Petroni", anna, bruno)
	p := e.post(anna, sid, "request", "Chi ha un ombrello?")
	e.at("2026-03-03 23:30")
	e.reply(bruno, p.ID, "Io!")
	smtp.None(t)
	e.at("2026-03-04 06:59")
	m.Wake()
	smtp.None(t)
	e.at("2026-03-04 07:00")
	m.Wake()
	if got := smtp.Next(t); !slices.Equal(got.To, []string{anna.Email}) || !strings.Contains(got.Text, "> Io!") {
		t.Fatalf("mail %v:\n%s", got.To, got.Text)
	}
}

func TestDigestsThroughSMTPOncePerReader(t *testing.T) {
	e, _, smtp := mailEnv(t)
	anna, bruno, carla := e.named("Anna"), e.named("Bruno"), e.user(who{name: "Carla", locale: "en"})
	sid := e.street("Via del Pratello", anna, bruno, carla)
	e.at("2026-03-04 10:00")
	p := e.post(anna, sid, "request", "Chi mi aiuta a spostare un armadio?")
	e.at("2026-03-09 09:00")
	if n := e.digests(); n != 2 {
		t.Fatalf("queued %d digests, want 2 (not to the author of the only post)", n)
	}
	byTo := map[string]testutil.Mail{}
	for range 2 {
		m := smtp.Next(t)
		byTo[m.To[0]] = m
	}
	b, c := byTo[bruno.Email], byTo[carla.Email]
	if b.Subject() != "Le novità della settimana in Via del Pratello" || c.Subject() != "This week in Via del Pratello" {
		t.Fatalf("subjects %q, %q", b.Subject(), c.Subject())
	}
	for _, m := range []testutil.Mail{b, c} {
		if m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !slices.Contains(m.Links, publicURL+"/posts/"+p.ID) ||
			!strings.Contains(m.HTML, "Chi mi aiuta a spostare un armadio?") {
			t.Fatalf("digest %v: %v\n%s", m.To, m.Header, m.Text)
		}
		unsubscribe := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
		if s, err := e.n.CheckUnsubscribe(tokenOf(t, unsubscribe)); err != nil || s != notices.SettingDigest {
			t.Fatalf("one-click stops %q, %v", s, err)
		}
	}
	// Again, later the same day (another process, the operator's command):
	// nothing more.
	e.clock.Advance(3 * time.Hour)
	if n := e.digests(); n != 0 {
		t.Fatalf("second run queued %d", n)
	}
	smtp.None(t)
}
