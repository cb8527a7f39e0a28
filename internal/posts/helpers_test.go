package posts_test

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
	"civico/internal/posts"
	"civico/internal/store"
	"civico/internal/streets"
)

// env is the posts service with real streets, auth and events on an
// embedded database, a fake clock and a recorder of published events.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	clock *clock.Fake
	log   *events.Log
	auth  *auth.Service
	sts   *streets.Service
	svc   *posts.Service
	opts  posts.Options
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

func newEnv(t *testing.T, opts posts.Options) *env {
	t.Helper()
	if opts.PostsPerHour == 0 {
		opts.PostsPerHour = 10000
	}
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
	e := &env{t: t, ctx: ctx, st: st, clock: c, rec: &recorder{}, opts: opts}
	e.log = events.New(st, c, nil, events.Options{})
	e.log.Subscribe(e.rec.add)
	if e.auth, err = auth.New(ctx, st, c, nil, auth.Options{RegisterPerIP: 1000}); err != nil {
		t.Fatal(err)
	}
	e.restart()
	return e
}

// restart builds new services over the same database, as a new process would.
func (e *env) restart() {
	e.t.Helper()
	var err error
	if e.sts, err = streets.New(e.ctx, e.st, e.log, e.clock, e.auth, nil, streets.Options{}); err != nil {
		e.t.Fatal(err)
	}
	if e.svc, err = posts.New(e.ctx, e.st, e.log, e.clock, e.sts, nil, e.opts); err != nil {
		e.t.Fatal(err)
	}
}

var seq atomic.Int64

func (e *env) user(name string) auth.Principal {
	e.t.Helper()
	s, err := e.auth.Register(e.ctx, auth.Registration{Email: fmt.Sprintf("p%d@example.org", seq.Add(1)), Password: "correct horse battery",
		Name: name}, "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	return auth.Principal{UserID: s.Account.ID}
}

// street creates a street with admin and members joined by invite.
func (e *env) street(admin auth.Principal, members ...auth.Principal) string {
	e.t.Helper()
	st, err := e.sts.Create(e.ctx, admin, streets.NewStreet{Name: fmt.Sprintf("Via %d", seq.Add(1)), City: "Bologna"})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		inv, err := e.sts.CreateInvite(e.ctx, admin, st.ID, streets.InviteOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.sts.Join(e.ctx, m, st.ID, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
			e.t.Fatal(err)
		}
	}
	return st.ID
}

func newPost(kind, category, title string) posts.NewPost {
	return posts.NewPost{Kind: kind, Category: category, Title: title, Body: "Body of " + title}
}

func (e *env) post(u auth.Principal, sid string, in posts.NewPost) posts.Post {
	e.t.Helper()
	p, err := e.svc.Create(e.ctx, u, sid, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) reply(u auth.Principal, pid, body string) posts.Reply {
	e.t.Helper()
	r, err := e.svc.Reply(e.ctx, u, pid, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// feed reads the whole feed page by page and returns the titles.
func (e *env) feed(u auth.Principal, sid string, q posts.Query) []string {
	e.t.Helper()
	var out []string
	for range 1000 {
		page, next, err := e.svc.Feed(e.ctx, u, sid, q)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, p := range page {
			out = append(out, p.Title)
		}
		if next == "" {
			return out
		}
		q.Cursor = next
	}
	e.t.Fatal("feed does not end")
	return nil
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
