package store

import (
	"context"
	"slices"
	"sync"
	"time"

	"civico/internal/idle"
)

// The write gate of the embedded engine.
//
// SQLite has one writer. When two FerretDB commands write at once the
// second does not queue: SQLite's busy handler makes it sleep and try
// again (1, 2, 5 … 100 ms), so under steady writing a request can lose the
// race over and over and wait hundreds of milliseconds while the database
// sits idle between sleeps. The gate queues writers in Go instead, first
// come first served within a class, and wakes the next one the moment the
// previous one is done. Three classes, in order: live writes (the event
// log: every connected socket of a street waits on that one write, so it
// must not queue behind other streets' posts), writes a person is waiting
// for, and background work (the push outbox, sweeps). Background writes
// give way, but never for longer than maxBackgroundWait, so they cannot
// starve; live writes are one per event, each caused by a request's own
// writes, so they cannot starve requests. Every write but a live one first
// waits, maxFanoutWait at most, for a street's fan-out in progress: the
// engine's work would otherwise take the processor the sockets' frames
// need. Reads do not pass the gate: in WAL mode they never wait for the
// writer.

// maxBackgroundWait is how long a background write may be overtaken.
const maxBackgroundWait = 200 * time.Millisecond

// class orders writers at the gate; lower goes first.
type class int

const (
	classLive class = iota
	classRequest
	classBackground
	classes
)

type classKey struct{}

// Background marks ctx's writes as background work: on the embedded engine
// they give way to writes someone is waiting for.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, classKey{}, classBackground)
}

// Live marks ctx's writes as ones that live subscribers wait on (an event
// about to be fanned out): on the embedded engine they go first.
func Live(ctx context.Context) context.Context {
	return context.WithValue(ctx, classKey{}, classLive)
}

func classOf(ctx context.Context) class {
	if c, ok := ctx.Value(classKey{}).(class); ok {
		return c
	}
	return classRequest
}

type writeGate struct {
	mu     sync.Mutex
	busy   bool
	queues [classes][]*gateWaiter
	// yield, when set, is waited for (maxFanoutWait at most) by every write
	// but the live ones before it goes to the engine.
	yield *idle.Gate
}

// maxFanoutWait bounds how long a write waits for a fan-out to end.
const maxFanoutWait = 2 * time.Millisecond

type gateWaiter struct {
	ready chan struct{} // closed when the gate is handed to this waiter
	since time.Time
}

// enter waits for the gate and returns its release; nil gate (MongoDB)
// lets everything through.
func (g *writeGate) enter(ctx context.Context) (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	cl := classOf(ctx)
	if cl != classLive {
		// Before queueing: a write waiting here holds no one up.
		_ = g.yield.Wait(ctx, maxFanoutWait)
	}
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		return g.leave, nil
	}
	w := &gateWaiter{ready: make(chan struct{}), since: time.Now()}
	g.queues[cl] = append(g.queues[cl], w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return g.leave, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	select {
	case <-w.ready:
		// Handed over just as ctx ended: pass it on.
		g.mu.Unlock()
		g.leave()
	default:
		g.queues[cl] = slices.DeleteFunc(g.queues[cl], func(x *gateWaiter) bool { return x == w })
		g.mu.Unlock()
	}
	return nil, ctx.Err()
}

// leave hands the gate to the next waiter: a background one overtaken for
// too long, else the oldest of the first class with anyone waiting.
func (g *writeGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := classes
	if bg := g.queues[classBackground]; len(bg) > 0 && time.Since(bg[0].since) > maxBackgroundWait {
		next = classBackground
	} else {
		for cl := range classes {
			if len(g.queues[cl]) > 0 {
				next = cl
				break
			}
		}
	}
	if next == classes {
		g.busy = false
		return
	}
	q := g.queues[next]
	w := q[0]
	q[0] = nil
	g.queues[next] = q[1:]
	close(w.ready)
}
