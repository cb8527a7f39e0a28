package store

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// enterAsync queues a writer and reports on order when it gets the gate;
// it returns once the writer is queued.
func enterAsync(t *testing.T, g *writeGate, ctx context.Context, name string, order chan<- string, done *sync.WaitGroup) {
	t.Helper()
	g.mu.Lock()
	before := len(g.fg) + len(g.bg)
	g.mu.Unlock()
	done.Add(1)
	go func() {
		defer done.Done()
		leave, err := g.enter(ctx)
		if err != nil {
			order <- name + ": " + err.Error()
			return
		}
		order <- name
		leave()
	}()
	for {
		g.mu.Lock()
		n := len(g.fg) + len(g.bg)
		g.mu.Unlock()
		if n > before {
			return
		}
		runtime.Gosched() // until the writer is in the queue
	}
}

func TestWriteGateOrder(t *testing.T) {
	bg := Background(context.Background())
	fg := context.Background()
	cases := map[string]struct {
		queue []string // "f" or "b", in arrival order
		want  []string
	}{
		"first come first served":          {queue: []string{"f1", "f2", "f3"}, want: []string{"f1", "f2", "f3"}},
		"a request overtakes the outbox":   {queue: []string{"b1", "b2", "f1"}, want: []string{"f1", "b1", "b2"}},
		"background keeps its own order":   {queue: []string{"b1", "f1", "b2", "f2"}, want: []string{"f1", "f2", "b1", "b2"}},
		"background alone goes in arrival": {queue: []string{"b1", "b2"}, want: []string{"b1", "b2"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := &writeGate{}
			leave, err := g.enter(fg) // hold the gate while the others queue
			if err != nil {
				t.Fatal(err)
			}
			order := make(chan string, len(tc.queue))
			var done sync.WaitGroup
			for _, w := range tc.queue {
				ctx := fg
				if w[0] == 'b' {
					ctx = bg
				}
				enterAsync(t, g, ctx, w, order, &done)
			}
			leave()
			for i, want := range tc.want {
				if got := <-order; got != want {
					t.Fatalf("writer %d through the gate is %s, want %s (order %v)", i, got, want, tc.want)
				}
			}
			done.Wait()
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.busy || len(g.fg)+len(g.bg) > 0 {
				t.Fatal("gate still busy with nobody inside")
			}
		})
	}
}

// A background write overtaken for longer than maxBackgroundWait goes next.
func TestWriteGateDoesNotStarveBackground(t *testing.T) {
	g := &writeGate{}
	leave, _ := g.enter(context.Background())
	order := make(chan string, 2)
	var done sync.WaitGroup
	enterAsync(t, g, Background(context.Background()), "b", order, &done)
	enterAsync(t, g, context.Background(), "f", order, &done)
	g.mu.Lock()
	g.bg[0].since = time.Now().Add(-2 * maxBackgroundWait) // as if it had waited that long
	g.mu.Unlock()
	leave()
	if got := <-order; got != "b" {
		t.Fatalf("%s went first: a background write waiting %v was overtaken again", got, 2*maxBackgroundWait)
	}
	<-order
}

// A writer whose context ends while queued leaves the queue and the gate
// still passes to the next one.
func TestWriteGateCancelledWaiterLeavesTheQueue(t *testing.T) {
	g := &writeGate{}
	leave, _ := g.enter(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	order := make(chan string, 2)
	var done sync.WaitGroup
	enterAsync(t, g, ctx, "cancelled", order, &done)
	enterAsync(t, g, context.Background(), "next", order, &done)
	cancel()
	if got := <-order; got != "cancelled: "+context.Canceled.Error() {
		t.Fatalf("cancelled writer: %s", got)
	}
	leave()
	if got := <-order; got != "next" {
		t.Fatalf("after a cancelled waiter the gate went to %q", got)
	}
	done.Wait()
	if _, err := g.enter(context.Background()); err != nil || !g.busy {
		t.Fatalf("gate not usable after a cancellation: %v", err)
	}
}

// MongoDB has no gate: enter lets everyone through.
func TestNilGateLetsEveryoneThrough(t *testing.T) {
	var g *writeGate
	for range 3 {
		leave, err := g.enter(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer leave()
	}
}
