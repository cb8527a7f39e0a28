package api

import (
	"net/http"

	"civico/internal/push"

	"github.com/gofiber/fiber/v2"
)

// pushRoutes: the VAPID key is public (the PWA needs it before it can
// subscribe); devices and notification settings belong to the caller.
func (h *handlers) pushRoutes(v1, me fiber.Router) {
	if h.d.Push == nil {
		return
	}
	v1.Get("/push/vapid-public-key", h.vapidPublicKey)
	v1.Post("/push/subscriptions", h.requireUser, h.subscribePush)
	v1.Delete("/push/subscriptions", h.requireUser, h.unsubscribePush)
	me.Get("/notifications", h.notificationSettings)
	me.Put("/notifications", h.setNotificationSettings)
}

// subscriptionRequest is PushSubscription.toJSON() as browsers send it.
type subscriptionRequest struct {
	Endpoint string `json:"endpoint"`
	// ExpirationTime is part of toJSON() (usually null); push services
	// tell us about expiry with 404/410 anyway.
	ExpirationTime *float64 `json:"expirationTime"`
	Keys           struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

type unsubscribeRequest struct {
	Endpoint string `json:"endpoint"`
}

func (h *handlers) vapidPublicKey(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"key": h.d.Push.PublicKey()})
}

func (h *handlers) subscribePush(c *fiber.Ctx) error {
	var req subscriptionRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	sub, created, err := h.d.Push.Subscribe(c.UserContext(), principal(c).UserID,
		push.NewSubscription{Endpoint: req.Endpoint, P256dh: req.Keys.P256dh, Auth: req.Keys.Auth})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(sub)
}

func (h *handlers) unsubscribePush(c *fiber.Ctx) error {
	var req unsubscribeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := h.d.Push.Unsubscribe(c.UserContext(), principal(c).UserID, req.Endpoint); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
