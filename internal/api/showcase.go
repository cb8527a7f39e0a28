package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"civico/internal/fault"
	"civico/internal/showcase"
	"civico/internal/streets"

	"github.com/gofiber/fiber/v2"
)

// The public face, outside /api: server-rendered HTML for visitors and
// crawlers (internal/showcase). The landing page at "/" loads the app for
// someone signed in on the device; the invite link keeps the app's join
// screen, drawn over the same card; a street's page /s/<slug> is HTML only.

// Scripts the public pages load: the landing's small module, which loads
// the app only for a signed-in user, and the app itself.
const (
	landingScript = "/js/public.js"
	appScript     = "/js/app.js"
)

func (h *handlers) showcaseRoutes(app *fiber.App) {
	if h.d.Showcase == nil || h.d.Streets == nil {
		return
	}
	app.Get("/", h.landingPage)
	app.Get("/preview.png", h.sitePreview)
	app.Get("/s", h.streetSearchPage)
	app.Get("/s/:slug", h.streetPage)
	app.Get("/s/:slug/preview.png", h.streetPreview)
	app.Get("/streets/:sid/join", h.inviteCard)
}

// baseURL is the origin of absolute links (canonical, Open Graph).
func (h *handlers) baseURL(c *fiber.Ctx) string {
	if base := strings.TrimRight(h.cfg.PublicURL, "/"); base != "" {
		return base
	}
	return c.Protocol() + "://" + c.Hostname()
}

// sendPage answers an HTML page in the visitor's language. Pages are
// revalidated on every visit (the member count and the listing change) but
// an unchanged one costs no body (ETag).
func sendPage(c *fiber.Ctx, status int, body []byte, err error) error {
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	tag := `"` + hex.EncodeToString(sum[:12]) + `"`
	c.Vary(fiber.HeaderAcceptLanguage)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, tag)
	if status == http.StatusOK && strings.Contains(c.Get(fiber.HeaderIfNoneMatch), tag) {
		return c.SendStatus(http.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(body)
}

func lang(c *fiber.Ctx) string { return showcase.Lang(c.Get(fiber.HeaderAcceptLanguage)) }

func (h *handlers) landingPage(c *fiber.Ctx) error {
	b, err := h.d.Showcase.Landing(lang(c), h.baseURL(c), landingScript)
	return sendPage(c, http.StatusOK, b, err)
}

// streetSearchPage answers the landing's "find your street" form.
func (h *handlers) streetSearchPage(c *fiber.Ctx) error {
	q, city := query(c, "q"), query(c, "city")
	items, next, err := h.d.Streets.Directory(c.UserContext(), q, city, query(c, "cursor"), 20)
	invalid := false
	if f, ok := fault.As(err); ok && (f.Kind == fault.Invalid || f.Kind == fault.BadRequest) {
		items, next, err, invalid = nil, "", nil, true
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if invalid {
		status = http.StatusUnprocessableEntity
	}
	b, err := h.d.Showcase.Search(lang(c), h.baseURL(c), q, city, items, next, invalid)
	return sendPage(c, status, b, err)
}

func (h *handlers) streetPage(c *fiber.Ctx) error {
	st, err := h.d.Streets.BySlug(c.UserContext(), param(c, "slug"))
	if errors.Is(err, streets.ErrStreetNotFound) {
		b, err := h.d.Showcase.NotFound(lang(c), h.baseURL(c))
		return sendPage(c, http.StatusNotFound, b, err)
	}
	if err != nil {
		return err
	}
	b, err := h.d.Showcase.Street(lang(c), h.baseURL(c), st, showcase.StreetOptions{})
	return sendPage(c, http.StatusOK, b, err)
}

// inviteCard is the invite link (/streets/<sid>/join?code=): the street's
// card for the chat that shows the link and for a reader with no
// JavaScript, and the app's join screen for everyone else. An unknown
// street is left to the app, as before.
func (h *handlers) inviteCard(c *fiber.Ctx) error {
	st, err := h.d.Streets.Listing(c.UserContext(), param(c, "sid"))
	if errors.Is(err, streets.ErrStreetNotFound) {
		return c.Next()
	}
	if err != nil {
		return err
	}
	path := streets.JoinPath(st.ID)
	if code := query(c, "code"); code != "" {
		path = streets.InvitePath(st.ID, code)
	}
	b, err := h.d.Showcase.Street(lang(c), h.baseURL(c), st, showcase.StreetOptions{Invite: path, Script: appScript})
	return sendPage(c, http.StatusOK, b, err)
}

// sendPreview answers a preview image: public (nothing private on it),
// kept a day by browsers and the apps that draw link cards, revalidated by
// its ETag (a hash of what it shows).
func sendPreview(c *fiber.Ctx, tag string, draw func() ([]byte, error)) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set(fiber.HeaderETag, tag)
	if strings.Contains(c.Get(fiber.HeaderIfNoneMatch), tag) {
		return c.SendStatus(http.StatusNotModified)
	}
	b, err := draw()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(b)
}

func (h *handlers) streetPreview(c *fiber.Ctx) error {
	st, err := h.d.Streets.BySlug(c.UserContext(), param(c, "slug"))
	if err != nil {
		return err
	}
	return sendPreview(c, showcase.PreviewTag(st.Name, st.City), func() ([]byte, error) {
		return h.d.Showcase.Preview(st.Name, st.City)
	})
}

func (h *handlers) sitePreview(c *fiber.Ctx) error {
	b, tag, err := h.d.Showcase.SitePreview()
	if err != nil {
		return err
	}
	return sendPreview(c, tag, func() ([]byte, error) { return b, nil })
}
