package notices_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"civico/internal/notices"
)

func TestDigestIsDueFromEightInTheReadersTimeZoneOncePerPeriod(t *testing.T) {
	e, out := newEnv(t, nil)
	anna := e.named("Anna") // weekly, Rome
	tokyo := e.user(who{name: "Kenji", zone: "Asia/Tokyo", locale: "en"})
	york := e.user(who{name: "Mary", zone: "America/New_York", locale: "en"})
	daily := e.named("Dario")
	e.set(daily, notices.Settings{Digest: notices.DigestDaily})
	off := e.named("Ottavio")
	e.set(off, notices.Settings{Digest: notices.DigestOff})
	unverified := e.user(who{name: "Ugo", unverified: true})
	piero := e.named("Piero")
	sid := e.street("Via del Pratello", anna, tokyo, york, daily, off, unverified, piero)

	e.at("2026-03-03 12:00") // Tuesday of week 10
	e.post(piero, sid, "request", "Chi mi presta una scala?")
	e.post(piero, sid, "offer", "Ripetizioni di latino")

	steps := []struct {
		local string // Rome
		want  []person
	}{
		{"2026-03-09 07:30", []person{tokyo}}, // Tokyo 15:30; Rome 07:30, New York 02:30: not yet
		{"2026-03-09 08:00", []person{anna}},  // Rome 08:00: Anna; Dario's daily covers since yesterday: nothing
		{"2026-03-09 12:00", nil},             // New York 07:00 (summer time since Sunday): not yet
		{"2026-03-09 14:00", []person{york}},  // New York 09:00
		{"2026-03-10 09:00", nil},             // Tuesday: week 11 is sent; nothing new for Dario
		{"2026-03-16 09:00", nil},             // week 12: nothing new in the street
		{"2026-03-16 14:00", nil},             // nor for Mary
	}
	for _, s := range steps {
		before := len(out.all())
		e.at(s.local)
		if n := e.digests(); n != len(s.want) {
			t.Fatalf("%s: queued %d, want %d: %+v", s.local, n, len(s.want), out.since(before))
		}
		got := out.since(before)
		for i, p := range s.want {
			if got[i].To != p.Email || got[i].Kind != "digest" {
				t.Fatalf("%s: mail %d to %s, want %s (%s)", s.local, i, got[i].To, p.Email, p.Name)
			}
		}
		// A second run at the same moment queues nothing new.
		if n := e.digests(); n != 0 {
			t.Fatalf("%s: second run queued %d", s.local, n)
		}
	}
	for _, p := range []person{off, unverified, piero, daily} {
		if ms := out.to(p.Email); len(ms) != 0 {
			t.Fatalf("%s got %d digests", p.Name, len(ms))
		}
	}
	m := out.to(anna.Email)[0]
	if m.ID != "digest:"+sid+":"+anna.UserID+":2026-W11" || m.Subject != "Le novità della settimana in Via del Pratello" {
		t.Fatalf("mail %q %q", m.ID, m.Subject)
	}
	if k := out.to(tokyo.Email)[0]; k.Subject != "This week in Via del Pratello" || !strings.Contains(k.Text, "Chi mi presta una scala?") {
		t.Fatalf("Kenji's digest %q:\n%s", k.Subject, k.Text)
	}

	// A new post on Tuesday: Dario's daily digest tells it on Wednesday,
	// the weekly readers next Monday.
	e.at("2026-03-17 10:00")
	p := e.post(piero, sid, "request", "Cerco compagnia per il cinema")
	e.at("2026-03-18 08:05")
	if n := e.digests(); n != 1 {
		t.Fatalf("Wednesday: queued %d", n)
	}
	d := out.to(daily.Email)
	if len(d) != 1 || d[0].Subject != "Le novità di oggi in Via del Pratello" || !strings.Contains(d[0].Text, publicURL+"/posts/"+p.ID) ||
		strings.Contains(d[0].Text, "Chi mi presta una scala?") {
		t.Fatalf("daily digest: %+v", d)
	}
}

func TestDigestListsUnansweredRequestsFirstThenTheRestNewestFirst(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, piero, carla := e.named("Anna"), e.named("Piero"), e.named("Carla")
	e.set(piero, notices.Settings{Digest: notices.DigestOff})
	e.set(carla, notices.Settings{Digest: notices.DigestOff})
	sid := e.street("Via Saragozza", anna, piero, carla)
	e.at("2026-03-03 09:00")
	titles := []struct{ kind, title string }{
		{"offer", "o1 Presto il trapano"}, {"request", "r1 Aiuto col trasloco"}, {"request", "r2 Spesa per la nonna"},
		{"offer", "o2 Lezioni di inglese"}, {"request", "r3 Passaggio in stazione"}, {"request", "x1 Chiusa"},
		{"request", "x2 Rimossa"}, {"request", "x3 Accettata"},
	}
	ids := map[string]string{}
	for _, it := range titles {
		e.clock.Advance(10 * time.Minute)
		ids[it.title[:2]] = e.post(piero, sid, it.kind, it.title).ID
	}
	e.reply(carla, ids["r1"], "Ci sono io")
	if _, err := e.posts.Close(e.ctx, piero.Principal, ids["x1"]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.posts.Remove(e.ctx, piero.Principal, ids["x2"], "doppione"); err != nil {
		t.Fatal(err)
	}
	r := e.reply(carla, ids["x3"], "Vengo io")
	if _, err := e.posts.Accept(e.ctx, piero.Principal, ids["x3"], r.ID); err != nil {
		t.Fatal(err)
	}
	e.at("2026-03-09 08:30")
	if n := e.digests(); n != 1 {
		t.Fatalf("queued %d", n)
	}
	m := out.to(anna.Email)[0]
	order := []string{"Richieste che aspettano ancora una risposta", "r3 ", "r2 ", "Altre novità", "Offerta: o2 ", "Richiesta: r1 ", "Offerta: o1 "}
	at := -1
	for _, s := range order {
		i := strings.Index(m.Text, s)
		if i <= at {
			t.Fatalf("%q out of order in:\n%s", s, m.Text)
		}
		at = i
	}
	for _, s := range []string{"x1 ", "x2 ", "x3 "} {
		if strings.Contains(m.Text, s) || strings.Contains(m.HTML, s) {
			t.Fatalf("closed, removed or matched post %q listed:\n%s", s, m.Text)
		}
	}
	for _, want := range []string{"r3 Passaggio in stazione (Piccole riparazioni) · Piero", publicURL + "/posts/" + ids["r3"],
		publicURL + "/streets/" + sid, "Non voglio più questo riepilogo: " + m.Unsubscribe} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{`<a href="` + publicURL + "/posts/" + ids["r2"] + `">r2 Spesa per la nonna</a>`,
		`<a href="` + m.Unsubscribe + `">Non voglio più questo riepilogo</a>`} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
		}
	}
	if s, _ := e.n.CheckUnsubscribe(tokenOf(t, m.Unsubscribe)); s != notices.SettingDigest {
		t.Fatalf("one-click stops %q", s)
	}
}

func TestDigestListsTwentyAndCountsTheRest(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, piero := e.named("Anna"), e.named("Piero")
	e.set(piero, notices.Settings{Digest: notices.DigestOff})
	sid := e.street("Via Castiglione", anna, piero)
	e.at("2026-03-04 09:00")
	for i := range 23 {
		e.clock.Advance(time.Minute)
		e.post(piero, sid, "request", fmt.Sprintf("Richiesta numero %02d", i))
	}
	e.at("2026-03-09 09:00")
	if n := e.digests(); n != 1 {
		t.Fatalf("queued %d", n)
	}
	m := out.to(anna.Email)[0]
	if got := strings.Count(m.Text, "Richiesta numero "); got != 20 {
		t.Fatalf("%d listed", got)
	}
	if !strings.Contains(m.Text, "Richiesta numero 22") || strings.Contains(m.Text, "Richiesta numero 02") ||
		!strings.Contains(m.Text, "… e altri 3 post nella bacheca della via.") {
		t.Fatalf("text:\n%s", m.Text)
	}
}

func TestNoDigestWhenTheStreetHadNothingNew(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, piero := e.named("Anna"), e.named("Piero")
	sid := e.street("Via Galliera", anna, piero)
	e.at("2026-03-03 09:00")
	e.post(piero, sid, "offer", "Vecchia offerta")
	// Three weeks later the post is old news.
	e.at("2026-03-23 09:00")
	if n := e.digests(); n != 0 {
		t.Fatalf("queued %d: %+v", n, out.all())
	}
	// A post later in the week waits for next week's digest.
	e.at("2026-03-24 09:00")
	e.post(piero, sid, "request", "Nuova richiesta")
	if n := e.digests(); n != 0 {
		t.Fatalf("queued %d mid-week", n)
	}
	e.at("2026-03-30 08:01") // summer time since Sunday
	if n := e.digests(); n != 1 {
		t.Fatalf("queued %d next week", n)
	}
	if m := out.to(anna.Email)[0]; !strings.Contains(m.Text, "Nuova richiesta") || strings.Contains(m.Text, "Vecchia offerta") {
		t.Fatalf("text:\n%s", m.Text)
	}
}

// A digest that could not be queued is not marked: the next run queues it.
func TestDigestNotQueuedIsTriedAgain(t *testing.T) {
	e, out := newEnv(t, nil)
	anna, piero := e.named("Anna"), e.named("Piero")
	sid := e.street("Via Belle Arti", anna, piero)
	e.at("2026-03-03 09:00")
	e.post(piero, sid, "offer", "Passaggi per Modena")
	e.at("2026-03-09 09:00")
	out.mu.Lock()
	out.fail = fmt.Errorf("outbox down")
	out.mu.Unlock()
	if _, err := e.n.Digests(e.ctx, e.clock.Now()); err == nil {
		t.Fatal("no error with the outbox down")
	}
	out.mu.Lock()
	out.fail = nil
	out.mu.Unlock()
	if n := e.digests(); n != 1 || len(out.to(anna.Email)) != 1 {
		t.Fatalf("queued %d after the outbox came back", n)
	}
}
