package events_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/store"
	"civico/internal/testutil"

	"github.com/nats-io/nats.go"
)

const wait = 20 * time.Second // a bound for what should take milliseconds

// natsWire is the Wire over one NATS connection, as internal/bus provides
// it. drop, when set, swallows the publishes it returns true for (a
// message the wire lost).
type natsWire struct {
	nc *nats.Conn

	mu   sync.Mutex
	drop func(subject string, n int) bool
	sent map[string]int // publishes per subject
}

func (w *natsWire) Publish(subject string, data []byte) error {
	w.mu.Lock()
	w.sent[subject]++
	n, drop := w.sent[subject], w.drop
	w.mu.Unlock()
	if drop != nil && drop(subject, n) {
		return nil
	}
	return w.nc.Publish(subject, data)
}

func (w *natsWire) Subscribe(subject string, fn func(data []byte)) (func(), error) {
	sub, err := w.nc.Subscribe(subject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, err
	}
	// In place at the server before this returns.
	if err := w.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// connState signals a connection's disconnects and reconnects.
type connState struct {
	down, up chan struct{}
}

func connect(t *testing.T, url string, opts ...nats.Option) (*natsWire, connState) {
	t.Helper()
	cs := connState{down: make(chan struct{}, 10), up: make(chan struct{}, 10)}
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(10 * time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { cs.down <- struct{}{} }),
		nats.ReconnectHandler(func(*nats.Conn) { cs.up <- struct{}{} })}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &natsWire{nc: nc, sent: map[string]int{}}, cs
}

// recorder is a live subscriber that remembers what it got, per street.
type recorder struct {
	mu      sync.Mutex
	got     map[string][]events.Event
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{got: map[string][]events.Event{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) live(e events.Event) {
	r.mu.Lock()
	r.got[e.StreetID] = append(r.got[e.StreetID], e)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) seqs(street string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, 0, len(r.got[street]))
	for _, e := range r.got[street] {
		out = append(out, e.Seq)
	}
	return out
}

// waitFor waits until the street has at least n events.
func (r *recorder) waitFor(t *testing.T, name, street string, n int) []int64 {
	t.Helper()
	timeout := time.After(wait)
	for {
		if got := r.seqs(street); len(got) >= n {
			return got
		}
		select {
		case <-r.changed:
		case <-timeout:
			t.Fatalf("%s: street %s has %v, want %d events", name, street, r.seqs(street), n)
		}
	}
}

// process is one server process: its own log (and memory) and its own
// NATS connection, on the database and NATS server all processes share.
type process struct {
	name  string
	log   *events.Log
	wire  *natsWire
	conn  connState
	rec   *recorder
	store *store.Store
}

func newProcess(t *testing.T, name string, st *store.Store, url string, opts events.Options, natsOpts ...nats.Option) *process {
	t.Helper()
	w, cs := connect(t, url, natsOpts...)
	opts.Wire, opts.Shared = w, true
	p := &process{name: name, log: newLog(t, st, clock.System{}, opts), wire: w, conn: cs, rec: newRecorder(), store: st}
	if err := p.log.SubscribeLive(p.rec.live); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.log.Close(context.Background()) })
	return p
}

func (p *process) publish(t *testing.T, street string, n int) []int64 {
	t.Helper()
	var out []int64
	for _, e := range publish(t, p.log, street, n) {
		out = append(out, e.Seq)
	}
	return out
}

func upTo(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// Events published through two processes, alternately and at once, reach
// the live subscribers of both in each street's order: every number once.
func TestLiveEventsReachEveryProcessInOrder(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	procs := []*process{newProcess(t, "A", st, srv.URL, events.Options{}), newProcess(t, "B", st, srv.URL, events.Options{})}
	streets := []string{"roma", "po", "garibaldi"}
	const perWriter, writers = 30, 2
	var wg sync.WaitGroup
	for _, street := range streets {
		for _, p := range procs {
			for range writers {
				wg.Go(func() { p.publish(t, street, perWriter) })
			}
		}
	}
	// And one street written strictly alternately.
	wg.Go(func() {
		for i := range 40 {
			procs[i%2].publish(t, "alterna", 1)
		}
	})
	wg.Wait()
	total := len(procs) * writers * perWriter
	for _, p := range procs {
		for _, street := range streets {
			if got := p.rec.waitFor(t, p.name, street, total); !slices.Equal(got, upTo(total)) {
				t.Fatalf("%s, %s: got %v", p.name, street, got)
			}
		}
		if got := p.rec.waitFor(t, p.name, "alterna", 40); !slices.Equal(got, upTo(40)) {
			t.Fatalf("%s, alterna: got %v", p.name, got)
		}
	}
	// Nothing more arrives late: a marker is the next event everywhere.
	mark := procs[1].publish(t, "roma", 1)[0]
	for _, p := range procs {
		if got := p.rec.waitFor(t, p.name, "roma", total+1); !slices.Equal(got, upTo(int(mark))) {
			t.Fatalf("%s: after the marker %v", p.name, got)
		}
	}
}

// A message the wire lost is read from the log when the next one shows the
// gap, whether it was a street's first event or one in the middle; and one
// lost with nothing after it comes with Resync.
func TestLostMessagesAreFilledFromTheLog(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	noCatchUp := events.Options{CatchUp: time.Hour} // Resync's job here
	a := newProcess(t, "A", st, srv.URL, noCatchUp)
	b := newProcess(t, "B", st, srv.URL, noCatchUp)
	lost := map[int]bool{1: true, 5: true, 6: true, 12: true}
	a.wire.mu.Lock()
	a.wire.drop = func(subject string, n int) bool { return subject == "civico.events.s" && lost[n] }
	a.wire.mu.Unlock()

	a.publish(t, "s", 11)
	if got := b.rec.waitFor(t, "B", "s", 11); !slices.Equal(got, upTo(11)) {
		t.Fatalf("B got %v", got)
	}
	a.publish(t, "s", 1) // 12: lost, and nothing follows
	if err := b.log.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.rec.seqs("s"); !slices.Equal(got, upTo(12)) {
		t.Fatalf("after resync B has %v", got)
	}
	// A process's own events never depend on the wire.
	if got := a.rec.seqs("s"); !slices.Equal(got, upTo(12)) {
		t.Fatalf("A has %v", got)
	}
}

// The last message of a quiet street, never sent (its process died or lost
// NATS right after the insert), still reaches the others: they look for
// recent events whose message never came.
func TestQuietStreetCatchesUpOnAMessageNeverSent(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	a := newProcess(t, "A", st, srv.URL, events.Options{})
	b := newProcess(t, "B", st, srv.URL, events.Options{CatchUp: 20 * time.Millisecond})
	a.wire.mu.Lock()
	a.wire.drop = func(_ string, n int) bool { return n == 3 }
	a.wire.mu.Unlock()
	a.publish(t, "s", 3)
	if got := b.rec.waitFor(t, "B", "s", 3); !slices.Equal(got, upTo(3)) {
		t.Fatalf("B got %v", got)
	}
}

// A resume on any process sees what every process published: the log, not
// this process's idea of the street's end, answers.
func TestSinceAndLastSeeOtherProcessesEvents(t *testing.T) {
	st := testutil.Store(t)
	ctx := context.Background()
	a := newLog(t, st, clock.System{}, events.Options{Shared: true})
	b := newLog(t, st, clock.System{}, events.Options{Shared: true})
	publish(t, b, "s", 2) // b knows the street: its last is 2
	publish(t, a, "s", 3)
	got, err := b.Since(ctx, "s", 2, 100)
	if err != nil || len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("since 2 on B: %v %v", got, err)
	}
	if got, err := b.Since(ctx, "s", 4, 1); err != nil || len(got) != 1 || got[0].Seq != 5 {
		t.Fatalf("since 4, limit 1, on B: %v %v", got, err)
	}
	if last, err := b.Last(ctx, "s"); err != nil || last != 5 {
		t.Fatalf("last on B: %d %v", last, err)
	}
	// B's next event goes on after A's (its stale number is refused).
	if e := publish(t, b, "s", 1)[0]; e.Seq != 6 {
		t.Fatalf("B published %d, want 6", e.Seq)
	}
	for _, tc := range []struct {
		since   int64
		want    int
		wantErr error
	}{
		{0, 6, nil},
		{6, 0, nil},
		{7, 0, events.ErrGap}, // ahead of the log
		{-1, 0, events.ErrGap},
	} {
		got, err := a.Since(ctx, "s", tc.since, 100)
		if !errors.Is(err, tc.wantErr) || len(got) != tc.want {
			t.Fatalf("since %d: %d events, %v", tc.since, len(got), err)
		}
	}
	if got, err := a.Since(ctx, "empty", 0, 100); err != nil || len(got) != 0 {
		t.Fatalf("empty street: %v %v", got, err)
	}
}

// Processes racing for a street's numbers never give an event up: each
// refused number is moved past, however busy the street.
func TestBusyStreetNeverRefusesAnEvent(t *testing.T) {
	st := testutil.Store(t)
	const logs, each = 6, 25
	var wg sync.WaitGroup
	for range logs {
		l := newLog(t, st, clock.System{}, events.Options{Shared: true})
		wg.Go(func() { publish(t, l, "s", each) })
	}
	wg.Wait()
	got, err := newLog(t, st, clock.System{}, events.Options{Shared: true}).Since(context.Background(), "s", 0, 1000)
	if err != nil || len(got) != logs*each {
		t.Fatalf("%d events, %v", len(got), err)
	}
}

// A process starting while a street already has events hands out only
// what comes after them, from the first new one on.
func TestLateProcessStartsAfterTheLog(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	a := newProcess(t, "A", st, srv.URL, events.Options{})
	a.publish(t, "s", 3)
	b := newProcess(t, "B", st, srv.URL, events.Options{})
	// B's first message of the street is lost: B still starts at 4.
	a.wire.mu.Lock()
	a.wire.drop = func(subject string, n int) bool { return n == 4 }
	a.wire.mu.Unlock()
	a.publish(t, "s", 2)
	if got := b.rec.waitFor(t, "B", "s", 2); !slices.Equal(got, []int64{4, 5}) {
		t.Fatalf("B got %v, want 4 and 5", got)
	}
}

// While NATS is down the processes' events do not cross; once it is back,
// Resync (the bus's reconnect hook) hands out what was missed, in order,
// and the live flow goes on after it.
func TestResyncAfterNATSOutage(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	url := srv.URL
	// No buffering while disconnected: what A publishes meanwhile is lost.
	// No looking for missed messages but Resync's.
	noCatchUp := events.Options{CatchUp: time.Hour}
	a := newProcess(t, "A", st, url, noCatchUp, nats.ReconnectBufSize(-1))
	b := newProcess(t, "B", st, url, noCatchUp)
	a.publish(t, "s", 2)
	b.rec.waitFor(t, "B", "s", 2)

	srv.Stop()
	for _, p := range []*process{a, b} {
		select {
		case <-p.conn.down:
		case <-time.After(wait):
			t.Fatalf("%s never saw NATS go", p.name)
		}
	}
	a.publish(t, "s", 3)     // 3..5, on no wire
	a.publish(t, "new", 2)   // a street B never saw
	b.publish(t, "other", 1) // and B's own go on locally
	srv.Restart()
	for _, p := range []*process{a, b} {
		select {
		case <-p.conn.up:
		case <-time.After(wait):
			t.Fatalf("%s never reconnected", p.name)
		}
	}
	if got := b.rec.seqs("s"); !slices.Equal(got, upTo(2)) {
		t.Fatalf("B got %v during the outage", got)
	}
	if err := b.log.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.rec.seqs("s"); !slices.Equal(got, upTo(5)) {
		t.Fatalf("after resync B has %v", got)
	}
	if got := b.rec.seqs("new"); !slices.Equal(got, upTo(2)) {
		t.Fatalf("after resync B has %v of the new street", got)
	}
	if got := b.rec.seqs("other"); !slices.Equal(got, upTo(1)) {
		t.Fatalf("B's own event: %v", got)
	}
	a.publish(t, "s", 1)
	if got := b.rec.waitFor(t, "B", "s", 6); !slices.Equal(got, upTo(6)) {
		t.Fatalf("after the outage B has %v", got)
	}
	// The wire carries B's events to A again (with the one B published
	// during the outage, sent when its connection came back or read from
	// the log).
	b.publish(t, "other", 1)
	if got := a.rec.waitFor(t, "A", "other", 2); !slices.Equal(got, upTo(2)) {
		t.Fatalf("A got %v of B's street", got)
	}
}

// Street ids name wire subjects: one that cannot is refused before it is
// stored.
func TestWireRefusesStreetIDsThatAreNotSubjectTokens(t *testing.T) {
	st := testutil.Store(t)
	srv := testutil.StartNATS(t)
	p := newProcess(t, "A", st, srv.URL, events.Options{})
	for _, id := range []string{"a.b", "*", ">", "a b"} {
		if _, err := p.log.Publish(context.Background(), events.Event{Type: events.PostCreated, StreetID: id, Data: events.PostData{}}); err == nil {
			t.Fatalf("street %q accepted", id)
		}
	}
	if n, err := st.Collection("events").Count(context.Background(), map[string]any{}); err != nil || n != 0 {
		t.Fatalf("%d events stored, %v", n, err)
	}
}
