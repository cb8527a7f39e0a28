package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Concurrent inserts are written in groups (group.go): each caller must
// still learn its own outcome — a duplicate _id refused for that caller
// only, every other document stored, the _id it carried reported back.
func TestGroupedInsertsReportEachOutcome(t *testing.T) {
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	c := s.Collection("grouped")
	for i := 0; i < 50; i += 5 { // every fifth id exists already
		if _, err := c.InsertOne(ctx, bson.M{"_id": fmt.Sprintf("d%02d", i), "first": true}); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, 50)
	ids := make([]any, 50)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.InsertOne(ctx, bson.M{"_id": fmt.Sprintf("d%02d", i), "n": i})
			errs[i] = err
			if err == nil {
				ids[i] = r.InsertedID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		want := fmt.Sprintf("d%02d", i)
		switch {
		case i%5 == 0 && !store.IsDuplicate(err):
			t.Errorf("insert %d over an existing id: %v, want a duplicate error", i, err)
		case i%5 != 0 && err != nil:
			t.Errorf("insert %d: %v", i, err)
		case i%5 != 0 && ids[i] != want:
			t.Errorf("insert %d reported id %v, want %s", i, ids[i], want)
		}
	}
	n, err := c.Count(ctx, bson.M{})
	if err != nil || n != 50 {
		t.Fatalf("count %d (err %v), want 50", n, err)
	}
	var d struct {
		N     int  `bson:"n"`
		First bool `bson:"first"`
	}
	if err := c.FindOne(ctx, bson.M{"_id": "d07"}, &d); err != nil || d.N != 7 {
		t.Fatalf("d07 = %+v (err %v)", d, err)
	}
	if err := c.FindOne(ctx, bson.M{"_id": "d10"}, &d); err != nil || !d.First {
		t.Fatalf("d10 overwritten: %+v (err %v)", d, err)
	}
}

// A caller whose context is cancelled must not fail the others grouped
// with it.
func TestGroupedInsertSurvivesACancelledNeighbour(t *testing.T) {
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	c := s.Collection("grouped")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	errs := make([]error, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if i%2 == 0 {
				ctx = cancelled
			}
			_, errs[i] = c.InsertOne(ctx, bson.M{"_id": bson.NewObjectID(), "n": i})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 && err != nil {
			t.Fatalf("insert %d with a live context failed: %v", i, err)
		}
	}
}
