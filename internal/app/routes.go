package app

import "github.com/gofiber/fiber/v2"

// Routes is the server's routing table (Fiber's, middleware left out), for
// the test that checks the API's OpenAPI description against it.
func (a *App) Routes() []fiber.Route { return a.fiber.GetRoutes(true) }
