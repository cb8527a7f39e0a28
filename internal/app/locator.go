package app

import (
	"context"

	"civico/internal/locator"
)

// buildLocator makes the neighbourhood's places. Call it once portineria
// exists: volunteers of an association keep its places.
func (a *App) buildLocator(ctx context.Context) error {
	a.Locator = &locator.Service{}
	return nil
}
