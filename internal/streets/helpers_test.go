package streets_test

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
	"civico/internal/store"
	"civico/internal/streets"
)

// env is a streets service on a real embedded database, with a fake clock
// and a recorder of every published event.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	clock *clock.Fake
	log   *events.Log
	auth  *auth.Service
	svc   *streets.Service
	rec   *recorder
}

type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) add(e events.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

// of returns the events of type typ published so far.
func (r *recorder) of(typ events.Type) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	for _, e := range r.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
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
	c := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	e := &env{t: t, ctx: ctx, st: st, clock: c, rec: &recorder{}}
	e.log = events.New(st, c, nil, events.Options{})
	e.log.Subscribe(e.rec.add)
	e.auth, err = auth.New(ctx, st, c, nil, auth.Options{RegisterPerIP: 1000})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = e.newService()
	return e
}

func (e *env) newService() *streets.Service {
	e.t.Helper()
	svc, err := streets.New(e.ctx, e.st, e.log, e.clock, e.auth, nil, streets.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

var seq atomic.Int64

// user registers a user and returns who they are.
func (e *env) user(name string) auth.Principal {
	e.t.Helper()
	s, err := e.auth.Register(e.ctx, auth.Registration{Email: fmt.Sprintf("u%d@example.org", seq.Add(1)), Password: "correct horse battery",
		Name: name}, "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	return auth.Principal{UserID: s.Account.ID}
}

// street creates a street administered by admin.
func (e *env) street(admin auth.Principal, name string) string {
	e.t.Helper()
	st, err := e.svc.Create(e.ctx, admin, streets.NewStreet{Name: name, City: "Bologna"})
	if err != nil {
		e.t.Fatal(err)
	}
	return st.ID
}

// join makes u an active member through a fresh invite.
func (e *env) join(admin, u auth.Principal, sid string) {
	e.t.Helper()
	inv, err := e.svc.CreateInvite(e.ctx, admin, sid, streets.InviteOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Join(e.ctx, u, sid, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
		e.t.Fatal(err)
	}
}

// request makes u ask to join without an invite.
func (e *env) request(u auth.Principal, sid, msg string) {
	e.t.Helper()
	if _, err := e.svc.Join(e.ctx, u, sid, streets.JoinRequest{Message: msg}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) status(sid string, u auth.Principal) string {
	e.t.Helper()
	m, err := e.svc.Membership(e.ctx, sid, u.UserID)
	if err != nil {
		return "none"
	}
	return m.Status
}

// wantCode fails unless err is a domain error with that code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// wantField fails unless err is a validation error with field: problem.
func wantField(t *testing.T, err error, field, problem string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.Invalid || fe.Fields[field] != problem {
		t.Fatalf("error %v, want %s=%s", err, field, problem)
	}
}
