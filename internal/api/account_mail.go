package api

import (
	"html/template"
	"net/http"

	"github.com/gofiber/fiber/v2"
)

// The account's mail: password recovery, address verification and change,
// and the one-click unsubscribe every notification mail carries.

type forgotRequest struct {
	Email string `json:"email"`
}

type resetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

type verifyRequest struct {
	Token string `json:"token"`
}

type changeEmailRequest struct {
	Email           string `json:"email"`
	CurrentPassword string `json:"current_password"`
}

// accountMailRoutes registers the recovery and verification endpoints
// (under /auth: no session needed, a link may open on another device) and
// the caller's own address changes.
func (h *handlers) accountMailRoutes(authn, v1, me fiber.Router) {
	authn.Post("/password/forgot", h.forgotPassword)
	authn.Post("/password/reset", h.resetPassword)
	authn.Post("/email/verify", h.verifyEmail)
	me.Post("/email", h.changeEmail)
	me.Post("/email/verification", h.resendVerification)
	if h.d.Notices != nil {
		// Mail clients post here themselves (RFC 8058), from no page of ours.
		v1.Get("/mail/unsubscribe", h.unsubscribePage)
		v1.Post("/mail/unsubscribe", h.unsubscribe)
	}
}

// accepted is the one answer to "forgot password": the same whether or
// not an account has the address.
var accepted = fiber.Map{"status": "accepted"}

func (h *handlers) forgotPassword(c *fiber.Ctx) error {
	var req forgotRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := h.d.Auth.ForgotPassword(c.UserContext(), req.Email, h.clientIP(c)); err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(accepted)
}

func (h *handlers) resetPassword(c *fiber.Ctx) error {
	var req resetRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := h.d.Auth.ResetPassword(c.UserContext(), req.Token, req.Password); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) verifyEmail(c *fiber.Ctx) error {
	var req verifyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	acc, err := h.d.Auth.VerifyEmail(c.UserContext(), req.Token)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"email": acc.Email, "email_verified": acc.EmailVerified})
}

func (h *handlers) changeEmail(c *fiber.Ctx) error {
	var req changeEmailRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	acc, err := h.d.Auth.ChangeEmail(c.UserContext(), principal(c), req.Email, req.CurrentPassword)
	if err != nil {
		return err
	}
	c.Status(http.StatusAccepted)
	return h.respondMe(c, acc)
}

func (h *handlers) resendVerification(c *fiber.Ctx) error {
	if err := h.d.Auth.ResendVerification(c.UserContext(), principal(c)); err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(accepted)
}

// unsubscribePage answers a person who opened the unsubscribe link: a GET
// changes nothing (mail scanners open links), the button posts.
func (h *handlers) unsubscribePage(c *fiber.Ctx) error {
	if _, err := h.d.Notices.CheckUnsubscribe(c.Query("t")); err != nil {
		return err
	}
	return page(c, http.StatusOK, unsubscribeForm, c.OriginalURL())
}

// unsubscribe turns the setting the token names off: RFC 8058's one-click
// POST from a mail client, or the page's button.
func (h *handlers) unsubscribe(c *fiber.Ctx) error {
	if _, err := h.d.Notices.Unsubscribe(c.UserContext(), c.Query("t")); err != nil {
		return err
	}
	return page(c, http.StatusOK, unsubscribeDone, "")
}

var (
	unsubscribeForm = template.Must(template.New("form").Parse(`<!doctype html><html lang="it"><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width,initial-scale=1"><title>Civico</title>` +
		`<h1>Civico</h1><p>Non ricevere più queste email? · Stop these emails?</p>` +
		`<form method="post" action="{{.}}"><button type="submit">Conferma · Confirm</button></form></html>`))
	unsubscribeDone = template.Must(template.New("done").Parse(`<!doctype html><html lang="it"><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width,initial-scale=1"><title>Civico</title>` +
		`<h1>Civico</h1><p>Fatto: non riceverai più queste email. · Done: you will not receive these emails any more.</p>` +
		`<p><a href="/settings">Impostazioni · Settings</a></p></html>`))
)

// page answers with a small server-rendered HTML page.
func page(c *fiber.Ctx, status int, t *template.Template, data any) error {
	c.Status(status).Type("html", "utf-8")
	return t.Execute(c.Response().BodyWriter(), data)
}
