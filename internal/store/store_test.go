package store_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func openEmbedded(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// The embedded engine alone loses concurrent $inc (measured: 100 add 3); the
// store must make them add up exactly.
func TestConcurrentIncAddsUpExactly(t *testing.T) {
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	c := s.Collection("counters")
	id := bson.NewObjectID()
	if _, err := c.InsertOne(ctx, bson.M{"_id": id, "n": 0}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$inc": bson.M{"n": 1}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var got struct{ N int }
	if err := c.FindOne(ctx, bson.M{"_id": id}, &got); err != nil {
		t.Fatal(err)
	}
	if got.N != 100 {
		t.Fatalf("100 concurrent $inc gave %d", got.N)
	}
}

// Compare-and-swap: every update reporting "modified 1" must have moved the
// value by exactly one.
func TestConcurrentCompareAndSwapIsExact(t *testing.T) {
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	c := s.Collection("cas")
	id := bson.NewObjectID()
	if _, err := c.InsertOne(ctx, bson.M{"_id": id, "v": 0}); err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		modified int64
	)
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cur struct{ V int }
			if err := c.FindOne(ctx, bson.M{"_id": id}, &cur); err != nil {
				t.Error(err)
				return
			}
			<-start
			r, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: cur.V}}, bson.M{"$set": bson.M{"v": cur.V + 1}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			modified += r.ModifiedCount
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	var got struct{ V int64 }
	if err := c.FindOne(ctx, bson.M{"_id": id}, &got); err != nil {
		t.Fatal(err)
	}
	if got.V != modified {
		t.Fatalf("value %d, but %d updates reported modified", got.V, modified)
	}
	if modified < 1 {
		t.Fatalf("no update succeeded")
	}
}

// Writes with a filter other than _id still serialise.
func TestConcurrentIncByOtherFieldAddsUp(t *testing.T) {
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	c := s.Collection("counters")
	if _, err := c.InsertOne(ctx, bson.M{"name": "x", "n": 0}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.UpdateOne(ctx, bson.M{"name": "x"}, bson.M{"$inc": bson.M{"n": 1}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var got struct{ N int }
	if err := c.FindOne(ctx, bson.M{"name": "x"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.N != 40 {
		t.Fatalf("40 concurrent $inc gave %d", got.N)
	}
}

func TestUniqueIndexRefusesDuplicates(t *testing.T) {
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx := context.Background()
	if err := s.EnsureIndexes(ctx, store.Index{Collection: "u", Name: "k", Keys: bson.D{{Key: "k", Value: 1}}, Unique: true}); err != nil {
		t.Fatal(err)
	}
	c := s.Collection("u")
	if _, err := c.InsertOne(ctx, bson.M{"k": "a"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.InsertOne(ctx, bson.M{"k": "a"})
	if !store.IsDuplicate(err) {
		t.Fatalf("want duplicate error, got %v", err)
	}
}

func TestSecondOpenOfDataDirFails(t *testing.T) {
	dir := t.TempDir()
	s := openEmbedded(t, dir)
	t.Cleanup(func() { s.Close(context.Background()) })
	_, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if !errors.Is(err, store.ErrDataDirInUse) {
		t.Fatalf("want ErrDataDirInUse, got %v", err)
	}
}

// A crash leaves the socket file behind; the next start must clear it.
func TestStartsOverStaleSocket(t *testing.T) {
	dir := t.TempDir()
	s := openEmbedded(t, dir)
	ctx := context.Background()
	if _, err := s.Collection("k").InsertOne(ctx, bson.M{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/ferretdb.sock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := openEmbedded(t, dir)
	t.Cleanup(func() { s2.Close(context.Background()) })
	n, err := s2.Collection("k").Count(ctx, bson.M{})
	if err != nil || n != 1 {
		t.Fatalf("count %d, %v", n, err)
	}
}
