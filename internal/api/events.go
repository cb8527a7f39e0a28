package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"civico/internal/activities"
	"civico/internal/fault"

	"github.com/gofiber/fiber/v2"
)

// Events: the street's gatherings (package activities), their answers,
// their calendars. Every rule lives in activities; these handlers parse,
// call one method and answer.

type eventRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Place       string `json:"place"`
	StartsAt    string `json:"starts_at"`
	EndsAt      string `json:"ends_at"`
	Capacity    *int   `json:"capacity"`
	// Photo is the proposer's upload in the street (POST
	// /streets/:sid/photos) with its alt text; null or absent: none.
	Photo *activities.PhotoIn `json:"photo"`
}

type eventChangeRequest struct {
	Title       *string    `json:"title"`
	Description *string    `json:"description"`
	Place       *string    `json:"place"`
	StartsAt    *string    `json:"starts_at"`
	EndsAt      *string    `json:"ends_at"`
	Capacity    *int       `json:"capacity"`
	Photo       photoPatch `json:"photo"`
	Reason      string     `json:"reason"`
}

// photoPatch is an edit's "photo": absent keeps the event's photo, null
// removes it, {id, alt} replaces it.
type photoPatch struct {
	Set   bool
	Photo *activities.PhotoIn
}

// UnmarshalJSON is called for null too (encoding/json hands null to an
// Unmarshaler that is not a pointer).
func (p *photoPatch) UnmarshalJSON(b []byte) error {
	p.Set, p.Photo = true, nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in activities.PhotoIn
	if err := dec.Decode(&in); err != nil {
		return fault.Validation("photo", "invalid_type")
	}
	p.Photo = &in
	return nil
}

type cancelEventRequest struct {
	Reason string `json:"reason"`
}

type rsvpRequest struct {
	Answer string `json:"answer"`
	Guests int    `json:"guests"`
}

type calendarResponse struct {
	URL string `json:"url"`
}

const calendarType = "text/calendar; charset=utf-8"

func (h *handlers) eventRoutes(v1, me fiber.Router) {
	if h.d.Activities == nil {
		return
	}
	user := h.requireUser
	v1.Post("/streets/:sid/events", user, h.createEvent)
	v1.Get("/streets/:sid/events", user, h.streetEvents)
	v1.Get("/events/:eid", user, h.getEvent)
	v1.Patch("/events/:eid", user, h.updateEvent)
	v1.Post("/events/:eid/cancel", user, h.cancelEvent)
	v1.Put("/events/:eid/rsvp", user, h.answerEvent)
	v1.Get("/events/:eid/ics", user, h.eventICS)
	me.Get("/calendar", h.myCalendar)
	me.Post("/calendar/rotate", h.rotateCalendar)
	// The private feed: no sign-in, the token in the path is the key
	// (calendar apps send no credentials).
	v1.Get("/calendar/:token", h.calendarFeed)
}

func (h *handlers) createEvent(c *fiber.Ctx) error {
	var req eventRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ev, err := h.d.Activities.Create(c.UserContext(), principal(c), param(c, "sid"), activities.NewEvent{Title: req.Title,
		Description: req.Description, Place: req.Place, StartsAt: req.StartsAt, EndsAt: req.EndsAt, Capacity: req.Capacity,
		Photo: req.Photo})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(ev)
}

func (h *handlers) streetEvents(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Activities.List(c.UserContext(), principal(c), param(c, "sid"),
		activities.ListQuery{From: query(c, "from"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) getEvent(c *fiber.Ctx) error {
	ev, err := h.d.Activities.Get(c.UserContext(), principal(c), param(c, "eid"))
	if err != nil {
		return err
	}
	return c.JSON(ev)
}

func (h *handlers) updateEvent(c *fiber.Ctx) error {
	var req eventChangeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ev, err := h.d.Activities.Update(c.UserContext(), principal(c), param(c, "eid"), activities.Change{Title: req.Title,
		Description: req.Description, Place: req.Place, StartsAt: req.StartsAt, EndsAt: req.EndsAt, Capacity: req.Capacity,
		SetPhoto: req.Photo.Set, Photo: req.Photo.Photo, Reason: req.Reason})
	if err != nil {
		return err
	}
	return c.JSON(ev)
}

func (h *handlers) cancelEvent(c *fiber.Ctx) error {
	var req cancelEventRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ev, err := h.d.Activities.Cancel(c.UserContext(), principal(c), param(c, "eid"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(ev)
}

func (h *handlers) answerEvent(c *fiber.Ctx) error {
	var req rsvpRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ev, err := h.d.Activities.Answer(c.UserContext(), principal(c), param(c, "eid"), req.Answer, req.Guests)
	if err != nil {
		return err
	}
	return c.JSON(ev)
}

func (h *handlers) eventICS(c *fiber.Ctx) error {
	b, err := h.d.Activities.ICS(c.UserContext(), principal(c), param(c, "eid"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, calendarType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="event.ics"`)
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.Send(b)
}

func (h *handlers) myCalendar(c *fiber.Ctx) error {
	url, err := h.d.Activities.CalendarURL(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(calendarResponse{URL: url})
}

func (h *handlers) rotateCalendar(c *fiber.Ctx) error {
	url, err := h.d.Activities.RotateCalendar(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(calendarResponse{URL: url})
}

func (h *handlers) calendarFeed(c *fiber.Ctx) error {
	b, err := h.d.Activities.Feed(c.UserContext(), param(c, "token"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, calendarType)
	// The URL is a credential: kept out of shared caches and indexes.
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set("X-Robots-Tag", "noindex")
	return c.Send(b)
}
