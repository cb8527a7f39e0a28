package push_test

import (
	"context"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/push"
	"civico/internal/pushservice"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// withOwners makes e.svc the process o.
func withOwners(o push.Owners) envOption { return func(e *env) { e.opts.Owners = o } }

// other starts a second push service on e's database: another process,
// with memory of its own.
func (e *env) other(o push.Owners) *push.Service {
	e.t.Helper()
	opts := e.opts
	opts.Owners = o
	svc, err := push.New(context.Background(), e.st, e.clock, e.auth, e.table, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	svc.Start()
	e.t.Cleanup(svc.Close)
	return svc
}

// killService stops process id as kill -9 would, but for the done-markers of what
// it sent: those are written (a marker not written before a crash means
// that push is sent again, which the Topic lets the phone show once).
func killService(c *testutil.Cluster, id string, svc *push.Service) {
	svc.Close()
	c.Kill(id)
}

// jobOwners lists the owner of every job on disk.
func jobOwners(t *testing.T, e *env) []string {
	t.Helper()
	var docs []struct {
		Owner string `bson:"owner"`
	}
	if err := e.st.Collection("push_jobs").FindAll(context.Background(), bson.M{}, &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Owner
	}
	return out
}

// probe makes svc expand and send a note to u, and waits until u's device
// has n pushes. svc expands jobs one at a time in the order they were
// queued, so whatever a sweep queued before is expanded by then.
func (e *env) probe(svc *push.Service, u *user, key string, n int) {
	e.t.Helper()
	if err := svc.Notify(context.Background(), push.Note{Key: key, UserID: u.ID, Texts: map[string]push.NoteText{"it": {Title: "Prova"}}}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.ps.WaitMessages(ctxT(e.t, 15*time.Second), u.sub.Token, n); err != nil {
		e.t.Fatal(err)
	}
}

// Process A dies halfway through a fan-out; B's sweep takes its job over,
// reads the done-markers A wrote and sends the rest: every device gets
// exactly one push.
func TestDeadProcessJobIsTakenOverAndSentOnce(t *testing.T) {
	cl := testutil.NewCluster()
	e := newEnv(t, withOwners(cl.Process("A")), withOptions(func(o *push.Options) { o.Workers = 2 }))
	author := e.user("it", "")
	users := []*user{author}
	for range 12 {
		users = append(users, e.user("it", ""))
	}
	sid := e.table.street("Via San Vitale", users...)
	b := e.other(cl.Process("B")) // running, with nothing to take over

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
	if err := b.Sweep(context.Background()); err != nil { // A is alive: nothing to do
		t.Fatal(err)
	}
	killService(cl, "A", e.svc) // 5 accepted, 2 hanging, 5 not tried
	e.ps.SetBehaviour(nil)
	e.ps.Release()

	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ps.WaitMessages(ctxT(t, 15*time.Second), "", 12); err != nil {
		t.Fatalf("%v; B's stats %+v", err, b.Stats())
	}
	waitStats(t, b, func(s push.Stats) bool { return s.Pending == 0 })
	for _, u := range users[1:] {
		if n := len(e.ps.Messages(u.sub.Token)); n != 1 {
			t.Fatalf("member got %d pushes, want exactly 1", n)
		}
	}
	if s := b.Stats(); s.Deliveries != 12-first || s.Sent != 12-first {
		t.Fatalf("B's stats %+v: want the %d deliveries A had not sent", s, 12-first)
	}
	waitJobs(t, e, 0)
	e.noProtocolErrors()
}

// With both processes alive, B's sweep leaves A's jobs alone: their
// deliveries are held in A's memory (quiet hours here), and A sends each once.
func TestSweepLeavesTheJobsOfALiveProcess(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	fake := clock.NewFake(time.Date(2026, 11, 14, 23, 30, 0, 0, rome))
	cl := testutil.NewCluster()
	e := newEnv(t, withClock(fake), withOwners(cl.Process("A")))
	author, probe := e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome")
	sleepers := []*user{e.user("it", "Europe/Rome"), e.user("en", "Europe/Rome")}
	sid := e.table.street("Via Mascarella", append([]*user{author}, sleepers...)...)
	for _, u := range sleepers {
		if _, err := e.svc.SetSettings(context.Background(), u.ID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:30"}}); err != nil {
			t.Fatal(err)
		}
	}
	e.post(sid, author, "request", "company", "Compagnia per la nonna domani")
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Deliveries == 2 && s.Pending == 2 })

	b := e.other(cl.Process("B"))
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.probe(b, probe, "probe", 1)
	if s := b.Stats(); s.Jobs != 1 || s.Deliveries != 1 {
		t.Fatalf("B's stats %+v: B expanded A's job", s)
	}
	waitJobs(t, e, 1) // the probe's job leaves the outbox
	if owners := jobOwners(t, e); len(owners) != 1 || owners[0] != "A" {
		t.Fatalf("job owners %v, want [A]", owners)
	}

	fake.Set(time.Date(2026, 11, 15, 7, 30, 0, 0, rome))
	e.svc.Wake()
	b.Wake()
	for _, u := range sleepers {
		if _, err := e.ps.WaitMessages(ctxT(t, 10*time.Second), u.sub.Token, 1); err != nil {
			t.Fatal(err)
		}
	}
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Pending == 0 })
	waitJobs(t, e, 0)
	for _, u := range sleepers {
		if n := len(e.ps.Messages(u.sub.Token)); n != 1 {
			t.Fatalf("a sleeper got %d pushes, want 1", n)
		}
	}
}

// A device re-subscribed under another user on process B no longer gets
// the push A holds for its previous owner, although A's memory knows
// nothing of the change.
func TestDeviceMovedOnAnotherProcessMissesThePreviousOwnersPush(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	fake := clock.NewFake(time.Date(2026, 11, 14, 23, 30, 0, 0, rome))
	cl := testutil.NewCluster()
	e := newEnv(t, withClock(fake), withOwners(cl.Process("A")))
	author, first, second := e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome")
	sid := e.table.street("Via Indipendenza", author, first)
	if _, err := e.svc.SetSettings(context.Background(), first.ID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:30"}}); err != nil {
		t.Fatal(err)
	}
	e.post(sid, author, "offer", "lending", "Per il primo")
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Deliveries == 1 && s.Pending == 1 })

	b := e.other(cl.Process("B"))
	if _, created, err := b.Subscribe(context.Background(), second.ID, push.NewSubscription{Endpoint: first.sub.Endpoint, P256dh: first.sub.P256dh, Auth: first.sub.Auth}); err != nil || created {
		t.Fatalf("created %v, %v: want the existing subscription moved", created, err)
	}

	fake.Set(time.Date(2026, 11, 15, 7, 30, 0, 0, rome))
	e.svc.Wake()
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Pending == 0 })
	if n := len(e.ps.Attempts(first.sub.Token)); n != 0 {
		t.Fatalf("the device, now the second user's, got %d pushes meant for the first", n)
	}
	if s := e.svc.Stats(); s.Gone != 1 || s.Sent != 0 {
		t.Fatalf("A's stats %+v: want the delivery counted as gone", s)
	}
	waitJobs(t, e, 0)
}

// A note already in the outbox (queued by another process) is not queued
// again: its owner sends it once.
func TestNotifyWithANoteAlreadyQueuedQueuesNothing(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	fake := clock.NewFake(time.Date(2026, 11, 14, 23, 30, 0, 0, rome))
	cl := testutil.NewCluster()
	e := newEnv(t, withClock(fake), withOwners(cl.Process("A")))
	u, probe := e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome")
	if _, err := e.svc.SetSettings(context.Background(), u.ID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:30"}}); err != nil {
		t.Fatal(err)
	}
	note := push.Note{Key: "handoff:p1", UserID: u.ID, URL: "/posts/p1", Tag: "handoff-p1",
		Texts: map[string]push.NoteText{"it": {Title: "Com'è andata?", Body: "Raccontaci"}}}
	if err := e.svc.Notify(context.Background(), note); err != nil {
		t.Fatal(err)
	}
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Deliveries == 1 && s.Pending == 1 }) // held: quiet hours

	b := e.other(cl.Process("B"))
	if err := b.Notify(context.Background(), note); err != nil {
		t.Fatal(err)
	}
	e.probe(b, probe, "probe", 1)
	if s := b.Stats(); s.Jobs != 1 || s.Deliveries != 1 {
		t.Fatalf("B's stats %+v: B queued the note again", s)
	}

	fake.Set(time.Date(2026, 11, 15, 7, 30, 0, 0, rome))
	e.svc.Wake()
	b.Wake()
	if _, err := e.ps.WaitMessages(ctxT(t, 10*time.Second), u.sub.Token, 1); err != nil {
		t.Fatal(err)
	}
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Pending == 0 })
	waitStats(t, b, func(s push.Stats) bool { return s.Pending == 0 })
	if n := len(e.ps.Messages(u.sub.Token)); n != 1 {
		t.Fatalf("the note arrived %d times, want once", n)
	}
}

// A bucket of done-markers outlives the sweep of a process that has
// finished with it while another process still holds a job in it: when
// that one dies, its markers are still there, and the takeover sends only
// what it had not sent. Once no job refers to the bucket, it is dropped.
func TestBucketStaysWhileAnotherProcessHoldsAJobInIt(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	fake := clock.NewFake(time.Date(2026, 11, 14, 23, 30, 0, 0, rome)) // 22:30 UTC
	const bucket = "2026111422"
	cl := testutil.NewCluster()
	e := newEnv(t, withClock(fake), withOwners(cl.Process("A")))
	author, sleeper, awake := e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome")
	sid := e.table.street("Via Galliera", author, sleeper, awake)
	if _, err := e.svc.SetSettings(context.Background(), sleeper.ID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:30"}}); err != nil {
		t.Fatal(err)
	}
	e.post(sid, author, "offer", "other", "Libri gratis")
	e.received(awake, 1)
	waitCount(t, e, "push_done_"+bucket, 1) // A's marker for the awake member

	// B uses the same hour's bucket and finishes with it.
	b := e.other(cl.Process("B"))
	e.probe(b, awake, "b-note", 2)
	waitStats(t, b, func(s push.Stats) bool { return s.Pending == 0 })

	fake.Set(time.Date(2026, 11, 15, 1, 30, 0, 0, rome)) // two hours on; still quiet
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countDocs(t, e, "push_buckets"); n != 1 {
		t.Fatalf("%d buckets registered after B's sweep, want A's still in use", n)
	}
	if n := countDocs(t, e, "push_done_"+bucket); n < 2 {
		t.Fatalf("%d marker documents left in the bucket A still uses", n)
	}

	killService(cl, "A", e.svc)
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	fake.Set(time.Date(2026, 11, 15, 7, 30, 0, 0, rome))
	b.Wake()
	if _, err := e.ps.WaitMessages(ctxT(t, 10*time.Second), sleeper.sub.Token, 1); err != nil {
		t.Fatalf("%v; B's stats %+v", err, b.Stats())
	}
	waitStats(t, b, func(s push.Stats) bool { return s.Pending == 0 })
	if n := len(e.ps.Messages(awake.sub.Token)); n != 2 {
		t.Fatalf("the awake member got %d pushes, want 2 (the post once, B's note)", n)
	}
	waitJobs(t, e, 0)

	fake.Advance(time.Hour)
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countDocs(t, e, "push_buckets"); n != 0 {
		t.Fatalf("%d buckets left once no job refers to them", n)
	}
	if n := countDocs(t, e, "push_done_"+bucket); n != 0 {
		t.Fatalf("%d markers left in a dropped bucket", n)
	}
}

// B reads a bucket's done-markers when it takes over a job there; A,
// alive, then marks more deliveries of its own job in that bucket and
// dies. Taking A's job over, B reads the markers again and does not send
// what A sent.
func TestTakeoverRereadsTheMarkers(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	fake := clock.NewFake(time.Date(2026, 11, 14, 23, 30, 0, 0, rome))
	cl := testutil.NewCluster()
	e := newEnv(t, withClock(fake), withOwners(cl.Process("A")), withOptions(func(o *push.Options) { o.RetryBase = 50 * time.Millisecond }))
	author, sleeper, awake, noted := e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome"), e.user("it", "Europe/Rome")
	sid := e.table.street("Via Galliera", author, sleeper, awake)
	if _, err := e.svc.SetSettings(context.Background(), sleeper.ID, push.Choices{QuietHours: &push.QuietHours{Start: "22:00", End: "07:30"}}); err != nil {
		t.Fatal(err)
	}
	// C queued a note and died before sending it.
	c := e.other(cl.Process("C"))
	killService(cl, "C", c)
	if err := c.Notify(context.Background(), push.Note{Key: "c-note", UserID: noted.ID, Texts: map[string]push.NoteText{"it": {Title: "Prova"}}}); err != nil {
		t.Fatal(err)
	}
	// A's push to the awake member is in flight, the sleeper's held.
	e.ps.Queue(awake.sub, pushservice.Hang)
	e.post(sid, author, "offer", "other", "Libri gratis")
	if err := e.ps.Wait(ctxT(t, 10*time.Second), func(v pushservice.View) bool { return v.Hanging() == 1 }); err != nil {
		t.Fatal(err)
	}
	b := e.other(cl.Process("B")) // takes C's note over: reads the bucket's markers
	if _, err := e.ps.WaitMessages(ctxT(t, 10*time.Second), noted.sub.Token, 1); err != nil {
		t.Fatal(err)
	}
	e.ps.Release() // A's push is answered 503, tried again and accepted
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Retried == 1 })
	fake.Advance(time.Minute) // past the backoff; the sleeper's quiet hours go on
	e.svc.Wake()
	e.received(awake, 1)
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Sent == 1 && s.Pending == 1 })

	killService(cl, "A", e.svc)
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	fake.Set(time.Date(2026, 11, 15, 7, 30, 0, 0, rome))
	b.Wake()
	if _, err := e.ps.WaitMessages(ctxT(t, 10*time.Second), sleeper.sub.Token, 1); err != nil {
		t.Fatalf("%v; B's stats %+v", err, b.Stats())
	}
	waitStats(t, b, func(s push.Stats) bool { return s.Pending == 0 })
	waitJobs(t, e, 0)
	if n := len(e.ps.Messages(awake.sub.Token)); n != 1 {
		t.Fatalf("the awake member got %d pushes, want 1", n)
	}
}

// A job written before jobs had owners is taken over like a dead
// process's.
func TestJobWithoutOwnerIsTakenOver(t *testing.T) {
	cl := testutil.NewCluster()
	e := newEnv(t, withOwners(cl.Process("A")))
	author, u := e.user("it", ""), e.user("it", "")
	sid := e.table.street("Via Castiglione", author, u)
	killService(cl, "A", e.svc)
	e.post(sid, author, "request", "babysitting", "Babysitter martedì sera") // only the job is written
	if _, err := e.st.Collection("push_jobs").UpdateMany(context.Background(), bson.M{}, bson.M{"$unset": bson.M{"owner": ""}}); err != nil {
		t.Fatal(err)
	}
	b := e.other(cl.Process("B")) // its start claims what no live process holds
	e.received(u, 1)
	waitStats(t, b, func(s push.Stats) bool { return s.Pending == 0 })
	waitJobs(t, e, 0)
}

// waitCount polls until coll holds at least n documents: writing a marker
// has no event.
func waitCount(t *testing.T, e *env, coll string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for countDocs(t, e, coll) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d documents in %s, want %d", countDocs(t, e, coll), coll, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
