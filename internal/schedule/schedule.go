// Package schedule hands items to workers when they fall due: a FIFO of
// ready items and a heap of held ones (a later start, a backoff). It
// remembers every item its process holds until told to forget it, so none
// is queued twice. Push deliveries and mails share it.
package schedule

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"civico/internal/clock"
)

// tick bounds how long a held item waits past its due time when a fake
// clock is moved without a Wake; real due times get a timer of their own.
const tick = time.Second

// Queue schedules items of type T, each known by a key and due at a time
// read through the functions given to New.
type Queue[T any] struct {
	clock clock.Clock
	key   func(T) string
	work  chan T

	mu     sync.Mutex
	ready  []T
	head   int
	held   held[T]
	known  map[string]struct{}
	wakeCh chan struct{}
}

// New returns an empty queue reading the time from c, an item's key from
// key and its due time from due. due is read when the item is queued and
// while it is held: change it only before Add or Requeue.
func New[T any](c clock.Clock, key func(T) string, due func(T) time.Time) *Queue[T] {
	return &Queue[T]{
		clock: c, key: key, work: make(chan T),
		held:  held[T]{due: due},
		known: map[string]struct{}{}, wakeCh: make(chan struct{}, 1),
	}
}

// Work is where Run hands out due items, one receiver at a time.
func (q *Queue[T]) Work() <-chan T { return q.work }

// Holds tells whether the item with key is held by this queue.
func (q *Queue[T]) Holds(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.known[key]
	return ok
}

// Add holds it and queues it (ready, or held until due); false, and
// nothing queued, when an item with its key is held already.
func (q *Queue[T]) Add(it T) bool {
	k := q.key(it)
	q.mu.Lock()
	if _, ok := q.known[k]; ok {
		q.mu.Unlock()
		return false
	}
	q.known[k] = struct{}{}
	q.queueLocked(it)
	q.mu.Unlock()
	q.Wake()
	return true
}

// Requeue queues an item already held again (a retry).
func (q *Queue[T]) Requeue(it T) {
	q.mu.Lock()
	q.queueLocked(it)
	q.mu.Unlock()
	q.Wake()
}

func (q *Queue[T]) queueLocked(it T) {
	if q.held.due(it).After(q.clock.Now()) {
		heap.Push(&q.held, it)
		return
	}
	q.ready = append(q.ready, it)
}

// Forget releases the items with keys once their outcome is stored, so
// they may be added again.
func (q *Queue[T]) Forget(keys ...string) {
	q.mu.Lock()
	for _, k := range keys {
		delete(q.known, k)
	}
	q.mu.Unlock()
}

// Size is how many items the queue holds, queued or handed out.
func (q *Queue[T]) Size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.known)
}

// Wake makes Run look at the clock now (tests that move a fake clock call
// it instead of waiting a tick).
func (q *Queue[T]) Wake() {
	select {
	case q.wakeCh <- struct{}{}:
	default:
	}
}

// Run moves due items to the ready queue and hands them out on Work until
// ctx ends; one Run per queue.
func (q *Queue[T]) Run(ctx context.Context) {
	timer := time.NewTimer(tick)
	defer timer.Stop()
	var zero T
	for {
		q.mu.Lock()
		now := q.clock.Now()
		for len(q.held.items) > 0 && !q.held.due(q.held.items[0]).After(now) {
			q.ready = append(q.ready, heap.Pop(&q.held).(T))
		}
		wait := tick
		if len(q.held.items) > 0 {
			wait = min(wait, q.held.due(q.held.items[0]).Sub(now))
		}
		var out chan T // nil, so the send below is never chosen, when nothing is ready
		next := zero
		if q.head < len(q.ready) {
			next, out = q.ready[q.head], q.work
		}
		q.mu.Unlock()

		timer.Reset(wait)
		select {
		case out <- next:
			q.mu.Lock()
			q.ready[q.head] = zero
			q.head++
			if q.head == len(q.ready) {
				q.ready, q.head = q.ready[:0], 0
			} else if q.head > 1024 && q.head*2 > len(q.ready) {
				// Compact once the consumed front is most of the slice.
				q.ready, q.head = append([]T(nil), q.ready[q.head:]...), 0
			}
			q.mu.Unlock()
		case <-q.wakeCh:
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}

// held is a min-heap of items by due time.
type held[T any] struct {
	items []T
	due   func(T) time.Time
}

func (h *held[T]) Len() int           { return len(h.items) }
func (h *held[T]) Less(i, j int) bool { return h.due(h.items[i]).Before(h.due(h.items[j])) }
func (h *held[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *held[T]) Push(x any)         { h.items = append(h.items, x.(T)) }
func (h *held[T]) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	var zero T
	h.items[n-1] = zero
	h.items = h.items[:n-1]
	return x
}
