package posts

import (
	"context"
	"slices"
	"strings"
	"time"

	"civico/internal/streets"
)

// recentSkew is how far past since Recent keeps reading. A post's time is
// taken just before its place in the street's order, so two posts made at
// once (on two processes) may stand in the order a little out of time:
// reading on for a minute of older posts finds one that stands behind an
// older neighbour.
const recentSkew = time.Minute

// recentBatch is how many positions Recent reads at a time.
const recentBatch = 64

// Recent returns the street's open and matched posts created at or after
// since, newest first, at most limit of them (limit <= 0: all). It reads
// the street's order from its end (the journal and each post by _id on the
// embedded engine, the street_pos index on MongoDB) and stops at the
// first post created well before since: its cost follows the posts of the
// period, not the street's history or the database. Nothing is taken from
// the feed's cache (a digest run reads many streets once; keeping them
// would only crowd the pages people read).
func (s *Service) Recent(ctx context.Context, streetID string, since time.Time, limit int) ([]Post, error) {
	n, err := s.feedJ.Len(ctx, feedKey(streetID))
	if err != nil {
		return nil, err
	}
	stop := since.Add(-recentSkew)
	var out []Post
	for pos := n; pos > 0; {
		from := max(pos-recentBatch, 0)
		docs, err := s.span(ctx, nil, "", streetID, from, pos)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if d.CreatedAt.Before(stop) {
				return newestFirst(out), nil
			}
			if d.CreatedAt.Before(since) || (d.Status != StatusOpen && d.Status != StatusMatched) {
				continue
			}
			out = append(out, d.view(streets.Member{}))
			if limit > 0 && len(out) == limit {
				return newestFirst(out), nil
			}
		}
		pos = from
	}
	return newestFirst(out), nil
}

// newestFirst orders posts by creation time, newest first (the street's
// order may hold two posts of one moment the other way round).
func newestFirst(ps []Post) []Post {
	slices.SortStableFunc(ps, func(a, b Post) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return ps
}
