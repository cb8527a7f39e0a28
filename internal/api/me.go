package api

import (
	"civico/internal/auth"

	"github.com/gofiber/fiber/v2"
)

type updateMeRequest struct {
	Name            *string `json:"name"`
	Locale          *string `json:"locale"`
	TimeZone        *string `json:"time_zone"`
	Password        *string `json:"password"`
	CurrentPassword *string `json:"current_password"`
}

// meResponse is the account plus what the user belongs to; each capability
// adds its part through Deps.Memberships.
type meResponse struct {
	auth.Account
	Memberships map[string]any `json:"memberships"`
}

func (h *handlers) me(c *fiber.Ctx) error {
	p := principal(c)
	acc, err := h.d.Auth.Me(c.UserContext(), p)
	if err != nil {
		return err
	}
	return h.respondMe(c, acc)
}

func (h *handlers) updateMe(c *fiber.Ctx) error {
	var req updateMeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	acc, err := h.d.Auth.Update(c.UserContext(), principal(c), auth.Changes{Name: req.Name, Locale: req.Locale,
		TimeZone: req.TimeZone, Password: req.Password, CurrentPassword: req.CurrentPassword})
	if err != nil {
		return err
	}
	return h.respondMe(c, acc)
}

func (h *handlers) respondMe(c *fiber.Ctx, acc auth.Account) error {
	out := meResponse{Account: acc, Memberships: map[string]any{}}
	for name, fn := range h.d.Memberships {
		v, err := fn(c.UserContext(), acc.ID)
		if err != nil {
			return err
		}
		out.Memberships[name] = v
	}
	return c.JSON(out)
}
