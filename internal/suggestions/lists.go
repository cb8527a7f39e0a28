package suggestions

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/portineria"
	"civico/internal/store"
)

// Query filters and pages a list of suggestions.
type Query struct {
	// Status is one of Statuses, or several separated by commas; empty
	// lists every status.
	Status string
	Cursor string
	Limit  int
}

// statusFilter is the set of statuses a list keeps; nil keeps all.
func statusFilter(s string) (map[string]bool, error) {
	if s == "" {
		return nil, nil
	}
	keep := map[string]bool{}
	for _, st := range strings.Split(s, ",") {
		if !slices.Contains(Statuses, st) {
			return nil, fault.Validation("status", "invalid")
		}
		keep[st] = true
	}
	if keep[StatusPending] {
		keep[statusAccepting] = true // shown as pending
	}
	return keep, nil
}

// Queue lists the association's suggestions, newest first, to its
// volunteers; to anyone else the association does not exist
// (portineria.ErrAssociationNotFound). Each suggestion is read by _id from
// the queue's list; a page reads at most examineBudget of them, so a
// filter that matches few may end a page early, with a cursor to go on.
func (s *Service) Queue(ctx context.Context, p auth.Principal, aid string, q Query) ([]Suggestion, string, error) {
	keep, err := statusFilter(q.Status)
	if err != nil {
		return nil, "", err
	}
	oid, ok := store.ID(aid)
	if !ok {
		return nil, "", portineria.ErrAssociationNotFound
	}
	if err := s.places.CanKeep(ctx, p, aid); err != nil {
		return nil, "", err
	}
	return s.page(ctx, queueKey(oid.Hex()), q, keep, true)
}

// Mine lists the user's own suggestions, newest first, with their status
// and the decision's reason.
func (s *Service) Mine(ctx context.Context, p auth.Principal, q Query) ([]Suggestion, string, error) {
	keep, err := statusFilter(q.Status)
	if err != nil {
		return nil, "", err
	}
	return s.page(ctx, authorKey(p.UserID), q, keep, false)
}

func (s *Service) page(ctx context.Context, key string, q Query, keep map[string]bool, volunteer bool) ([]Suggestion, string, error) {
	limit := cursor.Limit(q.Limit, 20)
	n, err := s.lists.Len(ctx, key)
	if err != nil {
		return nil, "", err
	}
	bound := n
	if q.Cursor != "" {
		pos, err := s.decodeCursor(key, q.Cursor)
		if err != nil {
			return nil, "", err
		}
		if pos > n {
			return nil, "", ErrBadCursor
		}
		bound = pos
	}
	out := make([]Suggestion, 0, limit)
	budget := int64(examineBudget)
	for pos := bound; pos > 0; {
		if budget <= 0 {
			return out, s.encodeCursor(key, pos), nil
		}
		from := max(pos-min(int64(limit-len(out))+2, budget), 0)
		ids, err := s.lists.Range(ctx, key, from, pos)
		if err != nil {
			return nil, "", err
		}
		for i := len(ids) - 1; i >= 0; i-- {
			if ids[i] == "" { // erased from an author's list
				continue
			}
			d, err := s.load(ctx, ids[i])
			if errors.Is(err, ErrSuggestionNotFound) {
				continue // its insert never came
			}
			if err != nil {
				return nil, "", err
			}
			if keep != nil && !keep[d.Status] {
				continue
			}
			out = append(out, d.view(volunteer))
			if len(out) == limit {
				at := from + int64(i)
				if at == 0 {
					return out, "", nil
				}
				return out, s.encodeCursor(key, at), nil
			}
		}
		budget -= pos - from
		pos = from
	}
	return out, "", nil
}

// A cursor is a position in one list, signed (internal/cursor): the items
// below it are the next page's.
func (s *Service) encodeCursor(key string, pos int64) string {
	return s.cursors.Encode("s", key, strconv.FormatInt(pos, 10))
}

func (s *Service) decodeCursor(key, raw string) (int64, error) {
	c, ok := s.cursors.Decode(raw, 3)
	if !ok || c[0] != "s" || c[1] != key {
		return 0, ErrBadCursor
	}
	pos, err := strconv.ParseInt(c[2], 10, 64)
	if err != nil || pos < 0 {
		return 0, ErrBadCursor
	}
	return pos, nil
}
