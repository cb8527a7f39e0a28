package app

import (
	"context"

	"civico/internal/referrals"
)

// buildReferrals makes the desk's referrals to places. Call it once the
// locator, portineria, the hand-off and push exist.
func (a *App) buildReferrals(ctx context.Context) error {
	a.Referrals = &referrals.Service{}
	a.sweeps = append(a.sweeps, a.Referrals.Sweep)
	return nil
}
