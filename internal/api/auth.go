package api

import (
	"net/http"
	"strings"
	"time"

	"civico/internal/auth"

	"github.com/gofiber/fiber/v2"
)

const refreshCookie = "civico_refresh"

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
	Locale   string `json:"locale"`
	TimeZone string `json:"time_zone"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type sessionResponse struct {
	User         auth.Account `json:"user"`
	AccessToken  string       `json:"access_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int          `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
}

func (h *handlers) register(c *fiber.Ctx) error {
	var req registerRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	s, err := h.d.Auth.Register(c.UserContext(), auth.Registration{Email: req.Email, Password: req.Password,
		Name: req.Name, Locale: req.Locale, TimeZone: req.TimeZone}, h.clientIP(c))
	if err != nil {
		return err
	}
	return h.session(c, http.StatusCreated, s)
}

func (h *handlers) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	s, err := h.d.Auth.Login(c.UserContext(), req.Email, req.Password, h.clientIP(c))
	if err != nil {
		return err
	}
	return h.session(c, http.StatusOK, s)
}

func (h *handlers) refresh(c *fiber.Ctx) error {
	token, fromCookie, err := refreshToken(c)
	if err != nil {
		return err
	}
	s, err := h.d.Auth.Refresh(c.UserContext(), token)
	if err != nil {
		// Only a cookie that failed is dropped: a request that carried none
		// (another site's empty form) must not sign the browser out.
		if fromCookie {
			h.clearRefreshCookie(c)
		}
		return err
	}
	return h.session(c, http.StatusOK, s)
}

func (h *handlers) logout(c *fiber.Ctx) error {
	token, _, err := refreshToken(c)
	if err != nil {
		return err
	}
	if token == "" {
		// No session named, none to end: signed out already, and the cookie
		// (if the browser holds one it did not send) is left alone.
		return c.SendStatus(http.StatusNoContent)
	}
	if h.d.LogoutHook != nil {
		if uid := h.d.Auth.SessionUser(c.UserContext(), token); uid != "" {
			h.d.LogoutHook(c.UserContext(), uid, strings.Clone(c.Get("X-Push-Endpoint")))
		}
	}
	if err := h.d.Auth.Logout(c.UserContext(), token); err != nil {
		return err
	}
	h.clearRefreshCookie(c)
	return c.SendStatus(http.StatusNoContent)
}

// refreshToken takes the token from the body (non-browser clients) or the
// HttpOnly cookie (the PWA), and tells whether the cookie gave it.
func refreshToken(c *fiber.Ctx) (token string, fromCookie bool, err error) {
	var req refreshRequest
	if err := decodeOptional(c, &req); err != nil {
		return "", false, err
	}
	if req.RefreshToken != "" {
		return req.RefreshToken, false, nil
	}
	token = strings.Clone(c.Cookies(refreshCookie))
	return token, token != "", nil
}

func (h *handlers) session(c *fiber.Ctx, status int, s auth.Session) error {
	c.Cookie(&fiber.Cookie{
		Name: refreshCookie, Value: s.RefreshToken, Path: "/api/v1/auth",
		Expires: s.RefreshExpires, HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteStrictMode,
	})
	return c.Status(status).JSON(sessionResponse{User: s.Account, AccessToken: s.AccessToken, TokenType: "Bearer",
		ExpiresIn: s.ExpiresIn, RefreshToken: s.RefreshToken})
}

func (h *handlers) clearRefreshCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: refreshCookie, Value: "", Path: "/api/v1/auth", Expires: time.Unix(0, 0),
		HTTPOnly: true, Secure: h.cfg.SecureCookies, SameSite: fiber.CookieSameSiteStrictMode})
}
