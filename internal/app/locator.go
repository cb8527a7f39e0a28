package app

import (
	"context"

	"civico/internal/locator"
)

// buildLocator makes the neighbourhood's places. Call it once portineria
// exists: volunteers of an association keep its places.
func (a *App) buildLocator(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, locator.Indexes()...); err != nil {
		return err
	}
	var err error
	a.Locator, err = locator.New(ctx, a.store, a.Portineria, a.Auth, a.clock, a.log.With("component", "locator"), locator.Options{})
	return err
}
