package app

import (
	"context"

	"civico/internal/auth"
	"civico/internal/portineria"
	"civico/internal/posts"
)

// buildPortineria makes the Portinaio di rione (associations, roster,
// ledger). Call it once Auth and Posts are built: volunteers are found by
// email and assisted posts go through the posts service.
func (a *App) buildPortineria(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, portineria.Indexes()...); err != nil {
		return err
	}
	a.Portineria = portineria.New(a.store, a.Auth, a.clock, a.log.With("component", "portineria"),
		portineria.Options{Poster: deskPoster{a.Posts}})
	return nil
}

// deskPoster publishes the desk's posts through the posts service, so they
// obey the same membership checks, validation and rate limit as any other.
type deskPoster struct{ posts *posts.Service }

// PostOnBehalf implements portineria.Poster.
func (d deskPoster) PostOnBehalf(ctx context.Context, p auth.Principal, streetID string, in portineria.AssistedPost) (portineria.Posted, error) {
	post, created, err := d.posts.CreateOnce(ctx, p, streetID, posts.NewPost{Kind: in.Kind, Category: in.Category, Title: in.Title, Body: in.Body,
		OnBehalf: &posts.OnBehalf{AssociationID: in.AssociationID, MemberID: in.MemberID, MemberName: in.MemberName}, IdempotencyKey: in.IdempotencyKey})
	if err != nil {
		return portineria.Posted{}, err
	}
	return portineria.Posted{ID: post.ID, Post: post, Replayed: !created}, nil
}
