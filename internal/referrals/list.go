package referrals

import (
	"context"
	"errors"
	"strconv"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/fault"
)

// Lists read a journal of referral ids newest first and each referral by
// _id, keeping those that pass a filter. A page reads at most maxScan
// entries: a filter that keeps few (the answered referrals of a busy
// desk) may give a short page with a next cursor, never a long request.
const maxScan = 500

// scanBatch is how many ids one journal read returns.
const scanBatch = 100

// List is the association's referrals, newest first, for its staff;
// status "" is all, else open, asked or answered.
func (s *Service) List(ctx context.Context, p auth.Principal, aid, status, rawCursor string, limit int) ([]Referral, string, error) {
	switch status {
	case "", StatusOpen, StatusAsked, StatusAnswered:
	default:
		return nil, "", fault.Validation("status", "invalid")
	}
	aid, err := s.staff(ctx, p, aid)
	if err != nil {
		return nil, "", err
	}
	docs, next, err := s.page(ctx, "assoc", assocKey(aid), status, rawCursor, limit, func(d *referralDoc) bool {
		return d.AssociationID == aid && (status == "" || d.Status == status)
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]Referral, 0, len(docs))
	for _, d := range docs {
		out = append(out, view(d, true, p.UserID))
	}
	return out, next, nil
}

// Mine is the follow-ups asked of p that wait for an answer, newest first.
func (s *Service) Mine(ctx context.Context, p auth.Principal, rawCursor string, limit int) ([]Referral, string, error) {
	if p.UserID == "" {
		return []Referral{}, "", nil
	}
	docs, next, err := s.page(ctx, "ask", askKey(p.UserID), StatusAsked, rawCursor, limit, func(d *referralDoc) bool {
		return d.AskUserID == p.UserID && d.Status == StatusAsked
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]Referral, 0, len(docs))
	for _, d := range docs {
		// The volunteer asked about their referral sees it as the staff
		// do; the resident as the one referred.
		out = append(out, view(d, d.Ask == AskVolunteer, p.UserID))
	}
	return out, next, nil
}

// page reads up to limit referrals of the journal key that keep passes,
// newest first, from the position the cursor holds.
func (s *Service) page(ctx context.Context, kind, key, status, rawCursor string, limit int, keep func(*referralDoc) bool) ([]referralDoc, string, error) {
	limit = cursor.Limit(limit, 20)
	end, err := s.lists.Len(ctx, key)
	if err != nil {
		return nil, "", err
	}
	if rawCursor != "" {
		if end, err = decodePosition(s.cursors, rawCursor, kind, key, status, end); err != nil {
			return nil, "", err
		}
	}
	out := []referralDoc{}
	seen := map[string]bool{}
	scanned := int64(0)
	for end > 0 && len(out) < limit && scanned < maxScan {
		from := max(end-scanBatch, 0)
		ids, err := s.lists.Range(ctx, key, from, end)
		if err != nil {
			return nil, "", err
		}
		pos := end
		for i := len(ids) - 1; i >= 0 && len(out) < limit; i-- {
			pos = from + int64(i)
			id := ids[i]
			if seen[id] {
				continue
			}
			seen[id] = true
			d, err := s.load(ctx, id)
			if errors.Is(err, ErrReferralNotFound) {
				continue // a referral whose writing failed part way
			}
			if err != nil {
				return nil, "", err
			}
			if keep(&d) {
				out = append(out, d)
			}
		}
		if len(out) < limit {
			pos = from
		}
		scanned += end - pos
		end = pos
	}
	next := ""
	if end > 0 {
		next = s.cursors.Encode("ref", kind, key, status, strconv.FormatInt(end, 10))
	}
	return out, next, nil
}

// decodePosition reads a list cursor: the position (exclusive) where the
// next page ends, made for this list and filter, within its length.
func decodePosition(cs *cursor.Signer, raw, kind, key, status string, length int64) (int64, error) {
	c, ok := cs.Decode(raw, 5)
	if !ok || c[0] != "ref" || c[1] != kind || c[2] != key || c[3] != status {
		return 0, ErrBadCursor
	}
	n, err := strconv.ParseInt(c[4], 10, 64)
	if err != nil || n <= 0 || n > length {
		return 0, ErrBadCursor
	}
	return n, nil
}
