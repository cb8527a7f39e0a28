package posts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// On the embedded engine every read by _id is a SQLite lookup, and a feed
// page would read the street's journal and each post every time. So there
// a process keeps, per street, what its last feed reads found, tagged with
// the street's feed stamp: a value in the database that every change to
// the street's posts replaces, after the write (touch). A new post is not
// a change: it only lengthens the journal, whose length every page reads. A page first reads the
// stamp (one lookup) and serves from memory only while it is unchanged, so
// a change made through any process (the embedded engine is one process by
// construction, but tests run several services on it) shows at once. A
// reader reads the stamp before the posts, so what it keeps under a stamp
// is never older than the writes that stamp follows. On MongoDB nothing is
// kept: a page is one indexed query (see span).

// feedCache is what a process keeps of one street's feed.
type feedCache struct {
	mu     sync.Mutex
	stamp  string
	valid  bool // pinned was read under stamp
	pinned []string
	docs   map[string]*postDoc // read under stamp
	ids    map[int64]string    // journal positions: never change, kept across stamps
}

// maxCachedIDs bounds the positions kept per street.
const maxCachedIDs = 4096

func stampKey(streetID string) string { return "feedstamp:" + streetID }

type stampDoc struct {
	ID    string `bson:"_id"`
	Stamp string `bson:"stamp"`
}

// touch replaces the street's feed stamp after a write to its posts; a
// failure is logged (another process's cache may then show the old post
// until the street's next write).
func (s *Service) touch(ctx context.Context, streetID string) {
	if !s.embedded {
		return
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	_, err := s.state.UpdateOne(context.WithoutCancel(ctx), bson.M{"_id": stampKey(streetID)},
		bson.M{"$set": bson.M{"stamp": hex.EncodeToString(b[:])}}, options.UpdateOne().SetUpsert(true))
	if err != nil && !store.IsDuplicate(err) {
		s.log.Error("feed stamp not written", "street", streetID, "err", err)
	}
}

// cacheFor returns the street's cache as of the stamp now in the database,
// nil on MongoDB.
func (s *Service) cacheFor(ctx context.Context, streetID string) (*feedCache, string, error) {
	if !s.embedded {
		return nil, "", nil
	}
	var d stampDoc
	if err := s.state.FindOne(ctx, bson.M{"_id": stampKey(streetID)}, &d); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	s.cmu.Lock()
	fc := s.caches[streetID]
	if fc == nil {
		fc = &feedCache{ids: map[int64]string{}}
		s.caches[streetID] = fc
	}
	s.cmu.Unlock()
	fc.mu.Lock()
	if fc.stamp != d.Stamp || fc.docs == nil {
		fc.stamp, fc.valid, fc.docs = d.Stamp, false, map[string]*postDoc{}
	}
	fc.mu.Unlock()
	return fc, d.Stamp, nil
}

// feedHead returns the street's journal length and pinned ids, the pinned
// ones from the cache when read under stamp. The length is always asked of
// the journal (one lookup when nothing was appended): a new post does not
// replace the stamp, which spares every post a write on the engine's one
// writer for a read on the page's side.
func (s *Service) feedHead(ctx context.Context, fc *feedCache, stamp, streetID string) (int64, []string, error) {
	n, err := s.feedJ.Len(ctx, feedKey(streetID))
	if err != nil {
		return 0, nil, err
	}
	if fc != nil {
		fc.mu.Lock()
		if fc.valid && fc.stamp == stamp {
			p := fc.pinned
			fc.mu.Unlock()
			return n, p, nil
		}
		fc.mu.Unlock()
	}
	pinned, err := s.pinnedIDs(ctx, streetID)
	if err != nil {
		return 0, nil, err
	}
	if fc != nil {
		fc.mu.Lock()
		if fc.stamp == stamp {
			fc.pinned, fc.valid = pinned, true
		}
		fc.mu.Unlock()
	}
	return n, pinned, nil
}

// post reads a post of the feed, from the cache when read under stamp.
func (s *Service) post(ctx context.Context, fc *feedCache, stamp, id string) (*postDoc, error) {
	if fc != nil {
		fc.mu.Lock()
		d, ok := fc.docs[id]
		fc.mu.Unlock()
		if ok && d != nil {
			return d, nil
		}
	}
	d, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if fc != nil {
		fc.mu.Lock()
		if fc.stamp == stamp {
			fc.docs[id] = d
		}
		fc.mu.Unlock()
	}
	return d, nil
}

// feedIDs returns the ids at journal positions [from, to), from the cache
// where known.
func (s *Service) feedIDs(ctx context.Context, fc *feedCache, streetID string, from, to int64) ([]string, error) {
	if fc != nil {
		out := make([]string, 0, to-from)
		fc.mu.Lock()
		for p := from; p < to; p++ {
			id, ok := fc.ids[p]
			if !ok {
				break
			}
			out = append(out, id)
		}
		fc.mu.Unlock()
		if int64(len(out)) == to-from {
			return out, nil
		}
	}
	ids, err := s.feedJ.Range(ctx, feedKey(streetID), from, to)
	if err != nil {
		return nil, err
	}
	if fc != nil {
		fc.mu.Lock()
		if len(fc.ids)+len(ids) > maxCachedIDs {
			fc.ids = map[int64]string{}
		}
		for i, id := range ids {
			fc.ids[from+int64(i)] = id
		}
		fc.mu.Unlock()
	}
	return ids, nil
}
