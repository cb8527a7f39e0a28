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
	before := waiting(g)
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
		if waiting(g) > before {
			return
		}
		runtime.Gosched() // until the writer is in the queue
	}
}

// waiting counts g's queued writers.
func waiting(g *writeGate) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, q := range g.queues {
		n += len(q)
	}
	return n
}

func TestWriteGateOrder(t *testing.T) {
	fg := context.Background()
	ctxs := map[byte]context.Context{'f': fg, 'b': Background(fg), 'l': Live(fg)}
	cases := map[string]struct {
		queue []string // "f" (request), "b" (background) or "l" (live), in arrival order
		want  []string
	}{
		"first come first served":          {queue: []string{"f1", "f2", "f3"}, want: []string{"f1", "f2", "f3"}},
		"a request overtakes the outbox":   {queue: []string{"b1", "b2", "f1"}, want: []string{"f1", "b1", "b2"}},
		"background keeps its own order":   {queue: []string{"b1", "f1", "b2", "f2"}, want: []string{"f1", "f2", "b1", "b2"}},
		"background alone goes in arrival": {queue: []string{"b1", "b2"}, want: []string{"b1", "b2"}},
		"an event overtakes other posts":   {queue: []string{"f1", "b1", "f2", "l1"}, want: []string{"l1", "f1", "f2", "b1"}},
		"events keep their order":          {queue: []string{"l1", "f1", "l2"}, want: []string{"l1", "l2", "f1"}},
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
				enterAsync(t, g, ctxs[w[0]], w, order, &done)
			}
			leave()
			for i, want := range tc.want {
				if got := <-order; got != want {
					t.Fatalf("writer %d through the gate is %s, want %s (order %v)", i, got, want, tc.want)
				}
			}
			done.Wait()
			if waiting(g) > 0 || g.busy {
				t.Fatal("gate still busy with nobody inside")
			}
		})
	}
}

// A background write overtaken for longer than maxBackgroundWait goes next.
func TestWriteGateDoesNotStarveBackground(t *testing.T) {
	g := &writeGate{}
	leave, _ := g.enter(context.Background())
	order := make(chan string, 3)
	var done sync.WaitGroup
	enterAsync(t, g, Background(context.Background()), "b", order, &done)
	enterAsync(t, g, Live(context.Background()), "l", order, &done)
	enterAsync(t, g, context.Background(), "f", order, &done)
	g.mu.Lock()
	g.queues[classBackground][0].since = time.Now().Add(-2 * maxBackgroundWait) // as if it had waited that long
	g.mu.Unlock()
	leave()
	if got := <-order; got != "b" {
		t.Fatalf("%s went first: a background write waiting %v was overtaken again", got, 2*maxBackgroundWait)
	}
	if got := <-order; got != "l" {
		t.Fatalf("after the overdue background write %s went, want the live one", got)
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
