package notices_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"civico/internal/events"
	"civico/internal/notices"
	"civico/internal/push"
)

func TestReplyMailGoesToTheAuthorWithoutDevices(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	sid := e.street("Via Zamboni", anna, bruno)
	p := e.post(anna, sid, "request", "Serve un trapano")
	r := e.reply(bruno, p.ID, "Te lo porto io stasera.\nA dopo!")

	mails := out.all()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1: %+v", len(mails), mails)
	}
	m := mails[0]
	if m.To != anna.Email || m.ToName != "Anna" || m.Kind != "reply" || m.Locale != "it" || m.ID != "reply:"+r.ID+":"+anna.UserID {
		t.Fatalf("mail = %+v", m)
	}
	if m.Subject != "Nuova risposta a «Serve un trapano»" {
		t.Fatalf("subject %q", m.Subject)
	}
	postURL := publicURL + "/posts/" + p.ID
	for _, want := range []string{"Ciao Anna,", "Bruno ha risposto al tuo post «Serve un trapano» in Via Zamboni:",
		"> Te lo porto io stasera.\n> A dopo!", postURL, m.Unsubscribe, publicURL + "/settings"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{`<html lang="it">`, `href="` + postURL + `"`, "Te lo porto io stasera.\nA dopo!",
		"Non voglio più email per le risposte"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
		}
	}
	if !m.NotBefore.IsZero() {
		t.Fatalf("held until %v outside quiet hours", m.NotBefore)
	}
	if setting, err := e.n.CheckUnsubscribe(tokenOf(t, m.Unsubscribe)); err != nil || setting != notices.SettingReplies {
		t.Fatalf("unsubscribe link names %q, %v", setting, err)
	}
}

func TestReplyMailOnlyWhenWantedAndNoDeviceCanTell(t *testing.T) {
	e, out := newEnv(t, nil)
	bruno := e.named("Bruno")
	cases := []struct {
		name    string
		author  func() person
		replier func(author person) person
		want    int
	}{
		{"no device", func() person { return e.named("Anna") }, nil, 1},
		{"a push device: never both", func() person { a := e.named("Anna"); e.device(a); return a }, nil, 0},
		{"unverified address", func() person { return e.user(who{name: "Anna", unverified: true}) }, nil, 0},
		{"replies off", func() person {
			a := e.named("Anna")
			e.set(a, notices.Settings{Replies: notices.RepliesOff})
			return a
		}, nil, 0},
		{"replying to oneself", func() person { return e.named("Anna") }, func(a person) person { return a }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			author := c.author()
			replier := bruno
			if c.replier != nil {
				replier = c.replier(author)
			}
			sid := e.street("Via "+c.name, author, bruno)
			p := e.post(author, sid, "offer", "Lezioni di chitarra")
			e.reply(replier, p.ID, "Mi interessa")
			if got := len(out.to(author.Email)); got != c.want {
				t.Fatalf("%d mails to the author, want %d", got, c.want)
			}
		})
	}
}

func TestReplyMailWaitsForQuietHoursAndSpeaksTheReadersLanguage(t *testing.T) {
	e, out := newEnv(t, nil)
	anna := e.user(who{name: "Anna", locale: "en", zone: "Europe/London"})
	bruno := e.named("Bruno")
	if _, err := e.push.SetSettings(e.ctx, anna.UserID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:30"}}); err != nil {
		t.Fatal(err)
	}
	sid := e.street("Via Petroni", anna, bruno)
	p := e.post(anna, sid, "request", "Need a <ladder> & rope")
	e.clock.Set(time.Date(2026, 3, 3, 23, 15, 0, 0, time.UTC)) // 23:15 in London
	e.reply(bruno, p.ID, "I have one <b>big</b> ladder")
	ms := out.to(anna.Email)
	if len(ms) != 1 {
		t.Fatalf("%d mails", len(ms))
	}
	m := ms[0]
	if want := time.Date(2026, 3, 4, 7, 30, 0, 0, time.UTC); !m.NotBefore.Equal(want) {
		t.Fatalf("not before %v, want %v", m.NotBefore, want)
	}
	if m.Locale != "en" || m.Subject != "New reply to “Need a <ladder> & rope”" || !strings.Contains(m.Text, "Hello Anna,") {
		t.Fatalf("mail = %q\n%s", m.Subject, m.Text)
	}
	// User text is escaped in the HTML part, left as it is in the text.
	if !strings.Contains(m.HTML, "I have one &lt;b&gt;big&lt;/b&gt; ladder") || strings.Contains(m.HTML, "<b>big") ||
		!strings.Contains(m.HTML, "“Need a &lt;ladder&gt; &amp; rope”") {
		t.Fatalf("HTML not escaped:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "> I have one <b>big</b> ladder") {
		t.Fatalf("text:\n%s", m.Text)
	}
}

// A title with line breaks and controls makes a one-line subject.
func TestReplySubjectIsOneLine(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	sid := e.street("Via Irnerio", anna, bruno)
	p := e.post(anna, sid, "request", strings.Repeat("Lunghissimo titolo ", 6))
	e.reply(bruno, p.ID, "Eccomi")
	m := out.all()[0]
	if strings.ContainsAny(m.Subject, "\r\n") || !strings.HasSuffix(m.Subject, "…»") || len([]rune(m.Subject)) > 85 {
		t.Fatalf("subject %q", m.Subject)
	}
}

func TestRepliesForTheDigestAreListedOnceInIt(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, bruno, carla := e.named("Anna"), e.named("Bruno"), e.named("Carla")
	e.set(anna, notices.Settings{Replies: notices.RepliesDigest, Digest: notices.DigestOff})
	e.set(bruno, notices.Settings{Digest: notices.DigestOff})
	e.set(carla, notices.Settings{Digest: notices.DigestOff})
	sid := e.street("Via Mascarella", anna, bruno, carla)
	p := e.post(anna, sid, "request", "Chi mi innaffia le piante?")
	e.reply(bruno, p.ID, "Io, volentieri")
	e.reply(carla, p.ID, "Anche io")
	if n := len(out.to(anna.Email)); n != 0 {
		t.Fatalf("%d immediate mails with replies in the digest", n)
	}
	// Tuesday: the weekly period of replies began on Monday, not yet sent.
	e.at("2026-03-03 09:00")
	if n := e.digests(); n != 1 {
		t.Fatalf("queued %d digests, want 1 (Anna's replies)", n)
	}
	ms := out.to(anna.Email)
	if len(ms) != 1 {
		t.Fatalf("%d mails to Anna", len(ms))
	}
	m := ms[0]
	for _, want := range []string{"Risposte ai tuoi post", "Bruno ha risposto a «Chi mi innaffia le piante?»:", "> Io, volentieri",
		"Carla ha risposto a", "> Anche io", publicURL + "/posts/" + p.ID} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("digest lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Index(m.Text, "Io, volentieri") > strings.Index(m.Text, "Anche io") {
		t.Error("replies not oldest first")
	}
	if strings.Contains(m.Text, "Non voglio più questo riepilogo") || tokenOf(t, m.Unsubscribe) == "" {
		t.Errorf("a digest of replies only offers to stop the digest:\n%s", m.Text)
	}
	if s, _ := e.n.CheckUnsubscribe(tokenOf(t, m.Unsubscribe)); s != notices.SettingReplies {
		t.Fatalf("one-click stops %q", s)
	}
	// Listed once: next week brings nothing, as nothing new came.
	e.at("2026-03-09 09:00")
	if n := e.digests(); n != 0 {
		t.Fatalf("queued %d more", n)
	}
	exp, err := e.n.Export(e.ctx, anna.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(exp); !strings.Contains(string(b), `"replies_for_digest":[]`) {
		t.Fatalf("replies still kept: %s", b)
	}
}

// A reply a moderator took down is no longer listed in the digest it was
// kept for (when the event names the post's author).
func TestARemovedReplyLeavesTheDigest(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	e.set(anna, notices.Settings{Replies: notices.RepliesDigest, Digest: notices.DigestOff})
	e.set(bruno, notices.Settings{Digest: notices.DigestOff})
	sid := e.street("Via Marsala", anna, bruno)
	p := e.post(anna, sid, "request", "Cerco un idraulico")
	r := e.reply(bruno, p.ID, "Una risposta sgradevole")
	if _, err := e.log.Publish(e.ctx, events.Event{Type: events.ReplyRemoved, StreetID: sid, ActorID: anna.UserID, SubjectID: bruno.UserID,
		Data: events.ReplyData{ID: r.ID, PostID: p.ID, PostAuthorID: anna.UserID, AuthorID: bruno.UserID}}); err != nil {
		t.Fatal(err)
	}
	e.at("2026-03-03 09:00")
	if n := e.digests(); n != 0 {
		t.Fatalf("queued %d: %+v", n, out.all())
	}
}
