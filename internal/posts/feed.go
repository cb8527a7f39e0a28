package posts

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// feed is what the service keeps in memory of one street's posts.
type feed struct {
	// wmu serialises writes to the street's posts (and their events) and
	// the window's first load.
	wmu sync.Mutex

	mu     sync.RWMutex
	loaded bool
	length int64    // posts in the street's journal
	ids    []string // ids at positions [length-len(ids), length); replaced, never changed in place
	inWin  map[string]bool
	pinned []string // replaced, never changed in place
	pinSet map[string]bool
	cache  map[string]*postDoc // posts in the window and pinned posts, as last written
}

type pinsDoc struct {
	ID  string   `bson:"_id"`
	IDs []string `bson:"ids"`
}

func feedKey(streetID string) string { return "feed:" + streetID }
func pinsKey(streetID string) string { return "pins:" + streetID }

func (s *Service) feed(streetID string) *feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.feeds[streetID]
	if f == nil {
		f = &feed{}
		s.feeds[streetID] = f
	}
	return f
}

// ready returns the street's feed, loading its window if needed.
func (s *Service) ready(ctx context.Context, streetID string) (*feed, error) {
	f := s.feed(streetID)
	f.mu.RLock()
	loaded := f.loaded
	f.mu.RUnlock()
	if loaded {
		return f, nil
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f, s.loadLocked(ctx, f, streetID)
}

// writing takes the street's write lock, with the window loaded; call the
// returned function to release it.
func (s *Service) writing(ctx context.Context, streetID string) (*feed, func(), error) {
	f := s.feed(streetID)
	f.wmu.Lock()
	if err := s.loadLocked(ctx, f, streetID); err != nil {
		f.wmu.Unlock()
		return nil, nil, err
	}
	return f, f.wmu.Unlock, nil
}

// loadLocked reads the window's positions and the pinned ids; f.wmu is held.
// Posts themselves are fetched when first read.
func (s *Service) loadLocked(ctx context.Context, f *feed, streetID string) error {
	f.mu.RLock()
	loaded := f.loaded
	f.mu.RUnlock()
	if loaded {
		return nil
	}
	n, err := s.feedJ.Len(ctx, feedKey(streetID))
	if err != nil {
		return err
	}
	ids, err := s.feedJ.Range(ctx, feedKey(streetID), n-int64(s.opts.Window), n)
	if err != nil {
		return err
	}
	var pins pinsDoc
	if err := s.state.FindOne(ctx, bson.M{"_id": pinsKey(streetID)}, &pins); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.length, f.ids, f.pinned = n, ids, pins.IDs
	f.inWin, f.pinSet, f.cache = map[string]bool{}, map[string]bool{}, map[string]*postDoc{}
	for _, id := range ids {
		f.inWin[id] = true
	}
	for _, id := range pins.IDs {
		f.pinSet[id] = true
	}
	f.loaded = true
	return nil
}

// invalidate makes the next use reload the window (after a failed write
// left memory and database possibly apart).
func (f *feed) invalidate() {
	f.mu.Lock()
	f.loaded = false
	f.mu.Unlock()
}

// get returns a post of the street, from memory when it is kept there; nil
// when the journal names a post that was never written (a crash between the
// two writes).
func (s *Service) get(ctx context.Context, f *feed, id string) (*postDoc, error) {
	f.mu.RLock()
	d := f.cache[id]
	f.mu.RUnlock()
	if d != nil {
		return d, nil
	}
	d, err := s.load(ctx, id)
	if errors.Is(err, ErrPostNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Only fill a gap: a writer that raced us has already put the newer copy.
	f.mu.Lock()
	if c := f.cache[id]; c != nil {
		d = c
	} else if f.inWin[id] || f.pinSet[id] {
		f.cache[id] = d
	}
	f.mu.Unlock()
	return d, nil
}

// put records a post as just written; f.wmu is held.
func (f *feed) put(d *postDoc) {
	id := d.ID.Hex()
	f.mu.Lock()
	if f.inWin[id] || f.pinSet[id] {
		f.cache[id] = d
	}
	f.mu.Unlock()
}

// appendPost adds a new post at the end of the window; f.wmu is held.
func (f *feed) appendPost(d *postDoc, window int) {
	id := d.ID.Hex()
	f.mu.Lock()
	defer f.mu.Unlock()
	keep := f.ids
	if len(keep) >= window {
		drop := keep[:len(keep)-window+1]
		keep = keep[len(drop):]
		for _, old := range drop {
			delete(f.inWin, old)
			if !f.pinSet[old] {
				delete(f.cache, old)
			}
		}
	}
	ids := make([]string, len(keep), len(keep)+1)
	copy(ids, keep)
	f.ids = append(ids, id)
	f.inWin[id] = true
	f.cache[id] = d
	f.length++
}

// setPinned replaces the pinned list; f.wmu is held.
func (f *feed) setPinned(ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	for id := range f.pinSet {
		if !set[id] && !f.inWin[id] {
			delete(f.cache, id)
		}
	}
	f.pinned, f.pinSet = ids, set
}

// Query filters and pages a street's feed.
type Query struct {
	Kind, Category string
	// Status is one status or several separated by commas; empty means all
	// but removed. Removed posts are listed to admins, and to their authors.
	Status string
	// Q is a text looked for, case-insensitively, in titles and bodies.
	Q      string
	Cursor string
	Limit  int
}

type filter struct {
	kind, category, q string
	statuses          map[string]bool
	limit             int
}

func parseQuery(q Query) (filter, error) {
	f := fault.Fields{}
	out := filter{kind: q.Kind, category: q.Category, q: strings.ToLower(strings.TrimSpace(q.Q)), limit: q.Limit}
	f.Check(q.Kind != "" && q.Kind != KindRequest && q.Kind != KindOffer, "kind", "invalid")
	f.Check(q.Category != "" && !categorySet[q.Category], "category", "invalid")
	f.Check(utf8.RuneCountInString(out.q) > MaxQueryLen, "q", "too_long")
	out.statuses = map[string]bool{}
	if q.Status == "" {
		for _, st := range []string{StatusOpen, StatusMatched, StatusDone, StatusClosed} {
			out.statuses[st] = true
		}
	} else {
		for _, st := range strings.Split(q.Status, ",") {
			switch st {
			case StatusOpen, StatusMatched, StatusDone, StatusClosed, StatusRemoved:
				out.statuses[st] = true
			default:
				f.Add("status", "invalid")
			}
		}
	}
	out.limit = cursor.Limit(out.limit, 20)
	return out, f.Err()
}

func (fl filter) match(d *postDoc, viewer streets.Member) bool {
	if !fl.statuses[d.Status] || !visible(d, viewer) {
		return false
	}
	if (fl.kind != "" && d.Kind != fl.kind) || (fl.category != "" && d.Category != fl.category) {
		return false
	}
	if fl.q != "" && !strings.Contains(strings.ToLower(d.Title), fl.q) && !strings.Contains(strings.ToLower(d.Body), fl.q) {
		return false
	}
	return true
}

// feedCursor is where a page ends: in the pinned posts (after the one with
// key at/id) or in the street's order (positions below pos).
type feedCursor struct {
	pinned bool
	at     int64
	id     string
	pos    int64
}

func (s *Service) encodeCursor(streetID string, c feedCursor) string {
	if c.pinned {
		return s.cursors.Encode("p", streetID, strconv.FormatInt(c.at, 10), c.id)
	}
	return s.cursors.Encode("f", streetID, strconv.FormatInt(c.pos, 10), "")
}

func (s *Service) decodeCursor(streetID, raw string) (*feedCursor, error) {
	if raw == "" {
		return nil, nil
	}
	c, ok := s.cursors.Decode(raw, 4)
	if !ok || c[1] != streetID {
		return nil, ErrBadCursor
	}
	n, err := strconv.ParseInt(c[2], 10, 64)
	if err != nil || n < 0 {
		return nil, ErrBadCursor
	}
	switch c[0] {
	case "p":
		return &feedCursor{pinned: true, at: n, id: c[3]}, nil
	case "f":
		return &feedCursor{pos: n}, nil
	}
	return nil, ErrBadCursor
}

// Feed lists a street's posts: pinned ones first, then newest first. The
// cursor is a position in the street's order, so posts arriving between
// pages neither repeat nor push items past a page boundary. A page may hold
// fewer than limit items, even none, while more follow (next cursor set):
// one request examines a bounded number of posts beyond the window.
func (s *Service) Feed(ctx context.Context, p auth.Principal, streetID string, q Query) ([]Post, string, error) {
	fl, err := parseQuery(q)
	if err != nil {
		return nil, "", err
	}
	viewer, err := s.streets.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return nil, "", err
	}
	cur, err := s.decodeCursor(streetID, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	f, err := s.ready(ctx, streetID)
	if err != nil {
		return nil, "", err
	}
	f.mu.RLock()
	length, ids, pinned := f.length, f.ids, f.pinned
	f.mu.RUnlock()

	out := make([]Post, 0, fl.limit)
	bound := length
	if cur != nil && !cur.pinned {
		if cur.pos > length {
			return nil, "", ErrBadCursor
		}
		bound = cur.pos
	} else {
		docs := make([]*postDoc, 0, len(pinned))
		for _, id := range pinned {
			d, err := s.get(ctx, f, id)
			if err != nil {
				return nil, "", err
			}
			if d != nil && d.Pinned {
				docs = append(docs, d)
			}
		}
		sort.Slice(docs, func(i, j int) bool { return newer(docs[i], docs[j]) })
		for _, d := range docs {
			if cur != nil && !before(cur.at, cur.id, d) {
				continue
			}
			if !fl.match(d, viewer) {
				continue
			}
			if len(out) == fl.limit {
				last := out[len(out)-1]
				return out, s.encodeCursor(streetID, feedCursor{pinned: true, at: last.CreatedAt.UnixMilli(), id: last.ID}), nil
			}
			out = append(out, d.view(viewer))
		}
	}

	if len(out) == fl.limit {
		if bound == 0 {
			return out, "", nil
		}
		return out, s.encodeCursor(streetID, feedCursor{pos: bound}), nil
	}
	winStart := length - int64(len(ids))
	budget := s.opts.ExamineBudget
	var older []string // ids fetched from the journal, ending at olderEnd
	olderEnd := int64(0)
	for pos := bound - 1; pos >= 0; pos-- {
		var id string
		if pos >= winStart {
			id = ids[pos-winStart]
		} else {
			if budget == 0 {
				return out, s.encodeCursor(streetID, feedCursor{pos: pos + 1}), nil
			}
			budget--
			if pos >= olderEnd || pos < olderEnd-int64(len(older)) {
				from := max(pos-63, 0)
				older, err = s.feedJ.Range(ctx, feedKey(streetID), from, pos+1)
				if err != nil {
					return nil, "", err
				}
				olderEnd = pos + 1
			}
			id = older[int64(len(older))-(olderEnd-pos)]
		}
		d, err := s.get(ctx, f, id)
		if err != nil {
			return nil, "", err
		}
		if d == nil || d.Pinned || !fl.match(d, viewer) {
			continue
		}
		out = append(out, d.view(viewer))
		if len(out) == fl.limit {
			if pos == 0 {
				return out, "", nil
			}
			return out, s.encodeCursor(streetID, feedCursor{pos: pos}), nil
		}
	}
	return out, "", nil
}

// newer orders posts newest first, by creation time then id.
func newer(a, b *postDoc) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID.Hex() > b.ID.Hex()
}

// before tells whether d comes after the cursor key (at, id) in newest-first order.
func before(at int64, id string, d *postDoc) bool {
	ms := d.CreatedAt.UnixMilli()
	return ms < at || (ms == at && d.ID.Hex() < id)
}
