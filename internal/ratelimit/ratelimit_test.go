package ratelimit_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/ratelimit"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// t0 starts a minute, an hour and a day: the limiters' fixed windows.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// openStore opens the embedded database in a temp dir, or a database of
// its own on MONGODB_URI (testutil.Store would pull in every service).
func openStore(t *testing.T) *store.Store {
	t.Helper()
	cfg := store.Config{DataDir: t.TempDir()}
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		cfg = store.Config{URI: uri, Database: "civico_test_" + strings.ToLower(rand.Text()[:12])}
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if cfg.URI != "" {
			_ = st.Database().Drop(context.Background())
		}
		_ = st.Close(context.Background())
	})
	return st
}

// step is one attempt at t0+at.
type step struct {
	at   time.Duration
	key  string
	ok   bool
	wait time.Duration // when refused
	peek bool          // Peek instead of Allow
}

func TestWindow(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		n     int
		per   time.Duration
		steps []step
	}{
		{"a burst is forgotten one window later, as with an exact window", 2, time.Hour, []step{
			{at: 0, key: "k", ok: true},
			{at: 0, key: "k", ok: true},
			{at: 0, key: "k", wait: time.Hour},
			{at: 0, key: "other", ok: true}, // keys have windows of their own
			{at: 30 * time.Minute, key: "k", wait: 30 * time.Minute},
			{at: time.Hour - s, key: "k", wait: s},
			{at: time.Hour, key: "k", ok: true},
			{at: time.Hour, key: "k", ok: true},
			{at: time.Hour, key: "k", wait: time.Hour},
		}},
		{"full in its own window: wait until it is the previous one and has faded", 3, time.Minute, []step{
			{at: 0, key: "k", ok: true},
			{at: 15 * s, key: "k", ok: true},
			{at: 30 * s, key: "k", ok: true},
			// Three events taken as spread over 0–30 s: one has left at
			// 70 s (exactly: at 60 s).
			{at: 40 * s, key: "k", wait: 30 * s},
			{at: 50 * s, key: "k", wait: 20 * s}, // refused attempts do not move the estimate
			{at: 69 * s, key: "k", wait: s, peek: true},
			{at: 70 * s, key: "k", ok: true, peek: true},
			{at: 70 * s, key: "k", ok: true},
			{at: 70 * s, key: "k", wait: 10 * s},
			{at: 80 * s, key: "k", ok: true},
		}},
		{"room in this window: wait for the previous one to fade", 2, time.Minute, []step{
			{at: 50 * s, key: "k", ok: true},
			{at: 55 * s, key: "k", ok: true},
			{at: 65 * s, key: "k", wait: 47*s + 500*time.Millisecond},
			{at: 112*s + 500*time.Millisecond, key: "k", ok: true},
			{at: 115 * s, key: "k", ok: true}, // the previous window's last event has left
			{at: 120 * s, key: "k", wait: 53*s + 750*time.Millisecond},
		}},
		{"a peek records nothing", 1, time.Minute, []step{
			{at: 0, key: "k", ok: true, peek: true},
			{at: 0, key: "k", ok: true, peek: true},
			{at: 0, key: "k", ok: true},
			{at: 0, key: "k", wait: time.Minute, peek: true},
			{at: 0, key: "k", wait: time.Minute},
		}},
		{"a Retry-After is at least a second", 1, time.Minute, []step{
			{at: 0, key: "k", ok: true},
			{at: 60*s - time.Millisecond, key: "k", wait: s},
		}},
		{"zero disables", 0, time.Minute, []step{
			{at: 0, key: "k", ok: true},
			{at: 0, key: "k", ok: true},
		}},
	}
	st := openStore(t)
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clock.NewFake(t0)
			l := ratelimit.New(st, "window"+string(rune('a'+i)), tt.n, tt.per, c)
			for j, s := range tt.steps {
				c.Set(t0.Add(s.at))
				try := l.Allow
				if s.peek {
					try = l.Peek
				}
				ok, wait, err := try(ctx, s.key)
				if err != nil {
					t.Fatalf("step %d: %v", j, err)
				}
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d at %v (%s): ok=%v wait=%v, want ok=%v wait=%v", j, s.at, s.key, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

// Two limiters with one name over one database are two processes: they
// share the counts, and allow n together.
func TestProcessesShareTheCounts(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	c := clock.NewFake(t0)
	a := ratelimit.New(st, "login_ip", 4, time.Minute, c)
	b := ratelimit.New(st, "login_ip", 4, time.Minute, c)
	other := ratelimit.New(st, "register_ip", 4, time.Minute, c)
	allowed := 0
	for i := range 10 {
		l := a
		if i%2 == 1 {
			l = b
		}
		ok, _, err := l.Allow(ctx, "192.0.2.7")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
		c.Advance(time.Second)
	}
	if allowed != 4 {
		t.Fatalf("two processes allowed %d, want 4", allowed)
	}
	if ok, _, _ := b.Peek(ctx, "192.0.2.7"); ok {
		t.Fatal("the other process's peek says yes")
	}
	if ok, _, err := other.Allow(ctx, "192.0.2.7"); !ok || err != nil {
		t.Fatalf("another limiter's name shares the counts: %v %v", ok, err)
	}
}

// Concurrent attempts from many goroutines, over two limiters sharing a
// name, allow exactly n: the count's $inc is atomic (on the embedded
// engine because the store serialises the updates of one document).
func TestConcurrentAttemptsAllowExactlyN(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	c := clock.NewFake(t0.Add(17 * time.Second))
	ls := []*ratelimit.Limiter{ratelimit.New(st, "post", 10, time.Hour, c), ratelimit.New(st, "post", 10, time.Hour, c)}
	var allowed, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			ok, wait, err := ls[i%2].Allow(ctx, "member")
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				allowed.Add(1)
			case wait <= 0:
				t.Errorf("refused with Retry-After %v", wait)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 10 || refused.Load() != 50 {
		t.Fatalf("allowed %d, refused %d: want 10 and 50", allowed.Load(), refused.Load())
	}
	// The refused attempts were undone: the count is 10.
	var docs []struct {
		N int64 `bson:"n"`
	}
	if err := st.Collection(ratelimit.Collection).FindAll(ctx, bson.M{}, &docs); err != nil || len(docs) != 1 || docs[0].N != 10 {
		t.Fatalf("counts %+v, %v", docs, err)
	}
}

// Emails and IPs are not in the database, and counts go once they no
// longer count.
func TestKeysAreHashedAndCountsSwept(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	c := clock.NewFake(t0)
	l := ratelimit.New(st, "login_account", 5, time.Minute, c)
	for _, k := range []string{"anna@example.org", "2001:db8::1"} {
		if ok, _, err := l.Allow(ctx, k); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	coll := st.Collection(ratelimit.Collection)
	var docs []bson.M
	if err := coll.FindAll(ctx, bson.M{}, &docs); err != nil || len(docs) != 2 {
		t.Fatalf("%d documents, %v", len(docs), err)
	}
	for _, d := range docs {
		id := d["_id"].(string)
		if strings.Contains(id, "anna") || strings.Contains(id, "db8") || !strings.HasPrefix(id, "login_account:") {
			t.Fatalf("_id %q", id)
		}
	}
	count := func() int64 {
		n, err := coll.Count(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A window's count is read as the previous one until two windows on.
	c.Set(t0.Add(2*time.Minute - time.Millisecond))
	if err := ratelimit.Sweep(store.Background(ctx), st, c); err != nil || count() != 2 {
		t.Fatalf("swept too early: %d left, %v", count(), err)
	}
	c.Set(t0.Add(2*time.Minute + time.Millisecond))
	if err := ratelimit.Sweep(store.Background(ctx), st, c); err != nil || count() != 0 {
		t.Fatalf("%d left after the sweep, %v", count(), err)
	}
}

// A process alone on its database (store.MarkSolo) limits as before but
// counts in memory: nothing is written, and Peek agrees with Allow.
func TestSoloProcessCountsInMemory(t *testing.T) {
	st := openStore(t)
	st.MarkSolo()
	ctx := context.Background()
	c := clock.NewFake(t0)
	l := ratelimit.New(st, "login_ip", 3, time.Minute, c)
	for i := range 3 {
		if ok, _, err := l.Allow(ctx, "192.0.2.7"); !ok || err != nil {
			t.Fatalf("attempt %d refused: %v", i+1, err)
		}
		c.Advance(time.Second)
	}
	if ok, _, _ := l.Peek(ctx, "192.0.2.7"); ok {
		t.Fatal("peek allows a fourth attempt")
	}
	ok, wait, err := l.Allow(ctx, "192.0.2.7")
	if ok || err != nil || wait < 50*time.Second {
		t.Fatalf("fourth attempt: ok %v, wait %v, err %v; want refused for about a minute", ok, wait, err)
	}
	if ok, _, _ := l.Allow(ctx, "192.0.2.8"); !ok {
		t.Fatal("another key is refused")
	}
	c.Advance(time.Minute)
	if ok, _, _ := l.Allow(ctx, "192.0.2.7"); !ok {
		t.Fatal("still refused once the minute is over")
	}
	n, err := st.Collection(ratelimit.Collection).Count(ctx, bson.M{})
	if err != nil || n != 0 {
		t.Fatalf("%d counts written (%v), want none", n, err)
	}
}
