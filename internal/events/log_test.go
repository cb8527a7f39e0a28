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
	seen := map[string][]int64{}
	l.Subscribe(func(e events.Event) {
		mu.Lock()
		seen[e.StreetID] = append(seen[e.StreetID], e.Seq)
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
		got := seen[street]
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

func TestSinceReplaysAfterRestartAndReportsGaps(t *testing.T) {
	st := testutil.Store(t)
	l := newLog(t, st, clock.System{}, events.Options{Memory: 4})
	publish(t, l, "a", 10)
	ctx := context.Background()

	for _, log := range []*events.Log{l, events.New(st, clock.System{}, nil, events.Options{})} { // same process, then "restarted"
		got, err := log.Since(ctx, "a", 3, 100)
		if err != nil || len(got) != 7 || got[0].Seq != 4 || got[6].Seq != 10 {
			t.Fatalf("since 3: %d events, %v", len(got), err)
		}
		if string(got[0].Payload) == "" || got[0].Frame().ID != "4" {
			t.Fatalf("frame %+v", got[0].Frame())
		}
		if got, err := log.Since(ctx, "a", 10, 100); err != nil || len(got) != 0 {
			t.Fatalf("since last: %v %v", got, err)
		}
		if _, err := log.Since(ctx, "a", 11, 100); !errors.Is(err, events.ErrGap) {
			t.Fatalf("since ahead of the log: %v", err)
		}
	}
	// A restarted log continues the numbering.
	l2 := events.New(st, clock.System{}, nil, events.Options{})
	e, err := l2.Publish(ctx, events.Event{Type: events.PostCreated, StreetID: "a", Data: events.PostData{}})
	if err != nil || e.Seq != 11 {
		t.Fatalf("after restart seq %d, %v", e.Seq, err)
	}
}

func TestTrimByCountAndAge(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	l := newLog(t, testutil.Store(t), c, events.Options{KeepPerStreet: 5, MaxAge: 24 * time.Hour, Memory: 100})
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
