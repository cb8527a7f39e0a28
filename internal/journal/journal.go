// Package journal keeps append-only lists per key (a street's posts in order,
// its audit log, its roster) in fixed-size chunk documents addressed by _id.
//
// The embedded FerretDB answers only a plain _id equality without scanning the
// whole collection, so a list that must be read in order without scanning is
// cut into chunks whose _id is derived from the key and the chunk number: an
// item's position alone tells which document holds it. Reading a page costs
// one or two _id lookups whatever the size of the database.
//
// A journal assumes it is the only writer of its keys (one server process per
// database, as with the embedded engine): it keeps each key's last chunk in
// memory and appends under a per-key lock.
//
// The last chunk, until it is full, is written as pieces: one small
// document per item (_id key#n.i), inserted, never updated. Appending with
// $push made the embedded engine read, rewrite and sync the whole chunk
// (up to 256 items) for every post, one street at a time; an insert of a
// piece joins the other inserts of the moment in one transaction (see
// store's group commit). When a chunk fills up it is written whole as one
// document, and its pieces are no longer read. A last chunk written with
// $push by an earlier version is still appended to that way until full.
package journal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Journal is a set of append-only lists of T, one per key.
type Journal[T any] struct {
	c    *store.Collection
	size int

	mu    sync.Mutex
	heads map[string]*head[T]
}

// head is what a journal knows of one key: how many chunks it has and the
// items of the last one.
type head[T any] struct {
	mu     sync.Mutex
	loaded bool
	chunks int64
	tail   []T
	pieces bool // the last chunk is stored as pieces, not as a chunk document

	// Appends waiting for mu (qmu guards queue): whoever gets mu next
	// writes them all at once (group commit, see Append).
	qmu   sync.Mutex
	queue []*appendReq[T]
}

// appendReq is one Append call waiting to be written; first and err are
// set, and done made true, by the writer while it holds head.mu.
type appendReq[T any] struct {
	items []T
	first int64
	err   error
	done  bool
}

type chunkDoc[T any] struct {
	ID    string `bson:"_id"`
	Items []T    `bson:"items"`
}

// pieceDoc is one item of a last chunk not yet full.
type pieceDoc[T any] struct {
	ID   string `bson:"_id"`
	Item T      `bson:"item"`
}

// metaDoc records the chunk count; it may lag by one after a crash, which
// load repairs by probing the next chunk.
type metaDoc struct {
	ID     string `bson:"_id"`
	Chunks int64  `bson:"chunks"`
}

// New returns a journal kept in collection, chunkSize items per document.
func New[T any](st *store.Store, collection string, chunkSize int) *Journal[T] {
	if chunkSize <= 0 {
		chunkSize = 256
	}
	return &Journal[T]{c: st.Collection(collection), size: chunkSize, heads: map[string]*head[T]{}}
}

// ChunkSize is how many items one document holds.
func (j *Journal[T]) ChunkSize() int { return j.size }

func chunkID(key string, n int64) string { return key + "#" + strconv.FormatInt(n, 10) }

func pieceID(key string, n int64, i int) string { return chunkID(key, n) + "." + strconv.Itoa(i) }

func (j *Journal[T]) head(key string) *head[T] {
	j.mu.Lock()
	defer j.mu.Unlock()
	h := j.heads[key]
	if h == nil {
		h = &head[T]{}
		j.heads[key] = h
	}
	return h
}

// load reads the key's chunk count and last chunk once per process; h.mu is held.
func (j *Journal[T]) load(ctx context.Context, key string, h *head[T]) error {
	if h.loaded {
		return nil
	}
	var m metaDoc
	err := j.c.FindOne(ctx, bson.M{"_id": key}, &m)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	n := max(m.Chunks-1, 0)
	var last chunkDoc[T]
	found := false
	for {
		var c chunkDoc[T]
		err := j.c.FindOne(ctx, bson.M{"_id": chunkID(key, n)}, &c)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		last, found = c, true
		n++
	}
	if found && len(last.Items) < j.size { // a last chunk grown by $push
		h.chunks, h.tail, h.pieces, h.loaded = n, last.Items, false, true
		return nil
	}
	// After the last full chunk, the next one may have pieces.
	var tail []T
	for i := range j.size {
		var p pieceDoc[T]
		err := j.c.FindOne(ctx, bson.M{"_id": pieceID(key, n, i)}, &p)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		tail = append(tail, p.Item)
	}
	switch {
	case len(tail) > 0:
		h.chunks, h.tail, h.pieces = n+1, tail, true
	case found:
		h.chunks, h.tail, h.pieces = n, last.Items, false
	default:
		h.chunks, h.tail, h.pieces = 0, nil, false
	}
	h.loaded = true
	return nil
}

func (j *Journal[T]) length(h *head[T]) int64 {
	if h.chunks == 0 {
		return 0
	}
	return (h.chunks-1)*int64(j.size) + int64(len(h.tail))
}

// Len is the number of items in key's list.
func (j *Journal[T]) Len(ctx context.Context, key string) (int64, error) {
	h := j.head(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := j.load(ctx, key, h); err != nil {
		return 0, err
	}
	return j.length(h), nil
}

// Append adds items at the end of key's list and returns the position of
// the first one. Items are written in order: on an error, a prefix of them
// may have been appended.
//
// Concurrent appends to one key are group-committed: a caller queues its
// items, and whoever holds the key's lock next writes every queued item in
// one database write, in queue order, then hands each caller its position
// and the write's outcome. A caller returns only once its items are
// written (or failed), so nothing is acknowledged before it is stored; a
// key shared by the whole server (the expiry list of a day) then costs one
// write per batch instead of one per caller waiting in line.
func (j *Journal[T]) Append(ctx context.Context, key string, items ...T) (int64, error) {
	h := j.head(key)
	r := &appendReq[T]{items: items}
	h.qmu.Lock()
	h.queue = append(h.queue, r)
	h.qmu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.done { // written by the previous holder
		return r.first, r.err
	}
	h.qmu.Lock()
	batch := h.queue
	h.queue = nil
	h.qmu.Unlock()
	var all []T
	if len(batch) == 1 {
		all = items
	} else {
		n := 0
		for _, b := range batch {
			n += len(b.items)
		}
		all = make([]T, 0, n)
		for _, b := range batch {
			all = append(all, b.items...)
		}
	}
	wctx := ctx
	if len(batch) > 1 {
		// The others' items too: one caller going away must not fail
		// them (the store still bounds every operation).
		wctx = context.WithoutCancel(ctx)
	}
	first, err := j.appendLocked(wctx, key, h, all)
	for _, b := range batch {
		b.first, b.err, b.done = first, err, true
		first += int64(len(b.items))
	}
	return r.first, r.err
}

// appendLocked writes items at the end of key's list; h.mu is held.
func (j *Journal[T]) appendLocked(ctx context.Context, key string, h *head[T], items []T) (int64, error) {
	if err := j.load(ctx, key, h); err != nil {
		return 0, err
	}
	first := j.length(h)
	for len(items) > 0 {
		if h.chunks > 0 && len(h.tail) < j.size {
			n := min(j.size-len(h.tail), len(items))
			batch := items[:n]
			var err error
			switch {
			case !h.pieces:
				_, err = j.c.UpdateOne(ctx, bson.M{"_id": chunkID(key, h.chunks-1)},
					bson.M{"$push": bson.M{"items": bson.M{"$each": batch}}})
			case len(h.tail)+n == j.size:
				full := append(append(make([]T, 0, j.size), h.tail...), batch...)
				if err = j.writeChunk(ctx, key, h, h.chunks-1, full); err == nil {
					h.tail, h.pieces = full, false
					items = items[n:]
					continue
				}
			default:
				err = j.writePieces(ctx, key, h.chunks-1, len(h.tail), batch)
			}
			if err != nil {
				h.loaded = false // a prefix may be written: read it again
				return first, err
			}
			h.tail = append(h.tail[:len(h.tail):len(h.tail)], batch...)
			items = items[n:]
			continue
		}
		n := min(j.size, len(items))
		batch := append([]T(nil), items[:n]...)
		if n == j.size {
			if err := j.writeChunk(ctx, key, h, h.chunks, batch); err != nil {
				return first, err
			}
		} else if err := j.writePieces(ctx, key, h.chunks, 0, batch); err != nil {
			h.loaded = false
			return first, err
		}
		h.chunks++
		h.tail, h.pieces = batch, n < j.size
		items = items[n:]
	}
	return first, nil
}

// writePieces inserts items as pieces of chunk n from index from, in order:
// on an error a prefix of them may be written.
func (j *Journal[T]) writePieces(ctx context.Context, key string, n int64, from int, items []T) error {
	docs := make([]any, len(items))
	for i, it := range items {
		docs[i] = pieceDoc[T]{ID: pieceID(key, n, from+i), Item: it}
	}
	var err error
	if len(docs) == 1 {
		_, err = j.c.InsertOne(ctx, docs[0]) // grouped with other keys' inserts
	} else {
		err = j.c.InsertMany(ctx, docs)
	}
	if store.IsDuplicate(err) {
		return fmt.Errorf("journal: %s: concurrent writer: %w", key, err)
	}
	return err
}

// writeChunk writes the full chunk n as one document, then the chunk count.
func (j *Journal[T]) writeChunk(ctx context.Context, key string, h *head[T], n int64, items []T) error {
	if _, err := j.c.InsertOne(ctx, chunkDoc[T]{ID: chunkID(key, n), Items: items}); err != nil {
		if store.IsDuplicate(err) {
			// Another writer got there: forget what we knew and let
			// the caller retry on fresh state.
			h.loaded = false
			return fmt.Errorf("journal: %s: concurrent writer: %w", key, err)
		}
		return err
	}
	if _, err := j.c.UpdateOne(ctx, bson.M{"_id": key}, bson.M{"$set": bson.M{"chunks": n + 1}},
		options.UpdateOne().SetUpsert(true)); err != nil {
		// The chunk exists; the next load finds it by probing.
		h.loaded = false
		return err
	}
	return nil
}

// Range returns the items at positions [from, to) of key's list, clipped to
// what exists.
func (j *Journal[T]) Range(ctx context.Context, key string, from, to int64) ([]T, error) {
	h := j.head(key)
	h.mu.Lock()
	if err := j.load(ctx, key, h); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	total := j.length(h)
	tailStart := (h.chunks - 1) * int64(j.size)
	tail := h.tail[:len(h.tail):len(h.tail)]
	h.mu.Unlock()
	from, to = max(from, 0), min(to, total)
	if from >= to {
		return nil, nil
	}
	out := make([]T, 0, to-from)
	size := int64(j.size)
	for pos := from; pos < to; {
		n := pos / size
		end := min((n+1)*size, to)
		var items []T
		if n*size == tailStart {
			items = tail
		} else {
			var c chunkDoc[T]
			if err := j.c.FindOne(ctx, bson.M{"_id": chunkID(key, n)}, &c); err != nil {
				return nil, fmt.Errorf("journal: %s chunk %d: %w", key, n, err)
			}
			items = c.Items
		}
		lo, hi := pos-n*size, end-n*size
		if hi > int64(len(items)) {
			return nil, fmt.Errorf("journal: %s chunk %d is short", key, n)
		}
		out = append(out, items[lo:hi]...)
		pos = end
	}
	return out, nil
}

// All returns every item of key's list, for small lists (a user's streets).
func (j *Journal[T]) All(ctx context.Context, key string) ([]T, error) {
	n, err := j.Len(ctx, key)
	if err != nil {
		return nil, err
	}
	return j.Range(ctx, key, 0, n)
}

// Forget drops what the journal keeps in memory for key, so the next use
// reads it again (tests simulate a restart with it).
func (j *Journal[T]) Forget(key string) {
	j.mu.Lock()
	delete(j.heads, key)
	j.mu.Unlock()
}
