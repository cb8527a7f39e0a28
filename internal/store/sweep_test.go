package store

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// An expiry sweep that finds nothing must not queue behind the writers (on
// the embedded engine its delete would scan the collection while holding
// the write gate); one that finds something deletes it once the gate is
// free.
func TestDeleteManyThatFindsNothingDoesNotWaitForTheGate(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	c := s.Collection("tokens")
	if _, err := c.InsertOne(ctx, bson.M{"_id": "old", "expires": 1}); err != nil {
		t.Fatal(err)
	}
	leave, err := s.gate.enter(ctx) // a long write in progress
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		n   int64
		err error
	}
	nothing := make(chan result, 1)
	go func() {
		n, err := c.DeleteMany(ctx, bson.M{"expires": bson.M{"$lt": 0}})
		nothing <- result{n, err}
	}()
	select {
	case r := <-nothing:
		if r.n != 0 || r.err != nil {
			t.Fatalf("sweep with nothing to do: %d, %v", r.n, r.err)
		}
	case <-time.After(30 * time.Second): // a failure bound, not synchronisation
		t.Fatal("a sweep with nothing to delete waited for the write gate")
	}
	something := make(chan result, 1)
	go func() {
		n, err := c.DeleteMany(ctx, bson.M{"expires": bson.M{"$lt": 2}})
		something <- result{n, err}
	}()
	for waiting := 0; waiting == 0; runtime.Gosched() {
		s.gate.mu.Lock()
		waiting = len(s.gate.queues[classRequest])
		s.gate.mu.Unlock()
	}
	leave()
	if r := <-something; r.n != 1 || r.err != nil {
		t.Fatalf("sweep with something to delete: %d, %v", r.n, r.err)
	}
}
