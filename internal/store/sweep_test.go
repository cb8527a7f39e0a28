package store

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A delete by filter must not hold the writers up while it scans the
// collection (the embedded engine's deletes scan): one that finds nothing
// does not queue at the write gate; a background one (a sweep) deletes one
// document at a time as background work, so a request's write queued
// meanwhile goes before its next delete; a request's delete that finds
// something waits for the gate like any write. (That the gate serves the
// request first is TestWriteGateOrder's.)
func TestDeleteManyDoesNotHoldWritersUpWhileItScans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	c := s.Collection("tokens")
	for _, id := range []string{"old", "older"} {
		if _, err := c.InsertOne(ctx, bson.M{"_id": id, "expires": 1}); err != nil {
			t.Fatal(err)
		}
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
	sweep := make(chan result, 1)
	go func() {
		n, err := c.DeleteMany(Background(ctx), bson.M{"_id": "older", "expires": bson.M{"$lt": 2}})
		sweep <- result{n, err}
	}()
	waitQueued(t, s.gate, classBackground)
	request := make(chan error, 1)
	go func() {
		_, err := c.InsertOne(ctx, bson.M{"_id": "new", "expires": 9})
		request <- err
	}()
	waitQueued(t, s.gate, classRequest)
	leave()
	if err := <-request; err != nil {
		t.Fatal(err)
	}
	if r := <-sweep; r.n != 1 || r.err != nil {
		t.Fatalf("background sweep: %d, %v", r.n, r.err)
	}
	if leave, err = s.gate.enter(ctx); err != nil {
		t.Fatal(err)
	}
	something := make(chan result, 1)
	go func() {
		n, err := c.DeleteMany(ctx, bson.M{"expires": bson.M{"$lt": 2}})
		something <- result{n, err}
	}()
	waitQueued(t, s.gate, classRequest)
	leave()
	if r := <-something; r.n != 1 || r.err != nil {
		t.Fatalf("sweep with something to delete: %d, %v", r.n, r.err)
	}
}

// waitQueued returns once a writer of class cl is queued at g.
func waitQueued(t *testing.T, g *writeGate, cl class) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a failure bound, not synchronisation
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no writer of class %d ever queued at the gate", cl)
		}
		g.mu.Lock()
		n := len(g.queues[cl])
		g.mu.Unlock()
		if n > 0 {
			return
		}
		runtime.Gosched()
	}
}
