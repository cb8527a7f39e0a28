package mail

import (
	"context"
	"sync"
	"time"

	"civico/internal/clock"
	"civico/internal/schedule"
)

// item is one mail this process holds.
type item struct {
	key string
	// doc is the mail; nil when it is to be read from the outbox when due
	// (taken over from another process, or memory was short).
	doc  *outboxDoc
	size int64 // bytes of doc counted in Service.mem
	due  time.Time
}

// newScheduler returns the queue that hands due mails to the workers:
// ready ones first come, held ones (NotBefore, backoff) at due. It holds a
// mail's key until the mail is finished, so none is queued twice.
func newScheduler(c clock.Clock) *schedule.Queue[*item] {
	return schedule.New(c, func(it *item) string { return it.key }, func(it *item) time.Time { return it.due })
}

// pacer spreads sends to rate per second (a token bucket of one: mails are
// few, and relays answer bursts from one sender with 421).
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func newPacer(rate int) *pacer { return &pacer{interval: time.Second / time.Duration(rate)} }

// wait blocks until the caller may send, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
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
