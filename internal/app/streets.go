package app

import (
	"context"

	"civico/internal/moderation"
	"civico/internal/posts"
	"civico/internal/streets"
)

// buildStreets makes streets, posts and moderation. Call it once Auth and
// Events are built, and before what posts on behalf of others (portineria)
// or asks about memberships (hub, push).
func (a *App) buildStreets(ctx context.Context) error {
	idx := append(append(streets.Indexes(), posts.Indexes()...), moderation.Indexes()...)
	if err := a.store.EnsureIndexes(ctx, idx...); err != nil {
		return err
	}
	var err error
	a.Streets, err = streets.New(ctx, a.store, a.Events, a.clock, a.Auth, a.log.With("component", "streets"), streets.Options{})
	if err != nil {
		return err
	}
	if err := a.buildPhotos(ctx); err != nil {
		return err
	}
	a.Posts, err = posts.New(ctx, a.store, a.Events, a.clock, a.Streets, a.log.With("component", "posts"),
		posts.Options{PostsPerHour: a.cfg.PostsPerHour, Photos: a.Photos})
	if err != nil {
		return err
	}
	a.Moderation, err = moderation.New(ctx, a.store, a.Events, a.clock, a.Streets, a.Posts, a.log.With("component", "moderation"))
	if err != nil {
		return err
	}
	a.sweeps = append(a.sweeps, a.Posts.Sweep, a.Posts.SweepClaims)
	return nil
}

// streetMemberships is GET /me's "streets" part.
func (a *App) streetMemberships(ctx context.Context, userID string) (any, error) {
	return a.Streets.UserStreets(ctx, userID)
}
