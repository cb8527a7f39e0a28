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
