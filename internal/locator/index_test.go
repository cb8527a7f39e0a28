package locator

import (
	"context"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// putMany writes the records it may in one go: a record the shard holds at
// the same or a later version stays, the others land, and a shard that
// does not exist yet is made.
func TestPutManyKeepsLaterVersions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(ctx) })
	svc, err := New(ctx, st, anyStaff{}, nil, clock.NewFake(time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const shard = "health.0"
	if err := svc.putMany(ctx, shard, map[string]record{"a": {Ver: 5, Name: "a5"}, "gone": {Ver: 9, Gone: true}}); err != nil {
		t.Fatal(err)
	}
	err = svc.putMany(ctx, shard, map[string]record{"a": {Ver: 3, Name: "a3"}, "gone": {Ver: 2, Name: "back"},
		"b": {Ver: 1, Name: "b1"}, "c": {Ver: 2, Name: "c2"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.putMany(ctx, shard, map[string]record{"c": {Ver: 4, Name: "c4"}, "b": {Ver: 1, Name: "b1 again"}}); err != nil {
		t.Fatal(err)
	}
	var doc shardDoc
	if err := svc.search.FindOne(ctx, map[string]any{"_id": shard}, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "a5", "b": "b1", "c": "c4"}
	if len(doc.Records) != 4 || !doc.Records["gone"].Gone || doc.Records["gone"].Ver != 9 {
		t.Fatalf("records: %+v", doc.Records)
	}
	for id, name := range want {
		var r record
		if err := bson.Unmarshal(doc.Records[id].B, &r); err != nil || r.Name != name {
			t.Fatalf("%s: %+v %v, want %s", id, r, err, name)
		}
	}
}
