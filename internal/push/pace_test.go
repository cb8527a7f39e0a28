package push

import (
	"context"
	"testing"
	"time"

	"civico/internal/ratelimit"
	"civico/internal/store"
)

func TestPacerLetsABurstThroughThenSpreadsTheRest(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name        string
		rate, burst int
		at          []time.Duration // when each send asks, from t0
		want        []time.Duration // how long each waits
	}{
		{"unpaced", 0, 0, []time.Duration{0, 0, 0}, []time.Duration{0, 0, 0}},
		{"burst goes at once, then one per interval", 100, 3,
			[]time.Duration{0, 0, 0, 0, 0}, []time.Duration{0, 0, 0, 10 * ms, 20 * ms}},
		{"no burst", 100, 1, []time.Duration{0, 0, 0}, []time.Duration{0, 10 * ms, 20 * ms}},
		{"a quiet spell fills the bucket again", 100, 2,
			[]time.Duration{0, 0, 0, 100 * ms, 100 * ms, 100 * ms}, []time.Duration{0, 0, 10 * ms, 0, 0, 10 * ms}},
		{"sends at the rate never wait", 100, 1,
			[]time.Duration{0, 10 * ms, 20 * ms, 30 * ms}, []time.Duration{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(tt.rate, tt.burst)
			for i, at := range tt.at {
				if got := p.reserve(t0.Add(at)); got != tt.want[i] {
					t.Fatalf("send %d at %v waits %v, want %v", i, at, got, tt.want[i])
				}
			}
		})
	}
}

// Two processes sharing the budget send the rate together, not each: 12
// sends at 5 a second take three seconds' budgets, so more than a second.
func TestBudgetIsSharedByProcesses(t *testing.T) {
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	coll := st.Collection(ratelimit.Collection)
	a, b := newBudget(coll, 5), newBudget(coll, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	for i := range 12 {
		take := a.take
		if i%2 == 1 {
			take = b.take
		}
		if err := take(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d <= time.Second || d > 4*time.Second {
		t.Fatalf("12 sends at 5/s over two processes took %v", d)
	}
}
