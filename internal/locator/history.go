package locator

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"civico/internal/auth"
	"civico/internal/cursor"
)

// What a change of a place was.
const (
	actionCreated  = "created"
	actionUpdated  = "updated"
	actionVerified = "verified"
	actionImported = "imported"
	actionDeleted  = "deleted"
)

// change is one entry of a place's history, as stored. UserID is "" once
// the author's account was erased.
type change struct {
	At     time.Time `bson:"at"`
	UserID string    `bson:"u,omitempty"`
	Action string    `bson:"a"`
	Fields []string  `bson:"f,omitempty"`
	Via    string    `bson:"via,omitempty"`
}

// Change is one entry of a place's history: who (their name as it is
// now; empty for an erased account), when, what and, when it came from a
// resident's suggestion, which one.
type Change struct {
	At       time.Time `json:"at"`
	UserID   string    `json:"user_id,omitempty"`
	UserName string    `json:"user_name,omitempty"`
	// Action is created, updated, verified, imported or deleted.
	Action string   `json:"action"`
	Fields []string `json:"fields"`
	Via    string   `json:"via,omitempty"`
}

// userKey is the key of a user's list of the places they changed.
func userKey(userID string) string { return "u:" + userID }

// record appends c to the place's history, and the place to its
// author's list. The change itself is already stored: a failure here is
// logged, never undoes it.
func (s *Service) record(ctx context.Context, placeID string, c change) {
	if _, err := s.history.Append(ctx, placeID, c); err != nil {
		s.log.Error("locator: history", "place", placeID, "err", err)
	}
	if c.UserID == "" {
		return
	}
	if _, err := s.byUser.Append(ctx, userKey(c.UserID), placeID); err != nil {
		s.log.Error("locator: history by user", "place", placeID, "err", err)
	}
}

// entryOf is one place's history entry, for recordMany.
type entryOf struct {
	placeID string
	c       change
}

// recordMany is record for many places changed by one user (an import):
// each place's history gets its entry, a few places at a time (the
// store groups their inserts), and the user's list all the places in one
// append. As with record, a failure is logged, never undoes a change.
func (s *Service) recordMany(ctx context.Context, userID string, entries []entryOf) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, e := range entries {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := s.history.Append(ctx, e.placeID, e.c); err != nil {
				s.log.Error("locator: history", "place", e.placeID, "err", err)
			}
		}()
	}
	wg.Wait()
	if userID == "" || len(entries) == 0 {
		return
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.placeID
	}
	if _, err := s.byUser.Append(ctx, userKey(userID), ids...); err != nil {
		s.log.Error("locator: history by user", "places", len(ids), "err", err)
	}
}

// History is the place's changes, newest first, for its association's
// staff.
func (s *Service) History(ctx context.Context, p auth.Principal, id, cur string, limit int) ([]Change, string, error) {
	if _, err := s.loadKept(ctx, p, id); err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, 50)
	end, err := s.history.Len(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if cur != "" {
		f, ok := s.cursors.Decode(cur, 2)
		if !ok || f[0] != id {
			return nil, "", cursor.ErrInvalid
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 || n > end {
			return nil, "", cursor.ErrInvalid
		}
		end = n
	}
	from := max(0, end-int64(limit))
	items, err := s.history.Range(ctx, id, from, end)
	if err != nil {
		return nil, "", err
	}
	slices.Reverse(items)
	ids := []string{}
	for _, c := range items {
		if c.UserID != "" && !slices.Contains(ids, c.UserID) {
			ids = append(ids, c.UserID)
		}
	}
	names := map[string]auth.Account{}
	if len(ids) > 0 && s.accounts != nil {
		if names, err = s.accounts.Users(ctx, ids); err != nil {
			return nil, "", err
		}
	}
	out := make([]Change, len(items))
	for i, c := range items {
		out[i] = Change{At: c.At, UserID: c.UserID, UserName: names[c.UserID].Name, Action: c.Action,
			Fields: nonNil(c.Fields), Via: c.Via}
	}
	next := ""
	if from > 0 {
		next = s.cursors.Encode(id, strconv.FormatInt(from, 10))
	}
	return out, next, nil
}

// MyChange is a change a user made to a place, in their data export.
type MyChange struct {
	PlaceID string    `json:"place_id"`
	At      time.Time `json:"at"`
	Action  string    `json:"action"`
	Fields  []string  `json:"fields"`
	Via     string    `json:"via,omitempty"`
}

// placesOf is the places userID changed, each once.
func (s *Service) placesOf(ctx context.Context, userID string) ([]string, error) {
	all, err := s.byUser.All(ctx, userKey(userID))
	if err != nil {
		return nil, err
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// Export is what the locator holds of a user: the changes they made to
// places (the places themselves are the associations' public data).
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	ids, err := s.placesOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []MyChange{}
	for _, id := range ids {
		items, err := s.history.All(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, c := range items {
			if c.UserID == userID {
				out = append(out, MyChange{PlaceID: id, At: c.At, Action: c.Action, Fields: nonNil(c.Fields), Via: c.Via})
			}
		}
	}
	return out, nil
}

// Erase removes the user from what the locator holds: their id is blanked
// in the histories of the places they changed (found through their own
// list, without a scan), then that list goes.
func (s *Service) Erase(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	ids, err := s.placesOf(ctx, userID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.history.Rewrite(ctx, id, func(c *change) bool {
			if c.UserID != userID {
				return false
			}
			c.UserID = ""
			return true
		}); err != nil {
			return err
		}
	}
	// A rare erasure may read this collection of small documents whole.
	return s.byUser.Drop(ctx, userKey(userID))
}
