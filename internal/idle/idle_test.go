package idle_test

import (
	"context"
	"testing"
	"time"

	"civico/internal/idle"
)

func TestWaitGivesWayToTheForeground(t *testing.T) {
	g := idle.New(time.Millisecond)
	ctx := context.Background()
	if !g.Quiet() {
		t.Fatal("a new gate is not quiet")
	}

	// Foreground running: background waits the whole bound.
	g.Begin()
	start := time.Now()
	if err := g.Wait(ctx, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("went after %v while the foreground ran", waited)
	}

	// Foreground done: background goes once it lingered, long before a
	// generous bound.
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		_ = g.Wait(ctx, time.Minute)
		done <- time.Since(start)
	}()
	g.End()
	if waited := <-done; waited > 10*time.Second {
		t.Fatalf("waited %v after the foreground ended", waited)
	}
	if !g.Quiet() {
		t.Fatal("not quiet after the linger")
	}

	var none *idle.Gate
	none.Begin()
	none.End()
	if !none.Quiet() || none.Wait(ctx, time.Hour) != nil {
		t.Fatal("a nil gate must always be quiet")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	g.Begin()
	if err := g.Wait(cancelled, time.Hour); err == nil {
		t.Fatal("a cancelled wait did not return its error")
	}
	g.End()
}

// Work on a part counts for the whole; the whole's other work does not
// count for the part.
func TestSubGateCountsForItsParent(t *testing.T) {
	all := idle.New(0)
	fanout := all.Sub(0)
	fanout.Begin()
	if all.Quiet() || fanout.Quiet() {
		t.Fatal("a fan-out running left a gate quiet")
	}
	fanout.End()
	all.Begin()
	if all.Quiet() {
		t.Fatal("a request running left the whole quiet")
	}
	if !fanout.Quiet() {
		t.Fatal("a request running made the fan-out gate busy")
	}
	all.End()
	if !all.Quiet() || !fanout.Quiet() {
		t.Fatal("not quiet when everything ended")
	}
}
