package api

import "github.com/gofiber/fiber/v2"

// The Locator: places, search, suggestions, CSV and GeoJSON. Every rule
// lives in locator; these handlers parse, call one method and answer.

func (h *handlers) placeRoutes(v1 fiber.Router) {
	if h.d.Locator == nil {
		return
	}
}
