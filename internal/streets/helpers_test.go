package streets_test

import (
	"testing"

	"civico/internal/auth"
	"civico/internal/posts"
	"civico/internal/streets"
	"civico/internal/testutil"
)

// env is a streets service on a database of its own, with a fake clock and
// a record of every published event.
type env struct {
	*testutil.Services
	t *testing.T
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{Services: testutil.NewServices(t, posts.Options{}), t: t}
}

// newService is another streets service over the same database, as a new
// process would build.
func (e *env) newService() *streets.Service {
	e.t.Helper()
	svc, err := streets.New(e.Ctx, e.Store, e.Log, e.Clock, e.Auth, nil, streets.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

// request makes u ask to join without an invite.
func (e *env) request(u auth.Principal, sid, msg string) {
	e.t.Helper()
	if _, err := e.Streets.Join(e.Ctx, u, sid, streets.JoinRequest{Message: msg}); err != nil {
		e.t.Fatal(err)
	}
}

// status is u's membership status in the street, or "none".
func (e *env) status(sid string, u auth.Principal) string {
	e.t.Helper()
	m, err := e.Streets.Membership(e.Ctx, sid, u.UserID)
	if err != nil {
		return "none"
	}
	return m.Status
}
