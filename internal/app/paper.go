package app

import "civico/internal/paper"

// buildPaper makes the street on paper: the printed board and the
// invitation flyers. It only reads what the other services hold, so it
// comes last.
func (a *App) buildPaper() {
	a.Paper = paper.New(a.Streets, a.Posts, a.Auth, a.Handoff, a.Portineria,
		paper.Options{PublicURL: a.publicURL(), Clock: a.clock})
}
