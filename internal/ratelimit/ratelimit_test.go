package ratelimit_test

import (
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/ratelimit"
)

func TestSlidingWindow(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := ratelimit.New(3, time.Minute, c)
	for i := range 3 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("event %d refused", i)
		}
		c.Advance(10 * time.Second)
	}
	ok, wait := l.Allow("k")
	if ok || wait != 30*time.Second {
		t.Fatalf("fourth: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("keys share a window")
	}
	c.Advance(30 * time.Second)
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("not released after the window")
	}
	if ok, _ := ratelimit.New(0, time.Minute, c).Allow("k"); !ok {
		t.Fatal("a zero limit should disable limiting")
	}
}
