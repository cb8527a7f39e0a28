package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// The write gate of the embedded engine.
//
// SQLite has one writer. When two FerretDB commands write at once the
// second does not queue: SQLite's busy handler makes it sleep and try
// again (1, 2, 5 … 100 ms), so under steady writing a request can lose the
// race over and over and wait hundreds of milliseconds while the database
// sits idle between sleeps. The gate queues writers in Go instead, first
// come first served, and wakes the next one the moment the previous one is
// done. Background writes (the push outbox, sweeps) give way to writes a
// person is waiting for, but never for longer than maxBackgroundWait, so
// they cannot starve. Reads do not pass the gate: in WAL mode they never
// wait for the writer.

// maxBackgroundWait is how long a background write may be overtaken.
const maxBackgroundWait = 200 * time.Millisecond

type backgroundKey struct{}

// Background marks ctx's writes as background work: on the embedded engine
// they give way to writes someone is waiting for.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

func isBackground(ctx context.Context) bool {
	v, _ := ctx.Value(backgroundKey{}).(bool)
	return v
}

type writeGate struct {
	mu     sync.Mutex
	busy   bool
	fg, bg []*gateWaiter
}

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
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		return g.leave, nil
	}
	w := &gateWaiter{ready: make(chan struct{}), since: time.Now()}
	bg := isBackground(ctx)
	if bg {
		g.bg = append(g.bg, w)
	} else {
		g.fg = append(g.fg, w)
	}
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
		if bg {
			g.bg = slices.DeleteFunc(g.bg, func(x *gateWaiter) bool { return x == w })
		} else {
			g.fg = slices.DeleteFunc(g.fg, func(x *gateWaiter) bool { return x == w })
		}
		g.mu.Unlock()
	}
	return nil, ctx.Err()
}

// leave hands the gate to the next waiter: the oldest foreground one,
// unless a background one has been overtaken for too long.
func (g *writeGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	var next *gateWaiter
	switch {
	case len(g.bg) > 0 && (len(g.fg) == 0 || time.Since(g.bg[0].since) > maxBackgroundWait):
		next, g.bg[0], g.bg = g.bg[0], nil, g.bg[1:]
	case len(g.fg) > 0:
		next, g.fg[0], g.fg = g.fg[0], nil, g.fg[1:]
	default:
		g.busy = false
		return
	}
	close(next.ready)
}
