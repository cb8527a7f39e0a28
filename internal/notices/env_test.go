package notices_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/notices"
	"civico/internal/posts"
	"civico/internal/push"
	"civico/internal/store"
	"civico/internal/streets"
	"civico/internal/testutil"
)

// publicURL is where the test's mail links point.
const publicURL = "https://civico.example.org"

// epoch is a Monday, 10:00 in Rome (winter time, UTC+1).
var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// env is the notices service wired as the app wires it: real auth,
// streets, posts (with their event log), push (devices and quiet hours)
// on a database of its own, a fake clock, and an outbox.
type env struct {
	t       *testing.T
	ctx     context.Context
	st      *store.Store
	clock   *clock.Fake
	log     *events.Log
	auth    *auth.Service
	postman *postman
	streets *streets.Service
	posts   *posts.Service
	push    *push.Service
	n       *notices.Service
}

// outbox is where the notices service queues its mails.
type outbox interface {
	Queue(context.Context, notices.Mail) error
	Queued(context.Context, string) (bool, error)
}

// newEnv builds the services; outboxOf makes the outbox on the env's
// database and clock (nil: a recording outbox, returned).
func newEnv(t *testing.T, outboxOf func(e *env) outbox) (*env, *recorder) {
	t.Helper()
	ctx := context.Background()
	st := testutil.Store(t)
	idx := slices.Concat(events.Indexes(), auth.Indexes(), streets.Indexes(), posts.Indexes(), push.Indexes(), notices.Indexes())
	if err := st.EnsureIndexes(ctx, idx...); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, st: st, clock: clock.NewFake(epoch), postman: &postman{tokens: map[string]string{}}}
	e.log = events.New(st, e.clock, nil, events.Options{})
	var err error
	if e.auth, err = auth.New(ctx, st, e.clock, nil, auth.Options{RegisterPerIP: 10000, Postman: e.postman}); err != nil {
		t.Fatal(err)
	}
	if e.streets, err = streets.New(ctx, st, e.log, e.clock, e.auth, nil, streets.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.posts, err = posts.New(ctx, st, e.log, e.clock, e.streets, nil, posts.Options{PostsPerHour: 10000}); err != nil {
		t.Fatal(err)
	}
	if e.push, err = push.New(ctx, st, e.clock, e.auth, e.streets, push.Options{AllowInsecure: true}); err != nil {
		t.Fatal(err)
	}
	var rec *recorder
	var out outbox
	if outboxOf != nil {
		out = outboxOf(e)
	} else {
		rec = &recorder{ids: map[string]bool{}}
		out = rec
	}
	if e.n, err = notices.New(ctx, st, e.clock, out, e.auth, e.push, e.push, e.streets, e.posts,
		notices.Options{PublicURL: publicURL + "/", Secret: []byte("0123456789abcdef0123456789abcdef")}); err != nil {
		t.Fatal(err)
	}
	e.log.Subscribe(e.n.OnEvent)
	return e, rec
}

// postman records the account mails auth asks for: the tests verify
// addresses with the token it was handed.
type postman struct {
	mu     sync.Mutex
	tokens map[string]string // address -> latest verification token
}

func (p *postman) PasswordReset(context.Context, auth.Account, string) error { return nil }
func (p *postman) AddressChanging(context.Context, auth.Account, string) error {
	return nil
}
func (p *postman) AddressVerified(context.Context, string) error { return nil }
func (p *postman) VerifyAddress(_ context.Context, _ auth.Account, address, token string) error {
	p.mu.Lock()
	p.tokens[address] = token
	p.mu.Unlock()
	return nil
}

func (p *postman) token(address string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokens[address]
}

// recorder is an outbox that keeps what it was given, once per ID as the
// mail outbox does.
type recorder struct {
	mu    sync.Mutex
	ids   map[string]bool
	mails []notices.Mail
	fail  error
}

func (r *recorder) Queue(_ context.Context, m notices.Mail) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	if r.ids[m.ID] {
		return nil
	}
	r.ids[m.ID] = true
	r.mails = append(r.mails, m)
	return nil
}

func (r *recorder) Queued(_ context.Context, id string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id], nil
}

// all returns the mails queued so far.
func (r *recorder) all() []notices.Mail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.mails)
}

// since returns the mails queued after the first n.
func (r *recorder) since(n int) []notices.Mail { return r.all()[n:] }

// to returns the mails queued to address.
func (r *recorder) to(address string) []notices.Mail {
	var out []notices.Mail
	for _, m := range r.all() {
		if m.To == address {
			out = append(out, m)
		}
	}
	return out
}

// person is a registered user.
type person struct {
	auth.Principal
	Email, Name string
}

var people atomic.Int64

// options of a person.
type who struct {
	name, locale, zone string
	unverified         bool
}

// user registers someone (Italian, in Rome, verified unless told).
func (e *env) user(w who) person {
	e.t.Helper()
	if w.locale == "" {
		w.locale = "it"
	}
	if w.zone == "" {
		w.zone = "Europe/Rome"
	}
	email := fmt.Sprintf("n%d@example.org", people.Add(1))
	s, err := e.auth.Register(e.ctx, auth.Registration{Email: email, Password: "correct horse battery", Name: w.name,
		Locale: w.locale, TimeZone: w.zone}, "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	if !w.unverified {
		if _, err := e.auth.VerifyEmail(e.ctx, e.postman.token(email)); err != nil {
			e.t.Fatal(err)
		}
	}
	return person{Principal: auth.Principal{UserID: s.Account.ID}, Email: email, Name: w.name}
}

// named registers a verified Italian in Rome.
func (e *env) named(name string) person { return e.user(who{name: name}) }

// street creates a street named name with admin and members.
func (e *env) street(name string, admin person, members ...person) string {
	e.t.Helper()
	st, err := e.streets.Create(e.ctx, admin.Principal, streets.NewStreet{Name: name, City: "Bologna"})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		inv, err := e.streets.CreateInvite(e.ctx, admin.Principal, st.ID, streets.InviteOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.streets.Join(e.ctx, m.Principal, st.ID, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
			e.t.Fatal(err)
		}
	}
	return st.ID
}

func (e *env) post(u person, sid, kind, title string) posts.Post {
	e.t.Helper()
	p, err := e.posts.Create(e.ctx, u.Principal, sid, posts.NewPost{Kind: kind, Category: "repairs", Title: title, Body: "Details of " + title})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) reply(u person, postID, body string) posts.Reply {
	e.t.Helper()
	r, err := e.posts.Reply(e.ctx, u.Principal, postID, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// device gives u a push subscription (a loopback endpoint nobody serves:
// no push is sent in these tests, only its existence counts).
func (e *env) device(u person) {
	e.t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	_, _, err = e.push.Subscribe(e.ctx, u.UserID, push.NewSubscription{Endpoint: "http://127.0.0.1:9/push/" + testutil.RandomHex(8),
		P256dh: base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()), Auth: base64.RawURLEncoding.EncodeToString(secret)})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) set(u person, s notices.Settings) {
	e.t.Helper()
	if _, err := e.n.SetSettings(e.ctx, u.UserID, s); err != nil {
		e.t.Fatal(err)
	}
}

// digests runs the digests at the clock's time and returns how many it queued.
func (e *env) digests() int {
	e.t.Helper()
	n, err := e.n.Digests(e.ctx, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// at sets the clock to the local time "2006-01-02 15:04" in Rome.
func (e *env) at(local string) {
	e.t.Helper()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		e.t.Fatal(err)
	}
	tm, err := time.ParseInLocation("2006-01-02 15:04", local, rome)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Set(tm)
}

// tokenOf returns the unsubscribe token of an unsubscribe URL.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, publicURL+"/api/v1/mail/unsubscribe?t=") {
		t.Fatalf("unsubscribe link %q", link)
	}
	return u.Query().Get("t")
}
