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
	OnPaper         *bool   `json:"on_paper"`
	// The profile (see internal/auth/profile.go for its bounds).
	Bio         *string   `json:"bio"`
	Skills      *[]string `json:"skills"`
	ShareSkills *bool     `json:"share_skills"`
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
		TimeZone: req.TimeZone, Password: req.Password, CurrentPassword: req.CurrentPassword, OnPaper: req.OnPaper,
		Bio: req.Bio, Skills: req.Skills, ShareSkills: req.ShareSkills})
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

type deleteMeRequest struct {
	Password string `json:"password"`
}

// deleteMe closes the account: the password confirms it, every capability
// erases or anonymises its part, then the account itself goes.
func (h *handlers) deleteMe(c *fiber.Ctx) error {
	var req deleteMeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p := principal(c)
	if err := h.d.Auth.CheckPassword(c.UserContext(), p, req.Password); err != nil {
		return err
	}
	for _, erase := range h.d.Erasers {
		if err := erase(c.UserContext(), p.UserID); err != nil {
			return err
		}
	}
	if err := h.d.Auth.Delete(c.UserContext(), p); err != nil {
		return err
	}
	h.clearRefreshCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// exportMe answers with everything Civico holds of the caller.
func (h *handlers) exportMe(c *fiber.Ctx) error {
	p := principal(c)
	acc, err := h.d.Auth.Me(c.UserContext(), p)
	if err != nil {
		return err
	}
	out := map[string]any{"account": acc}
	for name, fn := range h.d.Exporters {
		v, err := fn(c.UserContext(), p.UserID)
		if err != nil {
			return err
		}
		out[name] = v
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="civico-export.json"`)
	return c.JSON(out)
}
