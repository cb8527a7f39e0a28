package posts

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

type pinsDoc struct {
	ID  string   `bson:"_id"`
	IDs []string `bson:"ids"`
}

func feedKey(streetID string) string { return "feed:" + streetID }
func pinsKey(streetID string) string { return "pins:" + streetID }

// pinnedIDs returns the ids in the street's pinned list.
func (s *Service) pinnedIDs(ctx context.Context, streetID string) ([]string, error) {
	var pins pinsDoc
	if err := s.state.FindOne(ctx, bson.M{"_id": pinsKey(streetID)}, &pins); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return pins.IDs, nil
}

// addPin puts id in the street's pinned list unless the list is full; the
// guard is in the filter, so two admins pinning at once on two processes
// never pass MaxPinned.
func (s *Service) addPin(ctx context.Context, streetID, id string) error {
	key := pinsKey(streetID)
	if _, err := s.state.InsertOne(ctx, pinsDoc{ID: key, IDs: []string{}}); err != nil && !store.IsDuplicate(err) {
		return err
	}
	r, err := s.state.UpdateOne(ctx, bson.M{"_id": key, "$or": bson.A{
		bson.M{"ids": id}, bson.M{"ids." + strconv.Itoa(MaxPinned-1): bson.M{"$exists": false}}}},
		bson.M{"$addToSet": bson.M{"ids": id}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrTooManyPinned
	}
	s.touch(ctx, streetID)
	return nil
}

// dropPin takes id out of the street's pinned list.
func (s *Service) dropPin(ctx context.Context, streetID, id string) error {
	r, err := s.state.UpdateOne(ctx, bson.M{"_id": pinsKey(streetID)}, bson.M{"$pull": bson.M{"ids": id}})
	if err == nil && r.ModifiedCount > 0 {
		s.touch(ctx, streetID)
	}
	return err
}

// span returns the street's posts at positions [from, to), newest first;
// a position whose post was never written (a crash between the journal
// and the post) is skipped. Every post is read from the database as it is
// now: no process keeps a copy another one could make stale. On MongoDB
// one query on the street_pos index; on the embedded engine, which scans
// for anything but an _id equality, the street's journal names the posts
// and each is read by _id.
func (s *Service) span(ctx context.Context, fc *feedCache, stamp, streetID string, from, to int64) ([]*postDoc, error) {
	if from >= to {
		return nil, nil
	}
	if !s.embedded {
		var docs []*postDoc
		err := s.posts.FindAll(ctx, bson.M{"street_id": streetID, "pos": bson.M{"$gte": from, "$lt": to}}, &docs,
			options.Find().SetSort(bson.D{{Key: "pos", Value: -1}}))
		return docs, err
	}
	ids, err := s.feedIDs(ctx, fc, streetID, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]*postDoc, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		d, err := s.post(ctx, fc, stamp, ids[i])
		if errors.Is(err, ErrPostNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
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
// one request examines a bounded number of posts (Window + ExamineBudget).
// Everything is read from the database, or from memory validated against
// it (feedcache.go), so a post made or changed through another process
// shows at once.
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
	fc, stamp, err := s.cacheFor(ctx, streetID)
	if err != nil {
		return nil, "", err
	}
	length, pinned, err := s.feedHead(ctx, fc, stamp, streetID)
	if err != nil {
		return nil, "", err
	}

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
			d, err := s.post(ctx, fc, stamp, id)
			if errors.Is(err, ErrPostNotFound) {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			if d.Pinned && d.StreetID == streetID {
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
	budget := int64(s.opts.Window + s.opts.ExamineBudget)
	batch := int64(fl.limit-len(out)) + 2
	for pos := bound; pos > 0; {
		if budget == 0 {
			return out, s.encodeCursor(streetID, feedCursor{pos: pos}), nil
		}
		from := max(pos-min(batch, budget), 0)
		docs, err := s.span(ctx, fc, stamp, streetID, from, pos)
		if err != nil {
			return nil, "", err
		}
		for _, d := range docs {
			if d.Pinned || !fl.match(d, viewer) {
				continue
			}
			out = append(out, d.view(viewer))
			if len(out) == fl.limit {
				if d.Pos == 0 {
					return out, "", nil
				}
				return out, s.encodeCursor(streetID, feedCursor{pos: d.Pos}), nil
			}
		}
		budget -= pos - from
		pos = from
		batch = min(batch*2, 64)
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
