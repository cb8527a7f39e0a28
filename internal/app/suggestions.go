package app

import (
	"context"

	"civico/internal/suggestions"
)

// buildSuggestions makes the residents' suggestions on the Locator. Call
// it once the locator, portineria and auth exist: a suggestion waits in
// the queue of an association's volunteers, and accepting one changes the
// place through the locator.
func (a *App) buildSuggestions(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, suggestions.Indexes()...); err != nil {
		return err
	}
	var err error
	a.Suggestions, err = suggestions.New(ctx, a.store, a.Locator, a.Portineria, a.Auth, a.clock,
		a.log.With("component", "suggestions"), suggestions.Options{})
	return err
}
