package api

import (
	"civico/internal/push"

	"github.com/gofiber/fiber/v2"
)

// notificationsRequest replaces the caller's notification settings.
type notificationsRequest struct {
	// QuietHours null means none.
	QuietHours *quietHoursRequest    `json:"quiet_hours"`
	Streets    []streetChoiceRequest `json:"streets"`
}

type quietHoursRequest struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// streetChoiceRequest is one street's choices; a field left out stays on
// (categories: all).
type streetChoiceRequest struct {
	StreetID   string   `json:"street_id"`
	Requests   *bool    `json:"requests"`
	Offers     *bool    `json:"offers"`
	Categories []string `json:"categories"`
	Replies    *bool    `json:"replies"`
}

func (h *handlers) notificationSettings(c *fiber.Ctx) error {
	s, err := h.d.Push.Settings(c.UserContext(), principal(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(s)
}

func (h *handlers) setNotificationSettings(c *fiber.Ctx) error {
	var req notificationsRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	choices := push.Choices{Streets: make([]push.StreetChoice, len(req.Streets))}
	if q := req.QuietHours; q != nil {
		choices.QuietHours = &push.QuietHours{Start: q.Start, End: q.End}
	}
	for i, s := range req.Streets {
		choices.Streets[i] = push.StreetChoice{StreetID: s.StreetID, Requests: s.Requests, Offers: s.Offers,
			Categories: s.Categories, Replies: s.Replies}
	}
	s, err := h.d.Push.SetSettings(c.UserContext(), principal(c).UserID, choices)
	if err != nil {
		return err
	}
	return c.JSON(s)
}
