package app

import (
	"context"

	"civico/internal/activities"
)

// buildActivities makes the street's events (the API's /events). Call it
// once the streets, photos, push and mail exist: an event's photo is
// attached as a post's, a change is told by push, and by mail to those
// no device reaches; the reminders are swept by the leader.
func (a *App) buildActivities(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, activities.Indexes()...); err != nil {
		return err
	}
	deps := activities.Deps{Streets: a.Streets, Bus: a.Events}
	// Typed nils would pass for services: leave the interfaces nil instead.
	if a.Push != nil {
		deps.Notifier = a.Push
	}
	if a.Photos != nil { // an event's photo, attached as a post's
		deps.Photos = a.Photos
	}
	if a.Mail != nil && a.Auth != nil {
		deps.Mailer = &activities.Mailer{Out: a.Mail, Accounts: a.Auth, PublicURL: a.publicURL()}
		if a.Push != nil {
			deps.Mailer.Devices = a.Push
		}
	}
	var err error
	a.Activities, err = activities.New(ctx, a.store, a.clock, deps, a.log.With("component", "activities"),
		activities.Options{PublicURL: a.publicURL()})
	if err != nil {
		return err
	}
	a.sweeps = append(a.sweeps, a.Activities.Sweep)
	return nil
}
