package schedule_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/schedule"
)

type job struct {
	key string
	due time.Time
}

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func newQueue(t *testing.T) (*schedule.Queue[*job], *clock.Fake) {
	t.Helper()
	c := clock.NewFake(t0)
	return schedule.New(c, func(j *job) string { return j.key }, func(j *job) time.Time { return j.due }), c
}

// run starts q.Run and stops it, waiting for it to return, at cleanup.
func run(t *testing.T, q *schedule.Queue[*job]) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// take receives n items from q and returns their keys in order.
func take(t *testing.T, q *schedule.Queue[*job], n int) []string {
	t.Helper()
	var got []string
	for range n {
		select {
		case j := <-q.Work():
			got = append(got, j.key)
		case <-time.After(5 * time.Second):
			t.Fatalf("after %v: no item within 5s", got)
		}
	}
	return got
}

func TestQueueHandsOutDueItems(t *testing.T) {
	tests := []struct {
		name string
		add  []job // a zero due is long past: ready
		want []string
		// advance moves the clock after want was received; then comes later.
		advance time.Duration
		later   []string
	}{
		{
			name: "ready items go out first in first out",
			add:  []job{{key: "a"}, {key: "b"}, {key: "c"}},
			want: []string{"a", "b", "c"},
		},
		{
			name:    "held items wait for their due time, then go out by it",
			add:     []job{{key: "late", due: t0.Add(time.Hour)}, {key: "soon", due: t0.Add(30 * time.Minute)}, {key: "now", due: t0}},
			want:    []string{"now"},
			advance: time.Hour,
			later:   []string{"soon", "late"},
		},
		{
			name:    "an item due exactly now is ready",
			add:     []job{{key: "x", due: t0.Add(time.Minute)}},
			advance: time.Minute,
			later:   []string{"x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, c := newQueue(t)
			for _, j := range tt.add {
				if !q.Add(&j) {
					t.Fatalf("Add(%s) = false on an empty queue", j.key)
				}
			}
			run(t, q)
			if got := take(t, q, len(tt.want)); !slices.Equal(got, tt.want) {
				t.Fatalf("handed out %v, want %v", got, tt.want)
			}
			c.Advance(tt.advance)
			q.Wake()
			if got := take(t, q, len(tt.later)); !slices.Equal(got, tt.later) {
				t.Fatalf("after %v handed out %v, want %v", tt.advance, got, tt.later)
			}
			if got, want := q.Size(), len(tt.add); got != want {
				t.Errorf("Size = %d, want %d: items stay held until forgotten", got, want)
			}
		})
	}
}

func TestQueueKeys(t *testing.T) {
	tests := []struct {
		name     string
		ops      func(q *schedule.Queue[*job]) bool // the last Add's result
		wantAdd  bool
		wantSize int
	}{
		{
			name:     "a held key is refused",
			ops:      func(q *schedule.Queue[*job]) bool { q.Add(&job{key: "a"}); return q.Add(&job{key: "a"}) },
			wantAdd:  false,
			wantSize: 1,
		},
		{
			name:     "a forgotten key may be added again",
			ops:      func(q *schedule.Queue[*job]) bool { q.Add(&job{key: "a"}); q.Forget("a"); return q.Add(&job{key: "a"}) },
			wantAdd:  true,
			wantSize: 1,
		},
		{
			name: "Forget takes several keys",
			ops: func(q *schedule.Queue[*job]) bool {
				q.Add(&job{key: "a"})
				q.Add(&job{key: "b"})
				q.Forget("a", "b")
				return q.Add(&job{key: "c"})
			},
			wantAdd:  true,
			wantSize: 1,
		},
		{
			name:     "Requeue does not add a key",
			ops:      func(q *schedule.Queue[*job]) bool { q.Requeue(&job{key: "r"}); return q.Add(&job{key: "r"}) },
			wantAdd:  true,
			wantSize: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := newQueue(t)
			if got := tt.ops(q); got != tt.wantAdd {
				t.Errorf("last Add = %v, want %v", got, tt.wantAdd)
			}
			if got := q.Size(); got != tt.wantSize {
				t.Errorf("Size = %d, want %d", got, tt.wantSize)
			}
		})
	}
}

func TestQueueRequeueHandsOutAgain(t *testing.T) {
	q, c := newQueue(t)
	run(t, q)
	j := &job{key: "a"}
	q.Add(j)
	take(t, q, 1)
	j.due = t0.Add(time.Minute) // a backoff
	q.Requeue(j)
	if !q.Holds("a") {
		t.Fatal("Holds(a) = false while it is being retried")
	}
	c.Advance(time.Minute)
	q.Wake()
	if got := take(t, q, 1); got[0] != "a" {
		t.Fatalf("handed out %v, want [a]", got)
	}
}

func TestQueueRunStopsWithContext(t *testing.T) {
	q, _ := newQueue(t)
	q.Add(&job{key: "never taken"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
