package store_test

import (
	"context"
	"testing"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The standalone database is what the tests of several processes share:
// two stores opened on it see each other's writes.
func TestStandaloneIsSharedByTwoStores(t *testing.T) {
	s, err := store.StartStandalone(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	ctx := context.Background()
	open := func() *store.Store {
		st, err := store.Open(ctx, store.Config{URI: s.URI, Database: "shared"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close(ctx) })
		return st
	}
	a, b := open(), open()
	if a.Embedded() || b.Embedded() {
		t.Fatal("a store on the standalone database must take the MongoDB path")
	}
	if _, err := a.Collection("things").InsertOne(ctx, bson.M{"_id": "x", "n": 1}); err != nil {
		t.Fatal(err)
	}
	var got bson.M
	if err := b.Collection("things").FindOne(ctx, bson.M{"_id": "x"}, &got); err != nil {
		t.Fatalf("the other store does not see the write: %v", err)
	}
	if _, err := b.Collection("things").InsertOne(ctx, bson.M{"_id": "x"}); !store.IsDuplicate(err) {
		t.Fatalf("a unique _id must hold across clients: %v", err)
	}
}
