package streets_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/streets"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// processes builds n more streets services over the same database, as n
// more server processes would, each with opts.
func (e *env) processes(n int, opts streets.Options) []*streets.Service {
	e.t.Helper()
	out := make([]*streets.Service, n)
	for i := range out {
		svc, err := streets.New(e.Ctx, e.Store, e.Log, e.Clock, e.Auth, nil, opts)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := svc.Warm(e.Ctx); err != nil {
			e.t.Fatal(err)
		}
		out[i] = svc
	}
	return out
}

// An invite's uses are counted by the database: twenty people joining at
// once through four processes with an invite for three admit three.
func TestInviteUsesAreCountedByTheDatabase(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	sid := e.NamedStreet(anna, "Via del Pratello")
	inv, err := e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{MaxUses: 3})
	if err != nil {
		t.Fatal(err)
	}
	procs := append([]*streets.Service{e.Streets}, e.processes(3, streets.Options{})...)
	users := make([]auth.Principal, 20)
	for i := range users {
		users[i] = e.User(fmt.Sprintf("Vicino %d", i))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(users))
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = procs[i%len(procs)].Join(e.Ctx, u, sid, streets.JoinRequest{InviteCode: inv.Code})
		}()
	}
	wg.Wait()
	admitted := 0
	for i, err := range errs {
		if err == nil {
			admitted++
			if m, err := procs[i%len(procs)].Membership(e.Ctx, sid, users[i].UserID); err != nil || m.Status != streets.StatusActive {
				t.Errorf("admitted %s is %+v, %v", users[i].UserID, m, err)
			}
			continue
		}
		if fe, ok := fault.As(err); !ok || fe.Fields["invite_code"] != "expired" {
			t.Errorf("join %d: %v, want invite_code expired", i, err)
		}
	}
	if admitted != 3 {
		t.Fatalf("%d joined with an invite for 3", admitted)
	}
	if open, err := procs[1].Invites(e.Ctx, anna, sid); err != nil || len(open) != 0 {
		t.Fatalf("a used-up invite is still listed: %+v, %v", open, err)
	}
}

// An invite revoked on one process is refused by every other at once, and
// the open invites a street may hold are counted across processes.
func TestInviteRevokedOnAnotherProcessIsRefused(t *testing.T) {
	e := newEnv(t)
	anna, uno, due := e.User("Anna"), e.User("Uno"), e.User("Due")
	sid := e.NamedStreet(anna, "Via Saragozza")
	procs := e.processes(2, streets.Options{MaxInvites: 3})
	a, b := procs[0], procs[1]
	inv, err := a.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Created on A, listed and usable on B.
	if open, err := b.Invites(e.Ctx, anna, sid); err != nil || len(open) != 1 || open[0].Code != inv.Code {
		t.Fatalf("B lists %+v, %v", open, err)
	}
	if _, err := b.Join(e.Ctx, uno, sid, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
		t.Fatal(err)
	}
	if err := b.RevokeInvite(e.Ctx, anna, sid, inv.Code); err != nil {
		t.Fatal(err)
	}
	_, err = a.Join(e.Ctx, due, sid, streets.JoinRequest{InviteCode: inv.Code})
	testutil.WantField(t, err, "invite_code", "invalid")
	if m, err := a.Membership(e.Ctx, sid, due.UserID); err == nil {
		t.Fatalf("a revoked invite made Due %+v", m)
	}
	if open, err := a.Invites(e.Ctx, anna, sid); err != nil || len(open) != 0 {
		t.Fatalf("A still lists the revoked invite: %+v, %v", open, err)
	}
	err = a.RevokeInvite(e.Ctx, anna, sid, inv.Code)
	testutil.WantCode(t, err, "invite_not_found")

	// Ten admins' clicks at once on two processes: three open invites at most.
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := 0, 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := procs[i%2].CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, streets.ErrTooManyInvites):
				refused++
			default:
				t.Errorf("create invite: %v", err)
			}
		}()
	}
	wg.Wait()
	if made != 3 || refused != 7 {
		t.Fatalf("%d invites made, %d refused; want 3 and 7", made, refused)
	}
	// An expired invite frees its place.
	e.Clock.Advance(streets.DefaultInviteTTL + time.Minute)
	if _, err := b.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{}); err != nil {
		t.Fatalf("after the others expired: %v", err)
	}
	if open, err := a.Invites(e.Ctx, anna, sid); err != nil || len(open) != 1 {
		t.Fatalf("open invites after expiry: %+v, %v", open, err)
	}
}

// An invite made before invites counted their remaining uses, and before
// streets kept a list of them, is listed and counted like any other.
func TestInviteMadeBeforeTheCountStillWorks(t *testing.T) {
	e := newEnv(t)
	anna, uno, due := e.User("Anna"), e.User("Uno"), e.User("Due")
	sid := e.NamedStreet(anna, "Via Mascarella")
	now := e.Clock.Now().UTC()
	_, err := e.Store.Collection("invites").InsertOne(e.Ctx, bson.M{"_id": "vecchioinvito", "street_id": sid, "created_by": anna.UserID,
		"created_at": now, "expires_at": now.Add(24 * time.Hour), "max_uses": 2, "uses": 1})
	if err != nil {
		t.Fatal(err)
	}
	if open, err := e.Streets.Invites(e.Ctx, anna, sid); err != nil || len(open) != 1 || open[0].Code != "vecchioinvito" || open[0].Uses != 1 {
		t.Fatalf("open invites %+v, %v", open, err)
	}
	if _, err := e.Streets.Join(e.Ctx, uno, sid, streets.JoinRequest{InviteCode: "vecchioinvito"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Streets.Join(e.Ctx, due, sid, streets.JoinRequest{InviteCode: "vecchioinvito"})
	testutil.WantField(t, err, "invite_code", "expired")
	if open, err := e.Streets.Invites(e.Ctx, anna, sid); err != nil || len(open) != 0 {
		t.Fatalf("a used-up invite is listed: %+v, %v", open, err)
	}
}
