package journal

import (
	"context"
	"errors"
	"fmt"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Rewrite calls fn on every item of key's list, oldest first, and writes
// back each chunk document and piece in which fn changed something; it
// returns how many items changed. Journals are append-only for everything
// but this: erasing a deleted account's name from a street's logs. It reads
// every chunk and piece of the key from the database, so it is for rare
// maintenance, never a hot path. Items other writers append meanwhile are
// reached too: it goes over the list again until it finds no new item.
// Chunks already written stay written if it fails midway: fn must give the
// same result when run again on its own output.
func (j *Journal[T]) Rewrite(ctx context.Context, key string, fn func(*T) bool) (int, error) {
	h := j.head(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	j.dropTail(h) // the pieces it kept may change
	size := int64(j.size)
	changed := 0
	done := int64(0) // chunks [0, done) rewritten whole
	for pass := 0; ; pass++ {
		if pass == maxLost {
			return changed, fmt.Errorf("journal: %s: appends never stop", key)
		}
		n, err := j.length(ctx, key, h)
		if err != nil {
			return changed, err
		}
		last := (n + size - 1) / size // chunks holding items
		if done >= last {
			return changed, nil
		}
		for c := done; c < last; c++ {
			complete := (c+1)*size <= n
			if complete {
				// A chunk complete in pieces gets its copy first, so
				// that no later copy is made from pieces not rewritten.
				if err := j.copyChunk(ctx, key, c); err != nil {
					return changed, err
				}
			}
			k, err := j.rewriteChunk(ctx, key, c, fn)
			changed += k
			if err != nil {
				return changed, err
			}
			if complete {
				done = c + 1
			}
		}
		if n%size != 0 {
			// The last chunk was not complete: go over it again only
			// if it grew, and then only for the changes fn still makes.
			m, err := j.length(ctx, key, h)
			if err != nil {
				return changed, err
			}
			if m == n {
				return changed, nil
			}
		}
	}
}

// rewriteChunk runs fn on chunk n's document and pieces and writes back
// those it changed; it counts each changed item once.
func (j *Journal[T]) rewriteChunk(ctx context.Context, key string, n int64, fn func(*T) bool) (int, error) {
	var doc struct {
		ID    string `bson:"_id"`
		Items []T    `bson:"items"`
		PF    int    `bson:"pf,omitempty"`
	}
	err := j.c.FindOne(ctx, bson.M{"_id": chunkID(key, n)}, &doc)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("journal: %s chunk %d: %w", key, n, err)
	}
	exists := err == nil
	changed := 0
	if exists {
		dirty := 0
		for i := range doc.Items {
			if fn(&doc.Items[i]) {
				dirty++
			}
		}
		if dirty > 0 {
			if _, err := j.c.UpdateOne(ctx, bson.M{"_id": doc.ID}, bson.M{"$set": bson.M{"items": doc.Items}}); err != nil {
				return changed, err
			}
			changed += dirty
		}
	}
	// Where the pieces start: after a chunk grown by $push; none in a chunk
	// an earlier version wrote whole.
	from := 0
	switch {
	case exists && len(doc.Items) >= j.size && doc.PF == 0:
		return changed, nil
	case exists && len(doc.Items) >= j.size:
		from = doc.PF - 1
	case exists:
		from = len(doc.Items)
	}
	for i := from; i < j.size; i++ {
		var p pieceDoc[T]
		err := j.c.FindOne(ctx, bson.M{"_id": pieceID(key, n, i)}, &p)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return changed, err
		}
		if !fn(&p.Item) {
			continue
		}
		if _, err := j.c.UpdateOne(ctx, bson.M{"_id": p.ID}, bson.M{"$set": bson.M{"item": p.Item}}); err != nil {
			return changed, err
		}
		if i >= len(doc.Items) { // counted in the chunk's copy otherwise
			changed++
		}
	}
	return changed, nil
}
