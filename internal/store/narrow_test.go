package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// filterLog records the filters of the writes the engine is sent.
type filterLog struct {
	mu      sync.Mutex
	filters []bson.Raw
}

func (l *filterLog) started(_ context.Context, e *event.CommandStartedEvent) {
	var path []string
	switch e.CommandName {
	case "update":
		path = []string{"updates", "0", "q"}
	case "delete":
		path = []string{"deletes", "0", "q"}
	case "findAndModify":
		path = []string{"query"}
	default:
		return
	}
	v, err := e.Command.LookupErr(path...)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.filters = append(l.filters, slices.Clone(v.Document()))
	l.mu.Unlock()
}

// keys gives the top-level keys of each filter sent since the last call.
func (l *filterLog) keys(t *testing.T) [][]string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]string
	for _, f := range l.filters {
		elems, err := f.Elements()
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, e := range elems {
			ks = append(ks, e.Key())
		}
		slices.Sort(ks) // bson.M filters come in any order
		out = append(out, ks)
	}
	l.filters = nil
	return out
}

// openLogged opens the embedded engine with the filters of its writes logged.
func openLogged(t *testing.T) (*store.Store, *filterLog) {
	t.Helper()
	log := &filterLog{}
	s, err := store.Open(context.Background(), store.Config{
		DataDir: t.TempDir(),
		Monitor: &event.CommandMonitor{Started: log.started},
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, log
}

type invite struct {
	ID        string    `bson:"_id"`
	Status    string    `bson:"status"`
	Remaining int       `bson:"remaining"`
	At        time.Time `bson:"at"`
	Tags      []string  `bson:"tags,omitempty"`
}

// seed puts the invites in c, and a crowd of others so that a scan would show.
func seed(t *testing.T, c *store.Collection, docs ...invite) {
	t.Helper()
	ctx := context.Background()
	var all []any
	for _, d := range docs {
		all = append(all, d)
	}
	for i := range 200 {
		all = append(all, bson.M{"_id": bson.NewObjectID(), "status": "pending", "n": i})
	}
	if err := c.InsertMany(ctx, all); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, c *store.Collection, id string) invite {
	t.Helper()
	var d invite
	if err := c.FindOne(context.Background(), bson.M{"_id": id}, &d); err != nil {
		t.Fatalf("find %s: %v", id, err)
	}
	return d
}

var (
	t0    = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	byID  = [][]string{{"_id"}}
	never [][]string
)

func TestConditionalUpdateOne(t *testing.T) {
	s, log := openLogged(t)
	ctx := context.Background()
	c := s.Collection("invites")
	seed(t, c,
		invite{ID: "p", Status: "pending", Remaining: 2, At: t0, Tags: []string{"a", "b"}},
		invite{ID: "d", Status: "done", Remaining: 0, At: t0},
	)
	upsert := options.UpdateOne().SetUpsert(true)
	tests := []struct {
		name      string
		filter    any
		update    any
		opts      []options.Lister[options.UpdateOneOptions]
		matched   int64
		modified  int64
		upserted  any
		sent      [][]string // the filters the engine got
		check     func(t *testing.T)
		duplicate bool
		refused   bool // by the engine, as without the store
	}{
		{name: "matches", filter: bson.M{"_id": "p", "status": "pending", "at": t0},
			update: bson.M{"$inc": bson.M{"remaining": -1}}, matched: 1, modified: 1, sent: byID,
			check: func(t *testing.T) {
				if got := get(t, c, "p").Remaining; got != 1 {
					t.Fatalf("remaining %d, want 1", got)
				}
			}},
		{name: "condition fails", filter: bson.D{{Key: "_id", Value: "d"}, {Key: "remaining", Value: bson.M{"$gt": 0}}},
			update: bson.M{"$inc": bson.M{"remaining": -1}}, sent: never,
			check: func(t *testing.T) {
				if got := get(t, c, "d").Remaining; got != 0 {
					t.Fatalf("remaining %d, want 0", got)
				}
			}},
		{name: "no such document", filter: bson.M{"_id": "x", "status": "pending"},
			update: bson.M{"$set": bson.M{"status": "done"}}, sent: never},
		{name: "upsert inserts what the filter says", filter: bson.M{"_id": "new", "status": "pending"},
			update: bson.M{"$set": bson.M{"remaining": 3}}, opts: []options.Lister[options.UpdateOneOptions]{upsert},
			upserted: "new", sent: [][]string{{"_id", "status"}},
			check: func(t *testing.T) {
				if got := get(t, c, "new"); got.Status != "pending" || got.Remaining != 3 {
					t.Fatalf("upserted %+v", got)
				}
			}},
		{name: "upsert over a document that fails the condition", filter: bson.M{"_id": "d", "status": "pending"},
			update: bson.M{"$set": bson.M{"remaining": 3}}, opts: []options.Lister[options.UpdateOneOptions]{upsert},
			duplicate: true, sent: [][]string{{"_id", "status"}}},
		{name: "upsert of a match updates", filter: bson.M{"_id": "d", "status": "done"},
			update: bson.M{"$set": bson.M{"remaining": 5}}, opts: []options.Lister[options.UpdateOneOptions]{upsert},
			matched: 1, modified: 1, sent: byID},
		{name: "beyond the matcher", filter: bson.M{"_id": "p", "status": bson.M{"$regex": "^pend"}},
			update: bson.M{"$set": bson.M{"at": t0.Add(time.Hour)}}, matched: 1, modified: 1,
			sent: [][]string{{"_id", "status"}}},
		// FerretDB 1.24 refuses the positional operator; MongoDB needs the
		// whole filter to know the element it names.
		{name: "positional update keeps the filter", filter: bson.M{"_id": "p", "tags": "b"},
			update: bson.M{"$set": bson.M{"tags.$": "z"}}, refused: true,
			sent: [][]string{{"_id", "tags"}}},
		{name: "no change", filter: bson.M{"_id": "p", "status": "pending"},
			update: bson.M{"$set": bson.M{"status": "pending"}}, matched: 1, sent: byID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log.keys(t)
			r, err := c.UpdateOne(ctx, tt.filter, tt.update, tt.opts...)
			switch {
			case tt.duplicate:
				if !store.IsDuplicate(err) {
					t.Fatalf("want a duplicate key error, got %v", err)
				}
			case tt.refused:
				if err == nil {
					t.Fatal("want the engine's refusal")
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if r.MatchedCount != tt.matched || r.ModifiedCount != tt.modified || r.UpsertedID != tt.upserted {
					t.Fatalf("matched %d modified %d upserted %v, want %d %d %v",
						r.MatchedCount, r.ModifiedCount, r.UpsertedID, tt.matched, tt.modified, tt.upserted)
				}
				if want := int64(0); tt.upserted != nil {
					want = 1
					if r.UpsertedCount != want {
						t.Fatalf("upserted count %d", r.UpsertedCount)
					}
				}
			}
			if got := log.keys(t); !slices.EqualFunc(got, tt.sent, slices.Equal) {
				t.Fatalf("engine got filters with keys %v, want %v", got, tt.sent)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

func TestConditionalFindOneAndUpdate(t *testing.T) {
	s, log := openLogged(t)
	ctx := context.Background()
	c := s.Collection("invites")
	seed(t, c, invite{ID: "p", Status: "pending", Remaining: 1, At: t0})
	filter := bson.M{"_id": "p", "remaining": bson.M{"$gt": 0}}
	take := bson.M{"$inc": bson.M{"remaining": -1}}

	var before invite
	if err := c.FindOneAndUpdate(ctx, filter, take, &before, options.FindOneAndUpdate().SetReturnDocument(options.Before)); err != nil {
		t.Fatal(err)
	}
	if before.Remaining != 1 {
		t.Fatalf("before: remaining %d, want 1", before.Remaining)
	}
	var after invite
	err := c.FindOneAndUpdate(ctx, filter, take, &after, options.FindOneAndUpdate().SetReturnDocument(options.After))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second take: want ErrNotFound, got %v (%+v)", err, after)
	}
	if got := log.keys(t); !slices.EqualFunc(got, byID, slices.Equal) {
		t.Fatalf("engine got filters with keys %v, want one by _id", got)
	}
	if err := c.FindOneAndUpdate(ctx, bson.M{"_id": "p", "remaining": 0}, bson.M{"$set": bson.M{"status": "used"}},
		&after, options.FindOneAndUpdate().SetReturnDocument(options.After)); err != nil {
		t.Fatal(err)
	}
	if after.Status != "used" || after.Remaining != 0 {
		t.Fatalf("after: %+v", after)
	}
	// An upsert that finds nothing goes to the engine whole.
	err = c.FindOneAndUpdate(ctx, bson.M{"_id": "q", "status": "pending"}, bson.M{"$set": bson.M{"remaining": 2}},
		&after, options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After))
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != "q" || after.Status != "pending" || after.Remaining != 2 {
		t.Fatalf("upserted: %+v", after)
	}
}

func TestConditionalReplaceDeleteAndReads(t *testing.T) {
	s, log := openLogged(t)
	ctx := context.Background()
	c := s.Collection("invites")
	seed(t, c,
		invite{ID: "due", Status: "pending", At: t0},
		invite{ID: "later", Status: "pending", At: t0.Add(time.Hour)},
	)
	due := func(id string) bson.M { return bson.M{"_id": id, "at": bson.M{"$lte": t0}} }

	r, err := c.ReplaceOne(ctx, due("later"), invite{ID: "later", Status: "replaced"})
	if err != nil || r.MatchedCount != 0 {
		t.Fatalf("replace of a document failing the condition: %+v, %v", r, err)
	}
	r, err = c.ReplaceOne(ctx, due("due"), invite{ID: "due", Status: "replaced", At: t0})
	if err != nil || r.MatchedCount != 1 || r.ModifiedCount != 1 {
		t.Fatalf("replace: %+v, %v", r, err)
	}
	if got := get(t, c, "due").Status; got != "replaced" {
		t.Fatalf("status %q after replace", got)
	}

	var d invite
	if err := c.FindOne(ctx, due("later"), &d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("find of a document failing the condition: %v", err)
	}
	if err := c.FindOne(ctx, due("due"), &d); err != nil || d.Status != "replaced" {
		t.Fatalf("find: %+v, %v", d, err)
	}
	if err := c.FindOne(ctx, due("due"), &d, options.FindOne().SetProjection(bson.M{"status": 1})); err != nil || d.Status != "replaced" {
		t.Fatalf("find with a projection: %+v, %v", d, err)
	}
	for id, want := range map[string]int64{"due": 1, "later": 0, "none": 0} {
		if n, err := c.Count(ctx, due(id)); err != nil || n != want {
			t.Fatalf("count %s: %d, %v; want %d", id, n, err, want)
		}
	}

	if n, err := c.DeleteOne(ctx, due("later")); err != nil || n != 0 {
		t.Fatalf("delete of a document failing the condition: %d, %v", n, err)
	}
	if n, err := c.DeleteOne(ctx, due("due")); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if n, err := c.Count(ctx, bson.M{"_id": bson.M{"$in": bson.A{"due", "later"}}}); err != nil || n != 1 {
		t.Fatalf("left: %d, %v", n, err)
	}
	if got := log.keys(t); !slices.EqualFunc(got, [][]string{{"_id"}, {"_id"}}, slices.Equal) {
		t.Fatalf("engine got filters with keys %v, want two by _id", got)
	}
}

// The driver's own result when nothing matched, which the store's answer
// without the engine must equal.
func TestNoMatchResultIsTheDrivers(t *testing.T) {
	s, _ := openLogged(t)
	ctx := context.Background()
	c := s.Collection("invites")
	seed(t, c, invite{ID: "p", Status: "pending"})
	raw, err := s.Database().Collection("invites").UpdateOne(ctx, bson.M{"_id": "p", "status": "done"}, bson.M{"$set": bson.M{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := c.UpdateOne(ctx, bson.M{"_id": "p", "status": "done"}, bson.M{"$set": bson.M{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if *raw != *ours {
		t.Fatalf("store %+v, driver %+v", *ours, *raw)
	}
}
