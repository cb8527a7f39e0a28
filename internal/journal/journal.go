// Package journal keeps append-only lists per key (a street's posts in order,
// its audit log, its roster) in fixed-size chunk documents addressed by _id.
//
// The embedded FerretDB answers only a plain _id equality without scanning the
// whole collection, so a list that must be read in order without scanning is
// cut into chunks whose _id is derived from the key and the chunk number: an
// item's position alone tells which document holds it. Reading a page costs
// one or two _id lookups whatever the size of the database.
//
// Every item is first written as a piece: one small document per item
// (_id key#n.i), inserted, never updated but by Rewrite. The piece's unique
// _id is what allocates its position, so any number of writers (server
// processes, or journals in one process) may append to one key: a writer
// that loses a position to another (a duplicate _id) looks at the database
// again and takes the next free one. Nothing else is shared: no counter is
// incremented (FerretDB's $inc is not atomic across processes; its unique
// _id is). When a chunk's last piece is written, the writer copies the
// chunk's pieces into one chunk document (key#n), which readers prefer; the
// pieces stay, and a chunk whose copy was never made (a crash) is read from
// its pieces.
//
// A journal remembers of each key only how long the list was last seen,
// which can only grow: every read looks in the database for what other
// writers appended since (one _id lookup when nothing was), and no item is
// served from memory, so a Rewrite by another writer is seen at once. An
// append writes at that length without looking (one insert): a position
// another writer took since makes it a duplicate, and only then does it
// look.
//
// A last chunk grown with $push by an earlier version (a chunk document
// with fewer items than a chunk holds) is continued with pieces from its
// length on, and completed in place.
package journal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxLost bounds how often one append may lose positions to other writers
// in a row; each loss means another writer appended, so reaching it takes
// a storm of appends to one key.
const maxLost = 1000

// Journal is a set of append-only lists of T, one per key.
type Journal[T any] struct {
	c        *store.Collection
	size     int
	embedded bool

	mu    sync.Mutex
	heads map[string]*head[T]

	// tailBytes is what the heads' tails hold in all, within maxTail.
	tailBytes atomic.Int64
}

// maxTail bounds the bytes of items one journal keeps for its chunk
// copies: a journal of many keys with large items (conversations) falls
// back to reading the pieces of its chunks back.
const maxTail = 1 << 20

// head is what a journal keeps of one key: a lower bound of its length and
// the queue of this process's appends.
type head[T any] struct {
	// mu orders this journal's appends to the key (fewer lost positions)
	// and its Rewrite against its own chunk copies.
	mu sync.Mutex

	kmu   sync.Mutex
	known int64 // positions [0, known) hold items; items are never removed
	meta  bool  // the chunk count was read

	// Appends waiting for mu (qmu guards queue): whoever gets mu next
	// writes them all at once (group commit, see Append).
	qmu   sync.Mutex
	queue []*appendReq[T]

	// tail is what this journal wrote of chunk tailN, from its first
	// piece on, when it wrote every piece of it so far (embedded engine
	// only, where no other process writes; guarded by mu): the chunk's
	// copy is then made from it instead of one read per piece. tailBytes
	// is its share of Journal.tailBytes.
	tailN     int64
	tail      []bson.RawValue
	tailBytes int64
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

// rawChunk is a chunk as copied from its pieces, without decoding them. PF
// is one more than the index of its first piece (0: a chunk written whole
// by an earlier version, with no pieces).
type rawChunk struct {
	ID    string          `bson:"_id"`
	Items []bson.RawValue `bson:"items"`
	PF    int             `bson:"pf,omitempty"`
}

// pieceDoc is one item of a chunk; W names the append that wrote it.
type pieceDoc[T any] struct {
	ID   string `bson:"_id"`
	Item T      `bson:"item"`
	W    string `bson:"w,omitempty"`
}

type rawPiece struct {
	ID   string        `bson:"_id"`
	Item bson.RawValue `bson:"item"`
	W    string        `bson:"w,omitempty"`
}

// metaDoc records how many chunks are copied whole; it may lag, which
// reads repair by probing.
type metaDoc struct {
	ID     string `bson:"_id"`
	Chunks int64  `bson:"chunks"`
}

// New returns a journal kept in collection, chunkSize items per document.
func New[T any](st *store.Store, collection string, chunkSize int) *Journal[T] {
	if chunkSize <= 0 {
		chunkSize = 256
	}
	return &Journal[T]{c: st.Collection(collection), size: chunkSize, embedded: st.Embedded(), heads: map[string]*head[T]{}}
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

func (h *head[T]) advance(n int64) {
	h.kmu.Lock()
	h.known = max(h.known, n)
	h.kmu.Unlock()
}

// length finds key's current length in the database, from what this
// journal saw last: one lookup when nothing was appended since.
func (j *Journal[T]) length(ctx context.Context, key string, h *head[T]) (int64, error) {
	h.kmu.Lock()
	n, meta := h.known, h.meta
	h.kmu.Unlock()
	size := int64(j.size)
	if !meta {
		var m metaDoc
		err := j.c.FindOne(ctx, bson.M{"_id": key}, &m)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		// An earlier version counted a last chunk grown by $push.
		n = max(n, (m.Chunks-1)*size)
		h.kmu.Lock()
		h.meta = true
		h.kmu.Unlock()
	}
	for {
		c, i := n/size, int(n%size)
		if i == 0 {
			var doc rawChunk
			err := j.c.FindOne(ctx, bson.M{"_id": chunkID(key, c)}, &doc)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return 0, err
			case len(doc.Items) >= j.size:
				n += size
				continue
			default: // grown by $push: pieces follow its items
				n += int64(len(doc.Items))
				i = len(doc.Items)
			}
		}
		var p rawPiece
		err := j.c.FindOne(ctx, bson.M{"_id": pieceID(key, c, i)}, &p, options.FindOne().SetProjection(bson.M{"_id": 1}))
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return 0, err
		}
		n++
	}
	h.advance(n)
	return n, nil
}

// Len is the number of items in key's list.
func (j *Journal[T]) Len(ctx context.Context, key string) (int64, error) {
	return j.length(ctx, key, j.head(key))
}

// Append adds items at the end of key's list and returns the position of
// the first one. Items are written in order; when other writers append to
// the key at the same moment, theirs may come between them (positions
// increase, and are contiguous unless another writer took one meanwhile).
// On an error, some of them may have been appended.
//
// Concurrent appends to one key in one journal are group-committed: a
// caller queues its items, and whoever holds the key's lock next writes
// every queued item in one database write, in queue order, then hands each
// caller its position and the write's outcome. A caller returns only once
// its items are written (or failed), so nothing is acknowledged before it
// is stored; a key shared by the whole server (the expiry list of a day)
// then costs one write per batch instead of one per caller waiting in line.
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
	pos, end, err := j.appendLocked(wctx, key, h, all)
	k := 0
	for _, b := range batch {
		b.first, b.err, b.done = end, err, true
		if len(b.items) > 0 && k < len(pos) {
			b.first = pos[k]
		}
		k += len(b.items)
	}
	return r.first, r.err
}

func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// appendLocked writes items at the end of key's list and returns the
// position of each item written, and the list's length; h.mu is held.
func (j *Journal[T]) appendLocked(ctx context.Context, key string, h *head[T], items []T) ([]int64, int64, error) {
	// Once the key's length was read, write at the length last seen
	// without looking first: if another writer appended since, the first
	// piece's _id is taken and the loop below looks again. Items are never
	// removed, so a position this journal saw filled stays filled, and a
	// stale length can only collide, never leave a gap.
	h.kmu.Lock()
	n, seen := h.known, h.meta
	h.kmu.Unlock()
	if !seen {
		var err error
		if n, err = j.length(ctx, key, h); err != nil {
			return nil, 0, err
		}
	}
	pos := make([]int64, 0, len(items))
	w := nonce()
	size := int64(j.size)
	for lost := 0; len(pos) < len(items); {
		c, i := n/size, int(n%size)
		k := min(j.size-i, len(items)-len(pos))
		batch := items[len(pos) : len(pos)+k]
		err := j.writePieces(ctx, key, c, i, batch, w)
		j.remember(h, c, i, batch, err)
		if err != nil {
			// A prefix of the batch may be written: ours bear w.
			placed, perr := j.ours(ctx, key, c, i, k, w)
			if perr != nil {
				return pos, n, errors.Join(err, perr)
			}
			for p := range placed {
				pos = append(pos, n+int64(p))
			}
			n += int64(placed)
			h.advance(n)
			if !store.IsDuplicate(err) {
				return pos, n, err
			}
			// Another writer took the next position: look again.
			if lost++; lost > maxLost {
				return pos, n, fmt.Errorf("journal: %s: %d positions lost to other writers: %w", key, lost, err)
			}
			if n, err = j.length(ctx, key, h); err != nil {
				return pos, n, err
			}
			continue
		}
		for p := range k {
			pos = append(pos, n+int64(p))
		}
		n += int64(k)
		h.advance(n)
		if n%size == 0 {
			// The chunk is complete: copy it whole for readers. A
			// failure costs readers lookups, never an item.
			if h.tailN == c && len(h.tail) == j.size {
				_ = j.writeCopy(ctx, key, c, false, 0, h.tail)
			} else {
				_ = j.copyChunk(ctx, key, c)
			}
			j.dropTail(h)
		}
	}
	return pos, n, nil
}

// remember keeps the items just written at index i of chunk c in h's tail
// when they continue it; anything else (an error, a gap, another writer's
// pieces before them, no room left within maxTail) drops it. h.mu is held.
func (j *Journal[T]) remember(h *head[T], c int64, i int, items []T, err error) {
	if !j.embedded || err != nil || (i > 0 && (h.tailN != c || len(h.tail) != i)) {
		j.dropTail(h)
		return
	}
	if i == 0 {
		j.dropTail(h)
		h.tailN = c
	}
	for _, it := range items {
		t, b, err := bson.MarshalValue(it)
		if err != nil || j.tailBytes.Add(int64(len(b))) > maxTail {
			if err == nil {
				j.tailBytes.Add(-int64(len(b)))
			}
			j.dropTail(h)
			return
		}
		h.tailBytes += int64(len(b))
		h.tail = append(h.tail, bson.RawValue{Type: t, Value: b})
	}
}

// dropTail forgets h's tail; h.mu is held.
func (j *Journal[T]) dropTail(h *head[T]) {
	j.tailBytes.Add(-h.tailBytes)
	h.tail, h.tailBytes = nil, 0
}

// writePieces inserts items as pieces of chunk n from index from, in order.
func (j *Journal[T]) writePieces(ctx context.Context, key string, n int64, from int, items []T, w string) error {
	docs := make([]any, len(items))
	for i, it := range items {
		docs[i] = pieceDoc[T]{ID: pieceID(key, n, from+i), Item: it, W: w}
	}
	if len(docs) == 1 {
		_, err := j.c.InsertOne(ctx, docs[0]) // grouped with other keys' inserts
		return err
	}
	return j.c.InsertMany(ctx, docs)
}

// ours counts the pieces of chunk n from index from (at most k) written by
// the append w, up to the first one that is not.
func (j *Journal[T]) ours(ctx context.Context, key string, n int64, from, k int, w string) (int, error) {
	for i := range k {
		var p rawPiece
		err := j.c.FindOne(ctx, bson.M{"_id": pieceID(key, n, from+i)}, &p, options.FindOne().SetProjection(bson.M{"w": 1}))
		if errors.Is(err, store.ErrNotFound) {
			return i, nil
		}
		if err != nil {
			return i, err
		}
		if p.W != w {
			return i, nil
		}
	}
	return k, nil
}

// pieces returns the raw pieces of chunk n at indexes [from, to) that exist,
// by index.
func (j *Journal[T]) pieces(ctx context.Context, key string, n int64, from, to int) (map[int]rawPiece, error) {
	out := map[int]rawPiece{}
	if from >= to {
		return out, nil
	}
	if !j.embedded {
		// One range read of the chunk's pieces ("key#n." < _id < "key#n/").
		prefix := chunkID(key, n) + "."
		var docs []rawPiece
		if err := j.c.FindAll(ctx, bson.M{"_id": bson.M{"$gt": prefix, "$lt": chunkID(key, n) + "/"}}, &docs); err != nil {
			return nil, err
		}
		for _, d := range docs {
			i, err := strconv.Atoi(strings.TrimPrefix(d.ID, prefix))
			if err == nil && i >= from && i < to {
				out[i] = d
			}
		}
		return out, nil
	}
	// The embedded engine scans for anything but an _id equality.
	for i := from; i < to; i++ {
		var p rawPiece
		err := j.c.FindOne(ctx, bson.M{"_id": pieceID(key, n, i)}, &p)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// copyChunk writes chunk n, complete in pieces, as one chunk document, then
// raises the chunk count. Writing it again is harmless.
func (j *Journal[T]) copyChunk(ctx context.Context, key string, n int64) error {
	var doc rawChunk
	err := j.c.FindOne(ctx, bson.M{"_id": chunkID(key, n)}, &doc)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	exists := err == nil
	if len(doc.Items) >= j.size {
		return nil
	}
	from := len(doc.Items)
	ps, err := j.pieces(ctx, key, n, from, j.size)
	if err != nil {
		return err
	}
	items := append([]bson.RawValue(nil), doc.Items...)
	for i := from; i < j.size; i++ {
		p, ok := ps[i]
		if !ok {
			return nil // not complete
		}
		items = append(items, p.Item)
	}
	return j.writeCopy(ctx, key, n, exists, from, items)
}

// writeCopy writes chunk n's copy (items, whose pieces start at from) and
// raises the chunk count; exists says a chunk document grown by $push
// holds the items before from.
func (j *Journal[T]) writeCopy(ctx context.Context, key string, n int64, exists bool, from int, items []bson.RawValue) error {
	var err error
	if exists { // grown by $push: completed in place, once
		_, err = j.c.UpdateOne(ctx, bson.M{"_id": chunkID(key, n), "items." + strconv.Itoa(j.size-1): bson.M{"$exists": false}},
			bson.M{"$set": bson.M{"items": items, "pf": from + 1}})
	} else if _, err = j.c.InsertOne(ctx, rawChunk{ID: chunkID(key, n), Items: items, PF: from + 1}); store.IsDuplicate(err) {
		err = nil
	}
	if err != nil {
		return err
	}
	if !j.embedded {
		// A Rewrite by another process may have changed pieces after we
		// read them and looked for this copy before we wrote it: read
		// them again and carry their change over. (On the embedded engine
		// one process writes, and Rewrite and copies take the key's lock.)
		again, err := j.pieces(ctx, key, n, from, j.size)
		if err != nil {
			return err
		}
		changed := false
		for i := from; i < j.size; i++ {
			if p, ok := again[i]; ok && !bytes.Equal(p.Item.Value, items[i].Value) {
				items[i], changed = p.Item, true
			}
		}
		if changed {
			if _, err := j.c.UpdateOne(ctx, bson.M{"_id": chunkID(key, n)}, bson.M{"$set": bson.M{"items": items}}); err != nil {
				return err
			}
		}
	}
	_, err = j.c.UpdateOne(ctx, bson.M{"_id": key}, bson.M{"$max": bson.M{"chunks": n + 1}}, options.UpdateOne().SetUpsert(true))
	if store.IsDuplicate(err) { // two first upserts at once
		_, err = j.c.UpdateOne(ctx, bson.M{"_id": key}, bson.M{"$max": bson.M{"chunks": n + 1}})
	}
	return err
}

// read returns the items of chunk n at indexes [lo, hi), all known to exist.
func (j *Journal[T]) read(ctx context.Context, key string, n int64, lo, hi int) ([]T, error) {
	var doc chunkDoc[T]
	err := j.c.FindOne(ctx, bson.M{"_id": chunkID(key, n)}, &doc)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("journal: %s chunk %d: %w", key, n, err)
	}
	if len(doc.Items) >= hi {
		return doc.Items[lo:hi], nil
	}
	out := make([]T, 0, hi-lo)
	for i := lo; i < min(hi, len(doc.Items)); i++ {
		out = append(out, doc.Items[i])
	}
	from := max(lo, len(doc.Items))
	if !j.embedded && hi-from > 1 {
		ps, err := j.pieces(ctx, key, n, from, hi)
		if err != nil {
			return nil, err
		}
		for i := from; i < hi; i++ {
			p, ok := ps[i]
			if !ok {
				return nil, fmt.Errorf("journal: %s chunk %d: piece %d is missing", key, n, i)
			}
			var it T
			if err := p.Item.Unmarshal(&it); err != nil {
				return nil, fmt.Errorf("journal: %s chunk %d piece %d: %w", key, n, i, err)
			}
			out = append(out, it)
		}
		return out, nil
	}
	for i := from; i < hi; i++ {
		var p pieceDoc[T]
		if err := j.c.FindOne(ctx, bson.M{"_id": pieceID(key, n, i)}, &p); err != nil {
			return nil, fmt.Errorf("journal: %s chunk %d piece %d: %w", key, n, i, err)
		}
		out = append(out, p.Item)
	}
	return out, nil
}

// Range returns the items at positions [from, to) of key's list, clipped to
// what exists, as the database holds them now.
func (j *Journal[T]) Range(ctx context.Context, key string, from, to int64) ([]T, error) {
	total, err := j.length(ctx, key, j.head(key))
	if err != nil {
		return nil, err
	}
	from, to = max(from, 0), min(to, total)
	if from >= to {
		return nil, nil
	}
	out := make([]T, 0, to-from)
	size := int64(j.size)
	for pos := from; pos < to; {
		n := pos / size
		end := min((n+1)*size, to)
		items, err := j.read(ctx, key, n, int(pos-n*size), int(end-n*size))
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
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
	h := j.heads[key]
	delete(j.heads, key)
	j.mu.Unlock()
	if h != nil {
		h.mu.Lock()
		j.dropTail(h)
		h.mu.Unlock()
	}
}

// Drop deletes key's list from the database (an erased account's own
// list): its chunks, its pieces and its count, under the key's lock, so
// that no append of this journal running meanwhile writes a chunk's copy
// from items it kept. The list is then empty; appends start it again.
func (j *Journal[T]) Drop(ctx context.Context, key string) error {
	h := j.head(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	j.dropTail(h)
	if _, err := j.c.DeleteMany(ctx, bson.M{"_id": bson.M{"$gt": key + "#", "$lt": key + "$"}}); err != nil {
		return fmt.Errorf("journal: drop %s: %w", key, err)
	}
	if _, err := j.c.DeleteOne(ctx, bson.M{"_id": key}); err != nil {
		return fmt.Errorf("journal: drop %s: %w", key, err)
	}
	h.kmu.Lock()
	h.known, h.meta = 0, false
	h.kmu.Unlock()
	return nil
}
