package api

import (
	"net/http"
	"strings"
	"time"

	"civico/internal/streets"

	"github.com/gofiber/fiber/v2"
)

// Streets: the public directory, joining, invites, members and their roles,
// bans and the audit log. Every rule lives in streets.

type createStreetRequest struct {
	Name        string `json:"name"`
	City        string `json:"city"`
	Description string `json:"description"`
}

// updateStreetRequest is an admin's change of the street; absent fields
// stay as they are.
type updateStreetRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Listed      *bool   `json:"listed"`
	// MembersInvite lets every member make invite links (or not).
	MembersInvite *bool `json:"members_invite"`
}

type joinStreetRequest struct {
	Message    string `json:"message"`
	InviteCode string `json:"invite_code"`
}

type createInviteRequest struct {
	MaxUses        int `json:"max_uses"`
	ExpiresInHours int `json:"expires_in_hours"`
}

type inviteResponse struct {
	streets.Invite
	URL string `json:"url"`
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

type streetRoleRequest struct {
	Role string `json:"role"`
}

func (h *handlers) streetRoutes(v1 fiber.Router) {
	if h.d.Streets == nil {
		return
	}
	// Each route carries requireUser itself rather than a /streets group
	// middleware: the websocket channel under /streets authenticates its
	// own way, and the directory answers signed out (public fields only).
	user := h.requireUser
	v1.Post("/streets", user, h.createStreet)
	v1.Get("/streets", h.streetDirectory)
	v1.Get("/streets/:sid", user, h.getStreet)
	v1.Get("/streets/:sid/public", h.publicStreet)
	v1.Patch("/streets/:sid", user, h.updateStreet)
	v1.Post("/streets/:sid/join", user, h.joinStreet)
	v1.Get("/streets/:sid/invites", user, h.streetInvites)
	v1.Post("/streets/:sid/invites", user, h.createInvite)
	v1.Delete("/streets/:sid/invites/:code", user, h.revokeInvite)
	v1.Get("/streets/:sid/members", user, h.streetMembers)
	v1.Delete("/streets/:sid/members/me", user, h.leaveStreet)
	v1.Post("/streets/:sid/members/:uid/approve", user, h.approveMember)
	v1.Post("/streets/:sid/members/:uid/reject", user, h.rejectMember)
	v1.Post("/streets/:sid/members/:uid/ban", user, h.banMember)
	v1.Post("/streets/:sid/members/:uid/unban", user, h.unbanMember)
	v1.Put("/streets/:sid/members/:uid/role", user, h.setStreetRole)
	v1.Get("/streets/:sid/audit", user, h.streetAudit)
}

func (h *handlers) createStreet(c *fiber.Ctx) error {
	var req createStreetRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	st, err := h.d.Streets.Create(c.UserContext(), principal(c), streets.NewStreet{Name: req.Name, City: req.City, Description: req.Description})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(st)
}

func (h *handlers) streetDirectory(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 20)
	if err != nil {
		return err
	}
	items, next, err := h.d.Streets.Directory(c.UserContext(), query(c, "q"), query(c, "city"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) updateStreet(c *fiber.Ctx) error {
	var req updateStreetRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	st, err := h.d.Streets.Update(c.UserContext(), principal(c), param(c, "sid"),
		streets.StreetChange{Name: req.Name, Description: req.Description, Listed: req.Listed, MembersInvite: req.MembersInvite})
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (h *handlers) getStreet(c *fiber.Ctx) error {
	v, err := h.d.Streets.Get(c.UserContext(), principal(c), param(c, "sid"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// publicStreet is a street's public card, signed in or out: what the
// invite link's card shows (the name, the city, the member count), so the
// app's join screen can show it to someone who is not signed in yet.
func (h *handlers) publicStreet(c *fiber.Ctx) error {
	st, err := h.d.Streets.Listing(c.UserContext(), param(c, "sid"))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// joinStreet answers 200 when the caller is in at once (invite), 202 when
// the request waits for an admin.
func (h *handlers) joinStreet(c *fiber.Ctx) error {
	var req joinStreetRequest
	if err := decodeOptional(c, &req); err != nil {
		return err
	}
	m, err := h.d.Streets.Join(c.UserContext(), principal(c), param(c, "sid"), streets.JoinRequest{Message: req.Message, InviteCode: req.InviteCode})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if m.Status == streets.StatusPending {
		status = http.StatusAccepted
	}
	return c.Status(status).JSON(m)
}

func (h *handlers) streetInvites(c *fiber.Ctx) error {
	sid := param(c, "sid")
	invites, err := h.d.Streets.VisibleInvites(c.UserContext(), principal(c), sid)
	if err != nil {
		return err
	}
	out := make([]inviteResponse, len(invites))
	for i, inv := range invites {
		out[i] = inviteResponse{Invite: inv, URL: h.inviteURL(c, inv)}
	}
	return c.JSON(newList(out, ""))
}

func (h *handlers) createInvite(c *fiber.Ctx) error {
	var req createInviteRequest
	if err := decodeOptional(c, &req); err != nil {
		return err
	}
	inv, err := h.d.Streets.CreateInvite(c.UserContext(), principal(c), param(c, "sid"),
		streets.InviteOptions{MaxUses: req.MaxUses, ExpiresIn: time.Duration(req.ExpiresInHours) * time.Hour})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(inviteResponse{Invite: inv, URL: h.inviteURL(c, inv)})
}

// inviteURL is the link an admin shares: the PWA opens the street's join
// screen with the code filled in.
func (h *handlers) inviteURL(c *fiber.Ctx, inv streets.Invite) string {
	base := strings.TrimRight(h.cfg.PublicURL, "/")
	if base == "" {
		base = c.Protocol() + "://" + c.Hostname()
	}
	return base + streets.InvitePath(inv.StreetID, inv.Code)
}

func (h *handlers) revokeInvite(c *fiber.Ctx) error {
	if err := h.d.Streets.RevokeInvite(c.UserContext(), principal(c), param(c, "sid"), param(c, "code")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) streetMembers(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Streets.Members(c.UserContext(), principal(c), param(c, "sid"), query(c, "status"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) leaveStreet(c *fiber.Ctx) error {
	if err := h.d.Streets.Leave(c.UserContext(), principal(c), param(c, "sid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

type memberDecision func(h *handlers, c *fiber.Ctx, sid, uid, reason string) (streets.Member, error)

// decideMember is the shape every admin decision on a member shares: an
// optional {reason} body, one service call, the membership back.
func (h *handlers) decideMember(c *fiber.Ctx, fn memberDecision) error {
	var req reasonRequest
	if err := decodeOptional(c, &req); err != nil {
		return err
	}
	m, err := fn(h, c, param(c, "sid"), param(c, "uid"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (h *handlers) approveMember(c *fiber.Ctx) error {
	return h.decideMember(c, func(h *handlers, c *fiber.Ctx, sid, uid, reason string) (streets.Member, error) {
		return h.d.Streets.Approve(c.UserContext(), principal(c), sid, uid, reason)
	})
}

func (h *handlers) rejectMember(c *fiber.Ctx) error {
	return h.decideMember(c, func(h *handlers, c *fiber.Ctx, sid, uid, reason string) (streets.Member, error) {
		return h.d.Streets.Reject(c.UserContext(), principal(c), sid, uid, reason)
	})
}

func (h *handlers) banMember(c *fiber.Ctx) error {
	return h.decideMember(c, func(h *handlers, c *fiber.Ctx, sid, uid, reason string) (streets.Member, error) {
		return h.d.Streets.Ban(c.UserContext(), principal(c), sid, uid, reason)
	})
}

func (h *handlers) unbanMember(c *fiber.Ctx) error {
	return h.decideMember(c, func(h *handlers, c *fiber.Ctx, sid, uid, reason string) (streets.Member, error) {
		return h.d.Streets.Unban(c.UserContext(), principal(c), sid, uid, reason)
	})
}

func (h *handlers) setStreetRole(c *fiber.Ctx) error {
	var req streetRoleRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	m, err := h.d.Streets.SetRole(c.UserContext(), principal(c), param(c, "sid"), param(c, "uid"), req.Role)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (h *handlers) streetAudit(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Streets.Audit(c.UserContext(), principal(c), param(c, "sid"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}
