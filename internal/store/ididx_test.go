package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// queryPlan asks SQLite how it would run FerretDB's lookup by _id on the
// table of collection name.
func queryPlan(t testing.TB, dir, name string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "db", "civico.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM "_ferretdb_collections" WHERE name = ?`, name).Scan(&table); err != nil {
		t.Fatalf("table of %s: %v", name, err)
	}
	// The same statement FerretDB 1.24 prepares for an _id equality filter.
	rows, err := db.Query(fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// Every lookup, update and delete by _id is what the hot paths do; on the
// embedded engine they must not scan the collection, including collections
// created at run time, after a restart and after a drop.
func TestLookupsByIDUseAnIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("opens the embedded engine")
	}
	dir := t.TempDir()
	ctx := context.Background()
	s := openEmbedded(t, dir)
	for _, name := range []string{"posts", "push_out_20261123"} {
		if _, err := s.Collection(name).InsertOne(ctx, bson.M{"_id": name}); err != nil {
			t.Fatal(err)
		}
		if plan := queryPlan(t, dir, name); !strings.Contains(plan, "USING INDEX") {
			t.Errorf("%s: lookup by _id scans: %s", name, plan)
		}
	}
	if err := s.Collection("push_out_20261123").Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collection("push_out_20261123").InsertOne(ctx, bson.M{"_id": "again"}); err != nil {
		t.Fatal(err)
	}
	if plan := queryPlan(t, dir, "push_out_20261123"); !strings.Contains(plan, "USING INDEX") {
		t.Errorf("after a drop: lookup by _id scans: %s", plan)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = openEmbedded(t, dir)
	t.Cleanup(func() { s.Close(context.Background()) })
	var got bson.M
	if err := s.Collection("posts").FindOne(ctx, bson.M{"_id": "posts"}, &got); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if plan := queryPlan(t, dir, "posts"); !strings.Contains(plan, "USING INDEX") {
		t.Errorf("after restart: lookup by _id scans: %s", plan)
	}
}

// BenchmarkFindByID reads one document by _id from a collection of 20 000.
// FerretDB pushes down only string and ObjectID _id equality; Civico uses
// nothing else. With the index the cost does not depend on the size.
func BenchmarkFindByID(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(context.Background()) })
	c := s.Collection("things")
	const n = 20_000
	docs := make([]any, 0, 1000)
	for i := range n {
		docs = append(docs, bson.M{"_id": fmt.Sprintf("t%05d", i), "name": fmt.Sprintf("thing %d", i)})
		if len(docs) == cap(docs) {
			if err := c.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var got bson.M
		if err := c.FindOne(ctx, bson.M{"_id": fmt.Sprintf("t%05d", (i*7919)%n)}, &got); err != nil {
			b.Fatal(err)
		}
	}
}
