package app

import (
	"context"

	"civico/internal/photos"
)

// buildPhotos makes the images of posts and replies. Call it once Streets
// exists (images answer the street's members) and before Posts, which
// attaches and deletes them.
func (a *App) buildPhotos(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, photos.Indexes()...); err != nil {
		return err
	}
	a.Photos = photos.New(a.store, a.clock, a.Streets, a.log.With("component", "photos"), photos.Options{})
	a.sweeps = append(a.sweeps, a.Photos.Sweep)
	return nil
}
