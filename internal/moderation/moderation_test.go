package moderation_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/moderation"
	"civico/internal/posts"
	"civico/internal/store"
	"civico/internal/streets"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	clock *clock.Fake
	log   *events.Log
	auth  *auth.Service
	sts   *streets.Service
	ps    *posts.Service
	svc   *moderation.Service

	mu  sync.Mutex
	evs []events.Event
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	if err := st.EnsureIndexes(ctx, append(events.Indexes(), auth.Indexes()...)...); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, st: st, clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	e.log = events.New(st, e.clock, nil, events.Options{})
	e.log.Subscribe(func(ev events.Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() })
	if e.auth, err = auth.New(ctx, st, e.clock, nil, auth.Options{RegisterPerIP: 1000}); err != nil {
		t.Fatal(err)
	}
	if e.sts, err = streets.New(ctx, st, e.log, e.clock, e.auth, nil, streets.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.ps, err = posts.New(ctx, st, e.log, e.clock, e.sts, nil, posts.Options{}); err != nil {
		t.Fatal(err)
	}
	e.svc = e.newService()
	return e
}

func (e *env) newService() *moderation.Service {
	svc, err := moderation.New(e.ctx, e.st, e.log, e.clock, e.sts, e.ps, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *env) of(typ events.Type) []events.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []events.Event
	for _, ev := range e.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

var seq atomic.Int64

func (e *env) user(name string) auth.Principal {
	e.t.Helper()
	s, err := e.auth.Register(e.ctx, auth.Registration{Email: fmt.Sprintf("m%d@example.org", seq.Add(1)), Password: "correct horse battery",
		Name: name}, "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	return auth.Principal{UserID: s.Account.ID}
}

func (e *env) street(admin auth.Principal, members ...auth.Principal) string {
	e.t.Helper()
	st, err := e.sts.Create(e.ctx, admin, streets.NewStreet{Name: fmt.Sprintf("Via %d", seq.Add(1)), City: "Bologna"})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		inv, _ := e.sts.CreateInvite(e.ctx, admin, st.ID, streets.InviteOptions{})
		if _, err := e.sts.Join(e.ctx, m, st.ID, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
			e.t.Fatal(err)
		}
	}
	return st.ID
}

func (e *env) post(u auth.Principal, sid, title string) posts.Post {
	e.t.Helper()
	p, err := e.ps.Create(e.ctx, u, sid, posts.NewPost{Kind: "offer", Category: "other", Title: title, Body: "body"})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) report(u auth.Principal, in moderation.NewReport) moderation.Report {
	e.t.Helper()
	r, err := e.svc.Create(e.ctx, u, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func wantField(t *testing.T, err error, field, problem string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.Invalid || fe.Fields[field] != problem {
		t.Fatalf("error %v, want %s=%s", err, field, problem)
	}
}

func TestReportedPostIsRemovedWithAReason(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla, dario := e.user("Anna"), e.user("Bruno"), e.user("Carla"), e.user("Dario")
	sid := e.street(anna, bruno, carla, dario)
	p := e.post(bruno, sid, "Vendo crediti")
	r1 := e.report(carla, moderation.NewReport{Target: "post", ID: p.ID, Reason: "è pubblicità"})
	e.clock.Advance(time.Minute)
	r2 := e.report(dario, moderation.NewReport{Target: "post", ID: p.ID, Reason: "spam"})
	created := e.of(events.ReportCreated)
	if len(created) != 2 || created[0].Audience != events.Admins || created[0].SubjectID != bruno.UserID || created[0].ActorID != carla.UserID {
		t.Fatalf("report.created = %+v", created)
	}
	_, err := e.svc.Create(e.ctx, carla, moderation.NewReport{Target: "post", ID: p.ID, Reason: "again"})
	wantCode(t, err, "already_reported")
	open, _, err := e.svc.List(e.ctx, anna, sid, "", "", 10)
	if err != nil || len(open) != 2 || open[0].ID != r2.ID || open[1].ReporterName != "Carla" || open[1].TargetName != "Vendo crediti" {
		t.Fatalf("open reports = %+v, %v", open, err)
	}
	_, _, err = e.svc.List(e.ctx, carla, sid, "", "", 10)
	wantCode(t, err, "not_admin")
	_, err = e.svc.Resolve(e.ctx, carla, r1.ID, "remove", "x")
	wantCode(t, err, "not_admin")
	_, err = e.svc.Resolve(e.ctx, anna, r1.ID, "remove", "")
	wantField(t, err, "reason", "required")
	_, err = e.svc.Resolve(e.ctx, anna, r1.ID, "delete", "x")
	wantField(t, err, "action", "invalid")

	res, err := e.svc.Resolve(e.ctx, anna, r1.ID, "remove", "niente pubblicità")
	if err != nil || res.Status != moderation.StatusResolved || res.Action != "remove" || res.Resolution != "niente pubblicità" {
		t.Fatalf("resolve = %+v, %v", res, err)
	}
	th, err := e.ps.Get(e.ctx, bruno, p.ID)
	if err != nil || th.Status != posts.StatusRemoved || th.RemovalReason != "niente pubblicità" {
		t.Fatalf("the post = %+v, %v", th.Post, err)
	}
	// The second report on the same post was resolved with it.
	if open, _, _ := e.svc.List(e.ctx, anna, sid, "open", "", 10); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	if done, _, _ := e.svc.List(e.ctx, anna, sid, "resolved", "", 10); len(done) != 2 {
		t.Fatalf("resolved: %+v", done)
	}
	_, err = e.svc.Resolve(e.ctx, anna, r2.ID, "dismiss", "")
	wantCode(t, err, "report_resolved")
	audit, _, _ := e.sts.Audit(e.ctx, anna, sid, "", 10)
	if audit[0].Action != streets.ActionReportResolve || audit[0].Reason != "niente pubblicità" || audit[1].Action != streets.ActionPostRemove {
		t.Fatalf("audit = %+v", audit[:2])
	}
	if ev := e.of(events.ReportResolved); len(ev) != 1 || ev[0].Audience != events.Admins {
		t.Fatalf("report.resolved = %+v", ev)
	}
	// After a restart the reports are still there.
	if done, _, _ := e.newService().List(e.ctx, anna, sid, "resolved", "", 10); len(done) != 2 {
		t.Fatalf("after restart: %+v", done)
	}
}

func TestReportedUserIsBannedAndReplyRemoved(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.user("Anna"), e.user("Bruno"), e.user("Carla")
	sid := e.street(anna, bruno, carla)
	p := e.post(carla, sid, "Cerco babysitter")
	reply, err := e.ps.Reply(e.ctx, bruno, p.ID, "insulto")
	if err != nil {
		t.Fatal(err)
	}
	rr := e.report(carla, moderation.NewReport{Target: "reply", ID: reply.ID, Reason: "offensivo"})
	if rr.PostID != p.ID || rr.AuthorID != bruno.UserID {
		t.Fatalf("reply report = %+v", rr)
	}
	if _, err := e.svc.Resolve(e.ctx, anna, rr.ID, "remove", "linguaggio offensivo"); err != nil {
		t.Fatal(err)
	}
	th, _ := e.ps.Get(e.ctx, carla, p.ID)
	if !th.Replies[0].Removed || th.Replies[0].Body != "" {
		t.Fatalf("the reply = %+v", th.Replies[0])
	}
	_, err = e.svc.Create(e.ctx, carla, moderation.NewReport{Target: "user", ID: bruno.UserID, Reason: "molesta"})
	wantField(t, err, "street_id", "required")
	ur := e.report(carla, moderation.NewReport{Target: "user", ID: bruno.UserID, StreetID: sid, Reason: "molesta"})
	_, err = e.svc.Resolve(e.ctx, anna, ur.ID, "remove", "x")
	wantField(t, err, "action", "invalid")
	if _, err := e.svc.Resolve(e.ctx, anna, ur.ID, "ban", "molestie ripetute"); err != nil {
		t.Fatal(err)
	}
	m, _ := e.sts.Membership(e.ctx, sid, bruno.UserID)
	if m.Status != streets.StatusBanned || m.Reason != "molestie ripetute" {
		t.Fatalf("bruno = %+v", m)
	}
	if ev := e.of(events.MemberBanned); len(ev) != 1 || ev[0].SubjectID != bruno.UserID {
		t.Fatalf("member.banned = %+v", ev)
	}
}

func TestReportRulesAndIsolation(t *testing.T) {
	e := newEnv(t)
	anna, bruno, zeno := e.user("Anna"), e.user("Bruno"), e.user("Zeno")
	sidA := e.street(anna, bruno)
	sidB := e.street(zeno)
	p := e.post(bruno, sidA, "Post di A")
	cases := []struct {
		name string
		who  auth.Principal
		in   moderation.NewReport
		code string
	}{
		{"other street's post", zeno, moderation.NewReport{Target: "post", ID: p.ID, Reason: "x"}, "post_not_found"},
		{"other street's user", zeno, moderation.NewReport{Target: "user", ID: bruno.UserID, StreetID: sidA, Reason: "x"}, "street_not_found"},
		{"user not in my street", zeno, moderation.NewReport{Target: "user", ID: bruno.UserID, StreetID: sidB, Reason: "x"}, "member_not_found"},
		{"malformed id", bruno, moderation.NewReport{Target: "post", ID: "zzz", Reason: "x"}, "post_not_found"},
		{"unknown reply", bruno, moderation.NewReport{Target: "reply", ID: "0123456789abcdef01234567", Reason: "x"}, "reply_not_found"},
		{"own post", bruno, moderation.NewReport{Target: "post", ID: p.ID, Reason: "x"}, "validation_failed"},
		{"no reason", anna, moderation.NewReport{Target: "post", ID: p.ID}, "validation_failed"},
		{"bad target", anna, moderation.NewReport{Target: "street", ID: sidA, Reason: "x"}, "validation_failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.Create(e.ctx, c.who, c.in)
			wantCode(t, err, c.code)
		})
	}
	r := e.report(anna, moderation.NewReport{Target: "post", ID: p.ID, Reason: "test"})
	_, _, err := e.svc.List(e.ctx, zeno, sidA, "", "", 10)
	wantCode(t, err, "street_not_found")
	_, err = e.svc.Resolve(e.ctx, zeno, r.ID, "dismiss", "")
	wantCode(t, err, "report_not_found")
	if open, _, _ := e.svc.List(e.ctx, zeno, sidB, "", "", 10); len(open) != 0 {
		t.Fatalf("street B sees %+v", open)
	}
	res, err := e.svc.Resolve(e.ctx, anna, r.ID, "dismiss", "")
	if err != nil || res.Action != "dismiss" {
		t.Fatalf("dismiss = %+v, %v", res, err)
	}
	if th, _ := e.ps.Get(e.ctx, bruno, p.ID); th.Status != posts.StatusOpen {
		t.Fatalf("dismiss changed the post to %s", th.Status)
	}
}
