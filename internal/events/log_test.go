package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/store"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func newLog(t *testing.T, st *store.Store, c clock.Clock, opts events.Options) *events.Log {
	t.Helper()
	if err := st.EnsureIndexes(context.Background(), events.Indexes()...); err != nil {
		t.Fatal(err)
	}
	return events.New(st, c, nil, opts)
}

func publish(t *testing.T, l *events.Log, street string, n int) []events.Event {
	t.Helper()
	var out []events.Event
	for i := range n {
		e, err := l.Publish(context.Background(), events.Event{Type: events.PostCreated, StreetID: street, Data: events.PostData{ID: fmt.Sprint(i), Title: "t"}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestSequencesArePerStreetAndSubscribersSeeThemInOrder(t *testing.T) {
	l := newLog(t, testutil.Store(t), clock.System{}, events.Options{})
	var mu sync.Mutex
	seen := map[string][]int64{}     // durable subscriber
	seenLive := map[string][]int64{} // live subscriber
	l.Subscribe(func(e events.Event) {
		mu.Lock()
		seen[e.StreetID] = append(seen[e.StreetID], e.Seq)
		mu.Unlock()
	})
	l.SubscribeLive(func(e events.Event) {
		mu.Lock()
		seenLive[e.StreetID] = append(seenLive[e.StreetID], e.Seq)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for _, street := range []string{"a", "b"} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				publish(t, l, street, 10)
			}()
		}
	}
	wg.Wait()
	for _, street := range []string{"a", "b"} {
		for _, got := range [][]int64{seen[street], seenLive[street]} {
			if len(got) != 40 {
				t.Fatalf("street %s: %d events", street, len(got))
			}
			for i, seq := range got {
				if seq != int64(i+1) {
					t.Fatalf("street %s: delivered out of order: %v", street, got)
				}
			}
		}
	}
}

func TestDurableSubscribersSeePersistedEvents(t *testing.T) {
	st := testutil.Store(t)
	l := newLog(t, st, clock.System{}, events.Options{})
	ctx := context.Background()
	var missing []int64
	l.Subscribe(func(e events.Event) {
		n, err := st.Collection("events").Count(ctx, bson.M{"street_id": e.StreetID, "seq": e.Seq})
		if err != nil || n != 1 {
			missing = append(missing, e.Seq)
		}
	})
	publish(t, l, "a", 5)
	if len(missing) > 0 {
		t.Fatalf("durable subscriber got events not yet in the log: %v", missing)
	}
}

// Live subscribers may get an event before it is persisted: a crash can
// lose events some sockets already saw. Their numbers are never given to
// other events, and resuming across the hole resets.
func TestRestartNeverReusesNumbersSocketsMayHaveSeen(t *testing.T) {
	st := testutil.Store(t)
	if !st.Embedded() {
		t.Skip("only the embedded engine hands events out before they are persisted")
	}
	l := newLog(t, st, clock.System{}, events.Options{})
	ctx := context.Background()
	publish(t, l, "a", 10)
	// A crash after 9 and 10 went out to sockets, before they were written.
	if _, err := st.Collection("events").DeleteMany(ctx, bson.M{"street_id": "a", "seq": bson.M{"$gte": 9}}); err != nil {
		t.Fatal(err)
	}
	l2 := events.New(st, clock.System{}, nil, events.Options{})
	// 10 was seen, 30 may have been (the reservation was lost with the
	// process), 8 missed 9 and 10: each needs a reset.
	for _, since := range []int64{8, 10, 30} {
		if got, err := l2.Since(ctx, "a", since, 100); !errors.Is(err, events.ErrGap) {
			t.Fatalf("since %d after a crash: %v %v", since, got, err)
		}
	}
	e, err := l2.Publish(ctx, events.Event{Type: events.PostCreated, StreetID: "a", Data: events.PostData{}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq <= 30 {
		t.Fatalf("restarted log gave out %d, a number sockets may have seen", e.Seq)
	}
	if err := l2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, log := range []*events.Log{l2, events.New(st, clock.System{}, nil, events.Options{})} { // memory, database
		if _, err := log.Since(ctx, "a", 5, 100); !errors.Is(err, events.ErrGap) {
			t.Fatalf("since 5 across the lost events: %v", err)
		}
		if got, err := log.Since(ctx, "a", e.Seq-1, 100); err != nil || len(got) != 1 || got[0].Seq != e.Seq {
			t.Fatalf("since %d: %v %v", e.Seq-1, got, err)
		}
		if got, err := log.Since(ctx, "a", e.Seq, 100); err != nil || len(got) != 0 {
			t.Fatalf("since the last: %v %v", got, err)
		}
	}
}

// modes are the log's two paths: the embedded engine's (one process,
// memory answers) and the shared one (several processes, the log answers).
var modes = []struct {
	name   string
	shared bool
}{{"alone", false}, {"shared", true}}

func TestTrimByCountAndAge(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { testTrimByCountAndAge(t, mode.shared) })
	}
}

func testTrimByCountAndAge(t *testing.T, shared bool) {
	c := clock.NewFake(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	l := newLog(t, testutil.Store(t), c, events.Options{KeepPerStreet: 5, MaxAge: 24 * time.Hour, Memory: 100, Shared: shared})
	ctx := context.Background()
	publish(t, l, "a", 12)
	if err := l.Trim(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Since(ctx, "a", 2, 100); !errors.Is(err, events.ErrGap) {
		t.Fatalf("trimmed range still served: %v", err)
	}
	if got, err := l.Since(ctx, "a", 7, 100); err != nil || len(got) != 5 {
		t.Fatalf("kept range: %d %v", len(got), err)
	}
	c.Advance(48 * time.Hour)
	publish(t, l, "b", 1)
	if err := l.Trim(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Since(ctx, "a", 7, 100); !errors.Is(err, events.ErrGap) {
		t.Fatalf("expired events still served: %v", err)
	}
	if got, err := l.Since(ctx, "b", 0, 100); err != nil || len(got) != 1 {
		t.Fatalf("fresh street: %d %v", len(got), err)
	}
}

// A replay reading the database must not stop at events handed to sockets
// but still being written: the caller would take the short read for the end.
func TestSinceServesEventsStillBeingWritten(t *testing.T) {
	st := testutil.Store(t)
	if !st.Embedded() {
		t.Skip("only the embedded engine hands events out before they are persisted")
	}
	l := newLog(t, st, clock.System{}, events.Options{Memory: 2})
	ctx := context.Background()
	publish(t, l, "a", 4)
	held, release, seven := make(chan struct{}), make(chan struct{}), make(chan struct{})
	l.Subscribe(func(e events.Event) {
		if e.Seq == 5 { // 6 and 7 wait for 5's durable subscribers before they are written
			close(held)
			<-release
		}
	})
	l.SubscribeLive(func(e events.Event) {
		if e.Seq == 7 {
			close(seven)
		}
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); publish(t, l, "a", 1) }()
	<-held
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); publish(t, l, "a", 1) }()
	}
	<-seven
	got, err := l.Since(ctx, "a", 0, 100) // 1–5 from the database, 6–7 from memory only
	close(release)
	wg.Wait()
	if err != nil || len(got) != 7 {
		t.Fatalf("since 0 while 6 and 7 are being written: %d events, %v", len(got), err)
	}
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Fatalf("out of order: %v", got)
		}
	}
}

// Publishing after Close (a late writer during shutdown) takes the clean
// mark back: a crash then still never reuses a number sockets may have seen.
func TestPublishAfterCloseStaysCrashSafe(t *testing.T) {
	st := testutil.Store(t)
	if !st.Embedded() {
		t.Skip("only the embedded engine hands events out before they are persisted")
	}
	l := newLog(t, st, clock.System{}, events.Options{})
	ctx := context.Background()
	publish(t, l, "a", 3)
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	late := publish(t, l, "a", 1)[0]
	// It went to sockets; then the process died before it was written.
	if _, err := st.Collection("events").DeleteMany(ctx, bson.M{"street_id": "a", "seq": late.Seq}); err != nil {
		t.Fatal(err)
	}
	e, err := events.New(st, clock.System{}, nil, events.Options{}).Publish(ctx, events.Event{Type: events.PostCreated, StreetID: "a", Data: events.PostData{}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq <= late.Seq {
		t.Fatalf("after the crash the log gave out %d again (the late event had %d)", e.Seq, late.Seq)
	}
}

// The next reservation is written ahead, in the background: wherever a
// crash falls in a block, the restarted log still goes on after every
// number handed out.
func TestRestartGoesOnAfterEveryReservationBlock(t *testing.T) {
	st := testutil.Store(t)
	if !st.Embedded() {
		t.Skip("only the embedded engine reserves numbers ahead")
	}
	l := newLog(t, st, clock.System{}, events.Options{})
	for _, n := range []int{1, 31, 32, 33, 64, 65, 97, 200} {
		street := fmt.Sprint("s", n)
		out := publish(t, l, street, n)
		// The process dies here: a new log over the same database.
		e, err := events.New(st, clock.System{}, nil, events.Options{}).Publish(context.Background(),
			events.Event{Type: events.PostCreated, StreetID: street, Data: events.PostData{}})
		if err != nil {
			t.Fatal(err)
		}
		if last := out[len(out)-1].Seq; e.Seq <= last {
			t.Fatalf("after %d events: the restarted log gave out %d, not after %d", n, e.Seq, last)
		}
	}
}
