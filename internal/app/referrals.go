package app

import (
	"context"
	"errors"

	"civico/internal/locator"
	"civico/internal/referrals"
)

// buildReferrals makes the desk's referrals to places. Call it once the
// locator, portineria, the hand-off and push exist: a referral names a
// place, checks the desk took the request (or the roster has the member),
// and its follow-up is a push.
func (a *App) buildReferrals(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, referrals.Indexes()...); err != nil {
		return err
	}
	deps := referrals.Deps{Places: placeNames{a.Locator}, Posts: a.Posts, Desks: a.Portineria}
	// Typed nils would pass for services: leave the interfaces nil instead.
	if a.Handoff != nil {
		deps.Links = a.Handoff
	}
	if a.Push != nil {
		deps.Notifier = a.Push
	}
	var err error
	a.Referrals, err = referrals.New(ctx, a.store, a.clock, deps, a.log.With("component", "referrals"),
		referrals.Options{FollowUp: a.cfg.ReferralFollowUp})
	if err != nil {
		return err
	}
	a.sweeps = append(a.sweeps, a.Referrals.Sweep)
	return nil
}

// placeNames gives referrals the name of a place of the Locator.
type placeNames struct{ l *locator.Service }

// PlaceName implements referrals.Places.
func (p placeNames) PlaceName(ctx context.Context, id string) (string, error) {
	pl, err := p.l.Get(ctx, id)
	if errors.Is(err, locator.ErrPlaceNotFound) {
		return "", referrals.ErrUnknownPlace
	}
	return pl.Name, err
}
