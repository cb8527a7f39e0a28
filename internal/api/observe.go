package api

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Observer counts answered requests (the metrics); nil counts nothing.
type Observer interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

const (
	requestIDHeader = "X-Request-Id"
	requestIDKey    = "civico.request_id"
)

// observe gives every request an id, returned in X-Request-Id and carried
// by its log lines (an operator finds one person's failed request from the
// id they read out), and counts the request once answered. A handler's
// error is turned into its answer here, not after the chain, so that the
// status counted is the one sent.
func observe(o Observer, onError fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		id := requestIDFrom(c.Get(requestIDHeader))
		c.Locals(requestIDKey, id)
		c.Set(requestIDHeader, id)
		if err := c.Next(); err != nil {
			if herr := onError(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		if o != nil {
			o.ObserveRequest(strings.Clone(c.Route().Path), strings.Clone(c.Method()), c.Response().StatusCode(), time.Since(start))
		}
		return nil
	}
}

// requestIDFrom keeps an id set by a proxy in front when it is a plain
// token, so one request is followed through both; otherwise it makes one.
func requestIDFrom(given string) string {
	if n := len(given); n >= 8 && n <= 64 && strings.Trim(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		return strings.Clone(given)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID is the id observe gave the request.
func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}
