package posts

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"civico/internal/events"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Open posts expire 30 days after they were made or last renewed. No TTL
// index can do it (the embedded engine has none, and a post is closed, not
// deleted), and a scan for expired posts would grow with the database. So
// each post's id is also appended to the journal of the day it expires
// (whichever process made or renewed it); the sweep reads each day's list
// from the database, checks those posts by _id, and closes each one due
// with one conditional update, so that sweeps running at once on several
// processes close it once and announce it once.
//
// What a sweep keeps in memory is only a cursor into the lists: for each
// day not yet settled, how far its list was read, and the posts read from
// it that fall due later that day. Every sweep reads what was appended to
// the lists since (by any process), and a post in memory is closed only if
// the database still says it is open and due.
type sweepState struct {
	mu     sync.Mutex
	loaded bool
	swept  string               // the last day whose list was fully handled (kept in the database)
	read   map[string]int64     // per day, the length of its list already read
	due    map[string][]dueItem // per day, posts read from its list, open and due later
}

type dueItem struct {
	id string
	at time.Time
}

type sweepDoc struct {
	ID    string `bson:"_id"`
	Swept string `bson:"swept"`
}

const sweepStateID = "expiry_sweep"

func expiryKey(day string) string { return "expiry:" + day }

func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func nextDay(day string) string {
	t, _ := time.Parse(time.DateOnly, day)
	return dayOf(t.AddDate(0, 0, 1))
}

// scheduleExpiry notes the day d expires on; a failure is logged: the post
// would then stay open until renewed or closed, which loses nothing.
func (s *Service) scheduleExpiry(ctx context.Context, d *postDoc) {
	if _, err := s.expiryJ.Append(ctx, expiryKey(dayOf(d.ExpiresAt)), d.ID.Hex()); err != nil {
		s.log.Error("expiry journal write failed", "post", d.ID.Hex(), "err", err)
	}
}

// Sweep closes open posts whose time ran out (post.updated, status closed,
// close_reason expired). Run it periodically.
func (s *Service) Sweep(ctx context.Context) error {
	st := &s.sweep
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.clock.Now()
	today := dayOf(now)
	var doc sweepDoc
	err := s.state.FindOne(ctx, bson.M{"_id": sweepStateID}, &doc)
	switch {
	case errors.Is(err, store.ErrNotFound):
		doc.Swept = dayOf(now.Add(-2 * ExpiresAfter))
	case err != nil:
		return err
	}
	if !st.loaded {
		st.read, st.due, st.loaded = map[string]int64{}, map[string][]dueItem{}, true
	}
	// Another process may have settled days since.
	st.swept = max(st.swept, doc.Swept)
	for day := range st.read {
		if day <= st.swept {
			delete(st.read, day)
			delete(st.due, day)
		}
	}
	for day := nextDay(st.swept); day <= today; day = nextDay(day) {
		if err := s.sweepDay(ctx, day, now); err != nil {
			return err
		}
	}
	// Every day before today is done: nothing in its list expires later.
	if yesterday := dayOf(now.AddDate(0, 0, -1)); yesterday > st.swept {
		if _, err := s.state.UpdateOne(ctx, bson.M{"_id": sweepStateID}, bson.M{"$max": bson.M{"swept": yesterday}},
			options.UpdateOne().SetUpsert(true)); err != nil && !store.IsDuplicate(err) {
			return err
		}
		st.swept = yesterday
		for day := range st.read {
			if day <= yesterday {
				delete(st.read, day)
				delete(st.due, day)
			}
		}
	}
	return nil
}

// sweepDay reads what was appended to day's list since the last sweep and
// closes the posts of the day that are due; s.sweep.mu is held.
func (s *Service) sweepDay(ctx context.Context, day string, now time.Time) error {
	st := &s.sweep
	from := st.read[day]
	ids, err := s.expiryJ.Range(ctx, expiryKey(day), from, 1<<62)
	if err != nil {
		return err
	}
	for _, id := range ids {
		d, err := s.load(ctx, id)
		if errors.Is(err, ErrPostNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if d.Status == StatusOpen && dayOf(d.ExpiresAt) <= day {
			st.due[day] = append(st.due[day], dueItem{id: id, at: d.ExpiresAt})
		}
	}
	st.read[day] = from + int64(len(ids))
	due := st.due[day]
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for len(due) > 0 && !due[0].at.After(now) {
		if err := s.expire(ctx, due[0].id); err != nil {
			st.due[day] = due
			return err
		}
		due = due[1:]
	}
	st.due[day] = due
	return nil
}

// expire closes one post if the database still says it is open and due:
// of two sweeps at once, one closes it and announces it.
func (s *Service) expire(ctx context.Context, id string) error {
	oid, ok := store.ID(id)
	if !ok {
		return nil
	}
	now := s.now()
	var next postDoc
	err := s.posts.FindOneAndUpdate(ctx, bson.M{"_id": oid, "status": StatusOpen, "expires_at": bson.M{"$lte": now}},
		bson.M{"$set": bson.M{"status": StatusClosed, "closed_at": now, "close_reason": CloseExpired, "updated_at": now},
			"$inc": bson.M{"version": int64(1)}},
		&next, options.FindOneAndUpdate().SetReturnDocument(options.After))
	if errors.Is(err, store.ErrNotFound) {
		return nil // renewed, no longer open, or closed by another sweep
	}
	if err != nil {
		return err
	}
	s.touch(ctx, next.StreetID)
	s.publish(ctx, events.PostUpdated, next.StreetID, "", next.AuthorID, next.data())
	return nil
}
