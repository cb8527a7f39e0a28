package testutil

import (
	"context"
	"fmt"
	"slices"
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

// Services are the streets, posts and moderation services wired as the app
// wires them, over a store of their own, with a fake clock and a record of
// every published event: for service-level tests without HTTP.
type Services struct {
	tb       testing.TB
	postOpts posts.Options

	Ctx        context.Context
	Store      *store.Store
	Clock      *clock.Fake
	Log        *events.Log
	Auth       *auth.Service
	Streets    *streets.Service
	Posts      *posts.Service
	Moderation *moderation.Service

	mu        sync.Mutex
	published []events.Event
}

// ServicesEpoch is the fake clock's start in NewServices.
var ServicesEpoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// NewServices builds the services; a zero PostsPerHour means no practical
// limit (tests of the limit set it).
func NewServices(tb testing.TB, opts posts.Options) *Services {
	tb.Helper()
	if opts.PostsPerHour == 0 {
		opts.PostsPerHour = 10000
	}
	ctx := context.Background()
	st := Store(tb)
	idx := slices.Concat(events.Indexes(), auth.Indexes(), streets.Indexes(), posts.Indexes(), moderation.Indexes())
	if err := st.EnsureIndexes(ctx, idx...); err != nil {
		tb.Fatal(err)
	}
	s := &Services{tb: tb, postOpts: opts, Ctx: ctx, Store: st, Clock: clock.NewFake(ServicesEpoch)}
	s.Log = events.New(st, s.Clock, nil, events.Options{})
	s.Log.Subscribe(func(e events.Event) {
		s.mu.Lock()
		s.published = append(s.published, e)
		s.mu.Unlock()
	})
	var err error
	if s.Auth, err = auth.New(ctx, st, s.Clock, nil, auth.Options{RegisterPerIP: 1000}); err != nil {
		tb.Fatal(err)
	}
	s.Restart()
	return s
}

// Restart builds new streets, posts and moderation services over the same
// database, as a new process would.
func (s *Services) Restart() {
	s.tb.Helper()
	var err error
	if s.Streets, err = streets.New(s.Ctx, s.Store, s.Log, s.Clock, s.Auth, nil, streets.Options{}); err != nil {
		s.tb.Fatal(err)
	}
	if s.Posts, err = posts.New(s.Ctx, s.Store, s.Log, s.Clock, s.Streets, nil, s.postOpts); err != nil {
		s.tb.Fatal(err)
	}
	if s.Moderation, err = moderation.New(s.Ctx, s.Store, s.Log, s.Clock, s.Streets, s.Posts, nil); err != nil {
		s.tb.Fatal(err)
	}
}

// Published returns the events of type typ published so far, in order.
func (s *Services) Published(typ events.Type) []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.Event
	for _, e := range s.published {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

var serviceUsers atomic.Int64

// User registers a user named name and returns who they are.
func (s *Services) User(name string) auth.Principal {
	s.tb.Helper()
	n := serviceUsers.Add(1)
	r, err := s.Auth.Register(s.Ctx, auth.Registration{Email: fmt.Sprintf("u%d@example.org", n), Password: "correct horse battery",
		Name: name}, "127.0.0.1")
	if err != nil {
		s.tb.Fatal(err)
	}
	return auth.Principal{UserID: r.Account.ID}
}

// Street creates a street with a generated name administered by admin, with
// members joined through invites, and returns its id.
func (s *Services) Street(admin auth.Principal, members ...auth.Principal) string {
	s.tb.Helper()
	return s.NamedStreet(admin, fmt.Sprintf("Via %d", serviceUsers.Add(1)), members...)
}

// NamedStreet is Street with a name.
func (s *Services) NamedStreet(admin auth.Principal, name string, members ...auth.Principal) string {
	s.tb.Helper()
	st, err := s.Streets.Create(s.Ctx, admin, streets.NewStreet{Name: name, City: "Bologna"})
	if err != nil {
		s.tb.Fatal(err)
	}
	for _, m := range members {
		s.Join(admin, m, st.ID)
	}
	return st.ID
}

// Join makes u an active member of the street through a fresh invite.
func (s *Services) Join(admin, u auth.Principal, streetID string) {
	s.tb.Helper()
	inv, err := s.Streets.CreateInvite(s.Ctx, admin, streetID, streets.InviteOptions{})
	if err != nil {
		s.tb.Fatal(err)
	}
	if _, err := s.Streets.Join(s.Ctx, u, streetID, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
		s.tb.Fatal(err)
	}
}

// Post publishes a post as u.
func (s *Services) Post(u auth.Principal, streetID string, in posts.NewPost) posts.Post {
	s.tb.Helper()
	p, err := s.Posts.Create(s.Ctx, u, streetID, in)
	if err != nil {
		s.tb.Fatal(err)
	}
	return p
}

// Reply answers a post as u.
func (s *Services) Reply(u auth.Principal, postID, body string) posts.Reply {
	s.tb.Helper()
	r, err := s.Posts.Reply(s.Ctx, u, postID, body)
	if err != nil {
		s.tb.Fatal(err)
	}
	return r
}

// WantCode fails unless err is a domain error with that code.
func WantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Code != code {
		tb.Fatalf("error %v, want code %s", err, code)
	}
}

// WantField fails unless err is a validation error with field: problem.
func WantField(tb testing.TB, err error, field, problem string) {
	tb.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.Invalid || fe.Fields[field] != problem {
		tb.Fatalf("error %v, want %s=%s", err, field, problem)
	}
}
