package push_test

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
	"civico/internal/push"
	"civico/internal/pushservice"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// table is a street directory of our own, standing in for the streets
// service in the push package's tests (the API tests use the real one).
type table struct {
	mu      sync.Mutex
	members map[string][]string
	admins  map[string][]string
	names   map[string]string
}

func newTable() *table {
	return &table{members: map[string][]string{}, admins: map[string][]string{}, names: map[string]string{}}
}

func (t *table) ActiveMemberIDs(_ context.Context, sid string) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.members[sid]...), nil
}

func (t *table) AdminIDs(_ context.Context, sid string) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.admins[sid]...), nil
}

func (t *table) StreetName(_ context.Context, sid string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names[sid], nil
}

// street makes a street with its members; the first is its admin.
func (t *table) street(name string, members ...*user) string {
	sid := bson.NewObjectID().Hex()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.names[sid] = name
	for _, m := range members {
		t.members[sid] = append(t.members[sid], m.ID)
	}
	if len(members) > 0 {
		t.admins[sid] = []string{members[0].ID}
	}
	return sid
}

type env struct {
	t     *testing.T
	dir   string
	st    *store.Store
	clock clock.Clock
	auth  *auth.Service
	log   *events.Log
	table *table
	ps    *pushservice.Service
	svc   *push.Service
	opts  push.Options
}

type user struct {
	ID  string
	sub *pushservice.Subscription
}

type envOption func(*env)

func withClock(c clock.Clock) envOption            { return func(e *env) { e.clock = c } }
func withOptions(fn func(*push.Options)) envOption { return func(e *env) { fn(&e.opts) } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: clock.System{}, table: newTable(),
		opts: push.Options{AllowInsecure: true, Workers: 4, Subject: "mailto:ops@example.org"}}
	for _, o := range opts {
		o(e)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	t.Cleanup(func() { st.Close(context.Background()) })
	if err := st.EnsureIndexes(ctx, append(append(events.Indexes(), auth.Indexes()...), push.Indexes()...)...); err != nil {
		t.Fatal(err)
	}
	if e.auth, err = auth.New(ctx, st, e.clock, nil, auth.Options{LoginPerAccount: 1000, LoginPerIP: 1000, RegisterPerIP: 100000}); err != nil {
		t.Fatal(err)
	}
	ps, err := pushservice.Start()
	if err != nil {
		t.Fatal(err)
	}
	e.ps = ps
	t.Cleanup(func() { ps.Close() })
	e.startPush()
	return e
}

// startPush builds the push service (and a fresh event log, as a restarted
// server would) over the same database and starts it.
func (e *env) startPush() {
	e.t.Helper()
	ctx := context.Background()
	e.log = events.New(e.st, e.clock, nil, events.Options{})
	svc, err := push.New(ctx, e.st, e.clock, e.auth, e.table, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc = svc
	if err := e.ps.TrustKey(svc.PublicKey()); err != nil {
		e.t.Fatal(err)
	}
	e.log.Subscribe(svc.OnEvent)
	svc.Start()
	e.t.Cleanup(svc.Close)
}

var userSeq atomic.Int64

// user registers an account with a device subscribed to the push service.
func (e *env) user(locale, tz string) *user {
	e.t.Helper()
	n := userSeq.Add(1)
	s, err := e.auth.Register(context.Background(), auth.Registration{Email: fmt.Sprintf("u%d@example.org", n),
		Password: "correct horse battery", Name: fmt.Sprintf("User %d", n), Locale: locale, TimeZone: tz}, "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	u := &user{ID: s.Account.ID}
	u.sub = e.subscribe(u)
	return u
}

func (e *env) subscribe(u *user) *pushservice.Subscription {
	e.t.Helper()
	sub, err := e.ps.NewSubscription()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.svc.Subscribe(context.Background(), u.ID, push.NewSubscription{Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth}); err != nil {
		e.t.Fatal(err)
	}
	return sub
}

func (e *env) publish(ev events.Event) {
	e.t.Helper()
	if _, err := e.log.Publish(context.Background(), ev); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) post(sid string, author *user, kind, category, title string) events.PostData {
	e.t.Helper()
	d := events.PostData{ID: bson.NewObjectID().Hex(), Kind: kind, Category: category, Title: title, Status: "open",
		AuthorID: author.ID, AuthorName: "Marta", CreatedAt: e.clock.Now()}
	e.publish(events.Event{Type: events.PostCreated, StreetID: sid, Data: d, ActorID: author.ID, SubjectID: author.ID})
	return d
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// received waits for n messages on u's device and decodes the last.
func (e *env) received(u *user, n int) (push.Payload, pushservice.Message) {
	e.t.Helper()
	msgs, err := e.ps.WaitMessages(ctxT(e.t, 15*time.Second), u.sub.Token, n)
	if err != nil {
		e.t.Fatalf("%v; stats %+v; protocol errors %v", err, e.svc.Stats(), e.ps.Errors())
	}
	m := msgs[len(msgs)-1]
	var p push.Payload
	if err := m.Decode(&p); err != nil {
		e.t.Fatalf("payload %q: %v", m.Payload, err)
	}
	return p, m
}

// noProtocolErrors fails if the push service saw anything a real one refuses.
func (e *env) noProtocolErrors() {
	e.t.Helper()
	if errs := e.ps.Errors(); len(errs) > 0 {
		e.t.Fatalf("the push service refused requests: %v", errs)
	}
}
