package events_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/testutil"
)

// The minute sweep trims while posts are being published: neither may wait
// for the other forever (a post that hangs hangs every socket of its street
// and every later post).
func TestTrimWhilePublishingDoesNotDeadlock(t *testing.T) {
	l := newLog(t, testutil.Store(t), clock.System{}, events.Options{KeepPerStreet: 5, Memory: 8})
	l.Subscribe(func(events.Event) {})
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop := make(chan struct{})
		var trims sync.WaitGroup
		trims.Add(1)
		go func() {
			defer trims.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := l.Trim(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		var pubs sync.WaitGroup
		for _, street := range []string{"a", "b", "c"} {
			for range 2 {
				pubs.Add(1)
				go func() {
					defer pubs.Done()
					publish(t, l, street, 25)
				}()
			}
		}
		pubs.Wait()
		close(stop)
		trims.Wait()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // a bound for a deadlock, not a timing
		t.Fatal("publishing and trimming are stuck waiting for each other")
	}
	last, err := l.Last(context.Background(), "a")
	if err != nil || last != 50 {
		t.Fatalf("street a ends at %d (%v), want 50", last, err)
	}
}
