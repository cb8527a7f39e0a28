package moderation_test

import (
	"errors"
	"sync"
	"testing"

	"civico/internal/events"
	"civico/internal/moderation"
	"civico/internal/streets"
	"civico/internal/testutil"
)

// A report filed through one process is listed, checked for duplicates and
// resolved through another.
func TestReportFiledOnOneProcessIsSeenByAnother(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	p := e.post(bruno, sid, "Vendo crediti")
	a, b := e.Moderation, e.newService()
	// B has looked before the report exists.
	if open, _, err := b.List(e.Ctx, anna, sid, "", "", 10); err != nil || len(open) != 0 {
		t.Fatalf("B lists %+v, %v", open, err)
	}
	r, err := a.Create(e.Ctx, carla, moderation.NewReport{Target: "post", ID: p.ID, Reason: "pubblicità"})
	if err != nil {
		t.Fatal(err)
	}
	open, _, err := b.List(e.Ctx, anna, sid, "", "", 10)
	if err != nil || len(open) != 1 || open[0].ID != r.ID || open[0].ReporterName != "Carla" {
		t.Fatalf("B lists %+v, %v", open, err)
	}
	_, err = b.Create(e.Ctx, carla, moderation.NewReport{Target: "post", ID: p.ID, Reason: "ancora"})
	testutil.WantCode(t, err, "already_reported")
	if _, err := b.Resolve(e.Ctx, anna, r.ID, moderation.ActionDismiss, ""); err != nil {
		t.Fatal(err)
	}
	if open, _, err := a.List(e.Ctx, anna, sid, "", "", 10); err != nil || len(open) != 0 {
		t.Fatalf("A still lists as open %+v, %v", open, err)
	}
	_, err = a.Resolve(e.Ctx, anna, r.ID, moderation.ActionRemove, "pubblicità")
	testutil.WantCode(t, err, "report_resolved")
	// Once resolved, the same thing may be reported again.
	again, err := a.Create(e.Ctx, carla, moderation.NewReport{Target: "post", ID: p.ID, Reason: "di nuovo"})
	if err != nil || again.ID == r.ID {
		t.Fatalf("report again = %+v, %v", again, err)
	}
}

// Two admins resolving one report at once on two processes, one dismissing
// and one banning: one of them wins, and only the winner's action happens.
func TestConcurrentResolutionsActOnce(t *testing.T) {
	e := newEnv(t)
	anna, dario := e.User("Anna"), e.User("Dario")
	sid := e.Street(anna, dario)
	if _, err := e.Streets.SetRole(e.Ctx, anna, sid, dario.UserID, streets.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	a, b := e.Moderation, e.newService()
	for round := range 4 {
		bad, carla := e.User("Molesto"), e.User("Carla")
		e.Join(anna, bad, sid)
		e.Join(anna, carla, sid)
		r := e.report(carla, moderation.NewReport{Target: "user", ID: bad.UserID, StreetID: sid, Reason: "molestie"})
		if open, _, err := b.List(e.Ctx, dario, sid, "", "", 10); err != nil || len(open) != 1 {
			t.Fatalf("B lists %+v, %v", open, err)
		}
		bansBefore, resolvedBefore := len(e.Published(events.MemberBanned)), len(e.Published(events.ReportResolved))
		var wg sync.WaitGroup
		var dismissErr, banErr error
		var dismissed, banned moderation.Report
		wg.Add(2)
		go func() {
			defer wg.Done()
			dismissed, dismissErr = a.Resolve(e.Ctx, anna, r.ID, moderation.ActionDismiss, "")
		}()
		go func() {
			defer wg.Done()
			banned, banErr = b.Resolve(e.Ctx, dario, r.ID, moderation.ActionBan, "molestie ripetute")
		}()
		wg.Wait()
		if (dismissErr == nil) == (banErr == nil) {
			t.Fatalf("round %d: dismiss %v, ban %v: exactly one should win", round, dismissErr, banErr)
		}
		for _, err := range []error{dismissErr, banErr} {
			if err != nil && !errors.Is(err, moderation.ErrResolved) {
				t.Fatalf("round %d: the loser got %v, want report_resolved", round, err)
			}
		}
		m, err := e.Streets.Membership(e.Ctx, sid, bad.UserID)
		if err != nil {
			t.Fatal(err)
		}
		bans := len(e.Published(events.MemberBanned)) - bansBefore
		if banErr == nil {
			if banned.Action != moderation.ActionBan || m.Status != streets.StatusBanned || bans != 1 {
				t.Fatalf("round %d: ban won: %+v, member %s, %d bans", round, banned, m.Status, bans)
			}
		} else if dismissed.Action != moderation.ActionDismiss || m.Status != streets.StatusActive || bans != 0 {
			t.Fatalf("round %d: dismiss won: %+v, member %s, %d bans", round, dismissed, m.Status, bans)
		}
		if n := len(e.Published(events.ReportResolved)) - resolvedBefore; n != 1 {
			t.Fatalf("round %d: %d report.resolved events", round, n)
		}
		for _, svc := range []*moderation.Service{a, b} {
			done, _, err := svc.List(e.Ctx, anna, sid, moderation.StatusResolved, "", 1)
			if err != nil || len(done) != 1 || done[0].ID != r.ID || done[0].Action == "" {
				t.Fatalf("round %d: resolved list %+v, %v", round, done, err)
			}
		}
	}
	audit, _, err := e.Streets.Audit(e.Ctx, anna, sid, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	resolves := 0
	for _, a := range audit {
		if a.Action == streets.ActionReportResolve {
			resolves++
		}
	}
	if resolves != 4 {
		t.Fatalf("%d report.resolve audit entries for 4 reports", resolves)
	}
}
