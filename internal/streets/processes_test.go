package streets_test

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/streets"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Two streets services on one database stand in for two server processes
// in these tests: each has only its own memory, so what one changes the
// other must read from the database.

// publishedIn counts the events of typ about the street.
func (e *env) publishedIn(sid string, typ events.Type) []events.Event {
	e.t.Helper()
	var out []events.Event
	for _, ev := range e.Published(typ) {
		if ev.StreetID == sid {
			out = append(out, ev)
		}
	}
	return out
}

// streetCounts reads the street document's counts.
func (e *env) streetCounts(sid string) (members, admins int) {
	e.t.Helper()
	oid, err := bson.ObjectIDFromHex(sid)
	if err != nil {
		e.t.Fatal(err)
	}
	var d struct {
		Members int `bson:"member_count"`
		Admins  int `bson:"admin_count"`
	}
	if err := e.Store.Collection("streets").FindOne(e.Ctx, bson.M{"_id": oid}, &d); err != nil {
		e.t.Fatal(err)
	}
	return d.Members, d.Admins
}

// A request approved on A is an active member on B at once: access, the
// push fan-out's list, the member list and the user's own streets.
func TestApprovedOnOneProcessIsActiveOnAnother(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.NamedStreet(anna, "Via Zamboni")
	procs := e.processes(2, streets.Options{})
	a, b := procs[0], procs[1]
	if _, err := a.Join(e.Ctx, bruno, sid, streets.JoinRequest{Message: "al 3"}); err != nil {
		t.Fatal(err)
	}
	// B has answered about the street before the approval.
	_, err := b.RequireActive(e.Ctx, sid, bruno.UserID)
	testutil.WantCode(t, err, "street_not_found")
	if ids, _ := b.ActiveMemberIDs(e.Ctx, sid); len(ids) != 1 {
		t.Fatalf("active before approval: %v", ids)
	}
	if pending, _, err := b.Members(e.Ctx, anna, sid, streets.StatusPending, "", 10); err != nil || len(pending) != 1 {
		t.Fatalf("B's pending list %+v, %v", pending, err)
	}

	if _, err := a.Approve(e.Ctx, anna, sid, bruno.UserID, ""); err != nil {
		t.Fatal(err)
	}

	if m, err := b.RequireActive(e.Ctx, sid, bruno.UserID); err != nil || m.Status != streets.StatusActive {
		t.Fatalf("B: RequireActive = %+v, %v", m, err)
	}
	if ids, _ := b.ActiveMemberIDs(e.Ctx, sid); !slices.Contains(ids, bruno.UserID) {
		t.Fatalf("B: active members %v lack Bruno", ids)
	}
	if ms, _, err := b.Members(e.Ctx, bruno, sid, "", "", 10); err != nil || len(ms) != 2 {
		t.Fatalf("B: members %+v, %v", ms, err)
	}
	if mine, err := b.UserStreets(e.Ctx, bruno.UserID); err != nil || len(mine) != 1 || mine[0].Status != streets.StatusActive {
		t.Fatalf("B: Bruno's streets %+v, %v", mine, err)
	}
	if v, err := b.Get(e.Ctx, bruno, sid); err != nil || v.MemberCount != 2 {
		t.Fatalf("B: card %+v, %v", v, err)
	}
}

// A member banned on A is shut out by B at once: the feed's check, the
// websocket's, the fan-out and a new request.
func TestBannedOnOneProcessIsRefusedOnAnother(t *testing.T) {
	e := newEnv(t)
	anna, carla := e.User("Anna"), e.User("Carla")
	sid := e.NamedStreet(anna, "Via Petroni", carla)
	procs := e.processes(2, streets.Options{})
	a, b := procs[0], procs[1]
	if _, err := b.RequireActive(e.Ctx, sid, carla.UserID); err != nil {
		t.Fatal(err)
	}

	if _, err := a.Ban(e.Ctx, anna, sid, carla.UserID, "spam"); err != nil {
		t.Fatal(err)
	}

	_, err := b.RequireActive(e.Ctx, sid, carla.UserID)
	testutil.WantCode(t, err, "street_not_found")
	if m, err := b.Membership(e.Ctx, sid, carla.UserID); err != nil || m.Status != streets.StatusBanned {
		t.Fatalf("B: membership %+v, %v", m, err)
	}
	if ids, _ := b.ActiveMemberIDs(e.Ctx, sid); slices.Contains(ids, carla.UserID) {
		t.Fatalf("B: the banned member still gets the street's pushes: %v", ids)
	}
	_, err = b.Join(e.Ctx, carla, sid, streets.JoinRequest{})
	testutil.WantCode(t, err, "banned")
	if m, _ := a.Membership(e.Ctx, sid, carla.UserID); m.Status != streets.StatusBanned {
		t.Fatalf("asking again on B changed the ban: %+v", m)
	}
}

// A street created on A is found on B, by id and in the directory, with
// the members it has.
func TestStreetCreatedOnOneProcessIsFoundOnAnother(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	procs := e.processes(2, streets.Options{})
	a, b := procs[0], procs[1]
	if dir, _, err := b.Directory(e.Ctx, "", "", "", 10); err != nil || len(dir) != 0 {
		t.Fatalf("B's directory before: %+v, %v", dir, err)
	}

	st, err := a.Create(e.Ctx, anna, streets.NewStreet{Name: "Via Mascarella", City: "Bologna"})
	if err != nil {
		t.Fatal(err)
	}

	if v, err := b.Get(e.Ctx, bruno, st.ID); err != nil || v.Name != "Via Mascarella" || v.MemberCount != 1 {
		t.Fatalf("B: card %+v, %v", v, err)
	}
	if _, err := b.RequireAdmin(e.Ctx, st.ID, anna.UserID); err != nil {
		t.Fatalf("B: the creator is no admin: %v", err)
	}
	inv, err := a.CreateInvite(e.Ctx, anna, st.ID, streets.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(e.Ctx, bruno, st.ID, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
		t.Fatal(err)
	}
	dir, _, err := b.Directory(e.Ctx, "mascar", "bologna", "", 10)
	if err != nil || len(dir) != 1 || dir[0].ID != st.ID || dir[0].Slug != "via-mascarella-bologna" || dir[0].MemberCount != 2 {
		t.Fatalf("B: directory %+v, %v", dir, err)
	}
	if dir, _, _ := a.Directory(e.Ctx, "", "", "", 10); len(dir) != 1 || dir[0].MemberCount != 2 {
		t.Fatalf("A: directory %+v", dir)
	}
}

// Two admins taking each other's role away at once, or both leaving, on
// two processes: one wins and the street keeps exactly one admin.
func TestLastAdminHoldsAcrossProcesses(t *testing.T) {
	cases := []struct {
		name string
		act  func(svc *streets.Service, e *env, who, other auth.Principal, sid string) error
	}{
		{"demote each other", func(svc *streets.Service, e *env, who, other auth.Principal, sid string) error {
			_, err := svc.SetRole(e.Ctx, who, sid, other.UserID, streets.RoleMember)
			return err
		}},
		{"both step down", func(svc *streets.Service, e *env, who, _ auth.Principal, sid string) error {
			_, err := svc.SetRole(e.Ctx, who, sid, who.UserID, streets.RoleMember)
			return err
		}},
		{"both leave", func(svc *streets.Service, e *env, who, _ auth.Principal, sid string) error {
			return svc.Leave(e.Ctx, who, sid)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			for round := range 5 {
				anna, bruno := e.User("Anna"), e.User("Bruno")
				sid := e.NamedStreet(anna, "Via Zamboni", bruno)
				if _, err := e.Streets.SetRole(e.Ctx, anna, sid, bruno.UserID, streets.RoleAdmin); err != nil {
					t.Fatal(err)
				}
				procs := e.processes(2, streets.Options{}) // both know the street and its two admins
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, who := range []auth.Principal{anna, bruno} {
					other := []auth.Principal{bruno, anna}[i]
					wg.Go(func() { errs[i] = c.act(procs[i], e, who, other, sid) })
				}
				wg.Wait()
				won := 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case errors.Is(err, streets.ErrLastAdmin), errors.Is(err, streets.ErrNotAdmin):
					default:
						t.Fatalf("round %d: %v", round, err)
					}
				}
				for _, svc := range procs {
					if admins, err := svc.AdminIDs(e.Ctx, sid); err != nil || len(admins) != 1 {
						t.Fatalf("round %d: admins %v, %v (errors %v)", round, admins, err, errs)
					}
				}
				if _, admins := e.streetCounts(sid); won != 1 || admins != 1 {
					t.Fatalf("round %d: %d won, admin_count %d (errors %v)", round, won, admins, errs)
				}
			}
		})
	}
}

// An approval on A and a ban on B of the same request at once: one is
// done and announced, the other refused.
func TestApproveAndBanAtOnceOneWins(t *testing.T) {
	e := newEnv(t)
	for round := range 8 {
		anna, bruno, pietro := e.User("Anna"), e.User("Bruno"), e.User("Pietro")
		sid := e.NamedStreet(anna, "Via Saragozza", bruno)
		if _, err := e.Streets.SetRole(e.Ctx, anna, sid, bruno.UserID, streets.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		e.request(pietro, sid, "")
		procs := e.processes(2, streets.Options{}) // both know the request
		a, b := procs[0], procs[1]
		// Both decide on the pending request before either writes: left
		// to the scheduler, the approval is sometimes written before the
		// ban reads, and banning an active member is then right.
		var decided sync.WaitGroup
		decided.Add(2)
		both := func() { decided.Done(); decided.Wait() }
		streets.SetDecided(a, both)
		streets.SetDecided(b, both)
		var wg sync.WaitGroup
		var approveErr, banErr error
		wg.Go(func() { _, approveErr = a.Approve(e.Ctx, anna, sid, pietro.UserID, "") })
		wg.Go(func() { _, banErr = b.Ban(e.Ctx, bruno, sid, pietro.UserID, "spam") })
		wg.Wait()
		approved, banned := e.publishedIn(sid, events.MemberApproved), e.publishedIn(sid, events.MemberBanned)
		if (approveErr == nil) == (banErr == nil) || len(approved)+len(banned) != 1 {
			t.Fatalf("round %d: approve %v, ban %v; %d approved and %d banned events", round, approveErr, banErr, len(approved), len(banned))
		}
		m, err := b.Membership(e.Ctx, sid, pietro.UserID)
		if err != nil {
			t.Fatal(err)
		}
		want, wantMembers := streets.StatusBanned, 2
		if approveErr == nil {
			want, wantMembers = streets.StatusActive, 3
			testutil.WantCode(t, banErr, "member_changed")
		} else {
			testutil.WantCode(t, approveErr, "not_pending")
		}
		if members, _ := e.streetCounts(sid); m.Status != want || members != wantMembers {
			t.Fatalf("round %d: Pietro is %s, member_count %d; want %s, %d", round, m.Status, members, want, wantMembers)
		}
	}
}

// Streets written before they counted their admins are counted once at
// start, however many processes start together, and then keep the rule.
func TestStreetsWrittenBeforeTheCountsAreCounted(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.NamedStreet(anna, "Via del Pratello", bruno, carla)
	if _, err := e.Streets.SetRole(e.Ctx, anna, sid, bruno.UserID, streets.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	// As the previous version wrote them: no counts, no folded keys, no
	// lists of a user's streets.
	if _, err := e.Store.Collection("streets").UpdateMany(e.Ctx, bson.M{},
		bson.M{"$unset": bson.M{"admin_count": "", "member_count": "", "name_key": "", "city_key": "", "roster_gen": ""}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"user_streets", "streets_migrations"} {
		if err := e.Store.Collection(c).Drop(e.Ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	procs := make([]*streets.Service, 3)
	errs := make([]error, len(procs))
	for i := range procs {
		wg.Go(func() {
			procs[i], errs[i] = streets.New(e.Ctx, e.Store, e.Log, e.Clock, e.Auth, nil, streets.Options{})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if members, admins := e.streetCounts(sid); members != 3 || admins != 2 {
		t.Fatalf("counted %d members and %d admins, want 3 and 2", members, admins)
	}
	svc := procs[0]
	if dir, _, err := svc.Directory(e.Ctx, "pratello", "bologna", "", 10); err != nil || len(dir) != 1 || dir[0].MemberCount != 3 {
		t.Fatalf("directory %+v, %v", dir, err)
	}
	if mine, err := svc.UserStreets(e.Ctx, carla.UserID); err != nil || len(mine) != 1 || mine[0].StreetID != sid {
		t.Fatalf("Carla's streets %+v, %v", mine, err)
	}
	if _, err := svc.SetRole(e.Ctx, anna, sid, bruno.UserID, streets.RoleMember); err != nil {
		t.Fatal(err)
	}
	_, err := svc.SetRole(e.Ctx, anna, sid, anna.UserID, streets.RoleMember)
	testutil.WantCode(t, err, "last_admin")
}
