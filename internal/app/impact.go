package app

import (
	"context"

	"civico/internal/handoff"
	"civico/internal/impact"
)

// buildImpact makes the warm hand-off, "no wrong door" and the impact
// figures' sources. Call it once streets, posts, portineria and push exist: the
// hand-off reads posts, links streets to associations and pushes reminders.
func (a *App) buildImpact(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, handoff.Indexes()...); err != nil {
		return err
	}
	var notifier handoff.Notifier
	if a.Push != nil {
		notifier = a.Push
	}
	a.Handoff = handoff.New(a.store, a.clock, a.Posts, a.Streets, a.Portineria, a.Auth, notifier, a.log.With("component", "handoff"))
	a.Events.Subscribe(a.Handoff.OnEvent)
	a.sweeps = append(a.sweeps, a.Handoff.Sweep)
	return nil
}

// buildFigures makes the impact figures, once the referrals and events they count exist.
func (a *App) buildFigures() {
	a.Impact = impact.New(a.Posts, a.Streets, a.Portineria, a.Handoff, a.Referrals, a.Activities, a.clock)
}
