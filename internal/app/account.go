package app

import (
	"context"

	"civico/internal/pseudonym"
)

// eraseStreetData is DELETE /me's part for streets, posts and reports: the
// person's stored ids become one pseudonym everywhere (so the street's
// figures still count them as one neighbour) and their name goes. Posts
// first, then reports, then the memberships: while posts are rewritten the
// person is still a member, and the streets' audit logs are scrubbed last,
// after anything the erasure itself records; then the kept event log.
func (a *App) eraseStreetData(ctx context.Context, userID string) error {
	alias, err := pseudonym.Of(ctx, a.store, userID)
	if err != nil {
		return err
	}
	if err := a.Posts.Erase(ctx, userID, alias); err != nil {
		return err
	}
	if err := a.Moderation.Erase(ctx, userID, alias); err != nil {
		return err
	}
	if err := a.Streets.Erase(ctx, userID, alias); err != nil {
		return err
	}
	// Last: the erasure's own events (member.left) are rewritten too, and
	// the hub's encoded copies of them dropped.
	sids, err := a.Events.Forget(ctx, userID, alias)
	if err != nil {
		return err
	}
	a.Hub.Uncache(sids...)
	return nil
}
