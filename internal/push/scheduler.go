package push

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"civico/internal/clock"
)

// delivery is one push to one subscription, as kept in memory.
type delivery struct {
	ID       string
	Bucket   string
	JobID    string
	SubID    string
	UserID   string
	Endpoint string
	P256dh   string
	Auth     string
	Payload  []byte
	Topic    string
	TTL      int
	Urgency  string
	// DueAt is when it may be sent: the end of quiet hours, or the next
	// retry. Expires is when sending makes no more sense.
	DueAt     time.Time
	CreatedAt time.Time
	Expires   time.Time

	attempts int
	gen      int64 // revocation generation when its subscription was read
}

// scheduler hands due deliveries to the workers: a FIFO of ready ones and a
// heap of held ones (quiet hours, backoff). It also remembers every
// delivery this process holds until its done-marker is written, so nothing
// is queued twice.
type scheduler struct {
	clock clock.Clock
	work  chan *delivery

	mu     sync.Mutex
	ready  []*delivery
	head   int
	held   heldHeap
	known  map[string]struct{}
	wakeCh chan struct{}
}

func newScheduler(c clock.Clock) *scheduler {
	return &scheduler{clock: c, work: make(chan *delivery), known: map[string]struct{}{}, wakeCh: make(chan struct{}, 1)}
}

// claim records id as held by this process; false if it already is.
func (q *scheduler) claim(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.claimLocked(id)
}

func (q *scheduler) claimLocked(id string) bool {
	if _, ok := q.known[id]; ok {
		return false
	}
	q.known[id] = struct{}{}
	return true
}

// add claims d and queues it (ready, or held until DueAt); false when it
// was already held.
func (q *scheduler) add(d *delivery) bool {
	q.mu.Lock()
	if !q.claimLocked(d.ID) {
		q.mu.Unlock()
		return false
	}
	q.queueLocked(d)
	q.mu.Unlock()
	q.wake()
	return true
}

// requeue queues an already claimed delivery again (a retry).
func (q *scheduler) requeue(d *delivery) {
	q.mu.Lock()
	q.queueLocked(d)
	q.mu.Unlock()
	q.wake()
}

func (q *scheduler) queueLocked(d *delivery) {
	if d.DueAt.After(q.clock.Now()) {
		heap.Push(&q.held, d)
		return
	}
	q.ready = append(q.ready, d)
}

// forget releases ids once their outcome is stored.
func (q *scheduler) forget(ids []string) {
	q.mu.Lock()
	for _, id := range ids {
		delete(q.known, id)
	}
	q.mu.Unlock()
}

// size is how many deliveries this process holds.
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

// tick bounds how long a held delivery can wait past its due time when
// the clock is moved without a Wake (fake clocks); real due times get a
// timer of their own.
const tick = time.Second

// run moves due deliveries to the ready queue and hands them to workers
// until ctx ends.
func (q *scheduler) run(ctx context.Context) {
	timer := time.NewTimer(tick)
	defer timer.Stop()
	for {
		q.mu.Lock()
		now := q.clock.Now()
		for len(q.held) > 0 && !q.held[0].DueAt.After(now) {
			q.ready = append(q.ready, heap.Pop(&q.held).(*delivery))
		}
		wait := tick
		if len(q.held) > 0 {
			wait = min(wait, q.held[0].DueAt.Sub(now))
		}
		var next *delivery
		if q.head < len(q.ready) {
			next = q.ready[q.head]
		}
		q.mu.Unlock()

		var out chan *delivery
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
				q.ready, q.head = append([]*delivery(nil), q.ready[q.head:]...), 0
			}
			q.mu.Unlock()
		case <-q.wakeCh:
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

type heldHeap []*delivery

func (h heldHeap) Len() int           { return len(h) }
func (h heldHeap) Less(i, j int) bool { return h[i].DueAt.Before(h[j].DueAt) }
func (h heldHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)        { *h = append(*h, x.(*delivery)) }
func (h *heldHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return x
}
