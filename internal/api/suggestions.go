package api

import (
	"net/http"

	"civico/internal/locator"
	"civico/internal/suggestions"

	"github.com/gofiber/fiber/v2"
)

// Residents' suggestions and reports of inaccuracy on the Locator, the
// association's queue, accept and decline. Every rule lives in
// suggestions; these handlers parse, call one method and answer.

type suggestionRequest struct {
	PlaceID       string         `json:"place_id"`
	AssociationID string         `json:"association_id"`
	Text          string         `json:"text"`
	Changes       *locator.Input `json:"changes"`
}

type acceptSuggestionRequest struct {
	Changes *locator.Input `json:"changes"`
	Reason  string         `json:"reason"`
}

type declineSuggestionRequest struct {
	Reason string `json:"reason"`
}

// suggestionRoutes registers the suggestions: filing one (signed in
// only: an anonymous visitor searches the map but cannot suggest), the
// association's queue, the decisions and the author's own list.
func (h *handlers) suggestionRoutes(v1, me fiber.Router) {
	if h.d.Suggestions == nil {
		return
	}
	user := h.requireUser
	v1.Post("/places/suggestions", user, h.suggest)
	v1.Get("/associations/:aid/suggestions", user, h.associationSuggestions)
	v1.Post("/suggestions/:id/accept", user, h.acceptSuggestion)
	v1.Post("/suggestions/:id/decline", user, h.declineSuggestion)
	me.Get("/suggestions", h.mySuggestions)
}

func (h *handlers) suggest(c *fiber.Ctx) error {
	var req suggestionRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	s, err := h.d.Suggestions.Suggest(c.UserContext(), principal(c), suggestions.NewSuggestion{PlaceID: req.PlaceID,
		AssociationID: req.AssociationID, Text: req.Text, Changes: req.Changes})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(s)
}

func (h *handlers) associationSuggestions(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Suggestions.Queue(c.UserContext(), principal(c), param(c, "aid"),
		suggestions.Query{Status: query(c, "status"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) mySuggestions(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Suggestions.Mine(c.UserContext(), principal(c),
		suggestions.Query{Status: query(c, "status"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) acceptSuggestion(c *fiber.Ctx) error {
	var req acceptSuggestionRequest
	if err := decodeOptional(c, &req); err != nil {
		return err
	}
	d, err := h.d.Suggestions.Accept(c.UserContext(), principal(c), param(c, "id"),
		suggestions.Decision{Changes: req.Changes, Reason: req.Reason})
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (h *handlers) declineSuggestion(c *fiber.Ctx) error {
	var req declineSuggestionRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	d, err := h.d.Suggestions.Decline(c.UserContext(), principal(c), param(c, "id"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(d)
}
