package activities

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/store"
	"civico/internal/streets"
)

// The street's list, off collection scans.
//
// Every event's id goes into a journal of its street and the month
// (UTC) of its start; an edit moving it to another month appends it
// there as well, and the old month's entry is skipped when read (the
// event's start is no longer in that month). A page of events not ended
// at `from`, soonest first, reads the months from the one of
// from − MaxDuration (an event under way began at most that long ago)
// up to the one of now + MaxAhead (none starts later), each with a
// couple of _id reads of its journal and one per event, and sorts each
// month's events in Go: a page costs the events of the months it
// spans, never the size of the database. The cursor names the last
// event shown (its start and id) and the `from` it was made for.
//
// A street's whole history is a journal of its own (streetKey) for the
// impact figures; each user's answered events another (userKey), for
// their export and erasure.

// Journal keys.
func monthKey(streetID string, at time.Time) string { return "m:" + streetID + ":" + monthOf(at) }
func streetKey(streetID string) string              { return "s:" + streetID }
func userKey(userID string) string                  { return "u:" + userID }

func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }

// ListQuery is a page of a street's events.
type ListQuery struct {
	// From: events not ended by then (default now), RFC 3339.
	From   string
	Cursor string
	Limit  int
}

// position is where a page goes on: after the event (At, ID).
type position struct {
	At time.Time
	ID string
}

func (p position) before(d eventDoc) bool {
	if !d.StartsAt.Equal(p.At) {
		return p.At.Before(d.StartsAt)
	}
	return p.ID < d.ID.Hex()
}

// List is a street's events not yet ended at from, soonest first, to its
// active members; cancelled ones are shown as such.
func (s *Service) List(ctx context.Context, p auth.Principal, streetID string, q ListQuery) ([]Event, string, error) {
	oid, ok := store.ID(streetID)
	if !ok || p.UserID == "" {
		return nil, "", streets.ErrStreetNotFound
	}
	streetID = oid.Hex()
	m, err := s.deps.Streets.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	from := now
	if q.From != "" {
		t, err := time.Parse(time.RFC3339, q.From)
		if err != nil || len(q.From) > 40 {
			return nil, "", fault.Validation("from", "invalid")
		}
		from = t.UTC().Truncate(time.Second)
	}
	var after *position
	if q.Cursor != "" {
		pos, cf, err := decodeCursor(s.cursors, q.Cursor, streetID)
		if err != nil {
			return nil, "", err
		}
		after, from = &pos, cf
	}
	docs, next, err := s.page(ctx, streetID, from, after, now, cursor.Limit(q.Limit, 20))
	if err != nil {
		return nil, "", err
	}
	out := make([]Event, 0, len(docs))
	for _, d := range docs {
		out = append(out, s.view(d, p.UserID, m))
	}
	cur := ""
	if next != nil {
		cur = encodeCursor(s.cursors, streetID, from, *next)
	}
	return out, cur, nil
}

// page reads up to limit events of the street not ended at from, after
// the position if any; next is set when more may follow.
func (s *Service) page(ctx context.Context, streetID string, from time.Time, after *position, now time.Time, limit int) ([]eventDoc, *position, error) {
	first := from.Add(-MaxDuration)
	if after != nil && after.At.After(first) {
		first = after.At
	}
	last := now.Add(MaxAhead)
	if from.After(last) {
		return []eventDoc{}, nil, nil
	}
	out := []eventDoc{}
	m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC)
	for ; !m.After(last); m = m.AddDate(0, 1, 0) {
		docs, err := s.month(ctx, streetID, m)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range docs {
			if !d.EndsAt.After(from) || after != nil && !after.before(d) {
				continue
			}
			if len(out) == limit {
				last := out[len(out)-1]
				return out, &position{At: last.StartsAt, ID: last.ID.Hex()}, nil
			}
			out = append(out, d)
		}
	}
	return out, nil, nil
}

// month reads the street's events starting in month m, soonest first.
func (s *Service) month(ctx context.Context, streetID string, m time.Time) ([]eventDoc, error) {
	key := monthKey(streetID, m)
	ids, err := s.lists.All(ctx, key)
	if err != nil {
		return nil, err
	}
	docs, err := s.loadAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := docs[:0]
	for _, d := range docs {
		if d.StreetID == streetID && monthOf(d.StartsAt) == monthOf(m) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.Before(out[j].StartsAt)
		}
		return out[i].ID.Hex() < out[j].ID.Hex()
	})
	return out, nil
}

// loadAll reads the events of ids by _id, once each, skipping those
// that are not there (a creation that failed part way).
func (s *Service) loadAll(ctx context.Context, ids []string) ([]eventDoc, error) {
	seen := map[string]bool{}
	out := make([]eventDoc, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		d, err := s.load(ctx, id)
		if errors.Is(err, ErrEventNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func encodeCursor(cs *cursor.Signer, streetID string, from time.Time, p position) string {
	return cs.Encode("ev", streetID, strconv.FormatInt(from.Unix(), 10), strconv.FormatInt(p.At.Unix(), 10), p.ID)
}

// decodeCursor reads a page cursor made for the street: the position
// and the from it was made for.
func decodeCursor(cs *cursor.Signer, raw, streetID string) (position, time.Time, error) {
	c, ok := cs.Decode(raw, 5)
	if !ok || c[0] != "ev" || c[1] != streetID {
		return position{}, time.Time{}, ErrBadCursor
	}
	from, err1 := strconv.ParseInt(c[2], 10, 64)
	at, err2 := strconv.ParseInt(c[3], 10, 64)
	if _, ok := store.ID(c[4]); !ok || err1 != nil || err2 != nil || from < 0 || at < 0 || from > 1<<40 || at > 1<<40 {
		return position{}, time.Time{}, ErrBadCursor
	}
	return position{At: time.Unix(at, 0).UTC(), ID: c[4]}, time.Unix(from, 0).UTC(), nil
}
