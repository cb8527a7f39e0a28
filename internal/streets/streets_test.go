package streets_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/streets"
	"civico/internal/testutil"
)

func TestCreatorIsAdminAndStreetIsListed(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	st, err := e.Streets.Create(e.Ctx, anna, streets.NewStreet{Name: "  Via   del Pratello ", City: "Bologna", Description: "Social street"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "Via del Pratello" || st.MemberCount != 1 {
		t.Fatalf("street = %+v", st)
	}
	m, err := e.Streets.Membership(e.Ctx, st.ID, anna.UserID)
	if err != nil || m.Role != streets.RoleAdmin || m.Status != streets.StatusActive || m.Name != "Anna" {
		t.Fatalf("membership = %+v, %v", m, err)
	}
	mine, err := e.Streets.UserStreets(e.Ctx, anna.UserID)
	if err != nil || len(mine) != 1 || mine[0].Role != streets.RoleAdmin || mine[0].Name != "Via del Pratello" {
		t.Fatalf("user streets = %+v, %v", mine, err)
	}
	dir, _, err := e.Streets.Directory(e.Ctx, "pratello", "bologna", "", 10)
	if err != nil || len(dir) != 1 || dir[0] != (streets.Listing{ID: st.ID, Slug: "via-del-pratello-bologna", Name: "Via del Pratello", City: "Bologna",
		Description: "Social street", MemberCount: 1, Listed: true}) {
		t.Fatalf("directory = %+v, %v", dir, err)
	}
	if name, _ := e.Streets.StreetName(e.Ctx, st.ID); name != "Via del Pratello" {
		t.Fatalf("street name %q", name)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
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
			_, err := e.Streets.Create(e.Ctx, anna, c.in)
			testutil.WantField(t, err, c.field, c.reason)
		})
	}
	if dir, _, _ := e.Streets.Directory(e.Ctx, "", "", "", 10); len(dir) != 0 {
		t.Fatalf("bad input created %d streets", len(dir))
	}
}

func TestJoinRequestIsApprovedOrRejected(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.NamedStreet(anna, "Via Zamboni")
	m, err := e.Streets.Join(e.Ctx, bruno, sid, streets.JoinRequest{Message: "I live at number 3"})
	if err != nil || m.Status != streets.StatusPending {
		t.Fatalf("join = %+v, %v", m, err)
	}
	req := e.Published(events.MemberRequested)
	if len(req) != 1 || req[0].Audience != events.Admins || req[0].SubjectID != bruno.UserID {
		t.Fatalf("member.requested events = %+v", req)
	}
	// Asking again while pending changes nothing.
	if _, err := e.Streets.Join(e.Ctx, bruno, sid, streets.JoinRequest{}); err != nil || len(e.Published(events.MemberRequested)) != 1 {
		t.Fatalf("second request: %v, %d events", err, len(e.Published(events.MemberRequested)))
	}
	pending, _, err := e.Streets.Members(e.Ctx, anna, sid, streets.StatusPending, "", 10)
	if err != nil || len(pending) != 1 || pending[0].Message != "I live at number 3" {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	if _, err := e.Streets.Approve(e.Ctx, anna, sid, bruno.UserID, ""); err != nil {
		t.Fatal(err)
	}
	if e.status(sid, bruno) != streets.StatusActive {
		t.Fatalf("bruno is %s", e.status(sid, bruno))
	}
	if ev := e.Published(events.MemberApproved); len(ev) != 1 || ev[0].SubjectID != bruno.UserID {
		t.Fatalf("member.approved events = %+v", ev)
	}
	// Approving twice is a conflict.
	_, err = e.Streets.Approve(e.Ctx, anna, sid, bruno.UserID, "")
	testutil.WantCode(t, err, "not_pending")

	e.request(carla, sid, "")
	if _, err := e.Streets.Reject(e.Ctx, anna, sid, carla.UserID, "we do not know you"); err != nil {
		t.Fatal(err)
	}
	if e.status(sid, carla) != streets.StatusRejected || len(e.Published(events.MemberRejected)) != 1 {
		t.Fatalf("carla is %s", e.status(sid, carla))
	}
	// A rejected user may ask again.
	e.request(carla, sid, "I am Bruno's neighbour")
	if e.status(sid, carla) != streets.StatusPending {
		t.Fatalf("carla is %s after asking again", e.status(sid, carla))
	}
	// A plain member cannot decide.
	_, err = e.Streets.Approve(e.Ctx, bruno, sid, carla.UserID, "")
	testutil.WantCode(t, err, "not_admin")
	// An active member joining again is a conflict.
	_, err = e.Streets.Join(e.Ctx, bruno, sid, streets.JoinRequest{})
	testutil.WantCode(t, err, "already_member")
}

func TestInviteJoinsAtOnceWithinItsLimits(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	sid := e.NamedStreet(anna, "Via Zamboni")
	other := e.NamedStreet(anna, "Via Irnerio")
	inv, err := e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{MaxUses: 2, ExpiresIn: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	u1, u2, u3, u4 := e.User("Uno"), e.User("Due"), e.User("Tre"), e.User("Quattro")
	m, err := e.Streets.Join(e.Ctx, u1, sid, streets.JoinRequest{InviteCode: inv.Code})
	if err != nil || m.Status != streets.StatusActive {
		t.Fatalf("join with invite = %+v, %v", m, err)
	}
	if ev := e.Published(events.MemberJoined); len(ev) != 1 || ev[0].SubjectID != u1.UserID {
		t.Fatalf("member.joined = %+v", ev)
	}
	// The code of another street does not open this one.
	_, err = e.Streets.Join(e.Ctx, u2, other, streets.JoinRequest{InviteCode: inv.Code})
	testutil.WantField(t, err, "invite_code", "invalid")
	if _, err := e.Streets.Join(e.Ctx, u2, sid, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
		t.Fatal(err)
	}
	// Used up.
	_, err = e.Streets.Join(e.Ctx, u3, sid, streets.JoinRequest{InviteCode: inv.Code})
	testutil.WantField(t, err, "invite_code", "expired")
	if e.status(sid, u3) != "none" {
		t.Fatalf("a refused invite changed u3 to %s", e.status(sid, u3))
	}
	// Expired.
	inv2, _ := e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{ExpiresIn: time.Hour})
	e.Clock.Advance(61 * time.Minute)
	_, err = e.Streets.Join(e.Ctx, u3, sid, streets.JoinRequest{InviteCode: inv2.Code})
	testutil.WantField(t, err, "invite_code", "expired")
	// Revoked.
	inv3, _ := e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{})
	if open, _ := e.Streets.Invites(e.Ctx, anna, sid); len(open) != 1 || open[0].Code != inv3.Code {
		t.Fatalf("open invites = %+v", open)
	}
	if err := e.Streets.RevokeInvite(e.Ctx, anna, sid, inv3.Code); err != nil {
		t.Fatal(err)
	}
	_, err = e.Streets.Join(e.Ctx, u4, sid, streets.JoinRequest{InviteCode: inv3.Code})
	testutil.WantField(t, err, "invite_code", "invalid")
	// Bad invite options, and a member who is no admin.
	_, err = e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{MaxUses: 5000})
	testutil.WantField(t, err, "max_uses", "out_of_range")
	_, err = e.Streets.CreateInvite(e.Ctx, u1, sid, streets.InviteOptions{})
	testutil.WantCode(t, err, "not_admin")
}

func TestPendingAndBannedSeeNothingInside(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla, dario := e.User("Anna"), e.User("Bruno"), e.User("Carla"), e.User("Dario")
	sid := e.NamedStreet(anna, "Via Zamboni")
	e.request(bruno, sid, "")
	e.Join(anna, carla, sid)
	if _, err := e.Streets.Ban(e.Ctx, anna, sid, carla.UserID, "spam"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		who  auth.Principal
	}{{"pending", bruno}, {"banned", carla}, {"stranger", dario}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Streets.RequireActive(e.Ctx, sid, c.who.UserID)
			testutil.WantCode(t, err, "street_not_found")
			_, _, err = e.Streets.Members(e.Ctx, c.who, sid, "", "", 10)
			testutil.WantCode(t, err, "street_not_found")
			_, _, err = e.Streets.Audit(e.Ctx, c.who, sid, "", 10)
			testutil.WantCode(t, err, "street_not_found")
			_, err = e.Streets.CreateInvite(e.Ctx, c.who, sid, streets.InviteOptions{})
			testutil.WantCode(t, err, "street_not_found")
			if v, err := e.Streets.Get(e.Ctx, c.who, sid); err != nil || v.Name != "Via Zamboni" {
				t.Fatalf("the public card: %+v, %v", v, err)
			}
		})
	}
	// A banned user cannot come back by asking.
	_, err := e.Streets.Join(e.Ctx, carla, sid, streets.JoinRequest{})
	testutil.WantCode(t, err, "banned")
}

func TestLastAdminCannotLeaveOrBeDemoted(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.NamedStreet(anna, "Via Zamboni")
	e.Join(anna, bruno, sid)
	testutil.WantCode(t, e.Streets.Leave(e.Ctx, anna, sid), "last_admin")
	_, err := e.Streets.SetRole(e.Ctx, anna, sid, anna.UserID, streets.RoleMember)
	testutil.WantCode(t, err, "last_admin")
	if m, _ := e.Streets.Membership(e.Ctx, sid, anna.UserID); m.Role != streets.RoleAdmin || m.Status != streets.StatusActive {
		t.Fatalf("anna = %+v", m)
	}
	// With a second admin, the first may step down and leave.
	if m, err := e.Streets.SetRole(e.Ctx, anna, sid, bruno.UserID, streets.RoleAdmin); err != nil || m.Role != streets.RoleAdmin {
		t.Fatalf("promote = %+v, %v", m, err)
	}
	if ev := e.Published(events.MemberRole); len(ev) != 1 || ev[0].SubjectID != bruno.UserID {
		t.Fatalf("member.role = %+v", ev)
	}
	if _, err := e.Streets.SetRole(e.Ctx, bruno, sid, anna.UserID, streets.RoleMember); err != nil {
		t.Fatal(err)
	}
	if err := e.Streets.Leave(e.Ctx, anna, sid); err != nil {
		t.Fatal(err)
	}
	left := e.Published(events.MemberLeft)
	if len(left) != 1 || left[0].SubjectID != anna.UserID || e.status(sid, anna) != streets.StatusLeft {
		t.Fatalf("member.left = %+v, anna is %s", left, e.status(sid, anna))
	}
	_, err = e.Streets.SetRole(e.Ctx, bruno, sid, bruno.UserID, "owner")
	testutil.WantField(t, err, "role", "invalid")
	testutil.WantCode(t, e.Streets.Leave(e.Ctx, anna, sid), "street_not_found")
}

func TestBanNeedsReasonAndIsAnnounced(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.NamedStreet(anna, "Via Zamboni")
	e.Join(anna, bruno, sid)
	e.Join(anna, carla, sid)
	_, err := e.Streets.Ban(e.Ctx, anna, sid, bruno.UserID, "   ")
	testutil.WantField(t, err, "reason", "required")
	if e.status(sid, bruno) != streets.StatusActive {
		t.Fatal("a refused ban changed the member")
	}
	_, err = e.Streets.Ban(e.Ctx, anna, sid, anna.UserID, "oops")
	testutil.WantCode(t, err, "cannot_act_on_self")
	_, err = e.Streets.Ban(e.Ctx, bruno, sid, carla.UserID, "not an admin")
	testutil.WantCode(t, err, "not_admin")
	if _, err := e.Streets.SetRole(e.Ctx, anna, sid, carla.UserID, streets.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	_, err = e.Streets.Ban(e.Ctx, anna, sid, carla.UserID, "admin war")
	testutil.WantCode(t, err, "cannot_ban_admin")

	m, err := e.Streets.Ban(e.Ctx, anna, sid, bruno.UserID, "insults")
	if err != nil || m.Status != streets.StatusBanned || m.Reason != "insults" {
		t.Fatalf("ban = %+v, %v", m, err)
	}
	banned := e.Published(events.MemberBanned)
	if len(banned) != 1 || banned[0].SubjectID != bruno.UserID || banned[0].ActorID != anna.UserID {
		t.Fatalf("member.banned = %+v", banned)
	}
	if ids, _ := e.Streets.ActiveMemberIDs(e.Ctx, sid); slices.Contains(ids, bruno.UserID) || len(ids) != 2 {
		t.Fatalf("active members %v still hold the banned user", ids)
	}
	_, err = e.Streets.Ban(e.Ctx, anna, sid, bruno.UserID, "again")
	testutil.WantCode(t, err, "already_banned")

	if _, err := e.Streets.Unban(e.Ctx, anna, sid, bruno.UserID, "apologised"); err != nil {
		t.Fatal(err)
	}
	if e.status(sid, bruno) != streets.StatusLeft || len(e.Published(events.MemberUnbanned)) != 1 {
		t.Fatalf("after unban bruno is %s", e.status(sid, bruno))
	}
	_, err = e.Streets.Unban(e.Ctx, anna, sid, bruno.UserID, "")
	testutil.WantCode(t, err, "not_banned")
	// Unbanned, he may ask to join again.
	e.request(bruno, sid, "sorry")
	if e.status(sid, bruno) != streets.StatusPending {
		t.Fatalf("bruno is %s", e.status(sid, bruno))
	}
}

func TestAuditLogRecordsEveryDecision(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.NamedStreet(anna, "Via Zamboni")
	e.request(bruno, sid, "")
	e.request(carla, sid, "")
	steps := []func() error{
		func() error {
			_, err := e.Streets.Approve(e.Ctx, anna, sid, bruno.UserID, "known neighbour")
			return err
		},
		func() error { _, err := e.Streets.Reject(e.Ctx, anna, sid, carla.UserID, "unknown"); return err },
		func() error { _, err := e.Streets.Ban(e.Ctx, anna, sid, bruno.UserID, "spam"); return err },
		func() error { _, err := e.Streets.Unban(e.Ctx, anna, sid, bruno.UserID, "apologised"); return err },
		func() error {
			return e.Streets.Record(e.Ctx, sid, streets.AuditEntry{ActorID: anna.UserID, Action: streets.ActionPostRemove, TargetType: "post", TargetID: "p1", Reason: "ad"})
		},
	}
	for i, step := range steps {
		e.Clock.Advance(time.Minute)
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
		page, next, err := e.Streets.Audit(e.Ctx, anna, sid, cursor, 2)
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
	e.Join(anna, carla, sid)
	_, _, err := e.Streets.Audit(e.Ctx, carla, sid, "", 10)
	testutil.WantCode(t, err, "not_admin")
	_, _, err = e.Streets.Audit(e.Ctx, anna, sid, cursor+"x", 10)
	testutil.WantCode(t, err, "bad_cursor")
}

func TestMembersListShowsNamesAndPagesByName(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	sid := e.NamedStreet(anna, "Via Zamboni")
	names := []string{"zoe", "Bruno", "carla", "Dario", "elena"}
	for _, n := range names {
		e.Join(anna, e.User(n), sid)
	}
	pending := e.User("Pietro")
	e.request(pending, sid, "please")
	var got []string
	cursor := ""
	for {
		page, next, err := e.Streets.Members(e.Ctx, anna, sid, "", cursor, 2)
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
	bruno := e.User("Bruno2")
	e.Join(anna, bruno, sid)
	_, _, err := e.Streets.Members(e.Ctx, bruno, sid, streets.StatusPending, "", 10)
	testutil.WantCode(t, err, "not_admin")
	_, _, err = e.Streets.Members(e.Ctx, anna, sid, "everyone", "", 10)
	testutil.WantField(t, err, "status", "invalid")
	_, _, err = e.Streets.Members(e.Ctx, anna, sid, "", "bogus", 10)
	testutil.WantCode(t, err, "bad_cursor")
}

func TestDirectoryFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	for _, n := range []string{"Via Zamboni", "Via Irnerio", "Piazza Verdi", "Via del Pratello"} {
		e.NamedStreet(anna, n)
	}
	if _, err := e.Streets.Create(e.Ctx, anna, streets.NewStreet{Name: "Via Roma", City: "Modena"}); err != nil {
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
			page, next, err := e.Streets.Directory(e.Ctx, c.q, c.city, cursor, 2)
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
	_, _, err := e.Streets.Directory(e.Ctx, strings.Repeat("x", 101), "", "", 10)
	testutil.WantField(t, err, "q", "too_long")
}

func TestMembershipLookupAndRestart(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.NamedStreet(anna, "Via Zamboni")
	e.Join(anna, bruno, sid)
	for _, bad := range [][2]string{{"nope", bruno.UserID}, {sid, "nope"}, {sid, e.User("Carla").UserID}} {
		_, err := e.Streets.Membership(e.Ctx, bad[0], bad[1])
		if fault.KindOf(err) != fault.NotFound {
			t.Errorf("Membership(%q, %q) = %v, want NotFound", bad[0], bad[1], err)
		}
	}
	// A new process: everything is read from the database.
	svc := e.newService()
	m, err := svc.Membership(e.Ctx, sid, bruno.UserID)
	if err != nil || m.Status != streets.StatusActive || m.Name != "Bruno" {
		t.Fatalf("after restart = %+v, %v", m, err)
	}
	admins, _ := svc.AdminIDs(e.Ctx, sid)
	active, _ := svc.ActiveMemberIDs(e.Ctx, sid)
	if !slices.Equal(admins, []string{anna.UserID}) || len(active) != 2 {
		t.Fatalf("admins %v active %v", admins, active)
	}
	if dir, _, _ := svc.Directory(e.Ctx, "", "", "", 10); len(dir) != 1 || dir[0].MemberCount != 2 {
		t.Fatalf("directory after restart = %+v", dir)
	}
}

// The visits of every street and the public face of one: ids of the
// streets there are, and a street's name, city and member count to
// anyone who prints or shares it.
func TestStreetIDsAndListing(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	a := e.NamedStreet(anna, "Via Fondazza", bruno)
	b := e.NamedStreet(bruno, "Via del Pratello")
	ids, err := e.Streets.StreetIDs(e.Ctx)
	if err != nil || !slices.Contains(ids, a) || !slices.Contains(ids, b) {
		t.Fatalf("StreetIDs %v, %v; want %s and %s", ids, err, a, b)
	}
	l, err := e.Streets.Listing(e.Ctx, a)
	if err != nil || l.ID != a || l.Name != "Via Fondazza" || l.MemberCount != 2 {
		t.Fatalf("Listing %+v, %v", l, err)
	}
	if _, err := e.Streets.Listing(e.Ctx, "0123456789abcdef01234567"); !errors.Is(err, streets.ErrStreetNotFound) {
		t.Fatalf("an unknown street: %v", err)
	}
}
