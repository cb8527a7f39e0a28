package api

import "github.com/gofiber/fiber/v2"

// Referrals: the desk sends a person to a place and follows up. Every rule
// lives in referrals; these handlers parse, call one method and answer.

func (h *handlers) referralRoutes(v1, me fiber.Router) {
	if h.d.Referrals == nil {
		return
	}
}
