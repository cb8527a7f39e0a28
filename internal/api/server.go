// Package api is Civico's HTTP interface: Fiber routes, thin handlers that
// parse, call one service method and respond, the one error mapping and the
// middleware. It knows nothing of BSON.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"civico/internal/activities"
	"civico/internal/auth"
	"civico/internal/conversations"
	"civico/internal/fault"
	"civico/internal/handoff"
	"civico/internal/hub"
	"civico/internal/idle"
	"civico/internal/impact"
	"civico/internal/locator"
	"civico/internal/moderation"
	"civico/internal/notices"
	"civico/internal/paper"
	"civico/internal/photos"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/profiles"
	"civico/internal/push"
	"civico/internal/referrals"
	"civico/internal/showcase"
	"civico/internal/streets"
	"civico/internal/suggestions"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// Config tunes the HTTP server.
type Config struct {
	// BodyLimit bounds request bodies (default 64 KB); UploadLimit those
	// of the routes that take files (default 10 MB, see uploads; each
	// service bounds its own files further, the places CSV at 2 MB).
	BodyLimit   int
	UploadLimit int
	// ReadTimeout, WriteTimeout and IdleTimeout bound slow clients.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []string
	// PublicURL is the origin users reach the server at (for cookies,
	// websocket origin checks and links).
	PublicURL string
	// AllowedOrigins are extra origins allowed to open websockets and to
	// call the session endpoints.
	AllowedOrigins []string
	// SecureCookies sets the Secure flag on cookies (on when PublicURL is https).
	SecureCookies bool
}

// Deps are the services the handlers call.
type Deps struct {
	Log *slog.Logger
	// Ready is nil when the server can answer; else /readyz is 503 with
	// the message of the *fault.Error it returns (which part is down).
	Ready func() error
	Auth  *auth.Service
	// Static serves the PWA for everything outside /api.
	Static fiber.Handler
	// Memberships lists, per capability ("streets", "associations"), what a
	// user belongs to, for GET /me.
	Memberships map[string]func(ctx context.Context, userID string) (any, error)
	// Exporters add, per capability, the user's data to GET /me/export.
	Exporters map[string]func(ctx context.Context, userID string) (any, error)
	// Erasers run before an account is deleted: each capability removes or
	// anonymises what it holds of the user (posts anonymised, ledger kept).
	Erasers []func(ctx context.Context, userID string) error
	// LogoutHook runs when a session ends, with the device's push endpoint
	// if the client sent one (X-Push-Endpoint).
	LogoutHook func(ctx context.Context, userID, endpoint string)
	// Hub serves the streets' websocket channels; nil leaves the route out.
	Hub *hub.Hub
	// Portineria is the Portinaio di rione (associations, roster, ledger);
	// nil leaves its routes out.
	Portineria *portineria.Service
	// Streets, Posts and Moderation are the streets, their requests and
	// offers, and reports; nil leaves their routes out.
	Streets    *streets.Service
	Posts      *posts.Service
	Moderation *moderation.Service
	// Push is web push (VAPID key, subscriptions, notification settings);
	// nil leaves its routes out.
	Push *push.Service
	// Notices is what Civico tells by email (settings, one-click
	// unsubscribe); nil leaves its routes out.
	Notices *notices.Service
	// Paper prints the street's board and invitation flyers; nil leaves
	// its routes out.
	Paper *paper.Service
	// Impact is the community's figures; Handoff the warm hand-off and
	// "no wrong door" (links, unanswered requests); nil leaves their routes out.
	Impact  *impact.Service
	Handoff *handoff.Service
	// Locator is the neighbourhood's places; Referrals the desk's referrals
	// to them; nil leaves their routes out.
	Locator   *locator.Service
	Referrals *referrals.Service
	// Suggestions are residents' suggestions on the places; nil leaves
	// their routes out.
	Suggestions *suggestions.Service
	// Activities are the street's events (/events, the calendar feeds);
	// nil leaves their routes out.
	Activities *activities.Service
	// Showcase draws the public pages ("/", /s/<slug>, the invite card);
	// nil leaves "/" to Static (the app's shell).
	Showcase *showcase.Pages
	// Photos are the images of posts and replies; nil leaves their routes out.
	Photos *photos.Service
	// Profiles are members' profiles and the streets' skills directories;
	// nil leaves their routes out.
	Profiles *profiles.Service
	// Conversations are members' private conversations and block lists;
	// nil leaves their routes out.
	Conversations *conversations.Service
	// Foreground, when set, is marked busy while a request is answered
	// (not for websockets, which live for hours): background work gives way.
	Foreground *idle.Gate
	// Observer counts answered requests; nil counts nothing.
	Observer Observer
}

// New builds the Fiber app with every route.
func New(cfg Config, d Deps) *fiber.App {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 64 * 1024
	}
	if cfg.UploadLimit < cfg.BodyLimit {
		cfg.UploadLimit = max(cfg.BodyLimit, 10<<20)
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	setHeaders := secureHeaders(cfg)
	onError := errorHandler(d.Log, setHeaders)
	// Trusted proxies tell the scheme and host (X-Forwarded-Proto, -Host).
	// No ProxyHeader: c.IP() would then be the X-Forwarded-For the client
	// wrote; clientIP is the one way to the caller's address.
	app := fiber.New(fiber.Config{
		AppName:   "civico",
		BodyLimit: cfg.UploadLimit, // the rest are held to BodyLimit by limitBodies

		ReadTimeout:             cfg.ReadTimeout,
		WriteTimeout:            cfg.WriteTimeout,
		IdleTimeout:             cfg.IdleTimeout,
		ReadBufferSize:          8192, // bounds the request headers, whatever a client sends
		ReduceMemoryUsage:       true, // idle keep-alives and websockets keep no read buffer (8 KB each, see ws.go)
		ErrorHandler:            onError,
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		StrictRouting:           false,
	})
	app.Use(observe(d.Observer, onError))
	app.Use(recover.New())
	if d.Foreground != nil {
		app.Use(foreground(d.Foreground))
	}
	app.Use(withHeaders(setHeaders))
	app.Use(limitBodies(cfg.BodyLimit))
	app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	h := &handlers{cfg: cfg, d: d, proxies: parseProxies(cfg.TrustedProxies, d.Log)}
	h.routes(app)
	if d.Static != nil {
		app.Use(d.Static)
	}
	return app
}

// handlers holds what every handler needs.
type handlers struct {
	cfg Config
	d   Deps
	// proxies are cfg.TrustedProxies, parsed once.
	proxies []netip.Prefix
}

func (h *handlers) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (h *handlers) readyz(c *fiber.Ctx) error {
	if h.d.Ready != nil {
		if err := h.d.Ready(); err != nil {
			h.d.Log.Warn("not ready", "err", err)
			msg := "not ready"
			if f, ok := fault.As(err); ok {
				msg = f.Message
			}
			return c.Status(http.StatusServiceUnavailable).JSON(errorBody{Error: errorDetail{Code: "not_ready", Message: msg}})
		}
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// uploads are the routes that take a file rather than a JSON document: up
// to UploadLimit. A CSV of a council's 5 000 places does not fit in 64 KB,
// nor does a photo.
func upload(method, path string) bool {
	if method != fiber.MethodPost {
		return false
	}
	return (strings.HasSuffix(path, "/places.csv") && strings.HasPrefix(path, "/api/v1/associations/")) ||
		(strings.HasSuffix(path, "/photos") && strings.HasPrefix(path, "/api/v1/streets/") && strings.Count(path, "/") == 5)
}

// limitBodies refuses a body over limit on every route but the uploads.
// Fiber can only bound every route alike, at the uploads' size.
func limitBodies(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if n := c.Request().Header.ContentLength(); (n > limit || len(c.Request().Body()) > limit) && !upload(c.Method(), c.Path()) {
			return errTooLarge
		}
		return c.Next()
	}
}
