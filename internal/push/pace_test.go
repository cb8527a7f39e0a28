package push

import (
	"testing"
	"time"
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
