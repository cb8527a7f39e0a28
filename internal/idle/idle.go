// Package idle lets background work run on the processors the foreground
// leaves free.
//
// Go has no goroutine priorities: a push being encrypted competes for the
// processors with a street's live fan-out and with people's requests, and
// on a small machine it delays them. The foreground (an API request, a
// street's fan-out) marks itself with Begin and End; background work calls
// Wait before each CPU-heavy step and goes once no foreground work has run
// for a moment, or after a bound, so that it still progresses on a server
// that is never quiet.
package idle

import (
	"context"
	"sync/atomic"
	"time"
)

// Gate tells background work when the foreground is quiet. A nil *Gate is
// always quiet.
type Gate struct {
	linger time.Duration
	parent *Gate // also marked by Begin and End (Sub)
	active atomic.Int64
	ended  atomic.Int64 // unix nanoseconds when foreground work last ended
}

// New returns a gate that counts the foreground quiet once nothing of it
// has run for linger (what it set going, such as frames being read, may
// still need the processors a little longer).
func New(linger time.Duration) *Gate {
	return &Gate{linger: linger}
}

// Sub returns a gate for part of g's foreground: its work counts as g's
// too, while waiting on it waits for that part alone (the database gives
// way to a street's fan-out, not to the requests that make the writes).
func (g *Gate) Sub(linger time.Duration) *Gate {
	return &Gate{linger: linger, parent: g}
}

// Begin marks foreground work starting; End marks it done.
func (g *Gate) Begin() {
	for ; g != nil; g = g.parent {
		g.active.Add(1)
	}
}

// End marks foreground work done.
func (g *Gate) End() {
	if g == nil {
		return
	}
	now := time.Now().UnixNano()
	for ; g != nil; g = g.parent {
		g.ended.Store(now)
		g.active.Add(-1)
	}
}

// Quiet reports whether no foreground work runs or ended within linger.
func (g *Gate) Quiet() bool {
	if g == nil {
		return true
	}
	if g.active.Load() > 0 {
		return false
	}
	return time.Since(time.Unix(0, g.ended.Load())) >= g.linger
}

// Wait returns once the foreground is quiet, after at most bound, or when
// ctx ends (with its error).
func (g *Gate) Wait(ctx context.Context, bound time.Duration) error {
	if g.Quiet() {
		return ctx.Err()
	}
	deadline := time.Now().Add(bound)
	for !g.Quiet() && time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(min(g.linger/4+time.Microsecond, time.Until(deadline)))
	}
	return ctx.Err()
}
