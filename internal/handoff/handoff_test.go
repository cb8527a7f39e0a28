package handoff_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/handoff"
	"civico/internal/posts"
	"civico/internal/push"
	"civico/internal/pushservice"
	"civico/internal/testutil"
)

type reminder struct {
	Title   string `json:"title"`
	Body    string `json:"body"`
	URL     string `json:"url"`
	Tag     string `json:"tag"`
	Actions []struct {
		Action string `json:"action"`
		Title  string `json:"title"`
	} `json:"actions"`
}

type env struct {
	t    *testing.T
	s    *testutil.Server
	fake *clock.Fake
	ps   *pushservice.Service
}

func newEnv(t *testing.T, start time.Time) *env {
	t.Helper()
	fake := clock.NewFake(start)
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	return &env{t: t, s: s, fake: fake, ps: s.PushService(t)}
}

func (e *env) sweep() {
	e.t.Helper()
	if err := e.s.App.Handoff.Sweep(context.Background()); err != nil {
		e.t.Fatalf("sweep: %v", err)
	}
}

func decode(t *testing.T, m pushservice.Message) reminder {
	t.Helper()
	var r reminder
	if err := m.Decode(&r); err != nil {
		t.Fatalf("payload %s: %v", m.Payload, err)
	}
	return r
}

func actions(r reminder) []string {
	var out []string
	for _, a := range r.Actions {
		out = append(out, a.Action)
	}
	return out
}

func me(u *testutil.User) auth.Principal { return auth.Principal{UserID: u.ID} }

// signIn gives users fresh access tokens after the fake clock moved past
// their expiry.
func (e *env) signIn(users ...*testutil.User) {
	e.t.Helper()
	for _, u := range users {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		e.s.Do(e.t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").Expect(e.t, http.StatusOK).JSON(e.t, &out)
		u.Token = out.AccessToken
	}
}

// A request open for 48 hours without a reply earns its author exactly one
// reminder, in Italian, with "still needed" and "no longer needed"; not
// before 48 hours, not again on later sweeps, not after a restart. A
// request with a reply, and an offer, earn none.
func TestOpenRequestWithoutRepliesRemindsItsAuthorOnce(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	admin, author, other := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla")
	sid := s.StreetWithMembers(t, admin, "Via del Pratello", author, other)
	sub := s.SubscribePush(t, author, e.ps)
	pid := s.Request(t, author, sid, "repairs", "Rubinetto che perde")
	answered := s.Request(t, author, sid, "errands", "Spesa sabato")
	s.Reply(t, other, answered, "Ci penso io")
	testutil.WaitPushes(t, e.ps, sub, 1) // the reply
	s.CreatePost(t, author, sid, "offer", "Presto la scala")

	e.fake.Advance(47*time.Hour + 59*time.Minute)
	e.sweep()
	e.fake.Advance(2 * time.Minute)
	e.sweep()
	e.sweep()
	msgs := testutil.WaitPushes(t, e.ps, sub, 2)
	r := decode(t, msgs[1])
	if r.Title != "Hai ancora bisogno?" || r.URL != "/posts/"+pid+"/handoff" || r.Tag != "handoff-"+pid {
		t.Fatalf("reminder %+v", r)
	}
	if got := actions(r); len(got) != 2 || got[0] != handoff.AnswerStillNeeded || got[1] != handoff.AnswerNotNeeded {
		t.Fatalf("actions %v", got)
	}

	// Stop only once the push service's answer was recorded: a push cut
	// off mid-send is sent again after a restart, by design of the outbox.
	waitStats(t, s.App.Push, func(st push.Stats) bool { return st.Sent == 2 && st.Pending == 0 })
	s.Restart(t)
	e.sweep()
	// A later request's reminder is the next push: nothing else was sent
	// in between, after the restart included.
	e.signIn(author)
	pid2 := s.Request(t, author, sid, "company", "Compagnia per la nonna")
	e.fake.Advance(49 * time.Hour)
	e.sweep()
	e.sweep()
	msgs = testutil.WaitPushes(t, e.ps, sub, 3)
	if r := decode(t, msgs[2]); r.URL != "/posts/"+pid2+"/handoff" {
		t.Fatalf("third push %+v, want the second request's reminder", r)
	}
	if n := len(e.ps.Attempts(sub.Token)); n != 3 {
		t.Fatalf("%d pushes, want 3 (reply, one reminder per request)", n)
	}
}

// A request matched for 3 days and not done earns one reminder in the
// author's language with "done" and "no longer needed"; answering "done"
// marks it done with the thanks and records the exchange.
func TestMatchedRequestRemindsAfterThreeDaysAndDoneAnswers(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	admin, author, helper := s.Register(t, "Anna"), s.Register(t, "Emma"), s.Register(t, "Gino")
	s.Do(t, "PATCH", "/me", map[string]string{"locale": "en"}, author.Token).Expect(t, http.StatusOK)
	sid := s.StreetWithMembers(t, admin, "Via Mascarella", author, helper)
	sub := s.SubscribePush(t, author, e.ps)
	pid := s.Request(t, author, sid, "transport", "Lift to the hospital")
	rid := s.Reply(t, helper, pid, "I can drive you")
	testutil.WaitPushes(t, e.ps, sub, 1)
	s.Accept(t, author, pid, rid)

	e.fake.Advance(3*24*time.Hour - time.Minute)
	e.sweep()
	e.fake.Advance(2 * time.Minute)
	e.sweep()
	msgs := testutil.WaitPushes(t, e.ps, sub, 2)
	r := decode(t, msgs[1])
	if r.Title != "How did it go?" || r.URL != "/posts/"+pid+"/handoff" {
		t.Fatalf("reminder %+v", r)
	}
	if got := actions(r); len(got) != 2 || got[0] != handoff.AnswerDone || got[1] != handoff.AnswerNotNeeded {
		t.Fatalf("actions %v", got)
	}
	ctx := context.Background()
	v, err := s.App.Handoff.Status(ctx, me(author), pid)
	if err != nil || v.State != handoff.StateMatched || v.RemindedAt == nil || len(v.Answers) != 3 {
		t.Fatalf("status %+v %v", v, err)
	}
	p, err := s.App.Handoff.Answer(ctx, me(author), pid, handoff.AnswerDone, "Thank you Gino!")
	if err != nil || p.Status != posts.StatusDone || p.Thanks != "Thank you Gino!" {
		t.Fatalf("done answer: %+v %v", p, err)
	}
	var ex []posts.Exchange
	if err := s.App.Posts.EachExchange(ctx, sid, func(x posts.Exchange) error { ex = append(ex, x); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ex) != 1 || ex[0].GiverID != helper.ID || ex[0].ReceiverID != author.ID {
		t.Fatalf("exchanges %+v", ex)
	}
	e.fake.Advance(4 * 24 * time.Hour)
	e.sweep()
	if n := len(e.ps.Attempts(sub.Token)); n != 2 {
		t.Fatalf("%d pushes after done, want 2", n)
	}
}

// The other answers: still needed renews an open request for 30 days (a
// matched one stays matched), no longer needed closes it; bad answers and
// other people change nothing.
func TestHandoffAnswers(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	ctx := context.Background()
	admin, author, helper, outsider := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Gino"), s.Register(t, "Ugo")
	sid := s.StreetWithMembers(t, admin, "Via Zamboni", author, helper)
	s.CreateStreet(t, outsider, "Altrove")
	open := s.Request(t, author, sid, "lending", "Un trapano")
	e.fake.Advance(10 * 24 * time.Hour)
	p, err := s.App.Handoff.Answer(ctx, me(author), open, handoff.AnswerStillNeeded, "")
	if err != nil || p.Status != posts.StatusOpen || !p.ExpiresAt.Equal(e.fake.Now().Add(posts.ExpiresAfter).Truncate(time.Millisecond)) {
		t.Fatalf("still needed: %+v %v", p, err)
	}
	e.signIn(author, helper, outsider)
	matched := s.Request(t, author, sid, "repairs", "La bici")
	s.Accept(t, author, matched, s.Reply(t, helper, matched, "Io"))
	if p, err := s.App.Handoff.Answer(ctx, me(author), matched, handoff.AnswerStillNeeded, ""); err != nil || p.Status != posts.StatusMatched {
		t.Fatalf("still needed on matched: %+v %v", p, err)
	}
	bad := []struct {
		name           string
		who            *testutil.User
		post, answer   string
		thanks         string
		kind, problem  string
		wantStatusCode int
	}{
		{"unknown answer", author, open, "maybe", "", "answer", "invalid", 422},
		{"no answer", author, open, "", "", "answer", "required", 422},
		{"thanks without done", author, open, handoff.AnswerNotNeeded, "grazie", "thanks", "invalid", 422},
		{"done while open", author, open, handoff.AnswerDone, "", "", "", 409},
		{"another member", helper, open, handoff.AnswerNotNeeded, "", "", "", 403},
		{"not a member", outsider, open, handoff.AnswerNotNeeded, "", "", "", 404},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]string{"answer": c.answer}
			if c.thanks != "" {
				body["thanks"] = c.thanks
			}
			r := s.Do(t, "POST", "/posts/"+c.post+"/handoff", body, c.who.Token)
			if r.Status != c.wantStatusCode {
				t.Fatalf("status %d, want %d: %s", r.Status, c.wantStatusCode, r.Body)
			}
			if c.kind != "" && r.Fields()[c.kind] != c.problem {
				t.Fatalf("fields %v", r.Fields())
			}
		})
	}
	var got posts.Post
	s.Do(t, "POST", "/posts/"+open+"/handoff", map[string]string{"answer": handoff.AnswerNotNeeded}, author.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.Status != posts.StatusClosed || got.CloseReason != posts.CloseNoLongerNeeded {
		t.Fatalf("not needed: %+v", got)
	}
}

// A reminder that falls due in the author's quiet hours is held until they
// end, then delivered once.
func TestReminderWaitsForQuietHours(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	e := newEnv(t, time.Date(2026, 3, 2, 22, 30, 0, 0, rome))
	s := e.s
	admin, author := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, admin, "Via Petroni", author)
	sub := s.SubscribePush(t, author, e.ps)
	if _, err := s.App.Push.SetSettings(context.Background(), author.ID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:30"}}); err != nil {
		t.Fatal(err)
	}
	pid := s.Request(t, author, sid, "company", "Una chiacchierata")
	e.fake.Advance(48*time.Hour + time.Minute) // 22:31 in Rome
	e.sweep()
	waitStats(t, s.App.Push, func(st push.Stats) bool { return st.Deliveries >= 1 && st.Pending == 1 })
	if n := len(e.ps.Attempts(sub.Token)); n != 0 {
		t.Fatalf("%d pushes during quiet hours", n)
	}
	e.fake.Set(time.Date(2026, 3, 5, 7, 30, 0, 0, rome))
	s.App.Push.Wake()
	msgs := testutil.WaitPushes(t, e.ps, sub, 1)
	if r := decode(t, msgs[0]); r.URL != "/posts/"+pid+"/handoff" {
		t.Fatalf("held push %+v", r)
	}
}

// waitStats polls the push service's counters (no event says a delivery
// was held) until ok, for at most 10 s.
func waitStats(t *testing.T, svc *push.Service, ok func(push.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(svc.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("push stats %+v", svc.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
