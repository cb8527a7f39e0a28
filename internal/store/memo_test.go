package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type counter struct {
	N int `bson:"n"`
}

func readN(t *testing.T, c *store.Collection, id any) int {
	t.Helper()
	var got counter
	if err := c.FindOne(context.Background(), bson.M{"_id": id}, &got); err != nil {
		t.Fatalf("find %v: %v", id, err)
	}
	return got.N
}

// A write that bypasses the store (another process) is what a remembered
// read cannot see: only a solo process remembers, and there every write
// goes through the store, whose writes forget.
func TestRememberedReads(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	users := s.Remembered("memo_users")
	plain := s.Collection("memo_users") // another handle on the same collection
	raw := s.Database().Collection("memo_users")
	id := bson.NewObjectID()
	if _, err := users.InsertOne(ctx, bson.M{"_id": id, "n": 1}); err != nil {
		t.Fatal(err)
	}

	// Several processes: every read goes to the database.
	readN(t, users, id)
	if _, err := raw.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"n": 2}}); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, users, id); got != 2 {
		t.Fatalf("not solo: read %d after another process wrote 2", got)
	}

	s.MarkSolo()
	readN(t, users, id)
	if _, err := raw.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"n": 3}}); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, users, id); got != 2 {
		t.Fatalf("solo: read %d, want the remembered 2 (the memory is not used)", got)
	}

	writes := []struct {
		name  string
		write func() error
		want  int
	}{
		{"update through another handle", func() error {
			_, err := plain.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"n": 4}})
			return err
		}, 4},
		{"update of another document", func() error {
			_, err := plain.UpdateOne(ctx, bson.M{"_id": "other"}, bson.M{"$set": bson.M{"n": 0}})
			if err == nil {
				_, err = raw.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"n": 5}})
			}
			return err
		}, 5}, // the whole collection is forgotten: the raw write is read
		{"update many", func() error {
			_, err := plain.UpdateMany(ctx, bson.M{"n": bson.M{"$gte": 0}}, bson.M{"$inc": bson.M{"n": 1}})
			return err
		}, 6},
		{"replace", func() error {
			_, err := plain.ReplaceOne(ctx, bson.M{"_id": id}, bson.M{"_id": id, "n": 7})
			return err
		}, 7},
		{"find and update", func() error {
			var c counter
			return plain.FindOneAndUpdate(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"n": 8}}, &c)
		}, 8},
	}
	for _, w := range writes {
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if got := readN(t, users, id); got != w.want {
			t.Fatalf("after %s: read %d, want %d", w.name, got, w.want)
		}
	}

	// Absence is remembered too, and an insert forgets it.
	var c counter
	if err := users.FindOne(ctx, bson.M{"_id": "later"}, &c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing document: %v", err)
	}
	if _, err := plain.InsertOne(ctx, bson.M{"_id": "later", "n": 9}); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, users, "later"); got != 9 {
		t.Fatalf("after insert: read %d", got)
	}
	if _, err := plain.DeleteOne(ctx, bson.M{"_id": "later"}); err != nil {
		t.Fatal(err)
	}
	if err := users.FindOne(ctx, bson.M{"_id": "later"}, &c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// Readers racing writers never see a value older than one already
// acknowledged: a read that overlaps a write is not remembered.
func TestRememberedReadsRaceWrites(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t, t.TempDir())
	t.Cleanup(func() { s.Close(context.Background()) })
	s.MarkSolo()
	c := s.Remembered("memo_race")
	id := bson.NewObjectID()
	if _, err := c.InsertOne(ctx, bson.M{"_id": id, "n": 0}); err != nil {
		t.Fatal(err)
	}
	const writes = 60
	var (
		mu    sync.Mutex
		acked int
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= writes; i++ {
			if _, err := c.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"n": i}}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			acked = i
			mu.Unlock()
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				floor := acked
				mu.Unlock()
				var got counter
				if err := c.FindOne(ctx, bson.M{"_id": id}, &got); err != nil {
					t.Error(err)
					return
				}
				if got.N < floor {
					t.Errorf("reader %d: read %d after %d was acknowledged", r, got.N, floor)
					return
				}
				if floor == writes {
					return
				}
			}
		}()
	}
	wg.Wait()
}
