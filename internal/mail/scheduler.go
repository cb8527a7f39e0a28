package mail

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"civico/internal/clock"
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

// scheduler hands due mails to the workers: a FIFO of ready ones and a
// heap of held ones (NotBefore, backoff). It remembers every mail this
// process holds until it is finished, so none is queued twice.
type scheduler struct {
	clock clock.Clock
	work  chan *item

	mu     sync.Mutex
	ready  []*item
	head   int
	held   heldHeap
	known  map[string]struct{}
	wakeCh chan struct{}
}

func newScheduler(c clock.Clock) *scheduler {
	return &scheduler{clock: c, work: make(chan *item), known: map[string]struct{}{}, wakeCh: make(chan struct{}, 1)}
}

// holds tells whether the mail key is held by this process.
func (q *scheduler) holds(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.known[key]
	return ok
}

// add queues it unless the mail is held already; false then.
func (q *scheduler) add(it *item) bool {
	q.mu.Lock()
	if _, ok := q.known[it.key]; ok {
		q.mu.Unlock()
		return false
	}
	q.known[it.key] = struct{}{}
	q.queueLocked(it)
	q.mu.Unlock()
	q.wake()
	return true
}

// requeue queues a held mail again (a retry).
func (q *scheduler) requeue(it *item) {
	q.mu.Lock()
	q.queueLocked(it)
	q.mu.Unlock()
	q.wake()
}

func (q *scheduler) queueLocked(it *item) {
	if it.due.After(q.clock.Now()) {
		heap.Push(&q.held, it)
		return
	}
	q.ready = append(q.ready, it)
}

// forget releases a finished mail.
func (q *scheduler) forget(key string) {
	q.mu.Lock()
	delete(q.known, key)
	q.mu.Unlock()
}

// size is how many mails this process holds.
func (q *scheduler) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.known)
}

func (q *scheduler) wake() {
	select {
	case q.wakeCh <- struct{}{}:
	default:
	}
}

// tick bounds how long a held mail waits past its due time when a fake
// clock is moved without a Wake; real due times get a timer of their own.
const tick = time.Second

// run moves due mails to the ready queue and hands them to the workers
// until ctx ends.
func (q *scheduler) run(ctx context.Context) {
	timer := time.NewTimer(tick)
	defer timer.Stop()
	for {
		q.mu.Lock()
		now := q.clock.Now()
		for len(q.held) > 0 && !q.held[0].due.After(now) {
			q.ready = append(q.ready, heap.Pop(&q.held).(*item))
		}
		wait := tick
		if len(q.held) > 0 {
			wait = min(wait, q.held[0].due.Sub(now))
		}
		var next *item
		if q.head < len(q.ready) {
			next = q.ready[q.head]
		}
		q.mu.Unlock()

		var out chan *item
		if next != nil {
			out = q.work
		}
		timer.Reset(wait)
		select {
		case out <- next:
			q.mu.Lock()
			q.ready[q.head] = nil
			q.head++
			if q.head == len(q.ready) {
				q.ready, q.head = q.ready[:0], 0
			} else if q.head > 1024 && q.head*2 > len(q.ready) {
				q.ready, q.head = append([]*item(nil), q.ready[q.head:]...), 0
			}
			q.mu.Unlock()
		case <-q.wakeCh:
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

type heldHeap []*item

func (h heldHeap) Len() int           { return len(h) }
func (h heldHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h heldHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)        { *h = append(*h, x.(*item)) }
func (h *heldHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return x
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
