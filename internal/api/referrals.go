package api

import (
	"net/http"

	"civico/internal/referrals"

	"github.com/gofiber/fiber/v2"
)

// Referrals: the desk sends a person to a place and follows up. Every rule
// lives in referrals; these handlers parse, call one method and answer.

type referralRequest struct {
	PlaceID      string `json:"place_id"`
	PostID       string `json:"post_id"`
	MemberID     string `json:"member_id"`
	Note         string `json:"note"`
	FollowUpDays *int   `json:"follow_up_days"`
}

type outcomeRequest struct {
	Outcome string `json:"outcome"`
}

func (h *handlers) referralRoutes(v1, me fiber.Router) {
	if h.d.Referrals == nil {
		return
	}
	user := h.requireUser
	v1.Post("/associations/:aid/referrals", user, h.createReferral)
	v1.Get("/associations/:aid/referrals", user, h.associationReferrals)
	v1.Get("/referrals/:id", user, h.getReferral)
	v1.Post("/referrals/:id/outcome", user, h.referralOutcome)
	me.Get("/referrals", h.myReferrals)
}

func (h *handlers) createReferral(c *fiber.Ctx) error {
	var req referralRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	r, err := h.d.Referrals.Create(c.UserContext(), principal(c), param(c, "aid"), referrals.NewReferral{
		PlaceID: req.PlaceID, PostID: req.PostID, MemberID: req.MemberID, Note: req.Note, FollowUpDays: req.FollowUpDays})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(r)
}

func (h *handlers) associationReferrals(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Referrals.List(c.UserContext(), principal(c), param(c, "aid"), query(c, "status"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) getReferral(c *fiber.Ctx) error {
	r, err := h.d.Referrals.Get(c.UserContext(), principal(c), param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (h *handlers) referralOutcome(c *fiber.Ctx) error {
	var req outcomeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	r, err := h.d.Referrals.Outcome(c.UserContext(), principal(c), param(c, "id"), req.Outcome)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (h *handlers) myReferrals(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Referrals.Mine(c.UserContext(), principal(c), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}
