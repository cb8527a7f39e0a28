package api

import (
	"net/http"

	"civico/internal/moderation"

	"github.com/gofiber/fiber/v2"
)

// Reports: members flag posts, replies and users; admins resolve them.
// Every rule lives in moderation.

type createReportRequest struct {
	Target   string `json:"target"`
	ID       string `json:"id"`
	StreetID string `json:"street_id"`
	Reason   string `json:"reason"`
}

type resolveReportRequest struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

func (h *handlers) reportRoutes(v1 fiber.Router) {
	if h.d.Moderation == nil {
		return
	}
	user := h.requireUser
	v1.Post("/reports", user, h.createReport)
	v1.Post("/reports/:rid/resolve", user, h.resolveReport)
	v1.Get("/streets/:sid/reports", user, h.streetReports)
}

func (h *handlers) createReport(c *fiber.Ctx) error {
	var req createReportRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	r, err := h.d.Moderation.Create(c.UserContext(), principal(c),
		moderation.NewReport{Target: req.Target, ID: req.ID, StreetID: req.StreetID, Reason: req.Reason})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(r)
}

func (h *handlers) streetReports(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Moderation.List(c.UserContext(), principal(c), param(c, "sid"), query(c, "status"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) resolveReport(c *fiber.Ctx) error {
	var req resolveReportRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	r, err := h.d.Moderation.Resolve(c.UserContext(), principal(c), param(c, "rid"), req.Action, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(r)
}
