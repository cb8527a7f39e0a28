package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection is a collection reached through the store: every operation gets
// a deadline, and writes are made atomic per document on the embedded engine.
// There a single-document operation whose filter is an _id and conditions
// (`{_id: x, status: "open"}`) reads the document by _id, decides the
// conditions in Go and writes by _id alone (narrow.go): the engine would
// otherwise read the whole collection.
type Collection struct {
	name     string
	c        *mongo.Collection
	s        *Store
	m        *memo // shared by the name's collections (memo.go)
	remember bool  // FindOne by _id may answer from m (Remembered)
}

// Collection returns the named collection.
func (s *Store) Collection(name string) *Collection {
	if s.ids != nil {
		if err := s.ids.ensure(s.db, name); err != nil {
			// Only speed is at stake: lookups by _id still work, scanning.
			s.log.Warn("store: no _id index", "collection", name, "err", err)
		}
	}
	return &Collection{name: name, c: s.db.Collection(name), s: s, m: s.memo(name)}
}

// Name is the collection's name.
func (c *Collection) Name() string { return c.name }

// InsertOne inserts doc.
func (c *Collection) InsertOne(ctx context.Context, doc any) (*mongo.InsertOneResult, error) {
	defer c.m.write()()
	if c.s.embedded != nil {
		return c.groupInsert(ctx, doc) // group.go
	}
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	r, err := c.c.InsertOne(ctx, doc) // MongoDB: no gate
	return r, wrap(c.name, "insert", err)
}

// InsertMany inserts docs in order.
func (c *Collection) InsertMany(ctx context.Context, docs []any) error {
	defer c.m.write()()
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return wrap(c.name, "insert many", err)
	}
	defer leave()
	_, err = c.c.InsertMany(ctx, docs)
	return wrap(c.name, "insert many", err)
}

// FindOne decodes the first match into out, or returns ErrNotFound.
func (c *Collection) FindOne(ctx context.Context, filter, out any, opts ...options.Lister[options.FindOneOptions]) error {
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	if len(opts) == 0 {
		if ok, err := c.findRemembered(ctx, filter, out); ok {
			return err
		}
	}
	if n, ok := c.narrow(filter); ok && len(opts) == 0 {
		raw, match, err := n.read(ctx, c.c)
		switch {
		case errors.Is(err, errUnsupported):
		case err != nil:
			return wrap(c.name, "find one", err)
		case !match:
			return ErrNotFound
		default:
			return wrap(c.name, "decode", bson.Unmarshal(raw, out))
		}
	}
	err := c.c.FindOne(ctx, filter, opts...).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ErrNotFound
	}
	return wrap(c.name, "find one", err)
}

// FindAll decodes every match into out, a pointer to a slice. Callers bound
// the result with a limit.
func (c *Collection) FindAll(ctx context.Context, filter, out any, opts ...options.Lister[options.FindOptions]) error {
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	cur, err := c.c.Find(ctx, filter, opts...)
	if err != nil {
		return wrap(c.name, "find", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	return wrap(c.name, "decode", cur.All(ctx, out))
}

// Each streams the matches to fn, one raw document at a time, for exports
// that should not hold a whole collection in memory.
func (c *Collection) Each(ctx context.Context, filter any, fn func(bson.Raw) error, opts ...options.Lister[options.FindOptions]) error {
	cur, err := c.c.Find(ctx, filter, opts...)
	if err != nil {
		return wrap(c.name, "find", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return err
		}
	}
	return wrap(c.name, "cursor", cur.Err())
}

// Count counts the matches.
func (c *Collection) Count(ctx context.Context, filter any) (int64, error) {
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	if n, ok := c.narrow(filter); ok {
		_, match, err := n.read(ctx, c.c)
		switch {
		case errors.Is(err, errUnsupported):
		case err != nil:
			return 0, wrap(c.name, "count", err)
		case match:
			return 1, nil
		default:
			return 0, nil
		}
	}
	n, err := c.c.CountDocuments(ctx, filter)
	return n, wrap(c.name, "count", err)
}

// Aggregate runs pipeline and decodes the results into out.
func (c *Collection) Aggregate(ctx context.Context, pipeline, out any) error {
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	cur, err := c.c.Aggregate(ctx, pipeline)
	if err != nil {
		return wrap(c.name, "aggregate", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	return wrap(c.name, "decode", cur.All(ctx, out))
}

// UpdateOne updates the first match atomically on both engines.
func (c *Collection) UpdateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	defer c.m.write()()
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	defer c.s.locks.lock(c.name, filter)()
	if n, ok := c.narrow(filter); ok && !positional(update) {
		_, match, err := n.read(ctx, c.c)
		switch {
		case errors.Is(err, errUnsupported):
		case err != nil:
			return nil, wrap(c.name, "update", err)
		case match:
			filter = n.byID
		case !upserts(opts, func(o *options.UpdateOneOptions) *bool { return o.Upsert }):
			return &mongo.UpdateResult{Acknowledged: true}, nil
		}
	}
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return nil, wrap(c.name, "update", err)
	}
	defer leave()
	r, err := c.c.UpdateOne(ctx, filter, update, opts...)
	return r, wrap(c.name, "update", err)
}

// UpdateMany updates every match; on the embedded engine it excludes every
// other write to the collection meanwhile.
func (c *Collection) UpdateMany(ctx context.Context, filter, update any) (*mongo.UpdateResult, error) {
	defer c.m.write()()
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	defer c.s.locks.lock(c.name, nil)()
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return nil, wrap(c.name, "update many", err)
	}
	defer leave()
	r, err := c.c.UpdateMany(ctx, filter, update)
	return r, wrap(c.name, "update many", err)
}

// FindOneAndUpdate updates the first match and decodes it (before or after,
// as opts say) into out; ErrNotFound when nothing matched.
func (c *Collection) FindOneAndUpdate(ctx context.Context, filter, update, out any, opts ...options.Lister[options.FindOneAndUpdateOptions]) error {
	defer c.m.write()()
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	defer c.s.locks.lock(c.name, filter)()
	if n, ok := c.narrow(filter); ok && !positional(update) {
		_, match, err := n.read(ctx, c.c)
		switch {
		case errors.Is(err, errUnsupported):
		case err != nil:
			return wrap(c.name, "find and update", err)
		case match:
			filter = n.byID
		case !upserts(opts, func(o *options.FindOneAndUpdateOptions) *bool { return o.Upsert }):
			return ErrNotFound
		}
	}
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return wrap(c.name, "find and update", err)
	}
	defer leave()
	err = c.c.FindOneAndUpdate(ctx, filter, update, opts...).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ErrNotFound
	}
	return wrap(c.name, "find and update", err)
}

// ReplaceOne replaces the first match.
func (c *Collection) ReplaceOne(ctx context.Context, filter, doc any, opts ...options.Lister[options.ReplaceOptions]) (*mongo.UpdateResult, error) {
	defer c.m.write()()
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	defer c.s.locks.lock(c.name, filter)()
	if n, ok := c.narrow(filter); ok {
		_, match, err := n.read(ctx, c.c)
		switch {
		case errors.Is(err, errUnsupported):
		case err != nil:
			return nil, wrap(c.name, "replace", err)
		case match:
			filter = n.byID
		case !upserts(opts, func(o *options.ReplaceOptions) *bool { return o.Upsert }):
			return &mongo.UpdateResult{Acknowledged: true}, nil
		}
	}
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return nil, wrap(c.name, "replace", err)
	}
	defer leave()
	r, err := c.c.ReplaceOne(ctx, filter, doc, opts...)
	return r, wrap(c.name, "replace", err)
}

// DeleteOne deletes the first match and says how many went (0 or 1).
func (c *Collection) DeleteOne(ctx context.Context, filter any) (int64, error) {
	defer c.m.write()()
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	defer c.s.locks.lock(c.name, filter)()
	if n, ok := c.narrow(filter); ok {
		_, match, err := n.read(ctx, c.c)
		switch {
		case errors.Is(err, errUnsupported):
		case err != nil:
			return 0, wrap(c.name, "delete", err)
		case match:
			filter = n.byID
		default:
			return 0, nil
		}
	}
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return 0, wrap(c.name, "delete", err)
	}
	defer leave()
	r, err := c.c.DeleteOne(ctx, filter)
	if err != nil {
		return 0, wrap(c.name, "delete", err)
	}
	return r.DeletedCount, nil
}

// DeleteMany deletes every match and says how many went.
//
// On the embedded engine a delete by filter scans the whole collection
// while it holds the write gate, then holds SQLite's only writer while it
// removes every match: every other write waits (the event log's minute
// trim stalled every street's live events by 100–300 ms). There the
// matches are read first — a read waits for nobody, and most calls are
// expiry sweeps that find nothing. A background delete (a sweep) then
// removes them one by one by _id, so other writes slip in between; the
// filter must be one a document cannot stop matching (an expiry time, a
// sequence number). A request's delete stays one statement.
func (c *Collection) DeleteMany(ctx context.Context, filter any) (int64, error) {
	defer c.m.write()()
	if c.s.gate != nil {
		var ids []struct {
			ID any `bson:"_id"`
		}
		if err := c.FindAll(ctx, filter, &ids, options.Find().SetProjection(bson.M{"_id": 1})); err != nil {
			return 0, wrap(c.name, "delete many", err)
		}
		if len(ids) == 0 {
			return 0, nil
		}
		if classOf(ctx) == classBackground {
			var n int64
			for _, d := range ids {
				k, err := c.DeleteOne(ctx, bson.M{"_id": d.ID})
				if err != nil {
					return n, err
				}
				n += k
			}
			return n, nil
		}
	}
	ctx, cancel := c.s.opCtx(ctx)
	defer cancel()
	defer c.s.locks.lock(c.name, nil)()
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		return 0, wrap(c.name, "delete many", err)
	}
	defer leave()
	r, err := c.c.DeleteMany(ctx, filter)
	if err != nil {
		return 0, wrap(c.name, "delete many", err)
	}
	return r.DeletedCount, nil
}

func wrap(coll, op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s %s: %w", coll, op, err)
}
