package app

import (
	"context"

	"civico/internal/portineria"
)

// buildPortineria makes the Portinaio di rione (associations, roster,
// ledger). Call it once Auth is built: volunteers are found by email.
func (a *App) buildPortineria(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, portineria.Indexes()...); err != nil {
		return err
	}
	a.Portineria = portineria.New(a.store, a.Auth, a.clock, a.log.With("component", "portineria"), portineria.Options{})
	return nil
}
