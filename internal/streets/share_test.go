package streets_test

import (
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/streets"
	"civico/internal/testutil"
)

// boolp is a pointer to v, for a StreetChange.
func boolp(v bool) *bool { return &v }

// letMembersInvite has admin switch the street's members_invite to on.
func (e *env) letMembersInvite(admin auth.Principal, sid string, on bool) streets.Street {
	e.t.Helper()
	st, err := e.Streets.Update(e.Ctx, admin, sid, streets.StreetChange{MembersInvite: boolp(on)})
	if err != nil {
		e.t.Fatal(err)
	}
	if st.MembersInvite != on {
		e.t.Fatalf("members_invite = %v after setting it %v", st.MembersInvite, on)
	}
	return st
}

// Only admins invite until an admin lets every member do it; then a
// member makes small, short invites, sees only their own and revokes only
// their own, and the admins see them all.
func TestMembersInviteOnceTheAdminsAllowIt(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.NamedStreet(anna, "Via Fondazza", bruno, carla)

	v, err := e.Streets.Get(e.Ctx, bruno, sid)
	if err != nil || v.MembersInvite {
		t.Fatalf("a new street lets members invite: %+v, %v", v.Street, err)
	}
	_, err = e.Streets.CreateInvite(e.Ctx, bruno, sid, streets.InviteOptions{})
	testutil.WantCode(t, err, streets.ErrNotAdmin.Code)
	_, err = e.Streets.VisibleInvites(e.Ctx, bruno, sid)
	testutil.WantCode(t, err, streets.ErrNotAdmin.Code)
	_, err = e.Streets.Update(e.Ctx, bruno, sid, streets.StreetChange{MembersInvite: boolp(true)})
	testutil.WantCode(t, err, streets.ErrNotAdmin.Code)

	e.letMembersInvite(anna, sid, true)
	if v, err := e.Streets.Get(e.Ctx, bruno, sid); err != nil || !v.MembersInvite {
		t.Fatalf("members_invite not seen by a member: %+v, %v", v.Street, err)
	}
	admins, err := e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{MaxUses: 100})
	if err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now().UTC()
	mine, err := e.Streets.CreateInvite(e.Ctx, bruno, sid, streets.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mine.MaxUses != streets.MemberInviteUses || mine.CreatedBy != bruno.UserID ||
		mine.ExpiresAt.Sub(now) > streets.MemberInviteTTL || mine.ExpiresAt.Sub(now) < streets.MemberInviteTTL-time.Minute {
		t.Fatalf("a member's default invite: %+v", mine)
	}
	for _, c := range []struct {
		o     streets.InviteOptions
		field string
	}{
		{streets.InviteOptions{MaxUses: streets.MemberInviteUses + 1}, "max_uses"},
		{streets.InviteOptions{ExpiresIn: streets.MemberInviteTTL + time.Hour}, "expires_in_hours"},
		{streets.InviteOptions{MaxUses: -1}, "max_uses"},
	} {
		_, err := e.Streets.CreateInvite(e.Ctx, bruno, sid, c.o)
		testutil.WantField(t, err, c.field, "out_of_range")
	}

	codes := func(invs []streets.Invite) map[string]bool {
		out := map[string]bool{}
		for _, inv := range invs {
			out[inv.Code] = true
		}
		return out
	}
	if got, err := e.Streets.VisibleInvites(e.Ctx, bruno, sid); err != nil || len(got) != 1 || got[0].Code != mine.Code {
		t.Fatalf("Bruno sees %+v, %v; want his own invite only", got, err)
	}
	if got, err := e.Streets.VisibleInvites(e.Ctx, carla, sid); err != nil || len(got) != 0 {
		t.Fatalf("Carla sees %+v, %v; want none", got, err)
	}
	if got, err := e.Streets.VisibleInvites(e.Ctx, anna, sid); err != nil || !codes(got)[mine.Code] || !codes(got)[admins.Code] {
		t.Fatalf("Anna sees %+v, %v; want every invite", got, err)
	}

	// A member revokes only their own; to them another's is not found.
	err = e.Streets.RevokeInvite(e.Ctx, carla, sid, mine.Code)
	testutil.WantCode(t, err, streets.ErrInviteNotFound.Code)
	err = e.Streets.RevokeInvite(e.Ctx, bruno, sid, admins.Code)
	testutil.WantCode(t, err, streets.ErrInviteNotFound.Code)
	if err := e.Streets.RevokeInvite(e.Ctx, bruno, sid, mine.Code); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Streets.VisibleInvites(e.Ctx, anna, sid); err != nil || codes(got)[mine.Code] {
		t.Fatalf("a revoked invite is still listed: %+v, %v", got, err)
	}
}

// A member's invite works while the street lets members invite: turning
// it off stops the links members made, not the admins'.
func TestMembersInvitesStopWhenTheAdminsTurnItOff(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.NamedStreet(anna, "Via Mascarella", bruno)
	e.letMembersInvite(anna, sid, true)
	theirs, err := e.Streets.CreateInvite(e.Ctx, bruno, sid, streets.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admins, err := e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uno, due, tre := e.User("Uno"), e.User("Due"), e.User("Tre")
	if _, err := e.Streets.Join(e.Ctx, uno, sid, streets.JoinRequest{InviteCode: theirs.Code}); err != nil {
		t.Fatalf("join with a member's invite: %v", err)
	}

	e.letMembersInvite(anna, sid, false)
	_, err = e.Streets.Join(e.Ctx, due, sid, streets.JoinRequest{InviteCode: theirs.Code})
	testutil.WantField(t, err, "invite_code", "invalid")
	if got := e.status(sid, due); got != "none" {
		t.Fatalf("a member's invite admitted Due (%s) once members may no longer invite", got)
	}
	if _, err := e.Streets.Join(e.Ctx, due, sid, streets.JoinRequest{InviteCode: admins.Code}); err != nil {
		t.Fatalf("the admin's invite: %v", err)
	}
	_, err = e.Streets.CreateInvite(e.Ctx, bruno, sid, streets.InviteOptions{})
	testutil.WantCode(t, err, streets.ErrNotAdmin.Code)

	// Allowed again before it expired, it works again.
	e.letMembersInvite(anna, sid, true)
	if _, err := e.Streets.Join(e.Ctx, tre, sid, streets.JoinRequest{InviteCode: theirs.Code}); err != nil {
		t.Fatalf("join once allowed again: %v", err)
	}

	// A member's link stands for them: once they leave, it stops.
	if err := e.Streets.Leave(e.Ctx, bruno, sid); err != nil {
		t.Fatal(err)
	}
	quattro := e.User("Quattro")
	_, err = e.Streets.Join(e.Ctx, quattro, sid, streets.JoinRequest{InviteCode: theirs.Code})
	testutil.WantField(t, err, "invite_code", "invalid")
}

// A member of one street never invites to another, even one that lets
// its own members invite; and a member makes only a few invites a day
// (counted across processes), the admins as many as they need.
func TestMembersInviteOnlyToTheirStreetAndOnlyAFewADay(t *testing.T) {
	e := newEnv(t)
	anna, bruno, dora := e.User("Anna"), e.User("Bruno"), e.User("Dora")
	a := e.NamedStreet(anna, "Via del Pratello", bruno)
	b := e.NamedStreet(dora, "Via Saragozza")
	e.letMembersInvite(anna, a, true)
	e.letMembersInvite(dora, b, true)
	for _, sid := range []string{b, "0123456789abcdef01234567", "nope"} {
		_, err := e.Streets.CreateInvite(e.Ctx, bruno, sid, streets.InviteOptions{})
		testutil.WantCode(t, err, streets.ErrStreetNotFound.Code)
		_, err = e.Streets.VisibleInvites(e.Ctx, bruno, sid)
		testutil.WantCode(t, err, streets.ErrStreetNotFound.Code)
	}

	procs := e.processes(2, streets.Options{MemberInvitesPerDay: 2})
	for i := range 2 {
		if _, err := procs[i].CreateInvite(e.Ctx, bruno, a, streets.InviteOptions{MaxUses: 1}); err != nil {
			t.Fatalf("invite %d: %v", i+1, err)
		}
	}
	_, err := procs[0].CreateInvite(e.Ctx, bruno, a, streets.InviteOptions{MaxUses: 1})
	testutil.WantCode(t, err, "rate_limited")
	for range 3 {
		if _, err := procs[1].CreateInvite(e.Ctx, anna, a, streets.InviteOptions{MaxUses: 1}); err != nil {
			t.Fatalf("the admin is bounded too: %v", err)
		}
	}
	e.Clock.Advance(25 * time.Hour)
	if _, err := procs[1].CreateInvite(e.Ctx, bruno, a, streets.InviteOptions{MaxUses: 1}); err != nil {
		t.Fatalf("a day later: %v", err)
	}
}
