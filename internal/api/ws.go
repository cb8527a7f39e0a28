package api

import (
	"net/url"
	"runtime/debug"
	"strings"
	"sync"

	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/hub"
	"civico/internal/store"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

const (
	// wsProtocol is the subprotocol clients ask for and the server answers.
	wsProtocol = "civico"
	// wsTokenPrefix marks the access token among the offered subprotocols:
	// browsers cannot set an Authorization header on a websocket.
	wsTokenPrefix = "access_token."
	// wsCheckedOrigin replaces the Origin header once wsAuthorize accepted
	// it, and is the only origin the upgrader allows: the upgrader compares
	// against a fixed list, but with no PublicURL the server's own origin
	// depends on the request's Host. An upgrade that did not go through
	// wsAuthorize therefore fails closed. A client sending this value itself
	// is refused by wsAuthorize first.
	wsCheckedOrigin = "civico:origin-checked"
	ticketKey       = "civico.ws.ticket"
	requestKey      = "civico.ws.request"
)

var (
	errUpgradeRequired = fault.New(fault.BadRequest, "upgrade_required", "this address only answers websocket upgrades")
	errBadOrigin       = fault.New(fault.Forbidden, "origin_not_allowed", "this page may not open the street's live channel")
)

// wsAuthorize refuses, before the upgrade and with a plain HTTP error, what
// must not become a socket: no upgrade, a foreign origin, no or a bad token,
// an unknown street, a non-member.
func (h *handlers) wsAuthorize(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return errUpgradeRequired
	}
	if !h.originAllowed(c) {
		return errBadOrigin
	}
	token := wsToken(c)
	if token == "" {
		return errNoToken
	}
	p, err := h.d.Auth.Verify(c.UserContext(), token)
	if err != nil {
		return err
	}
	sid := param(c, "sid")
	if sid == "" {
		// /me/ws: the user's own channel (private conversations).
		sid = events.Personal(p.UserID)
	} else if _, ok := store.ID(sid); !ok {
		return errNotFound
	}
	var since int64
	resume := false
	if s := c.Query("since"); s != "" {
		n, ok := hub.ParseID(s)
		if !ok {
			return fault.Validation("since", "invalid")
		}
		since, resume = n, true
	}
	t, err := h.d.Hub.Authorize(c.UserContext(), sid, p.UserID)
	if err != nil {
		return err
	}
	t.Since, t.Resume = since, resume
	c.Locals(ticketKey, t)
	c.Locals(requestKey, c.Context())
	wsStrip(c)
	return c.Next()
}

// wsStrip leaves the upgrade only the headers it needs. The websocket
// middleware copies every header, cookie and query value into maps that
// live as long as the socket: thousands of idle sockets would each keep
// the user agent, cookies and the access token for nothing.
func wsStrip(c *fiber.Ctx) {
	h := &c.Request().Header
	offered := false
	var drop []string
	h.VisitAll(func(k, v []byte) {
		switch strings.ToLower(string(k)) {
		case "host", "connection", "upgrade", "sec-websocket-key", "sec-websocket-version":
		case "sec-websocket-protocol":
			for _, p := range strings.Split(string(v), ",") {
				offered = offered || strings.TrimSpace(p) == wsProtocol
			}
			drop = append(drop, string(k))
		default:
			drop = append(drop, string(k))
		}
	})
	for _, k := range drop {
		h.Del(k)
	}
	if offered {
		h.Set(fiber.HeaderSecWebSocketProtocol, wsProtocol)
	}
	h.Set(fiber.HeaderOrigin, wsCheckedOrigin)
	c.Context().QueryArgs().Reset()
}

// wsRelease drops the buffers of the upgrade's request and response.
// fasthttp keeps a hijacked connection's RequestCtx until the websocket
// handler returns, that is for the socket's life, and nothing reads it
// after the upgrade: with thousands of idle sockets its parsed headers,
// arguments and the response header's bytes (about 3 KB a socket) are
// memory held for nothing. Only this goroutine uses the context now;
// fasthttp resets it (a zero value is valid) when the handler returns.
func wsRelease(rc *fasthttp.RequestCtx) {
	rc.Request = fasthttp.Request{}
	rc.Response = fasthttp.Response{}
}

// wsToken takes the access token from the offered subprotocols
// ("civico, access_token.<jwt>"), or from ?token=.
func wsToken(c *fiber.Ctx) string {
	for _, p := range strings.Split(c.Get(fiber.HeaderSecWebSocketProtocol), ",") {
		if p = strings.TrimSpace(p); strings.HasPrefix(p, wsTokenPrefix) {
			return strings.Clone(p[len(wsTokenPrefix):])
		}
	}
	return query(c, "token")
}

// originAllowed accepts a trusted origin (see originTrusted). A missing
// Origin is refused too: every browser sends one.
func (h *handlers) originAllowed(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	return origin != "" && h.originTrusted(c, origin)
}

// originTrusted accepts the server's public origin (PublicURL, or the
// request's own scheme and host when it is unset) and AllowedOrigins.
func (h *handlers) originTrusted(c *fiber.Ctx, origin string) bool {
	origin = strings.TrimSuffix(origin, "/")
	own := originOf(h.cfg.PublicURL)
	if own == "" {
		own = c.Protocol() + "://" + c.Hostname()
	}
	if strings.EqualFold(origin, own) {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if strings.EqualFold(origin, strings.TrimSuffix(o, "/")) {
			return true
		}
	}
	return false
}

// originOf is scheme://host[:port] of u, "" when u is empty or not a URL.
func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// wsUpgrade is the upgrade itself, behind wsAuthorize. The handler runs the
// hub's read loop for the socket's life; the hub's writer is the only other
// goroutine that touches it.
func (h *handlers) wsUpgrade() fiber.Handler {
	log := h.d.Log
	return websocket.New(func(conn *websocket.Conn) {
		t, ok := conn.Locals(ticketKey).(hub.Ticket)
		if !ok {
			return
		}
		if rc, ok := conn.Locals(requestKey).(*fasthttp.RequestCtx); ok {
			wsRelease(rc)
		}
		h.d.Hub.Serve(conn.Conn, t)
	}, websocket.Config{
		Origins:      []string{wsCheckedOrigin},
		Subprotocols: []string{wsProtocol},
		// Per-socket buffers: reads go through a small buffer (frames are
		// small, and bounded to 4 KB), writes borrow from the pool only for
		// WriteMessage, which the hub does not use (prepared frames and
		// control frames are written without a buffer).
		ReadBufferSize:  256,
		WriteBufferSize: 512,
		WriteBufferPool: &sync.Pool{},
		RecoverHandler: func(*websocket.Conn) {
			// The default one sends the panic to the client.
			if r := recover(); r != nil {
				log.Error("websocket handler panicked", "panic", r, "stack", string(debug.Stack()))
			}
		},
	})
}
