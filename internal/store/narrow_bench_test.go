package store_test

import (
	"context"
	"fmt"
	"testing"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkConditionalUpdate is the services' compare-and-set: an update
// by _id guarded by the document's state, in a collection of 5 000.
func BenchmarkConditionalUpdate(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(context.Background()) })
	c := s.Collection("things")
	const n = 5_000
	docs := make([]any, 0, 1000)
	for i := range n {
		docs = append(docs, bson.M{"_id": fmt.Sprintf("t%05d", i), "status": "pending", "v": int64(0)})
		if len(docs) == cap(docs) {
			if err := c.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	vs := make([]int64, n)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := (i * 7919) % n
		r, err := c.UpdateOne(ctx,
			bson.M{"_id": fmt.Sprintf("t%05d", k), "status": "pending", "v": vs[k]},
			bson.M{"$inc": bson.M{"v": 1}})
		if err != nil {
			b.Fatal(err)
		}
		if r.ModifiedCount != 1 {
			b.Fatalf("document %d not updated", k)
		}
		vs[k]++
	}
}
