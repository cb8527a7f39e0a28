package handoff_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"civico/internal/handoff"
	"civico/internal/push"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// otherProcess is a second hand-off service over the test server's
// database, as another process would build it: its own memory, the same
// collections. It is subscribed to no event: events published through the
// server reach only the server's service.
func (e *env) otherProcess(notifier handoff.Notifier) *handoff.Service {
	e.t.Helper()
	a := e.s.App
	return handoff.New(a.Store(), e.fake, a.Posts, a.Streets, a.Portineria, a.Auth, notifier, nil)
}

func sweep(t *testing.T, svc *handoff.Service) {
	t.Helper()
	if err := svc.Sweep(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

// dueLeft counts the checks still scheduled.
func (e *env) dueLeft() int64 {
	e.t.Helper()
	n, err := e.s.App.Store().Collection("handoff_due").Count(context.Background(), bson.M{})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// Checks scheduled through one process (A, whose events they were) are
// acted on by another process's sweep (B), although B had swept before
// they existed and A never sweeps: each reminder and the unanswered entry
// once, and later sweeps of either process send nothing again.
func TestChecksScheduledOnOneProcessAreActedOnByAnother(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	a, b := s.App.Handoff, e.otherProcess(s.App.Push)
	sweep(t, b) // B has looked before anything was scheduled

	admin, author, helper := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Gino")
	sid := s.StreetWithMembers(t, admin, "Via Castiglione", author, helper)
	sub := s.SubscribePush(t, author, e.ps)
	open := s.Request(t, author, sid, "repairs", "La tapparella")
	matched := s.Request(t, author, sid, "transport", "Passaggio al mercato")
	s.Accept(t, author, matched, s.Reply(t, helper, matched, "Ti porto io"))
	testutil.WaitPushes(t, e.ps, sub, 1) // the reply

	e.fake.Advance(3*24*time.Hour + time.Minute)
	sweep(t, b)
	msgs := testutil.WaitPushes(t, e.ps, sub, 3)
	got := map[string]bool{}
	for _, m := range msgs[1:] {
		got[decode(t, m).URL] = true
	}
	if !got["/posts/"+open+"/handoff"] || !got["/posts/"+matched+"/handoff"] {
		t.Fatalf("B's sweep sent %v, want both requests' reminders", got)
	}
	items, _, err := a.StreetUnanswered(context.Background(), me(admin), sid, "", 20)
	if err != nil || len(items) != 1 || items[0].Post.ID != open {
		t.Fatalf("unanswered through A: %+v %v, want the open request", items, err)
	}
	if n := e.dueLeft(); n != 0 {
		t.Fatalf("%d checks left after B's sweep", n)
	}

	sweep(t, a)
	sweep(t, b)
	e.fake.Advance(time.Hour)
	sweep(t, a)
	sweep(t, b)
	waitStats(t, s.App.Push, func(st push.Stats) bool { return st.Sent == 3 && st.Pending == 0 })
	if n := len(e.ps.Attempts(sub.Token)); n != 3 {
		t.Fatalf("%d pushes, want 3 (the reply, one reminder per request)", n)
	}
}

// Two processes sweeping at once act on each check once: one reminder per
// request, one unanswered entry each, nothing left scheduled, and neither
// sweep fails.
func TestConcurrentSweepsActOnce(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	a, b := s.App.Handoff, e.otherProcess(s.App.Push)
	admin, author := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, admin, "Via dell'Inferno", author)
	sub := s.SubscribePush(t, author, e.ps)
	const requests = 6
	want := map[string]bool{}
	for i := range requests {
		want["/posts/"+s.Request(t, author, sid, "errands", "Commissione "+string(rune('A'+i)))+"/handoff"] = true
	}

	for round := range 3 {
		step := time.Minute
		if round == 0 {
			step += handoff.OpenAfter
		}
		e.fake.Advance(step)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, svc := range []*handoff.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = svc.Sweep(context.Background())
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	msgs := testutil.WaitPushes(t, e.ps, sub, requests)
	got := map[string]int{}
	for _, m := range msgs {
		got[decode(t, m).URL]++
	}
	for url := range want {
		if got[url] != 1 {
			t.Fatalf("reminders by post %v, want one for each of %v", got, want)
		}
	}
	waitStats(t, s.App.Push, func(st push.Stats) bool { return st.Sent == requests && st.Pending == 0 })
	if n := len(e.ps.Attempts(sub.Token)); n != requests {
		t.Fatalf("%d pushes, want %d", n, requests)
	}
	items, _, err := a.StreetUnanswered(context.Background(), me(admin), sid, "", 20)
	if err != nil || len(items) != requests {
		t.Fatalf("unanswered: %d items %v, want %d", len(items), err, requests)
	}
	if n := e.dueLeft(); n != 0 {
		t.Fatalf("%d checks left", n)
	}
}

// downPush is a push outbox that cannot be reached.
type downPush struct{}

func (downPush) Notify(context.Context, push.Note) error {
	return errors.New("push outbox unreachable")
}

// A process whose sweep claims a check and fails to act on it leaves the
// check scheduled: no other sweep takes it while the claim holds, and once
// the claim runs out another process's sweep sends the reminder, once.
func TestFailedCheckFallsDueAgainForAnotherProcess(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	a, broken := s.App.Handoff, e.otherProcess(downPush{})
	admin, author := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, admin, "Via Fondazza", author)
	sub := s.SubscribePush(t, author, e.ps)
	pid := s.Request(t, author, sid, "company", "Una passeggiata")

	e.fake.Advance(handoff.OpenAfter + time.Minute)
	if err := broken.Sweep(context.Background()); err == nil {
		t.Fatal("the sweep with no push outbox reported no failure")
	}
	if n := e.dueLeft(); n != 1 {
		t.Fatalf("%d checks scheduled after the failure, want 1", n)
	}
	v, err := a.Status(context.Background(), me(author), pid)
	if err != nil || v.RemindedAt != nil {
		t.Fatalf("status after the failure: %+v %v, want no reminder recorded", v, err)
	}
	// While the claim holds, no other sweep takes the check (the reminder
	// is recorded before it is queued, so its absence says none went).
	sweep(t, a)
	e.fake.Advance(handoff.ClaimFor - time.Second)
	sweep(t, a)
	if v, err := a.Status(context.Background(), me(author), pid); err != nil || v.RemindedAt != nil {
		t.Fatalf("status while the failed sweep's claim held: %+v %v, want no reminder", v, err)
	}

	e.fake.Advance(2 * time.Second)
	sweep(t, a)
	msgs := testutil.WaitPushes(t, e.ps, sub, 1)
	if r := decode(t, msgs[0]); r.URL != "/posts/"+pid+"/handoff" {
		t.Fatalf("push %+v", r)
	}
	e.fake.Advance(handoff.ClaimFor + time.Minute)
	sweep(t, a)
	if err := broken.Sweep(context.Background()); err != nil {
		t.Fatalf("the broken process's later sweep: %v (nothing should be due)", err)
	}
	waitStats(t, s.App.Push, func(st push.Stats) bool { return st.Sent == 1 && st.Pending == 0 })
	if n := len(e.ps.Attempts(sub.Token)); n != 1 {
		t.Fatalf("%d pushes, want 1", n)
	}
	if n := e.dueLeft(); n != 0 {
		t.Fatalf("%d checks left", n)
	}
}

// Both sides agreeing to a link at once, through two processes: the link
// is active with its time, and the logs say once that it was asked for and
// once that it was accepted.
func TestConcurrentAgreementsAcceptOnce(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	a, b := s.App.Handoff, e.otherProcess(nil)
	ctx := context.Background()
	coord := s.Register(t, "Clara")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	for round := range 5 {
		admin := s.Register(t, "Anna")
		sid := s.CreateStreet(t, admin, "Via Tibaldi "+string(rune('A'+round)))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errs[0] = a.LinkFromStreet(ctx, me(admin), sid, aid)
		}()
		go func() {
			defer wg.Done()
			_, errs[1] = b.LinkFromAssociation(ctx, me(coord), aid, sid)
		}()
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		links, err := a.StreetLinks(ctx, me(admin), sid)
		if err != nil || len(links) != 1 || links[0].Status != handoff.LinkActive || links[0].ActiveSince == nil {
			t.Fatalf("round %d: links %+v %v, want one active with its time", round, links, err)
		}
		street, _ := linkLines(t, s, admin, coord, sid, aid)
		actions := map[string]int{}
		for _, l := range street {
			actions[l.action]++
		}
		if len(street) != 2 || actions[handoff.ActionLinkRequest] != 1 || actions[handoff.ActionLinkAccept] != 1 {
			t.Fatalf("round %d: the street's audit log %+v, want one request and one accept", round, street)
		}
	}
}
