package api

import "github.com/gofiber/fiber/v2"

// routes registers every route. Each resource has its own file; keep this
// table the one place to see the whole API.
func (h *handlers) routes(app *fiber.App) {
	app.Get("/healthz", h.healthz)
	app.Get("/readyz", h.readyz)

	v1 := app.Group("/api/v1")
	// The session endpoints set and clear the refresh cookie: no other
	// site may call them (refuseCrossSite), whatever is added here.
	authn := v1.Group("/auth", h.refuseCrossSite)
	authn.Post("/register", h.register)
	authn.Post("/login", h.login)
	authn.Post("/refresh", h.refresh)
	authn.Post("/logout", h.logout)
	v1.Get("/openapi.json", openAPI())

	// The street's live channel authenticates with its own token (browsers
	// cannot send Authorization on a websocket), so it comes before any
	// group that requires a user under /streets.
	if h.d.Hub != nil {
		v1.Get("/streets/:sid/ws", h.wsAuthorize, h.wsUpgrade())
		v1.Get("/me/ws", h.wsAuthorize, h.wsUpgrade())
	}

	me := v1.Group("/me", h.requireUser)
	me.Get("/", h.me)
	me.Patch("/", h.updateMe)
	me.Delete("/", h.deleteMe)
	me.Get("/export", h.exportMe)

	h.accountMailRoutes(authn, v1, me)
	h.associationRoutes(v1, me)
	h.paperRoutes(v1)
	h.streetRoutes(v1)
	h.postRoutes(v1)
	h.reportRoutes(v1)
	h.pushRoutes(v1, me)
	h.impactRoutes(v1)
	h.placeRoutes(v1)
	h.referralRoutes(v1, me)
	h.suggestionRoutes(v1, me)
	h.eventRoutes(v1, me)
	h.showcaseRoutes(app)
	h.photoRoutes(v1)
	h.profileRoutes(v1)
	h.conversationRoutes(v1, me)

	// Anything else under /api is unknown: never the SPA fallback.
	v1.Use(func(c *fiber.Ctx) error { return errNotFound })
	app.Use("/api", func(c *fiber.Ctx) error { return errNotFound })
}
