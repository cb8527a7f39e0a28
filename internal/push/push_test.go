package push_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/push"
	"civico/internal/pushservice"
)

// A new request reaches the other members' devices, decrypted, in their
// language; the author's device gets nothing.
func TestPostNotifiesOtherMembersNotTheAuthor(t *testing.T) {
	e := newEnv(t)
	author, it, en := e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome"), e.user("en", "Europe/London")
	sid := e.table.street("Via Saragozza", author, it, en)
	d := e.post(sid, author, "request", "dog_walking", "Chi porta a spasso Fido sabato?")

	p, m := e.received(it, 1)
	want := push.Payload{Title: "Nuova richiesta · Via Saragozza", Body: "Marta: Chi porta a spasso Fido sabato? (Passeggiate col cane)",
		URL: "/posts/" + d.ID, Tag: "post-" + d.ID}
	if p != want {
		t.Fatalf("italian payload %+v, want %+v", p, want)
	}
	if m.TTL <= 0 || m.Urgency != "normal" || m.Topic == "" || m.Subject != "mailto:ops@example.org" {
		t.Fatalf("headers: ttl %d urgency %q topic %q sub %q", m.TTL, m.Urgency, m.Topic, m.Subject)
	}
	if m.BodyLen >= 3070 {
		t.Fatalf("body of %d bytes; Firefox on Android refuses 3070 and more", m.BodyLen)
	}
	p, _ = e.received(en, 1)
	if p.Title != "New request · Via Saragozza" || p.Body != "Marta: Chi porta a spasso Fido sabato? (Dog walking)" {
		t.Fatalf("english payload %+v", p)
	}
	if got := e.svc.Stats().Deliveries; got != 2 {
		t.Fatalf("%d deliveries made, want 2 (not the author's)", got)
	}
	if n := len(e.ps.Attempts(author.sub.Token)); n != 0 {
		t.Fatalf("the author's device got %d pushes", n)
	}
	e.noProtocolErrors()
}

// Every device of a user gets the push; a long post still fits in 3 KB.
func TestEveryDeviceAndLongPostsFit(t *testing.T) {
	e := newEnv(t)
	author, u := e.user("it", ""), e.user("it", "")
	phone2 := e.subscribe(u)
	sid := e.table.street(strings.Repeat("Via Lunghissima ", 20), author, u)
	e.post(sid, author, "offer", "lending", strings.Repeat("Presto un trapano 🔨 \"a percussione\" <subito>\n", 40))
	p, m := e.received(u, 1)
	if len(m.Payload) > 3*1024 || m.BodyLen >= 3070 {
		t.Fatalf("payload %d bytes, body %d bytes", len(m.Payload), m.BodyLen)
	}
	if !strings.HasSuffix(p.Body, "…") || strings.Contains(p.Body, "\n") {
		t.Fatalf("long body not cut to one paragraph: %q", p.Body)
	}
	if _, err := e.ps.WaitMessages(ctxT(t, 10*time.Second), phone2.Token, 1); err != nil {
		t.Fatal(err)
	}
}

// Settings decide who is told about which posts and replies.
func TestSettingsChooseWhatArrives(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	author, all, noOffers, onlyRepairs := e.user("it", ""), e.user("it", ""), e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via del Pratello", author, all, noOffers, onlyRepairs)
	off := false
	if _, err := e.svc.SetSettings(ctx, noOffers.ID, push.Choices{Streets: []push.StreetChoice{{StreetID: sid, Offers: &off}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetSettings(ctx, onlyRepairs.ID, push.Choices{Streets: []push.StreetChoice{{StreetID: sid, Categories: []string{"repairs"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetSettings(ctx, author.ID, push.Choices{Streets: []push.StreetChoice{{StreetID: sid, Replies: &off}}}); err != nil {
		t.Fatal(err)
	}
	e.post(sid, author, "offer", "lending", "Presto la scala")
	e.received(all, 1)
	e.post(sid, author, "request", "repairs", "Mi si è rotto il rubinetto")
	e.received(all, 2)
	e.received(noOffers, 1)
	p, _ := e.received(onlyRepairs, 1)
	if !strings.Contains(p.Body, "rubinetto") {
		t.Fatalf("onlyRepairs got %q", p.Body)
	}
	// A reply to the author, who turned replies off: nothing. To all: one.
	e.publish(events.Event{Type: events.ReplyCreated, StreetID: sid, ActorID: all.ID, SubjectID: author.ID,
		Data: events.ReplyData{ID: "r1", PostID: "p1", PostTitle: "x", PostAuthorID: author.ID, AuthorID: all.ID, AuthorName: "Gino", Body: "Io!"}})
	e.publish(events.Event{Type: events.ReplyCreated, StreetID: sid, ActorID: author.ID, SubjectID: all.ID,
		Data: events.ReplyData{ID: "r2", PostID: "p2", PostTitle: "Serve un passaggio", PostAuthorID: all.ID, AuthorID: author.ID, AuthorName: "Marta", Body: "Ti porto io"}})
	p, _ = e.received(all, 3)
	if p.Title != "Nuova risposta a «Serve un passaggio»" || p.Body != "Marta: Ti porto io" || p.Tag != "post-p2" {
		t.Fatalf("reply payload %+v", p)
	}
	if got := e.svc.Stats().Deliveries; got != 5 {
		t.Fatalf("%d deliveries, want 5 (2 offers/requests to all, 1 to noOffers, 1 to onlyRepairs, 1 reply)", got)
	}
	if n := len(e.ps.Attempts(noOffers.sub.Token)); n != 1 {
		t.Fatalf("noOffers got %d pushes", n)
	}
	if n := len(e.ps.Attempts(author.sub.Token)); n != 0 {
		t.Fatalf("the author, replies off, got %d pushes", n)
	}
}

// The fan-out sees every change of devices and settings made between two
// posts (the embedded engine's fan-out reads them from a copy in memory).
func TestFanOutFollowsChangesBetweenPosts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	author, u := e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Mascarella", author, u)
	e.post(sid, author, "request", "repairs", "Primo")
	e.received(u, 1)

	off := false
	if _, err := e.svc.SetSettings(ctx, u.ID, push.Choices{Streets: []push.StreetChoice{{StreetID: sid, Offers: &off}}}); err != nil {
		t.Fatal(err)
	}
	e.post(sid, author, "offer", "lending", "Offerta che non arriva")
	e.post(sid, author, "request", "repairs", "Terzo")
	if p, _ := e.received(u, 2); !strings.Contains(p.Body+p.Title, "Terzo") {
		t.Fatalf("after turning offers off, the second push was %+v", p)
	}

	second := e.subscribe(u)
	e.post(sid, author, "request", "repairs", "Quarto")
	e.received(u, 3)
	if _, err := e.ps.WaitMessages(ctxT(t, 15*time.Second), second.Token, 1); err != nil {
		t.Fatalf("a device added between posts: %v", err)
	}

	if err := e.svc.Unsubscribe(ctx, u.ID, u.sub.Endpoint); err != nil {
		t.Fatal(err)
	}
	e.post(sid, author, "request", "repairs", "Quinto")
	if _, err := e.ps.WaitMessages(ctxT(t, 15*time.Second), second.Token, 2); err != nil {
		t.Fatal(err)
	}
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Pending == 0 })
	if n := len(e.ps.Attempts(u.sub.Token)); n != 3 {
		t.Fatalf("the device removed between posts got %d pushes, want 3", n)
	}
}

// An approval tells the new member; a report tells the street's admins.
func TestApprovalAndReport(t *testing.T) {
	e := newEnv(t)
	admin, member, newbie := e.user("en", ""), e.user("it", ""), e.user("it", "")
	sid := e.table.street("Vicolo Bolognetti", admin, member)
	e.publish(events.Event{Type: events.MemberApproved, StreetID: sid, ActorID: admin.ID, SubjectID: newbie.ID,
		Data: events.MemberData{UserID: newbie.ID, Name: "Nuovo", Role: "member", Status: "active"}})
	p, _ := e.received(newbie, 1)
	if p.Title != "Benvenuto in Vicolo Bolognetti!" || p.URL != "/streets/"+sid {
		t.Fatalf("approval payload %+v", p)
	}
	e.publish(events.Event{Type: events.ReportCreated, StreetID: sid, Audience: events.Admins, ActorID: member.ID,
		Data: events.ReportData{ID: "rep1", Target: "reply", TargetID: "x", Reason: "offensive"}})
	p, _ = e.received(admin, 1)
	if p.Title != "New report · Vicolo Bolognetti" || p.Body != "A reply was reported: offensive" || p.URL != "/streets/"+sid+"/admin/reports" {
		t.Fatalf("report payload %+v", p)
	}
	if n := len(e.ps.Attempts(member.sub.Token)); n != 0 {
		t.Fatalf("the reporting member got %d pushes", n)
	}
}

// Quiet hours hold a push until they end in the recipient's time zone; an
// urgent post is not held.
func TestQuietHoursHoldUntilTheyEnd(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	fake := clock.NewFake(time.Date(2026, 11, 14, 23, 30, 0, 0, rome)) // Saturday night in Bologna
	e := newEnv(t, withClock(fake))
	author, sleeper, awake := e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome"), e.user("en", "America/New_York")
	sid := e.table.street("Via Mascarella", author, sleeper, awake)
	quiet := &push.QuietHours{Start: "22:00", End: "07:30"}
	for _, u := range []*user{sleeper, awake} { // 17:30 in New York: not quiet there
		if _, err := e.svc.SetSettings(context.Background(), u.ID, push.Choices{QuietHours: quiet}); err != nil {
			t.Fatal(err)
		}
	}
	d := e.post(sid, author, "request", "company", "Compagnia per la nonna domani")
	e.received(awake, 1)
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Deliveries == 2 && s.Sent == 1 && s.Pending == 1 })
	if n := len(e.ps.Attempts(sleeper.sub.Token)); n != 0 {
		t.Fatalf("a push reached the sleeper at 23:30")
	}
	// An urgent post goes through at once.
	e.publish(events.Event{Type: events.PostCreated, StreetID: sid, ActorID: author.ID, SubjectID: author.ID,
		Data: events.PostData{ID: "urgent1", Kind: "request", Category: "errands", Title: "Medicine in farmacia stanotte", AuthorID: author.ID, AuthorName: "Marta", Urgent: true}})
	p, m := e.received(sleeper, 1)
	if p.Tag != "post-urgent1" || m.Urgency != "high" || !strings.HasPrefix(p.Title, "Urgente") {
		t.Fatalf("urgent push %+v urgency %q", p, m.Urgency)
	}
	// 07:29 still quiet; 07:30 the held push goes.
	fake.Set(time.Date(2026, 11, 15, 7, 29, 0, 0, rome))
	e.svc.Wake()
	if n := len(e.ps.Messages(sleeper.sub.Token)); n != 1 {
		t.Fatalf("%d messages before the end of quiet hours", n)
	}
	fake.Set(time.Date(2026, 11, 15, 7, 30, 0, 0, rome))
	e.svc.Wake()
	msgs, err := e.ps.WaitMessages(ctxT(t, 10*time.Second), sleeper.sub.Token, 2)
	if err != nil {
		t.Fatal(err)
	}
	var held push.Payload
	if err := msgs[1].Decode(&held); err != nil || held.Tag != "post-"+d.ID {
		t.Fatalf("held push %+v %v", held, err)
	}
}

// A 404 or 410 deletes the subscription; no push is tried there again.
func TestGoneSubscriptionIsDeleted(t *testing.T) {
	for _, ans := range []pushservice.Answer{pushservice.Gone, pushservice.NotFound} {
		e := newEnv(t)
		author, u := e.user("it", ""), e.user("it", "")
		sid := e.table.street("Via Petroni", author, u)
		e.ps.Queue(u.sub, ans)
		e.post(sid, author, "offer", "lessons", "Ripetizioni di latino")
		if err := e.ps.Wait(ctxT(t, 10*time.Second), func(v pushservice.View) bool { return v.Attempts(u.sub.Token) == 1 }); err != nil {
			t.Fatal(err)
		}
		waitStats(t, e.svc, func(s push.Stats) bool { return s.Gone == 1 })
		subs, err := e.svc.Subscriptions(context.Background(), u.ID)
		if err != nil || len(subs) != 0 {
			t.Fatalf("after %d: subscriptions %v, %v", ans.Status, subs, err)
		}
		e.post(sid, author, "offer", "lessons", "Ancora ripetizioni")
		waitStats(t, e.svc, func(s push.Stats) bool { return s.Jobs == 2 })
		if n := len(e.ps.Attempts(u.sub.Token)); n != 1 {
			t.Fatalf("%d attempts after the subscription was gone", n)
		}
	}
}

// 429 (honouring Retry-After) and 5xx are retried until accepted; a
// temporary error never deletes the subscription.
func TestTemporaryErrorsAreRetried(t *testing.T) {
	e := newEnv(t, withOptions(func(o *push.Options) { o.RetryBase = 200 * time.Millisecond }))
	author, a, b := e.user("it", ""), e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Zamboni", author, a, b)
	e.ps.Queue(a.sub, pushservice.TooMany(time.Second))
	e.ps.Queue(b.sub, pushservice.Error500, pushservice.Answer{Status: 503})
	start := time.Now()
	e.post(sid, author, "request", "transport", "Passaggio in stazione")
	e.received(a, 1)
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %v, before the Retry-After of 1 s", waited)
	}
	e.received(b, 1)
	if n := len(e.ps.Attempts(b.sub.Token)); n != 3 {
		t.Fatalf("%d attempts for 500, 503, 201", n)
	}
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Sent == 2 })
	if st := e.svc.Stats(); st.Retried != 3 || st.Gone != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if subs, _ := e.svc.Subscriptions(context.Background(), b.ID); len(subs) != 1 {
		t.Fatal("a 5xx deleted the subscription")
	}
}

// A push service that hangs costs the publisher nothing and the sender
// only its timeout; the push is tried again.
func TestHangingPushServiceDoesNotBlock(t *testing.T) {
	e := newEnv(t, withOptions(func(o *push.Options) {
		o.HTTPTimeout = 500 * time.Millisecond
		o.RetryBase = 100 * time.Millisecond
	}))
	author, u := e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Belle Arti", author, u)
	e.ps.Queue(u.sub, pushservice.Hang)
	e.post(sid, author, "request", "errands", "Spesa per la signora Pina")
	if err := e.ps.Wait(ctxT(t, 10*time.Second), func(v pushservice.View) bool { return v.Hanging() == 1 }); err != nil {
		t.Fatal(err)
	}
	// While the send hangs, publishing returns at once.
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.post(sid, author, "request", "errands", "Un'altra spesa")
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("publishing waited for a hanging push service")
	}
	e.received(u, 2) // the hung one retried after its timeout, and the second
	if e.svc.Stats().Retried < 1 {
		t.Fatal("the hung send was not retried")
	}
}

// A restart in the middle of a fan-out sends what was left, and nothing
// that was already accepted is sent again.
func TestRestartMidQueueDeliversOnce(t *testing.T) {
	e := newEnv(t, withOptions(func(o *push.Options) { o.Workers = 2 }))
	author := e.user("it", "")
	users := []*user{author}
	for range 12 {
		users = append(users, e.user("it", ""))
	}
	sid := e.table.street("Via San Vitale", users...)
	const first = 5
	e.ps.SetBehaviour(func(r pushservice.Request) pushservice.Answer {
		if r.N <= first {
			return pushservice.Created
		}
		return pushservice.Hang
	})
	e.post(sid, author, "offer", "gardening", "Piantine di basilico in regalo")
	if err := e.ps.Wait(ctxT(t, 10*time.Second), func(v pushservice.View) bool { return v.Messages("") == first && v.Hanging() == 2 }); err != nil {
		t.Fatalf("%v: %d messages, %d hanging; stats %+v", err, len(e.ps.Messages("")), e.ps.Hanging(), e.svc.Stats())
	}
	e.svc.Close() // stops mid-queue: 5 accepted, 2 hanging, 5 not tried
	e.ps.SetBehaviour(nil)
	e.ps.Release()
	e.startPush()
	if _, err := e.ps.WaitMessages(ctxT(t, 15*time.Second), "", 12); err != nil {
		t.Fatal(err)
	}
	for _, u := range users[1:] {
		if n := len(e.ps.Messages(u.sub.Token)); n != 1 {
			t.Fatalf("member got %d pushes, want exactly 1", n)
		}
	}
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Pending == 0 })
	if n := len(e.ps.Messages("")); n != 12 {
		t.Fatalf("%d messages in all, want 12", n)
	}
}

// An event whose job was persisted but never expanded (the server stopped
// right after) is sent after the restart.
func TestJobPersistedBeforeStopIsSentAfterRestart(t *testing.T) {
	e := newEnv(t)
	author, u := e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Castiglione", author, u)
	e.svc.Close()
	e.post(sid, author, "request", "babysitting", "Babysitter martedì sera") // only the job is written
	if n := len(e.ps.Attempts("")); n != 0 {
		t.Fatalf("a stopped service sent %d pushes", n)
	}
	e.startPush()
	p, _ := e.received(u, 1)
	if !strings.Contains(p.Body, "Babysitter") {
		t.Fatalf("payload %+v", p)
	}
}

// A job expanded again after a restart keeps the times it was made with:
// a post's notification that outlived its TTL while the server was down is
// not sent hours late, and the job then leaves the outbox.
func TestJobThatExpiredWhileStoppedIsNotSent(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC))
	e := newEnv(t, withClock(fake))
	author, u := e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Castiglione", author, u)
	e.svc.Close()
	e.post(sid, author, "offer", "other", "Libri gratis") // only the job is written
	fake.Advance(13 * time.Hour)                          // a post's push lives 12 hours
	e.startPush()
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Jobs == 1 && s.Pending == 0 })
	if s := e.svc.Stats(); s.Dropped != 1 || s.Sent != 0 {
		t.Fatalf("stats %+v: want the expired delivery dropped, not sent", s)
	}
	if n := len(e.ps.Attempts("")); n != 0 {
		t.Fatalf("%d pushes sent 13 hours late", n)
	}
	waitJobs(t, e, 0)
}

// A job stays in the outbox until its deliveries are done, then leaves it.
func TestFinishedJobLeavesTheOutbox(t *testing.T) {
	e := newEnv(t)
	author, u := e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Saragozza", author, u)
	e.ps.Queue(u.sub, pushservice.Hang)
	e.post(sid, author, "offer", "other", "Libri gratis")
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Jobs == 1 })
	if n := countDocs(t, e, "push_jobs"); n != 1 {
		t.Fatalf("%d jobs on disk while a delivery is still being sent, want 1", n)
	}
	e.ps.Release()
	e.received(u, 1)
	waitJobs(t, e, 0)
}

// waitJobs polls until n jobs are on disk: retiring a job has no event.
func waitJobs(t *testing.T, e *env, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for countDocs(t, e, "push_jobs") != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs on disk, want %d", countDocs(t, e, "push_jobs"), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Once everything in an hour's bucket is done, the sweep drops it: the
// outbox does not grow.
func TestSweepDropsFinishedBuckets(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC))
	e := newEnv(t, withClock(fake))
	author, u := e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Galliera", author, u)
	e.post(sid, author, "offer", "other", "Libri gratis")
	e.received(u, 1)
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Pending == 0 })
	waitJobs(t, e, 0) // the job leaves the outbox just after its last marker
	ctx := context.Background()
	if err := e.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countDocs(t, e, "push_buckets"); n != 1 {
		t.Fatalf("the current hour's bucket was dropped (%d left)", n)
	}
	fake.Advance(time.Hour)
	if err := e.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countDocs(t, e, "push_buckets"); n != 0 {
		t.Fatalf("%d buckets left after everything was sent", n)
	}
	if n := countDocs(t, e, "push_done_2026030210"); n != 0 {
		t.Fatalf("%d markers left in the dropped bucket", n)
	}
	// And a restart has nothing to send again.
	e.svc.Close()
	e.startPush()
	e.post(sid, author, "offer", "other", "Altri libri")
	e.received(u, 2)
	if n := len(e.ps.Messages(u.sub.Token)); n != 2 {
		t.Fatalf("%d messages", n)
	}
}

func countDocs(t *testing.T, e *env, coll string) int64 {
	t.Helper()
	n, err := e.st.Collection(coll).Count(context.Background(), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitStats polls the counters: finishing a delivery has no event of its
// own to wait on.
func waitStats(t *testing.T, s *push.Service, ok func(push.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never got there: %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every response body is closed (and drained), whatever the answer: the
// sender keeps reusing a few connections instead of opening one per push.
func TestResponseBodiesAreClosed(t *testing.T) {
	const workers = 2
	e := newEnv(t, withOptions(func(o *push.Options) {
		o.Workers = workers
		o.RetryBase = 20 * time.Millisecond
	}))
	author := e.user("it", "")
	users := []*user{author}
	for range 10 {
		u := e.user("it", "")
		e.ps.Queue(u.sub, pushservice.Error500, pushservice.TooMany(0))
		users = append(users, u)
	}
	sid := e.table.street("Via Saragozza", users...)
	e.post(sid, author, "offer", "lending", "Presto la bici")
	if _, err := e.ps.WaitMessages(ctxT(t, 15*time.Second), "", 10); err != nil {
		t.Fatal(err)
	}
	requests, conns := len(e.ps.Attempts("")), e.ps.Connections()
	if requests != 30 {
		t.Fatalf("%d requests, want 30 (500, 429, 201 for each of 10 devices)", requests)
	}
	if conns > 2*workers {
		t.Fatalf("%d connections for %d requests by %d workers: response bodies are left open", conns, requests, workers)
	}
}

// A post in a street where none of the other members has a device makes no
// job in the outbox (the embedded engine knows it from memory); once one
// subscribes, the next post reaches them.
func TestPostToNobodyWithADeviceWritesNoJob(t *testing.T) {
	e := newEnv(t)
	author, u := e.user("it", ""), e.user("it", "")
	if err := e.svc.Unsubscribe(context.Background(), u.ID, u.sub.Endpoint); err != nil {
		t.Fatal(err)
	}
	sid := e.table.street("Via Saragozza", author, u)
	e.post(sid, author, "offer", "other", "Libri gratis")
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Jobs+s.Skipped == 1 })
	waitJobs(t, e, 0)
	e.post(sid, author, "offer", "other", "Altri libri")
	if e.st.Embedded() {
		if s := e.svc.Stats(); s.Skipped == 0 {
			t.Fatalf("a post to nobody with a device still made a job: %+v", s)
		}
		if n := countDocs(t, e, "push_jobs"); n != 0 {
			t.Fatalf("%d jobs on disk for a post nobody is notified of", n)
		}
	}
	if got := e.svc.Stats().Deliveries; got != 0 {
		t.Fatalf("%d deliveries for nobody", got)
	}
	u.sub = e.subscribe(u)
	d := e.post(sid, author, "offer", "other", "Un tavolo")
	if p, _ := e.received(u, 1); p.URL != "/posts/"+d.ID {
		t.Fatalf("the subscribed member got %+v", p)
	}
}
