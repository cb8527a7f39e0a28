package push

import (
	"context"
	"sync"
	"time"
)

// pacer spreads sends over time: bursts of up to burst go at once, the
// rest follow at rate per second. A street of thousands would otherwise
// have every core encrypting for its push while the street's live sockets
// and requests wait; push services, for their part, answer bursts from one
// sender with 429. It is a virtual-scheduling token bucket (GCRA): tat is
// when the bucket would be full again.
type pacer struct {
	interval time.Duration // 0: no pacing
	tau      time.Duration // how far ahead of now tat may run: (burst-1) intervals

	mu  sync.Mutex
	tat time.Time
}

func newPacer(rate, burst int) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	interval := time.Second / time.Duration(rate)
	return &pacer{interval: interval, tau: time.Duration(max(burst, 1)-1) * interval}
}

// reserve takes a slot for a send at now and says how long to wait for it.
// A nil pacer never waits.
func (p *pacer) reserve(now time.Time) time.Duration {
	if p == nil || p.interval <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tat.Before(now) {
		p.tat = now
	}
	wait := p.tat.Sub(now) - p.tau
	p.tat = p.tat.Add(p.interval)
	return max(wait, 0)
}

// wait blocks until the caller may send, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	d := p.reserve(time.Now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
