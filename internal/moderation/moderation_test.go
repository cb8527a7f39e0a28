package moderation_test

import (
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/moderation"
	"civico/internal/posts"
	"civico/internal/streets"
	"civico/internal/testutil"
)

// env is reports with real streets, posts, auth and events on a database
// of its own, a fake clock and a record of published events.
type env struct {
	*testutil.Services
	t *testing.T
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{Services: testutil.NewServices(t, posts.Options{}), t: t}
}

// newService is another moderation service over the same database, as a
// new process would build.
func (e *env) newService() *moderation.Service {
	e.t.Helper()
	svc, err := moderation.New(e.Ctx, e.Store, e.Log, e.Clock, e.Streets, e.Posts, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

// post publishes an offer titled title as u.
func (e *env) post(u auth.Principal, sid, title string) posts.Post {
	e.t.Helper()
	return e.Post(u, sid, posts.NewPost{Kind: "offer", Category: "other", Title: title, Body: "body"})
}

func (e *env) report(u auth.Principal, in moderation.NewReport) moderation.Report {
	e.t.Helper()
	r, err := e.Moderation.Create(e.Ctx, u, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func TestReportedPostIsRemovedWithAReason(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla, dario := e.User("Anna"), e.User("Bruno"), e.User("Carla"), e.User("Dario")
	sid := e.Street(anna, bruno, carla, dario)
	p := e.post(bruno, sid, "Vendo crediti")
	r1 := e.report(carla, moderation.NewReport{Target: "post", ID: p.ID, Reason: "è pubblicità"})
	e.Clock.Advance(time.Minute)
	r2 := e.report(dario, moderation.NewReport{Target: "post", ID: p.ID, Reason: "spam"})
	created := e.Published(events.ReportCreated)
	if len(created) != 2 || created[0].Audience != events.Admins || created[0].SubjectID != bruno.UserID || created[0].ActorID != carla.UserID {
		t.Fatalf("report.created = %+v", created)
	}
	_, err := e.Moderation.Create(e.Ctx, carla, moderation.NewReport{Target: "post", ID: p.ID, Reason: "again"})
	testutil.WantCode(t, err, "already_reported")
	open, _, err := e.Moderation.List(e.Ctx, anna, sid, "", "", 10)
	if err != nil || len(open) != 2 || open[0].ID != r2.ID || open[1].ReporterName != "Carla" || open[1].TargetName != "Vendo crediti" {
		t.Fatalf("open reports = %+v, %v", open, err)
	}
	_, _, err = e.Moderation.List(e.Ctx, carla, sid, "", "", 10)
	testutil.WantCode(t, err, "not_admin")
	_, err = e.Moderation.Resolve(e.Ctx, carla, r1.ID, "remove", "x")
	testutil.WantCode(t, err, "not_admin")
	_, err = e.Moderation.Resolve(e.Ctx, anna, r1.ID, "remove", "")
	testutil.WantField(t, err, "reason", "required")
	_, err = e.Moderation.Resolve(e.Ctx, anna, r1.ID, "delete", "x")
	testutil.WantField(t, err, "action", "invalid")

	res, err := e.Moderation.Resolve(e.Ctx, anna, r1.ID, "remove", "niente pubblicità")
	if err != nil || res.Status != moderation.StatusResolved || res.Action != "remove" || res.Resolution != "niente pubblicità" {
		t.Fatalf("resolve = %+v, %v", res, err)
	}
	th, err := e.Posts.Get(e.Ctx, bruno, p.ID)
	if err != nil || th.Status != posts.StatusRemoved || th.RemovalReason != "niente pubblicità" {
		t.Fatalf("the post = %+v, %v", th.Post, err)
	}
	// The second report on the same post was resolved with it.
	if open, _, _ := e.Moderation.List(e.Ctx, anna, sid, "open", "", 10); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	if done, _, _ := e.Moderation.List(e.Ctx, anna, sid, "resolved", "", 10); len(done) != 2 {
		t.Fatalf("resolved: %+v", done)
	}
	_, err = e.Moderation.Resolve(e.Ctx, anna, r2.ID, "dismiss", "")
	testutil.WantCode(t, err, "report_resolved")
	audit, _, _ := e.Streets.Audit(e.Ctx, anna, sid, "", 10)
	if audit[0].Action != streets.ActionReportResolve || audit[0].Reason != "niente pubblicità" || audit[1].Action != streets.ActionPostRemove {
		t.Fatalf("audit = %+v", audit[:2])
	}
	if ev := e.Published(events.ReportResolved); len(ev) != 1 || ev[0].Audience != events.Admins {
		t.Fatalf("report.resolved = %+v", ev)
	}
	// After a restart the reports are still there.
	if done, _, _ := e.newService().List(e.Ctx, anna, sid, "resolved", "", 10); len(done) != 2 {
		t.Fatalf("after restart: %+v", done)
	}
}

func TestReportedUserIsBannedAndReplyRemoved(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	p := e.post(carla, sid, "Cerco babysitter")
	reply, err := e.Posts.Reply(e.Ctx, bruno, p.ID, "insulto")
	if err != nil {
		t.Fatal(err)
	}
	rr := e.report(carla, moderation.NewReport{Target: "reply", ID: reply.ID, Reason: "offensivo"})
	if rr.PostID != p.ID || rr.AuthorID != bruno.UserID {
		t.Fatalf("reply report = %+v", rr)
	}
	if _, err := e.Moderation.Resolve(e.Ctx, anna, rr.ID, "remove", "linguaggio offensivo"); err != nil {
		t.Fatal(err)
	}
	th, _ := e.Posts.Get(e.Ctx, carla, p.ID)
	if !th.Replies[0].Removed || th.Replies[0].Body != "" {
		t.Fatalf("the reply = %+v", th.Replies[0])
	}
	_, err = e.Moderation.Create(e.Ctx, carla, moderation.NewReport{Target: "user", ID: bruno.UserID, Reason: "molesta"})
	testutil.WantField(t, err, "street_id", "required")
	ur := e.report(carla, moderation.NewReport{Target: "user", ID: bruno.UserID, StreetID: sid, Reason: "molesta"})
	_, err = e.Moderation.Resolve(e.Ctx, anna, ur.ID, "remove", "x")
	testutil.WantField(t, err, "action", "invalid")
	if _, err := e.Moderation.Resolve(e.Ctx, anna, ur.ID, "ban", "molestie ripetute"); err != nil {
		t.Fatal(err)
	}
	m, _ := e.Streets.Membership(e.Ctx, sid, bruno.UserID)
	if m.Status != streets.StatusBanned || m.Reason != "molestie ripetute" {
		t.Fatalf("bruno = %+v", m)
	}
	if ev := e.Published(events.MemberBanned); len(ev) != 1 || ev[0].SubjectID != bruno.UserID {
		t.Fatalf("member.banned = %+v", ev)
	}
}

func TestReportRulesAndIsolation(t *testing.T) {
	e := newEnv(t)
	anna, bruno, zeno := e.User("Anna"), e.User("Bruno"), e.User("Zeno")
	sidA := e.Street(anna, bruno)
	sidB := e.Street(zeno)
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
			_, err := e.Moderation.Create(e.Ctx, c.who, c.in)
			testutil.WantCode(t, err, c.code)
		})
	}
	r := e.report(anna, moderation.NewReport{Target: "post", ID: p.ID, Reason: "test"})
	_, _, err := e.Moderation.List(e.Ctx, zeno, sidA, "", "", 10)
	testutil.WantCode(t, err, "street_not_found")
	_, err = e.Moderation.Resolve(e.Ctx, zeno, r.ID, "dismiss", "")
	testutil.WantCode(t, err, "report_not_found")
	if open, _, _ := e.Moderation.List(e.Ctx, zeno, sidB, "", "", 10); len(open) != 0 {
		t.Fatalf("street B sees %+v", open)
	}
	res, err := e.Moderation.Resolve(e.Ctx, anna, r.ID, "dismiss", "")
	if err != nil || res.Action != "dismiss" {
		t.Fatalf("dismiss = %+v, %v", res, err)
	}
	if th, _ := e.Posts.Get(e.Ctx, bruno, p.ID); th.Status != posts.StatusOpen {
		t.Fatalf("dismiss changed the post to %s", th.Status)
	}
}
