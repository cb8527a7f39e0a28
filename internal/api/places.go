package api

import (
	"mime"
	"net/http"

	"civico/internal/fault"
	"civico/internal/locator"

	"github.com/gofiber/fiber/v2"
)

// The Locator: places, search, suggestions, CSV and GeoJSON. Every rule
// lives in locator; these handlers parse, call one method and answer.

// errNotCSV refuses an import not declared as CSV. It shares errNotJSON's
// code, so it is answered 415 like it.
var errNotCSV = fault.New(fault.BadRequest, "unsupported_media_type", "send the file as text/csv")

func (h *handlers) searchPlaces(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Locator.Search(c.UserContext(), locator.SearchParams{
		Q: query(c, "q"), Kind: query(c, "kind"), Area: query(c, "area"), Target: query(c, "target"),
		AssociationID: query(c, "association"), OpenNow: query(c, "open_now"), OpenAt: query(c, "open_at"),
		Near: query(c, "near"), RadiusM: query(c, "radius_m"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) getPlace(c *fiber.Ctx) error {
	p, err := h.d.Locator.Get(c.UserContext(), param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) createPlace(c *fiber.Ctx) error {
	var in locator.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := h.d.Locator.Create(c.UserContext(), principal(c), param(c, "aid"), in, "")
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(p)
}

func (h *handlers) updatePlace(c *fiber.Ctx) error {
	var in locator.Input
	if err := decode(c, &in); err != nil {
		return err
	}
	p, err := h.d.Locator.Update(c.UserContext(), principal(c), param(c, "id"), in, "")
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) verifyPlace(c *fiber.Ctx) error {
	p, err := h.d.Locator.Verify(c.UserContext(), principal(c), param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (h *handlers) deletePlace(c *fiber.Ctx) error {
	if err := h.d.Locator.Delete(c.UserContext(), principal(c), param(c, "id")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) placeHistory(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Locator.History(c.UserContext(), principal(c), param(c, "id"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) exportPlacesCSV(c *fiber.Ctx) error {
	aid := param(c, "aid")
	b, err := h.d.Locator.ExportCSV(c.UserContext(), principal(c), aid)
	if err != nil {
		return err
	}
	return sendCSV(c, "places-"+aid+".csv", b)
}

// importPlacesCSV takes a CSV file as the body (text/csv). The body is
// copied: Fiber reuses its buffer, and the service keeps strings of it.
func (h *handlers) importPlacesCSV(c *fiber.Ctx) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mt != "text/csv" && mt != "application/csv") {
		return errNotCSV
	}
	body := append([]byte(nil), c.Body()...)
	res, err := h.d.Locator.ImportCSV(c.UserContext(), principal(c), param(c, "aid"), body)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (h *handlers) placesGeoJSON(c *fiber.Ctx) error {
	b, err := h.d.Locator.GeoJSON(c.UserContext(), query(c, "association"), query(c, "kind"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/geo+json")
	return c.Send(b)
}

// signedIn is requireUser unless an earlier group already ran it (the
// /associations group does), so the token is checked once.
func (h *handlers) signedIn(c *fiber.Ctx) error {
	if principal(c).UserID != "" {
		return c.Next()
	}
	return h.requireUser(c)
}

// placeRoutes registers the places. Searching, reading a place and the
// GeoJSON answer signed out (public information); keeping places needs a
// volunteer of the association. No group with a middleware is made under
// /places: it would put that middleware in front of the public routes.
func (h *handlers) placeRoutes(v1 fiber.Router) {
	if h.d.Locator == nil {
		return
	}
	v1.Get("/places", h.searchPlaces)
	v1.Get("/places.geojson", h.placesGeoJSON)
	v1.Get("/places/:id", h.getPlace)
	v1.Patch("/places/:id", h.signedIn, h.updatePlace)
	v1.Delete("/places/:id", h.signedIn, h.deletePlace)
	v1.Post("/places/:id/verify", h.signedIn, h.verifyPlace)
	v1.Get("/places/:id/history", h.signedIn, h.placeHistory)
	v1.Post("/associations/:aid/places", h.signedIn, h.createPlace)
	v1.Get("/associations/:aid/places.csv", h.signedIn, h.exportPlacesCSV)
	v1.Post("/associations/:aid/places.csv", h.signedIn, h.importPlacesCSV)
}
