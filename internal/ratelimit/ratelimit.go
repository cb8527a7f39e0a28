// Package ratelimit counts attempts per key in a sliding window, so login,
// registration and posting can be bounded per IP and per account.
package ratelimit

import (
	"sync"
	"time"

	"civico/internal/clock"
)

// Limiter allows at most N events per key in any window of length Per.
type Limiter struct {
	n     int
	per   time.Duration
	clock clock.Clock

	mu   sync.Mutex
	keys map[string][]time.Time
	ops  int
}

// New returns a limiter of n events per window; n <= 0 disables it.
func New(n int, per time.Duration, c clock.Clock) *Limiter {
	return &Limiter{n: n, per: per, clock: c, keys: map[string][]time.Time{}}
}

// Allow records an event for key when the limit allows it; otherwise it
// records nothing and says how long until the next event would be allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.n <= 0 {
		return true, 0
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	times := prune(l.keys[key], now.Add(-l.per))
	if len(times) >= l.n {
		l.keys[key] = times
		return false, times[0].Add(l.per).Sub(now)
	}
	l.keys[key] = append(times, now)
	return true, 0
}

// Peek says whether an event for key would be allowed, without recording it.
func (l *Limiter) Peek(key string) (bool, time.Duration) {
	if l == nil || l.n <= 0 {
		return true, 0
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	times := prune(l.keys[key], now.Add(-l.per))
	l.keys[key] = times
	if len(times) >= l.n {
		return false, times[0].Add(l.per).Sub(now)
	}
	return true, 0
}

// gc drops idle keys now and then so the map stays bounded by activity.
func (l *Limiter) gc(now time.Time) {
	l.ops++
	if l.ops < 1024 {
		return
	}
	l.ops = 0
	cutoff := now.Add(-l.per)
	for k, times := range l.keys {
		if len(times) == 0 || !times[len(times)-1].After(cutoff) {
			delete(l.keys, k)
		}
	}
}

func prune(times []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(cutoff) {
		i++
	}
	return times[i:]
}
