package streets_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/streets"
)

func TestCreatorIsAdminAndStreetIsListed(t *testing.T) {
	e := newEnv(t)
	anna := e.user("Anna")
	st, err := e.svc.Create(e.ctx, anna, streets.NewStreet{Name: "  Via   del Pratello ", City: "Bologna", Description: "Social street"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "Via del Pratello" || st.MemberCount != 1 {
		t.Fatalf("street = %+v", st)
	}
	m, err := e.svc.Membership(e.ctx, st.ID, anna.UserID)
	if err != nil || m.Role != streets.RoleAdmin || m.Status != streets.StatusActive || m.Name != "Anna" {
		t.Fatalf("membership = %+v, %v", m, err)
	}
	mine, err := e.svc.UserStreets(e.ctx, anna.UserID)
	if err != nil || len(mine) != 1 || mine[0].Role != streets.RoleAdmin || mine[0].Name != "Via del Pratello" {
		t.Fatalf("user streets = %+v, %v", mine, err)
	}
	dir, _, err := e.svc.Directory(e.ctx, "pratello", "bologna", "", 10)
	if err != nil || len(dir) != 1 || dir[0] != (streets.Listing{ID: st.ID, Name: "Via del Pratello", City: "Bologna", MemberCount: 1}) {
		t.Fatalf("directory = %+v, %v", dir, err)
	}
	if name, _ := e.svc.StreetName(e.ctx, st.ID); name != "Via del Pratello" {
		t.Fatalf("street name %q", name)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	anna := e.user("Anna")
	cases := []struct {
		name          string
		in            streets.NewStreet
		field, reason string
	}{
		{"no name", streets.NewStreet{City: "Bologna"}, "name", "required"},
		{"one letter", streets.NewStreet{Name: "V", City: "Bologna"}, "name", "too_short"},
		{"long name", streets.NewStreet{Name: strings.Repeat("a", 81), City: "Bologna"}, "name", "too_long"},
		{"no city", streets.NewStreet{Name: "Via Zamboni"}, "city", "required"},
		{"long description", streets.NewStreet{Name: "Via Zamboni", City: "Bologna", Description: strings.Repeat("x", 1001)}, "description", "too_long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.Create(e.ctx, anna, c.in)
			wantField(t, err, c.field, c.reason)
		})
	}
	if dir, _, _ := e.svc.Directory(e.ctx, "", "", "", 10); len(dir) != 0 {
		t.Fatalf("bad input created %d streets", len(dir))
	}
}

func TestJoinRequestIsApprovedOrRejected(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.user("Anna"), e.user("Bruno"), e.user("Carla")
	sid := e.street(anna, "Via Zamboni")
	m, err := e.svc.Join(e.ctx, bruno, sid, streets.JoinRequest{Message: "I live at number 3"})
	if err != nil || m.Status != streets.StatusPending {
		t.Fatalf("join = %+v, %v", m, err)
	}
	req := e.rec.of(events.MemberRequested)
	if len(req) != 1 || req[0].Audience != events.Admins || req[0].SubjectID != bruno.UserID {
		t.Fatalf("member.requested events = %+v", req)
	}
	// Asking again while pending changes nothing.
	if _, err := e.svc.Join(e.ctx, bruno, sid, streets.JoinRequest{}); err != nil || len(e.rec.of(events.MemberRequested)) != 1 {
		t.Fatalf("second request: %v, %d events", err, len(e.rec.of(events.MemberRequested)))
	}
	pending, _, err := e.svc.Members(e.ctx, anna, sid, streets.StatusPending, "", 10)
	if err != nil || len(pending) != 1 || pending[0].Message != "I live at number 3" {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	if _, err := e.svc.Approve(e.ctx, anna, sid, bruno.UserID, ""); err != nil {
		t.Fatal(err)
	}
	if e.status(sid, bruno) != streets.StatusActive {
		t.Fatalf("bruno is %s", e.status(sid, bruno))
	}
	if ev := e.rec.of(events.MemberApproved); len(ev) != 1 || ev[0].SubjectID != bruno.UserID {
		t.Fatalf("member.approved events = %+v", ev)
	}
	// Approving twice is a conflict.
	_, err = e.svc.Approve(e.ctx, anna, sid, bruno.UserID, "")
	wantCode(t, err, "not_pending")

	e.request(carla, sid, "")
	if _, err := e.svc.Reject(e.ctx, anna, sid, carla.UserID, "we do not know you"); err != nil {
		t.Fatal(err)
	}
	if e.status(sid, carla) != streets.StatusRejected || len(e.rec.of(events.MemberRejected)) != 1 {
		t.Fatalf("carla is %s", e.status(sid, carla))
	}
	// A rejected user may ask again.
	e.request(carla, sid, "I am Bruno's neighbour")
	if e.status(sid, carla) != streets.StatusPending {
		t.Fatalf("carla is %s after asking again", e.status(sid, carla))
	}
	// A plain member cannot decide.
	_, err = e.svc.Approve(e.ctx, bruno, sid, carla.UserID, "")
	wantCode(t, err, "not_admin")
	// An active member joining again is a conflict.
	_, err = e.svc.Join(e.ctx, bruno, sid, streets.JoinRequest{})
	wantCode(t, err, "already_member")
}

func TestInviteJoinsAtOnceWithinItsLimits(t *testing.T) {
	e := newEnv(t)
	anna := e.user("Anna")
	sid := e.street(anna, "Via Zamboni")
	other := e.street(anna, "Via Irnerio")
	inv, err := e.svc.CreateInvite(e.ctx, anna, sid, streets.InviteOptions{MaxUses: 2, ExpiresIn: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	u1, u2, u3, u4 := e.user("Uno"), e.user("Due"), e.user("Tre"), e.user("Quattro")
	m, err := e.svc.Join(e.ctx, u1, sid, streets.JoinRequest{InviteCode: inv.Code})
	if err != nil || m.Status != streets.StatusActive {
		t.Fatalf("join with invite = %+v, %v", m, err)
	}
	if ev := e.rec.of(events.MemberJoined); len(ev) != 1 || ev[0].SubjectID != u1.UserID {
		t.Fatalf("member.joined = %+v", ev)
	}
	// The code of another street does not open this one.
	_, err = e.svc.Join(e.ctx, u2, other, streets.JoinRequest{InviteCode: inv.Code})
	wantField(t, err, "invite_code", "invalid")
	if _, err := e.svc.Join(e.ctx, u2, sid, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
		t.Fatal(err)
	}
	// Used up.
	_, err = e.svc.Join(e.ctx, u3, sid, streets.JoinRequest{InviteCode: inv.Code})
	wantField(t, err, "invite_code", "expired")
	if e.status(sid, u3) != "none" {
		t.Fatalf("a refused invite changed u3 to %s", e.status(sid, u3))
	}
	// Expired.
	inv2, _ := e.svc.CreateInvite(e.ctx, anna, sid, streets.InviteOptions{ExpiresIn: time.Hour})
	e.clock.Advance(61 * time.Minute)
	_, err = e.svc.Join(e.ctx, u3, sid, streets.JoinRequest{InviteCode: inv2.Code})
	wantField(t, err, "invite_code", "expired")
	// Revoked.
	inv3, _ := e.svc.CreateInvite(e.ctx, anna, sid, streets.InviteOptions{})
	if open, _ := e.svc.Invites(e.ctx, anna, sid); len(open) != 1 || open[0].Code != inv3.Code {
		t.Fatalf("open invites = %+v", open)
	}
	if err := e.svc.RevokeInvite(e.ctx, anna, sid, inv3.Code); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Join(e.ctx, u4, sid, streets.JoinRequest{InviteCode: inv3.Code})
	wantField(t, err, "invite_code", "invalid")
	// Bad invite options, and a member who is no admin.
	_, err = e.svc.CreateInvite(e.ctx, anna, sid, streets.InviteOptions{MaxUses: 5000})
	wantField(t, err, "max_uses", "out_of_range")
	_, err = e.svc.CreateInvite(e.ctx, u1, sid, streets.InviteOptions{})
	wantCode(t, err, "not_admin")
}

func TestPendingAndBannedSeeNothingInside(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla, dario := e.user("Anna"), e.user("Bruno"), e.user("Carla"), e.user("Dario")
	sid := e.street(anna, "Via Zamboni")
	e.request(bruno, sid, "")
	e.join(anna, carla, sid)
	if _, err := e.svc.Ban(e.ctx, anna, sid, carla.UserID, "spam"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		who  auth.Principal
	}{{"pending", bruno}, {"banned", carla}, {"stranger", dario}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.RequireActive(e.ctx, sid, c.who.UserID)
			wantCode(t, err, "street_not_found")
			_, _, err = e.svc.Members(e.ctx, c.who, sid, "", "", 10)
			wantCode(t, err, "street_not_found")
			_, _, err = e.svc.Audit(e.ctx, c.who, sid, "", 10)
			wantCode(t, err, "street_not_found")
			_, err = e.svc.CreateInvite(e.ctx, c.who, sid, streets.InviteOptions{})
			wantCode(t, err, "street_not_found")
			if v, err := e.svc.Get(e.ctx, c.who, sid); err != nil || v.Name != "Via Zamboni" {
				t.Fatalf("the public card: %+v, %v", v, err)
			}
		})
	}
	// A banned user cannot come back by asking.
	_, err := e.svc.Join(e.ctx, carla, sid, streets.JoinRequest{})
	wantCode(t, err, "banned")
}

func TestLastAdminCannotLeaveOrBeDemoted(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.user("Anna"), e.user("Bruno")
	sid := e.street(anna, "Via Zamboni")
	e.join(anna, bruno, sid)
	wantCode(t, e.svc.Leave(e.ctx, anna, sid), "last_admin")
	_, err := e.svc.SetRole(e.ctx, anna, sid, anna.UserID, streets.RoleMember)
	wantCode(t, err, "last_admin")
	if m, _ := e.svc.Membership(e.ctx, sid, anna.UserID); m.Role != streets.RoleAdmin || m.Status != streets.StatusActive {
		t.Fatalf("anna = %+v", m)
	}
	// With a second admin, the first may step down and leave.
	if m, err := e.svc.SetRole(e.ctx, anna, sid, bruno.UserID, streets.RoleAdmin); err != nil || m.Role != streets.RoleAdmin {
		t.Fatalf("promote = %+v, %v", m, err)
	}
	if ev := e.rec.of(events.MemberRole); len(ev) != 1 || ev[0].SubjectID != bruno.UserID {
		t.Fatalf("member.role = %+v", ev)
	}
	if _, err := e.svc.SetRole(e.ctx, bruno, sid, anna.UserID, streets.RoleMember); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Leave(e.ctx, anna, sid); err != nil {
		t.Fatal(err)
	}
	left := e.rec.of(events.MemberLeft)
	if len(left) != 1 || left[0].SubjectID != anna.UserID || e.status(sid, anna) != streets.StatusLeft {
		t.Fatalf("member.left = %+v, anna is %s", left, e.status(sid, anna))
	}
	_, err = e.svc.SetRole(e.ctx, bruno, sid, bruno.UserID, "owner")
	wantField(t, err, "role", "invalid")
	wantCode(t, e.svc.Leave(e.ctx, anna, sid), "street_not_found")
}

func TestBanNeedsReasonAndIsAnnounced(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.user("Anna"), e.user("Bruno"), e.user("Carla")
	sid := e.street(anna, "Via Zamboni")
	e.join(anna, bruno, sid)
	e.join(anna, carla, sid)
	_, err := e.svc.Ban(e.ctx, anna, sid, bruno.UserID, "   ")
	wantField(t, err, "reason", "required")
	if e.status(sid, bruno) != streets.StatusActive {
		t.Fatal("a refused ban changed the member")
	}
	_, err = e.svc.Ban(e.ctx, anna, sid, anna.UserID, "oops")
	wantCode(t, err, "cannot_act_on_self")
	_, err = e.svc.Ban(e.ctx, bruno, sid, carla.UserID, "not an admin")
	wantCode(t, err, "not_admin")
	if _, err := e.svc.SetRole(e.ctx, anna, sid, carla.UserID, streets.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Ban(e.ctx, anna, sid, carla.UserID, "admin war")
	wantCode(t, err, "cannot_ban_admin")

	m, err := e.svc.Ban(e.ctx, anna, sid, bruno.UserID, "insults")
	if err != nil || m.Status != streets.StatusBanned || m.Reason != "insults" {
		t.Fatalf("ban = %+v, %v", m, err)
	}
	banned := e.rec.of(events.MemberBanned)
	if len(banned) != 1 || banned[0].SubjectID != bruno.UserID || banned[0].ActorID != anna.UserID {
		t.Fatalf("member.banned = %+v", banned)
	}
	if ids, _ := e.svc.ActiveMemberIDs(e.ctx, sid); slices.Contains(ids, bruno.UserID) || len(ids) != 2 {
		t.Fatalf("active members %v still hold the banned user", ids)
	}
	_, err = e.svc.Ban(e.ctx, anna, sid, bruno.UserID, "again")
	wantCode(t, err, "already_banned")

	if _, err := e.svc.Unban(e.ctx, anna, sid, bruno.UserID, "apologised"); err != nil {
		t.Fatal(err)
	}
	if e.status(sid, bruno) != streets.StatusLeft || len(e.rec.of(events.MemberUnbanned)) != 1 {
		t.Fatalf("after unban bruno is %s", e.status(sid, bruno))
	}
	_, err = e.svc.Unban(e.ctx, anna, sid, bruno.UserID, "")
	wantCode(t, err, "not_banned")
	// Unbanned, he may ask to join again.
	e.request(bruno, sid, "sorry")
	if e.status(sid, bruno) != streets.StatusPending {
		t.Fatalf("bruno is %s", e.status(sid, bruno))
	}
}

func TestAuditLogRecordsEveryDecision(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.user("Anna"), e.user("Bruno"), e.user("Carla")
	sid := e.street(anna, "Via Zamboni")
	e.request(bruno, sid, "")
	e.request(carla, sid, "")
	steps := []func() error{
		func() error { _, err := e.svc.Approve(e.ctx, anna, sid, bruno.UserID, "known neighbour"); return err },
		func() error { _, err := e.svc.Reject(e.ctx, anna, sid, carla.UserID, "unknown"); return err },
		func() error { _, err := e.svc.Ban(e.ctx, anna, sid, bruno.UserID, "spam"); return err },
		func() error { _, err := e.svc.Unban(e.ctx, anna, sid, bruno.UserID, "apologised"); return err },
		func() error {
			return e.svc.Record(e.ctx, sid, streets.AuditEntry{ActorID: anna.UserID, Action: streets.ActionPostRemove, TargetType: "post", TargetID: "p1", Reason: "ad"})
		},
	}
	for i, step := range steps {
		e.clock.Advance(time.Minute)
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []struct{ action, reason string }{
		{streets.ActionPostRemove, "ad"}, {streets.ActionMemberUnban, "apologised"}, {streets.ActionMemberBan, "spam"},
		{streets.ActionMemberReject, "unknown"}, {streets.ActionMemberApprove, "known neighbour"}, {streets.ActionStreetCreate, ""},
	}
	// Read back two at a time, newest first, through the cursor.
	var got []streets.AuditEntry
	cursor := ""
	for range 10 {
		page, next, err := e.svc.Audit(e.ctx, anna, sid, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(got) != len(want) {
		t.Fatalf("audit has %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.action || g.Reason != w.reason || g.ActorID != anna.UserID || g.ActorName != "Anna" || g.At.IsZero() {
			t.Errorf("entry %d = %+v, want %s (%s) by Anna", i, g, w.action, w.reason)
		}
	}
	if got[1].TargetName != "Bruno" || got[1].TargetID != bruno.UserID {
		t.Errorf("unban entry names %q %q", got[1].TargetName, got[1].TargetID)
	}
	// Only admins read it; a tampered cursor is refused.
	e.join(anna, carla, sid)
	_, _, err := e.svc.Audit(e.ctx, carla, sid, "", 10)
	wantCode(t, err, "not_admin")
	_, _, err = e.svc.Audit(e.ctx, anna, sid, cursor+"x", 10)
	wantCode(t, err, "bad_cursor")
}

func TestMembersListShowsNamesAndPagesByName(t *testing.T) {
	e := newEnv(t)
	anna := e.user("Anna")
	sid := e.street(anna, "Via Zamboni")
	names := []string{"zoe", "Bruno", "carla", "Dario", "elena"}
	for _, n := range names {
		e.join(anna, e.user(n), sid)
	}
	pending := e.user("Pietro")
	e.request(pending, sid, "please")
	var got []string
	cursor := ""
	for {
		page, next, err := e.svc.Members(e.ctx, anna, sid, "", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			got = append(got, m.Name)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(got, ",") != "Anna,Bruno,carla,Dario,elena,zoe" {
		t.Fatalf("members = %v", got)
	}
	// A plain member sees active members but not the pending list.
	bruno := e.user("Bruno2")
	e.join(anna, bruno, sid)
	_, _, err := e.svc.Members(e.ctx, bruno, sid, streets.StatusPending, "", 10)
	wantCode(t, err, "not_admin")
	_, _, err = e.svc.Members(e.ctx, anna, sid, "everyone", "", 10)
	wantField(t, err, "status", "invalid")
	_, _, err = e.svc.Members(e.ctx, anna, sid, "", "bogus", 10)
	wantCode(t, err, "bad_cursor")
}

func TestDirectoryFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	anna := e.user("Anna")
	for _, n := range []string{"Via Zamboni", "Via Irnerio", "Piazza Verdi", "Via del Pratello"} {
		e.street(anna, n)
	}
	if _, err := e.svc.Create(e.ctx, anna, streets.NewStreet{Name: "Via Roma", City: "Modena"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		q, city string
		want    string
	}{
		{"", "", "Piazza Verdi,Via del Pratello,Via Irnerio,Via Roma,Via Zamboni"},
		{"VIA", "bologna", "Via del Pratello,Via Irnerio,Via Zamboni"},
		{"", "Modena", "Via Roma"},
		{".*", "", ""},
	}
	for _, c := range cases {
		var got []string
		cursor := ""
		for {
			page, next, err := e.svc.Directory(e.ctx, c.q, c.city, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range page {
				got = append(got, l.Name)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("q=%q city=%q: %v, want %s", c.q, c.city, got, c.want)
		}
	}
	_, _, err := e.svc.Directory(e.ctx, strings.Repeat("x", 101), "", "", 10)
	wantField(t, err, "q", "too_long")
}

func TestMembershipLookupAndRestart(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.user("Anna"), e.user("Bruno")
	sid := e.street(anna, "Via Zamboni")
	e.join(anna, bruno, sid)
	for _, bad := range [][2]string{{"nope", bruno.UserID}, {sid, "nope"}, {sid, e.user("Carla").UserID}} {
		_, err := e.svc.Membership(e.ctx, bad[0], bad[1])
		if fault.KindOf(err) != fault.NotFound {
			t.Errorf("Membership(%q, %q) = %v, want NotFound", bad[0], bad[1], err)
		}
	}
	// A new process: the first lookup goes by _id, then everything loads.
	svc := e.newService()
	m, err := svc.Membership(e.ctx, sid, bruno.UserID)
	if err != nil || m.Status != streets.StatusActive || m.Name != "Bruno" {
		t.Fatalf("after restart = %+v, %v", m, err)
	}
	admins, _ := svc.AdminIDs(e.ctx, sid)
	active, _ := svc.ActiveMemberIDs(e.ctx, sid)
	if !slices.Equal(admins, []string{anna.UserID}) || len(active) != 2 {
		t.Fatalf("admins %v active %v", admins, active)
	}
	if dir, _, _ := svc.Directory(e.ctx, "", "", "", 10); len(dir) != 1 || dir[0].MemberCount != 2 {
		t.Fatalf("directory after restart = %+v", dir)
	}
}
