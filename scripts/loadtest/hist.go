package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// hist is a latency histogram with 10 µs buckets up to 5 s, safe for
// concurrent use. Slower samples land in the last bucket; the maximum is
// kept exactly.
type hist struct {
	buckets []atomic.Uint64
	n       atomic.Uint64
	max     atomic.Int64
}

const histStep = 10 * time.Microsecond

func newHist() *hist {
	return &hist{buckets: make([]atomic.Uint64, int(5*time.Second/histStep)+1)}
}

func (h *hist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := int(d / histStep)
	if i >= len(h.buckets) {
		i = len(h.buckets) - 1
	}
	h.buckets[i].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile is the upper edge of the bucket holding the q-th sample.
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return min(time.Duration(i+1)*histStep, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

func (h *hist) String() string {
	if h.n.Load() == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s  max %s  (%d samples)", ms(h.quantile(0.5)), ms(h.quantile(0.99)),
		ms(h.quantile(0.999)), ms(time.Duration(h.max.Load())), h.n.Load())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// timeline counts latencies per second of a run in power-of-two
// millisecond buckets, to tell a steady tail from a few stalls.
type timeline struct {
	start time.Time
	secs  [][timelineBuckets]atomic.Uint64
}

const timelineBuckets = 12 // < 1, 2, 4, … 1024 ms, and the rest

func newTimeline(start time.Time, d time.Duration) *timeline {
	return &timeline{start: start, secs: make([][timelineBuckets]atomic.Uint64, int(d/time.Second)+2)}
}

func (t *timeline) add(at time.Time, d time.Duration) {
	i := int(at.Sub(t.start) / time.Second)
	if i < 0 || i >= len(t.secs) {
		return
	}
	b := 0
	for ms := d.Milliseconds(); ms > 0 && b < timelineBuckets-1; ms >>= 1 {
		b++
	}
	t.secs[i][b].Add(1)
}

// String is each second's p99 as the upper edge of its bucket, in ms.
func (t *timeline) String() string {
	var sb []byte
	for i := range t.secs {
		var n uint64
		for b := range t.secs[i] {
			n += t.secs[i][b].Load()
		}
		if n == 0 {
			continue
		}
		rank, seen := uint64(float64(n)*0.99), uint64(0)
		for b := range t.secs[i] {
			if seen += t.secs[i][b].Load(); seen >= rank {
				sb = fmt.Appendf(sb, " %d", 1<<b)
				break
			}
		}
	}
	return string(sb)
}
