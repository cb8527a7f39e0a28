package api

import (
	"strings"

	"civico/internal/auth"
	"civico/internal/idle"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

const principalKey = "civico.principal"

// contentSecurityPolicy fits the PWA: only its own scripts, styles, images,
// workers and connections (websockets included).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// foreground marks every request but websocket upgrades (which last for
// the socket's life) as foreground work while it is answered.
func foreground(g *idle.Gate) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if websocket.IsWebSocketUpgrade(c) {
			return c.Next()
		}
		g.Begin()
		defer g.End()
		return c.Next()
	}
}

func secureHeaders(cfg Config) fiber.Handler {
	hsts := strings.HasPrefix(cfg.PublicURL, "https://")
	return func(c *fiber.Ctx) error {
		c.Set("Content-Security-Policy", contentSecurityPolicy)
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		c.Set("X-Frame-Options", "DENY")
		c.Set("Cross-Origin-Opener-Policy", "same-origin")
		if hsts {
			c.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if strings.HasPrefix(c.Path(), "/api/") {
			c.Set("Cache-Control", "no-store")
		}
		return c.Next()
	}
}

// requireUser admits requests with a valid access token and keeps who made
// them for the handler.
func (h *handlers) requireUser(c *fiber.Ctx) error {
	token := bearer(c.Get(fiber.HeaderAuthorization))
	if token == "" {
		return errNoToken
	}
	p, err := h.d.Auth.Verify(c.UserContext(), token)
	if err != nil {
		return err
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// principal is the signed-in caller; only after requireUser.
func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(principalKey).(auth.Principal)
	return p
}

func bearer(header string) string {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(header[len(prefix):])
}

// clientIP is the caller's address, from X-Forwarded-For only when the
// request came through a trusted proxy.
func clientIP(c *fiber.Ctx) string {
	return strings.Clone(c.IP())
}
