package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/bus"
	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/store"
	"civico/internal/testutil"
)

// startBus is one process's bus on the shared NATS: its wire and its
// place in the registry.
func startBus(tb testing.TB, url string) *bus.Bus {
	tb.Helper()
	b, err := bus.Start(context.Background(), bus.Options{URL: url})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return b
}

// warnings counts the log's warnings by message.
type warnings struct {
	mu  sync.Mutex
	got []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) count(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.got {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

const unconfirmed = "events: access change not confirmed"

// confirming is a server process as internal/app wires it: its log on the
// shared database, its bus as wire and roll, live is its hub.
func confirming(tb testing.TB, st *store.Store, b *bus.Bus, within time.Duration, live events.Subscriber) (*events.Log, *warnings) {
	tb.Helper()
	if err := st.EnsureIndexes(context.Background(), events.Indexes()...); err != nil {
		tb.Fatal(err)
	}
	w := &warnings{}
	l := events.New(st, clock.System{}, slog.New(w), events.Options{Wire: b, Roll: b, Shared: true, ConfirmWithin: within})
	if err := l.SubscribeLive(live); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close(context.Background()) })
	return l, w
}

// gate is a live subscriber that holds the events of the given types
// until opened, as a hub busy closing sockets would: entered gets each
// held event as it arrives. It records everything once handled. Open it
// before its log closes (a cleanup registered after the log's).
type gate struct {
	*recorder
	types   []events.Type
	entered chan events.Event
	open    chan struct{}
	once    sync.Once
}

func newGate(types ...events.Type) *gate {
	return &gate{recorder: newRecorder(), types: types, entered: make(chan events.Event, 16), open: make(chan struct{})}
}

func (g *gate) live(e events.Event) {
	if slices.Contains(g.types, e.Type) {
		g.entered <- e
		<-g.open
	}
	g.recorder.live(e)
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// publishAsync publishes on its own goroutine; the result comes on the
// channel.
func publishAsync(l *events.Log, e events.Event) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := l.Publish(context.Background(), e)
		done <- err
	}()
	return done
}

func accessChange(typ events.Type, street string) events.Event {
	return events.Event{Type: typ, StreetID: street, SubjectID: "u1",
		Data: events.MemberData{UserID: "u1", Role: "member", Status: "banned"}}
}

// A ban, a leave or a demotion published on A returns only once B's live
// subscriber (its hub, which closes the member's sockets or stops the
// admin-only frames) has handled it: the request that made it answers
// when it holds on every process.
func TestAccessChangeHoldsOnEveryProcessBeforePublishReturns(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	for _, typ := range []events.Type{events.MemberBanned, events.MemberLeft, events.MemberRole} {
		t.Run(string(typ), func(t *testing.T) {
			busA, busB := startBus(t, srv.URL), startBus(t, srv.URL)
			a, _ := confirming(t, st, busA, wait, newRecorder().live)
			g := newGate(typ)
			confirming(t, st, busB, wait, g.live)
			t.Cleanup(g.release)
			street := strings.ReplaceAll(string(typ), ".", "-")
			publish(t, a, street, 2) // B knows the street

			done := publishAsync(a, accessChange(typ, street))
			select {
			case e := <-g.entered:
				if e.Seq != 3 {
					t.Fatalf("B holds %d, want 3", e.Seq)
				}
			case <-time.After(wait):
				t.Fatal("B never got the change")
			}
			select {
			case err := <-done:
				t.Fatalf("Publish returned (%v) while B was still handling the change", err)
			default:
			}
			g.release()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(wait):
				t.Fatal("Publish never returned")
			}
			// Without waiting: B had it when Publish returned.
			if got := g.seqs(street); !slices.Equal(got, upTo(3)) {
				t.Fatalf("B has %v when Publish returned", got)
			}
		})
	}
}

// A process in the registry that never answers (it just died, or runs no
// log) holds an access change up for the bound, no longer, and the change
// is still handed out everywhere else; once it is gone from the registry,
// nothing waits for it.
func TestSilentProcessDelaysAccessChangeAtMostTheBound(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	const within = 300 * time.Millisecond
	busA, busB := startBus(t, srv.URL), startBus(t, srv.URL)
	a, warned := confirming(t, st, busA, within, newRecorder().live)
	recB := newRecorder()
	confirming(t, st, busB, within, recB.live)
	silent := startBus(t, srv.URL) // registered, never confirms

	begin := time.Now()
	if _, err := a.Publish(context.Background(), accessChange(events.MemberBanned, "s")); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	t.Logf("ban with a silent process took %s (bound %s)", took, within)
	if took < within || took > within+2*time.Second {
		t.Fatalf("ban took %s, bound %s", took, within)
	}
	if got := recB.seqs("s"); !slices.Equal(got, upTo(1)) {
		t.Fatalf("B has %v", got)
	}
	if n := warned.count(unconfirmed); n != 1 {
		t.Fatalf("%d warnings of an unconfirmed change, want 1", n)
	}

	silent.Close() // gone from the registry
	if _, err := a.Publish(context.Background(), accessChange(events.MemberBanned, "s")); err != nil {
		t.Fatal(err)
	}
	if got := recB.seqs("s"); !slices.Equal(got, upTo(2)) {
		t.Fatalf("B has %v", got)
	}
	if n := warned.count(unconfirmed); n != 1 {
		t.Fatalf("%d warnings of an unconfirmed change, want still 1", n)
	}
}

// Other events do not wait for the other processes: a post returns while
// B is still handling it.
func TestOtherEventsDoNotWaitForOtherProcesses(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	busA, busB := startBus(t, srv.URL), startBus(t, srv.URL)
	a, _ := confirming(t, st, busA, wait, newRecorder().live)
	g := newGate(events.PostCreated)
	confirming(t, st, busB, wait, g.live)
	t.Cleanup(g.release)

	done := publishAsync(a, events.Event{Type: events.PostCreated, StreetID: "s", Data: events.PostData{ID: "p", Title: "t"}})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("a post waited for B")
	}
	g.release()
	if got := g.waitFor(t, "B", "s", 1); !slices.Equal(got, upTo(1)) {
		t.Fatalf("B got %v", got)
	}
}

// BenchmarkAccessChange is what the wait for the other processes adds to
// an access change, alone and with one other process: each round publishes
// a post and a ban, and reports their median times (alternating, so that
// the machine's load weighs on both alike).
func BenchmarkAccessChange(b *testing.B) {
	discard := func(events.Event) {}
	post := events.Event{Type: events.PostCreated, StreetID: "post", Data: events.PostData{ID: "p", Title: "t"}}
	ban := accessChange(events.MemberBanned, "ban")
	for _, peers := range []int{0, 1} {
		b.Run(fmt.Sprintf("peers=%d", peers), func(b *testing.B) {
			st := testutil.Store(b)
			srv := testutil.StartNATS(b)
			a, _ := confirming(b, st, startBus(b, srv.URL), 2*time.Second, discard)
			for range peers {
				confirming(b, st, startBus(b, srv.URL), 2*time.Second, discard)
			}
			var took [2][]time.Duration
			for b.Loop() {
				for i, e := range []events.Event{post, ban} {
					begin := time.Now()
					if _, err := a.Publish(context.Background(), e); err != nil {
						b.Fatal(err)
					}
					took[i] = append(took[i], time.Since(begin))
				}
			}
			for i, name := range []string{"post", "ban"} {
				slices.Sort(took[i])
				b.ReportMetric(float64(took[i][len(took[i])/2].Microseconds()), name+"-µs-median")
			}
		})
	}
}
