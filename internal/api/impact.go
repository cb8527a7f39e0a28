package api

import (
	"net/http"

	"civico/internal/impact"

	"github.com/gofiber/fiber/v2"
)

// Impact figures, the warm hand-off and "no wrong door": street–association
// links, unanswered requests, "the desk is on it". Every rule lives in
// impact and handoff.

type linkRequest struct {
	AssociationID string `json:"association_id"`
	StreetID      string `json:"street_id"`
}

type handoffRequest struct {
	Answer string `json:"answer"`
	Thanks string `json:"thanks"`
}

func (h *handlers) impactRoutes(v1 fiber.Router) {
	user := h.requireUser
	if h.d.Impact != nil {
		v1.Get("/streets/:sid/impact", user, h.streetImpact)
		v1.Get("/streets/:sid/impact.csv", user, h.streetImpactCSV)
		v1.Get("/associations/:aid/impact", user, h.associationImpact)
		v1.Get("/associations/:aid/impact.csv", user, h.associationImpactCSV)
	}
	if h.d.Handoff == nil {
		return
	}
	v1.Get("/streets/:sid/links", user, h.streetLinks)
	v1.Post("/streets/:sid/links", user, h.linkFromStreet)
	v1.Delete("/streets/:sid/links/:aid", user, h.unlinkFromStreet)
	v1.Get("/associations/:aid/links", user, h.associationLinks)
	v1.Post("/associations/:aid/links", user, h.linkFromAssociation)
	v1.Delete("/associations/:aid/links/:sid", user, h.unlinkFromAssociation)
	v1.Get("/streets/:sid/unanswered", user, h.streetUnanswered)
	v1.Get("/associations/:aid/unanswered", user, h.associationUnanswered)
	v1.Post("/associations/:aid/unanswered/:pid/take", user, h.takeUnanswered)
	v1.Get("/posts/:pid/handoff", user, h.handoffStatus)
	v1.Post("/posts/:pid/handoff", user, h.handoffAnswer)
}

func (h *handlers) streetImpact(c *fiber.Ctx) error {
	r, err := h.d.Impact.Street(c.UserContext(), principal(c), param(c, "sid"), query(c, "from"), query(c, "to"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (h *handlers) streetImpactCSV(c *fiber.Ctx) error {
	sid := param(c, "sid")
	r, err := h.d.Impact.Street(c.UserContext(), principal(c), sid, query(c, "from"), query(c, "to"))
	if err != nil {
		return err
	}
	b, err := impact.CSV(r)
	if err != nil {
		return err
	}
	return sendCSV(c, "impact-"+sid+".csv", b)
}

func (h *handlers) associationImpact(c *fiber.Ctx) error {
	r, err := h.d.Impact.Association(c.UserContext(), principal(c), param(c, "aid"), query(c, "from"), query(c, "to"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (h *handlers) associationImpactCSV(c *fiber.Ctx) error {
	aid := param(c, "aid")
	r, err := h.d.Impact.Association(c.UserContext(), principal(c), aid, query(c, "from"), query(c, "to"))
	if err != nil {
		return err
	}
	b, err := impact.CSV(r)
	if err != nil {
		return err
	}
	return sendCSV(c, "impact-"+aid+".csv", b)
}

func (h *handlers) streetLinks(c *fiber.Ctx) error {
	items, err := h.d.Handoff.StreetLinks(c.UserContext(), principal(c), param(c, "sid"))
	if err != nil {
		return err
	}
	return c.JSON(newList(items, ""))
}

func (h *handlers) linkFromStreet(c *fiber.Ctx) error {
	var req linkRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	l, err := h.d.Handoff.LinkFromStreet(c.UserContext(), principal(c), param(c, "sid"), req.AssociationID)
	if err != nil {
		return err
	}
	return c.JSON(l)
}

func (h *handlers) unlinkFromStreet(c *fiber.Ctx) error {
	if err := h.d.Handoff.UnlinkFromStreet(c.UserContext(), principal(c), param(c, "sid"), param(c, "aid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) associationLinks(c *fiber.Ctx) error {
	items, err := h.d.Handoff.AssociationLinks(c.UserContext(), principal(c), param(c, "aid"))
	if err != nil {
		return err
	}
	return c.JSON(newList(items, ""))
}

func (h *handlers) linkFromAssociation(c *fiber.Ctx) error {
	var req linkRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	l, err := h.d.Handoff.LinkFromAssociation(c.UserContext(), principal(c), param(c, "aid"), req.StreetID)
	if err != nil {
		return err
	}
	return c.JSON(l)
}

func (h *handlers) unlinkFromAssociation(c *fiber.Ctx) error {
	if err := h.d.Handoff.UnlinkFromAssociation(c.UserContext(), principal(c), param(c, "aid"), param(c, "sid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) streetUnanswered(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Handoff.StreetUnanswered(c.UserContext(), principal(c), param(c, "sid"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) associationUnanswered(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Handoff.AssociationUnanswered(c.UserContext(), principal(c), param(c, "aid"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) takeUnanswered(c *fiber.Ctx) error {
	p, err := h.d.Handoff.Take(c.UserContext(), principal(c), param(c, "aid"), param(c, "pid"))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) handoffStatus(c *fiber.Ctx) error {
	v, err := h.d.Handoff.Status(c.UserContext(), principal(c), param(c, "pid"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (h *handlers) handoffAnswer(c *fiber.Ctx) error {
	var req handoffRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	p, err := h.d.Handoff.Answer(c.UserContext(), principal(c), param(c, "pid"), req.Answer, req.Thanks)
	if err != nil {
		return err
	}
	return c.JSON(p)
}
