package api

import (
	"github.com/gofiber/fiber/v2"
)

// Profiles: a member's profile as the street's members see it, and the
// street's skills directory. Every rule lives in profiles; the profile's
// own fields are changed with PATCH /me.

func (h *handlers) profileRoutes(v1 fiber.Router) {
	if h.d.Profiles == nil {
		return
	}
	user := h.requireUser
	v1.Get("/streets/:sid/members/:uid/profile", user, h.memberProfile)
	v1.Get("/streets/:sid/skills", user, h.streetSkills)
}

func (h *handlers) memberProfile(c *fiber.Ctx) error {
	p, err := h.d.Profiles.Profile(c.UserContext(), principal(c), param(c, "sid"), param(c, "uid"))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) streetSkills(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Profiles.Skills(c.UserContext(), principal(c), param(c, "sid"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}
