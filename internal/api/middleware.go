package api

import (
	"bytes"
	"log/slog"
	"net/netip"
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

// secureHeaders returns what sets the headers every answer carries. The
// middleware applies it to routed requests; errorHandler applies it too,
// because some answers (413 for a body over the limit, 431 for oversized
// headers) are given before any middleware runs.
func secureHeaders(cfg Config) func(*fiber.Ctx) {
	hsts := strings.HasPrefix(cfg.PublicURL, "https://")
	return func(c *fiber.Ctx) {
		c.Set("Content-Security-Policy", contentSecurityPolicy)
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		// The Locator's "near me" asks for the position, from this origin only.
		c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(self), payment=(), usb=()")
		c.Set("X-Frame-Options", "DENY")
		c.Set("Cross-Origin-Opener-Policy", "same-origin")
		if hsts {
			c.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if strings.HasPrefix(c.Path(), "/api/") {
			c.Set("Cache-Control", "no-store")
		}
	}
}

// withHeaders is the middleware that applies set to every routed request.
func withHeaders(set func(*fiber.Ctx)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		set(c)
		return c.Next()
	}
}

// refuseCrossSite guards the session endpoints (the only ones that read a
// cookie) against other sites: a form on any page can post to them, and a
// browser applies the Set-Cookie of the answer, so another site could sign
// the visitor into its own account (login CSRF) or out. Browsers say where
// a request comes from (Sec-Fetch-Site, Origin); non-browser clients send
// neither and are let through. Safe methods are left alone: they change
// nothing, and a link opened from a mail is a cross-site navigation.
func (h *handlers) refuseCrossSite(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	// same-origin: the PWA; none: typed or bookmarked, no page involved.
	if site := c.Get("Sec-Fetch-Site"); site != "" && !strings.EqualFold(site, "same-origin") && !strings.EqualFold(site, "none") {
		return errCrossSite
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !h.originTrusted(c, origin) {
		return errCrossSite
	}
	return c.Next()
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

// clientIP is the caller's address, the key of the per-IP limits. A peer
// that is not a trusted proxy is the client, whatever headers it sends.
// Behind a trusted proxy it is the right-most X-Forwarded-For entry that is
// not itself a trusted proxy: each proxy appends the address it saw, so
// everything left of that entry was written by the client and proves
// nothing (taking it would give every request a fresh key of its choice).
func (h *handlers) clientIP(c *fiber.Ctx) string {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !h.trustedProxy(peer) {
		return peer.String()
	}
	if ip, ok := forwardedClient(c.Request().Header.PeekAll(fiber.HeaderXForwardedFor), h.trustedProxy); ok {
		return ip.String()
	}
	return peer.String()
}

// forwardedClient walks X-Forwarded-For values (every header line, in
// order) from the right, skipping trusted proxies, and returns the first
// other address. An entry that is no address stops the walk with nothing:
// a proxy wrote it ("unknown", an obfuscated name), and what lies left of
// it is the client's own writing, so the caller falls back to the peer.
func forwardedClient(values [][]byte, trusted func(netip.Addr) bool) (netip.Addr, bool) {
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for len(rest) > 0 {
			entry := rest
			if j := bytes.LastIndexByte(rest, ','); j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			} else {
				rest = nil
			}
			entry = bytes.TrimSpace(entry)
			if len(entry) == 0 {
				continue
			}
			ip, ok := parseHop(string(entry))
			if !ok {
				return netip.Addr{}, false
			}
			if !trusted(ip) {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets, as some proxies write them.
func parseHop(s string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return ip.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// trustedProxy tells whether ip is one of the configured proxies.
func (h *handlers) trustedProxy(ip netip.Addr) bool {
	for _, p := range h.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseProxies reads the trusted proxies (addresses or CIDRs) once, as
// prefixes of unmapped addresses; an entry that is neither is reported and
// ignored.
func parseProxies(list []string, log *slog.Logger) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
		} else if ip, err := netip.ParseAddr(s); err == nil {
			ip = ip.Unmap()
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		} else if s != "" {
			log.Warn("trusted proxy is neither an address nor a CIDR: ignored", "proxy", s)
		}
	}
	return out
}
