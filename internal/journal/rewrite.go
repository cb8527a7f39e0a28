package journal

import (
	"context"
	"errors"
	"fmt"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Rewrite calls fn on every item of key's list, oldest first, and writes
// back each chunk in which fn changed something; it returns how many items
// changed. Journals are append-only for everything but this: erasing a
// deleted account's name from a street's logs. It reads every chunk of the
// key, so it is for rare maintenance, never a hot path; appends to key wait
// until it is done. Chunks already written stay written if it fails midway:
// fn must give the same result when run again on its own output.
func (j *Journal[T]) Rewrite(ctx context.Context, key string, fn func(*T) bool) (int, error) {
	h := j.head(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := j.load(ctx, key, h); err != nil {
		return 0, err
	}
	changed := 0
	for n := int64(0); n < h.chunks; n++ {
		if n == h.chunks-1 && h.pieces {
			dirty, err := j.rewritePieces(ctx, key, h, fn)
			changed += dirty
			if err != nil {
				return changed, err
			}
			continue
		}
		var c chunkDoc[T]
		err := j.c.FindOne(ctx, bson.M{"_id": chunkID(key, n)}, &c)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return changed, fmt.Errorf("journal: %s chunk %d: %w", key, n, err)
		}
		dirty := 0
		for i := range c.Items {
			if fn(&c.Items[i]) {
				dirty++
			}
		}
		if dirty == 0 {
			continue
		}
		if _, err := j.c.UpdateOne(ctx, bson.M{"_id": c.ID}, bson.M{"$set": bson.M{"items": c.Items}}); err != nil {
			// Memory may now disagree with the database: read it again.
			h.loaded = false
			return changed, err
		}
		changed += dirty
		if n == h.chunks-1 {
			// A new slice: readers may hold the old tail.
			h.tail = c.Items
		}
	}
	return changed, nil
}

// rewritePieces runs fn on the last chunk's pieces and writes back those
// it changed; h.mu is held.
func (j *Journal[T]) rewritePieces(ctx context.Context, key string, h *head[T], fn func(*T) bool) (int, error) {
	tail := append([]T(nil), h.tail...)
	changed := 0
	for i := range tail {
		if !fn(&tail[i]) {
			continue
		}
		if _, err := j.c.UpdateOne(ctx, bson.M{"_id": pieceID(key, h.chunks-1, i)}, bson.M{"$set": bson.M{"item": tail[i]}}); err != nil {
			h.loaded = false
			return changed, err
		}
		changed++
	}
	h.tail = tail // a new slice: readers may hold the old tail
	return changed, nil
}
