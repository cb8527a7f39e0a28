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
// each post's id is also appended to the journal of the day it expires; the
// sweep reads each day's list once, checks those posts by _id, and keeps the
// ones due later today in memory.
type sweepState struct {
	mu     sync.Mutex
	loaded bool
	swept  string          // the last day whose list was fully handled (kept in the database)
	read   map[string]bool // days already read into due
	due    []dueItem       // sorted by at
}

type dueItem struct {
	id, streetID string
	at           time.Time
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
	if !st.loaded {
		var doc sweepDoc
		err := s.state.FindOne(ctx, bson.M{"_id": sweepStateID}, &doc)
		switch {
		case errors.Is(err, store.ErrNotFound):
			doc.Swept = dayOf(now.Add(-2 * ExpiresAfter))
		case err != nil:
			return err
		}
		st.swept, st.read, st.loaded = doc.Swept, map[string]bool{}, true
	}
	for day := nextDay(st.swept); day <= today; day = nextDay(day) {
		if st.read[day] {
			continue
		}
		ids, err := s.expiryJ.All(ctx, expiryKey(day))
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
			if d.Status == StatusOpen {
				st.due = append(st.due, dueItem{id: id, streetID: d.StreetID, at: d.ExpiresAt})
			}
		}
		st.read[day] = true
	}
	sort.Slice(st.due, func(i, j int) bool { return st.due[i].at.Before(st.due[j].at) })
	for len(st.due) > 0 && !st.due[0].at.After(now) {
		if err := s.expire(ctx, st.due[0]); err != nil {
			return err
		}
		st.due = st.due[1:]
	}
	// Every day before today is done: nothing in its list expires later.
	if yesterday := dayOf(now.AddDate(0, 0, -1)); yesterday > st.swept {
		if _, err := s.state.ReplaceOne(ctx, bson.M{"_id": sweepStateID}, sweepDoc{ID: sweepStateID, Swept: yesterday},
			options.Replace().SetUpsert(true)); err != nil {
			return err
		}
		st.swept = yesterday
		for day := range st.read {
			if day <= yesterday {
				delete(st.read, day)
			}
		}
	}
	return nil
}

// expire closes one post if it is still open and due.
func (s *Service) expire(ctx context.Context, it dueItem) error {
	fd, unlock, err := s.writing(ctx, it.streetID)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := s.get(ctx, fd, it.id)
	if err != nil || cur == nil {
		return err
	}
	now := s.now()
	if cur.Status != StatusOpen || cur.ExpiresAt.After(now) {
		return nil // renewed, or no longer open
	}
	next := cur.clone()
	next.Status, next.ClosedAt, next.CloseReason, next.UpdatedAt = StatusClosed, &now, CloseExpired, now
	if _, err := s.posts.ReplaceOne(ctx, bson.M{"_id": next.ID}, next); err != nil {
		fd.invalidate()
		return err
	}
	fd.put(next)
	s.publish(ctx, events.PostUpdated, next.StreetID, "", next.AuthorID, next.data())
	return nil
}
