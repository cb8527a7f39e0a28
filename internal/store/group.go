package store

import (
	"context"
	"errors"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Group commit of inserts on the embedded engine.
//
// SQLite has one writer, and every FerretDB command is its own transaction
// with its own WAL sync. A post makes several inserts (the post, its event,
// the push job, the hand-off check) while other streets' posts make theirs,
// so concurrent inserts into one collection queue behind each other, each
// paying a whole transaction. Here a caller queues its document, and
// whoever holds the collection's insert lock next writes everything queued
// in one unordered InsertMany — one transaction, one sync — then hands each
// caller its own outcome. InsertOne still returns only once its document is
// committed (or refused), so nothing is acknowledged before it is stored.

// maxInsertBatch bounds one grouped InsertMany.
const maxInsertBatch = 128

type insertGroups struct {
	mu     sync.Mutex
	groups map[string]*insertGroup
}

// insertGroup is one collection's queue; mu is held by the caller writing
// a batch, qmu guards queue.
type insertGroup struct {
	mu    sync.Mutex
	qmu   sync.Mutex
	queue []*insertReq
}

// insertReq is one InsertOne waiting; res, err and done are set by the
// batch's writer while it holds insertGroup.mu.
type insertReq struct {
	doc  any
	res  *mongo.InsertOneResult
	err  error
	done bool
}

func (g *insertGroups) get(name string) *insertGroup {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups == nil {
		g.groups = map[string]*insertGroup{}
	}
	ig := g.groups[name]
	if ig == nil {
		ig = &insertGroup{}
		g.groups[name] = ig
	}
	return ig
}

// groupInsert inserts doc into c together with the inserts queued meanwhile.
func (c *Collection) groupInsert(ctx context.Context, doc any) (*mongo.InsertOneResult, error) {
	g := c.s.inserts.get(c.name)
	r := &insertReq{doc: doc}
	g.qmu.Lock()
	g.queue = append(g.queue, r)
	g.qmu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	for !r.done {
		g.qmu.Lock()
		n := min(len(g.queue), maxInsertBatch)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.qmu.Unlock()
		c.writeBatch(ctx, batch)
	}
	return r.res, r.err
}

// writeBatch inserts the batch's documents and sets each request's outcome.
func (c *Collection) writeBatch(ctx context.Context, batch []*insertReq) {
	if len(batch) == 1 {
		r := batch[0]
		ctx, cancel := c.s.opCtx(ctx)
		defer cancel()
		leave, err := c.s.gate.enter(ctx)
		if err != nil {
			r.err, r.done = wrap(c.name, "insert", err), true
			return
		}
		r.res, r.err = c.c.InsertOne(ctx, r.doc)
		leave()
		r.err, r.done = wrap(c.name, "insert", r.err), true
		return
	}
	// The others' documents too: one caller going away must not fail them.
	ctx, cancel := c.s.opCtx(context.WithoutCancel(ctx))
	defer cancel()
	leave, err := c.s.gate.enter(ctx)
	if err != nil {
		for _, r := range batch {
			r.err, r.done = wrap(c.name, "insert", err), true
		}
		return
	}
	docs := make([]any, len(batch))
	for i, r := range batch {
		docs[i] = r.doc
	}
	res, err := c.c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	leave()
	var bwe mongo.BulkWriteException
	perDoc := map[int]mongo.WriteError{}
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil {
		for _, we := range bwe.WriteErrors {
			perDoc[we.Index] = we.WriteError
		}
	}
	// The driver lists the ids of the documents stored, in order.
	var stored []any
	if res != nil && len(res.InsertedIDs) == len(batch)-len(perDoc) {
		stored = res.InsertedIDs
	}
	for i, r := range batch {
		r.done = true
		switch we, ok := perDoc[i]; {
		case ok:
			we.Index = 0
			r.err = wrap(c.name, "insert", mongo.WriteException{WriteErrors: []mongo.WriteError{we}})
		case err != nil && len(perDoc) == 0:
			// The whole batch failed (or its outcome is unknown).
			r.err = wrap(c.name, "insert", err)
		default:
			r.res = &mongo.InsertOneResult{Acknowledged: true}
			if len(stored) > 0 {
				r.res.InsertedID, stored = stored[0], stored[1:]
			}
		}
	}
}
