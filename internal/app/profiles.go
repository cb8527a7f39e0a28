package app

import (
	"context"

	"civico/internal/cursor"
	"civico/internal/profiles"
)

// buildProfiles makes the members' profiles and the streets' skills
// directories. Call it once auth and the streets exist: a profile is an
// account's, shown through a street's membership.
func (a *App) buildProfiles(ctx context.Context) error {
	cs, err := cursor.New(ctx, a.store)
	if err != nil {
		return err
	}
	a.Profiles = profiles.New(profiles.Deps{Accounts: a.Auth, Members: a.Streets}, cs)
	return nil
}
