package api

import (
	"civico/internal/notices"
	"civico/internal/push"

	"github.com/gofiber/fiber/v2"
)

// notificationsRequest replaces the caller's notification settings.
type notificationsRequest struct {
	// QuietHours null means none.
	QuietHours *quietHoursRequest    `json:"quiet_hours"`
	Streets    []streetChoiceRequest `json:"streets"`
	// Email, when present, replaces the email choices; absent keeps them.
	Email *emailChoiceRequest `json:"email"`
}

type emailChoiceRequest struct {
	Replies string `json:"replies"`
	Digest  string `json:"digest"`
}

// notificationsResponse is the push settings with the email ones beside.
type notificationsResponse struct {
	push.Settings
	Email *notices.Settings `json:"email,omitempty"`
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
	uid := principal(c).UserID
	s, err := h.d.Push.Settings(c.UserContext(), uid)
	if err != nil {
		return err
	}
	return h.respondNotifications(c, uid, s)
}

func (h *handlers) respondNotifications(c *fiber.Ctx, uid string, s push.Settings) error {
	out := notificationsResponse{Settings: s}
	if h.d.Notices != nil {
		e, err := h.d.Notices.Settings(c.UserContext(), uid)
		if err != nil {
			return err
		}
		out.Email = &e
	}
	return c.JSON(out)
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
	uid := principal(c).UserID
	if req.Email != nil && h.d.Notices != nil {
		// First: an invalid email choice changes nothing at all.
		if _, err := h.d.Notices.SetSettings(c.UserContext(), uid, notices.Settings{Replies: req.Email.Replies, Digest: req.Email.Digest}); err != nil {
			return err
		}
	}
	s, err := h.d.Push.SetSettings(c.UserContext(), uid, choices)
	if err != nil {
		return err
	}
	return h.respondNotifications(c, uid, s)
}
