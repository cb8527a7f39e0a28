package api

import (
	"fmt"
	"net/http"
	"strconv"

	"civico/internal/fault"
	"civico/internal/portineria"

	"github.com/gofiber/fiber/v2"
)

// The Portinaio di rione: associations, staff, roster, ledger, reports,
// exports, the residents' skills directory and assisted posting. Every rule
// lives in portineria; these handlers parse, call one method and answer.

type createAssociationRequest struct {
	Name           string           `json:"name"`
	Area           string           `json:"area"`
	YearlyFeeCents int64            `json:"yearly_fee_cents"`
	TimeZone       string           `json:"time_zone"`
	Desk           *portineria.Desk `json:"desk"`
}

type updateAssociationRequest struct {
	Name           *string          `json:"name"`
	Area           *string          `json:"area"`
	YearlyFeeCents *int64           `json:"yearly_fee_cents"`
	Desk           *portineria.Desk `json:"desk"`
}

type volunteerRequest struct {
	Email string          `json:"email"`
	Role  portineria.Role `json:"role"`
}

type invitationRequest struct {
	Email string `json:"email"`
}

// invitationResponse answers an invitation sent: the same shape whether
// or not the address has an account, never the account behind it.
type invitationResponse struct {
	Invitation portineria.Invitation `json:"invitation"`
}

// myInvitationResponse answers the invitee's accept or decline.
type myInvitationResponse struct {
	Invitation portineria.MyInvitation `json:"invitation"`
}

type roleRequest struct {
	Role portineria.Role `json:"role"`
}

type memberRequest struct {
	FullName     string   `json:"full_name"`
	Phone        string   `json:"phone"`
	Email        string   `json:"email"`
	Address      string   `json:"address"`
	Skills       []string `json:"skills"`
	Notes        string   `json:"notes"`
	UserID       string   `json:"user_id"`
	AccountEmail string   `json:"account_email"`
	InDirectory  *bool    `json:"in_directory"`
	JoinedOn     string   `json:"joined_on"`
}

type memberPatchRequest struct {
	FullName     *string   `json:"full_name"`
	Phone        *string   `json:"phone"`
	Email        *string   `json:"email"`
	Address      *string   `json:"address"`
	Skills       *[]string `json:"skills"`
	Notes        *string   `json:"notes"`
	UserID       *string   `json:"user_id"`
	AccountEmail *string   `json:"account_email"`
	InDirectory  *bool     `json:"in_directory"`
	JoinedOn     *string   `json:"joined_on"`
}

type entryRequest struct {
	MemberID       string `json:"member_id"`
	Type           string `json:"type"`
	AmountCents    int64  `json:"amount_cents"`
	Year           int    `json:"year"`
	Method         string `json:"method"`
	Note           string `json:"note"`
	IdempotencyKey string `json:"idempotency_key"`
}

type reverseRequest struct {
	Reason string `json:"reason"`
}

type assistedPostRequest struct {
	StreetID string `json:"street_id"`
	Kind     string `json:"kind"`
	Category string `json:"category"`
	Title    string `json:"title"`
	Body     string `json:"body"`
}

type ledgerResponse struct {
	Items      []portineria.Entry `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
	Totals     portineria.Totals  `json:"totals"`
}

type skillsResponse struct {
	Association portineria.Association  `json:"association"`
	Items       []portineria.SkillOffer `json:"items"`
	NextCursor  string                  `json:"next_cursor,omitempty"`
}

// queryInt parses an optional integer query parameter (0 when absent).
func queryInt(c *fiber.Ctx, name string) (int, error) {
	s := c.Query(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 6 {
		return 0, fault.Validation(name, "invalid")
	}
	return n, nil
}

func (h *handlers) createAssociation(c *fiber.Ctx) error {
	var req createAssociationRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	a, err := h.d.Portineria.Create(c.UserContext(), principal(c), portineria.NewAssociation{Name: req.Name, Area: req.Area,
		YearlyFeeCents: req.YearlyFeeCents, TimeZone: req.TimeZone, Desk: req.Desk})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(a)
}

func (h *handlers) listAssociations(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Portineria.Directory(c.UserContext(), principal(c), portineria.DirectoryQuery{
		Q: query(c, "q"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) getAssociation(c *fiber.Ctx) error {
	a, err := h.d.Portineria.Get(c.UserContext(), principal(c), param(c, "aid"))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (h *handlers) updateAssociation(c *fiber.Ctx) error {
	var req updateAssociationRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	a, err := h.d.Portineria.Update(c.UserContext(), principal(c), param(c, "aid"), portineria.AssociationChanges{
		Name: req.Name, Area: req.Area, YearlyFeeCents: req.YearlyFeeCents, Desk: req.Desk})
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (h *handlers) listVolunteers(c *fiber.Ctx) error {
	items, err := h.d.Portineria.Staff(c.UserContext(), principal(c), param(c, "aid"))
	if err != nil {
		return err
	}
	return c.JSON(newList(items, ""))
}

// inviteVolunteer invites an email to the staff: 202, the same answer
// whether or not the address has an account.
func (h *handlers) inviteVolunteer(c *fiber.Ctx) error {
	var req volunteerRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	inv, err := h.d.Portineria.InviteVolunteer(c.UserContext(), principal(c), param(c, "aid"), req.Email, req.Role)
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(invitationResponse{Invitation: inv})
}

// inviteMember invites an email to link its account to a roster card.
func (h *handlers) inviteMember(c *fiber.Ctx) error {
	var req invitationRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	inv, err := h.d.Portineria.InviteMember(c.UserContext(), principal(c), param(c, "aid"), param(c, "mid"), req.Email)
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(invitationResponse{Invitation: inv})
}

func (h *handlers) listInvitations(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Portineria.Invitations(c.UserContext(), principal(c), param(c, "aid"), portineria.InvitationQuery{
		Kind: query(c, "kind"), MemberID: query(c, "member_id"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) revokeInvitation(c *fiber.Ctx) error {
	if err := h.d.Portineria.RevokeInvitation(c.UserContext(), principal(c), param(c, "aid"), param(c, "iid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// myInvitations lists the open invitations addressed to the caller.
func (h *handlers) myInvitations(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Portineria.MyInvitations(c.UserContext(), principal(c), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) acceptInvitation(c *fiber.Ctx) error {
	inv, err := h.d.Portineria.AcceptInvitation(c.UserContext(), principal(c), param(c, "iid"))
	if err != nil {
		return err
	}
	return c.JSON(myInvitationResponse{Invitation: inv})
}

func (h *handlers) declineInvitation(c *fiber.Ctx) error {
	inv, err := h.d.Portineria.DeclineInvitation(c.UserContext(), principal(c), param(c, "iid"))
	if err != nil {
		return err
	}
	return c.JSON(myInvitationResponse{Invitation: inv})
}

func (h *handlers) setVolunteerRole(c *fiber.Ctx) error {
	var req roleRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	v, err := h.d.Portineria.SetRole(c.UserContext(), principal(c), param(c, "aid"), param(c, "uid"), req.Role)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (h *handlers) removeVolunteer(c *fiber.Ctx) error {
	uid := param(c, "uid")
	p := principal(c)
	if uid == "me" {
		uid = p.UserID
	}
	if err := h.d.Portineria.RemoveVolunteer(c.UserContext(), p, param(c, "aid"), uid); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) addMember(c *fiber.Ctx) error {
	var req memberRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	m, err := h.d.Portineria.AddMember(c.UserContext(), principal(c), param(c, "aid"), portineria.NewMember{
		FullName: req.FullName, Phone: req.Phone, Email: req.Email, Address: req.Address, Skills: req.Skills,
		Notes: req.Notes, UserID: req.UserID, AccountEmail: req.AccountEmail, InDirectory: req.InDirectory, JoinedOn: req.JoinedOn})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(m)
}

func (h *handlers) listMembers(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	year, err := queryInt(c, "year")
	if err != nil {
		return err
	}
	items, next, err := h.d.Portineria.ListMembers(c.UserContext(), principal(c), param(c, "aid"), portineria.MemberQuery{
		Q: query(c, "q"), Skill: query(c, "skill"), Status: query(c, "status"), Year: year, Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) getMember(c *fiber.Ctx) error {
	year, err := queryInt(c, "year")
	if err != nil {
		return err
	}
	m, err := h.d.Portineria.GetMember(c.UserContext(), principal(c), param(c, "aid"), param(c, "mid"), year)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (h *handlers) updateMember(c *fiber.Ctx) error {
	var req memberPatchRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	m, err := h.d.Portineria.UpdateMember(c.UserContext(), principal(c), param(c, "aid"), param(c, "mid"), portineria.MemberChanges{
		FullName: req.FullName, Phone: req.Phone, Email: req.Email, Address: req.Address, Skills: req.Skills, Notes: req.Notes,
		UserID: req.UserID, AccountEmail: req.AccountEmail, InDirectory: req.InDirectory, JoinedOn: req.JoinedOn})
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (h *handlers) eraseMember(c *fiber.Ctx) error {
	if err := h.d.Portineria.EraseMember(c.UserContext(), principal(c), param(c, "aid"), param(c, "mid")); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *handlers) postForMember(c *fiber.Ctx) error {
	var req assistedPostRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	out, err := h.d.Portineria.PostForMember(c.UserContext(), principal(c), param(c, "aid"), param(c, "mid"), req.StreetID,
		portineria.AssistedPost{Kind: req.Kind, Category: req.Category, Title: req.Title, Body: req.Body, IdempotencyKey: idempotencyKey(c)})
	if err != nil {
		return err
	}
	return c.Status(createdStatus(c, !out.Replayed)).JSON(out.Post)
}

func (h *handlers) recordEntry(c *fiber.Ctx) error {
	var req entryRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	e, created, err := h.d.Portineria.Record(c.UserContext(), principal(c), param(c, "aid"), portineria.NewEntry{
		MemberID: req.MemberID, Type: req.Type, AmountCents: req.AmountCents, Year: req.Year, Method: req.Method,
		Note: req.Note, IdempotencyKey: req.IdempotencyKey})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(e)
}

func (h *handlers) listLedger(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	year, err := queryInt(c, "year")
	if err != nil {
		return err
	}
	page, err := h.d.Portineria.Ledger(c.UserContext(), principal(c), param(c, "aid"), portineria.LedgerQuery{
		MemberID: query(c, "member_id"), Year: year, Type: query(c, "type"), Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	items := page.Items
	if items == nil {
		items = []portineria.Entry{}
	}
	return c.JSON(ledgerResponse{Items: items, NextCursor: page.NextCursor, Totals: page.Totals})
}

func (h *handlers) getEntry(c *fiber.Ctx) error {
	e, err := h.d.Portineria.GetEntry(c.UserContext(), principal(c), param(c, "aid"), param(c, "eid"))
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (h *handlers) reverseEntry(c *fiber.Ctx) error {
	var req reverseRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	e, err := h.d.Portineria.Reverse(c.UserContext(), principal(c), param(c, "aid"), param(c, "eid"), req.Reason)
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(e)
}

func (h *handlers) associationReport(c *fiber.Ctx) error {
	year, err := queryInt(c, "year")
	if err != nil {
		return err
	}
	r, err := h.d.Portineria.Report(c.UserContext(), principal(c), param(c, "aid"), year)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (h *handlers) associationRenewals(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	within, err := queryInt(c, "within_days")
	if err != nil {
		return err
	}
	items, next, err := h.d.Portineria.Renewals(c.UserContext(), principal(c), param(c, "aid"), portineria.RenewalQuery{
		WithinDays: within, Cursor: query(c, "cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

func (h *handlers) membersCSV(c *fiber.Ctx) error {
	year, err := queryInt(c, "year")
	if err != nil {
		return err
	}
	aid := param(c, "aid")
	b, err := h.d.Portineria.MembersCSV(c.UserContext(), principal(c), aid, year)
	if err != nil {
		return err
	}
	return sendCSV(c, fmt.Sprintf("members-%s.csv", aid), b)
}

func (h *handlers) ledgerCSV(c *fiber.Ctx) error {
	year, err := queryInt(c, "year")
	if err != nil {
		return err
	}
	aid := param(c, "aid")
	b, err := h.d.Portineria.LedgerCSV(c.UserContext(), principal(c), aid, year)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("ledger-%s.csv", aid)
	if year != 0 {
		name = fmt.Sprintf("ledger-%s-%d.csv", aid, year)
	}
	return sendCSV(c, name, b)
}

// sendCSV answers a download; the name holds only hex and digits (the
// service refused anything else as not found).
func sendCSV(c *fiber.Ctx, name string, b []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Send(b)
}

func (h *handlers) associationSkills(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	page, err := h.d.Portineria.Skills(c.UserContext(), principal(c), param(c, "aid"), query(c, "skill"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(skillsResponse{Association: page.Association, Items: page.Items, NextCursor: page.NextCursor})
}

func (h *handlers) associationAudit(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 50)
	if err != nil {
		return err
	}
	items, next, err := h.d.Portineria.Audit(c.UserContext(), principal(c), param(c, "aid"), query(c, "cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(items, next))
}

// associationRoutes registers the Portinaio di rione under /associations,
// and the invitee's side of its invitations under /me and /invitations.
func (h *handlers) associationRoutes(v1, me fiber.Router) {
	if h.d.Portineria == nil {
		return
	}
	me.Get("/invitations", h.myInvitations)
	inv := v1.Group("/invitations", h.requireUser)
	inv.Post("/:iid/accept", h.acceptInvitation)
	inv.Post("/:iid/decline", h.declineInvitation)
	as := v1.Group("/associations", h.requireUser)
	as.Post("/", h.createAssociation)
	as.Get("/", h.listAssociations)
	as.Get("/:aid", h.getAssociation)
	as.Patch("/:aid", h.updateAssociation)
	as.Get("/:aid/volunteers", h.listVolunteers)
	as.Post("/:aid/volunteers", h.inviteVolunteer)
	as.Patch("/:aid/volunteers/:uid", h.setVolunteerRole)
	as.Delete("/:aid/volunteers/:uid", h.removeVolunteer)
	as.Get("/:aid/invitations", h.listInvitations)
	as.Delete("/:aid/invitations/:iid", h.revokeInvitation)
	as.Get("/:aid/members.csv", h.membersCSV)
	as.Get("/:aid/ledger.csv", h.ledgerCSV)
	as.Post("/:aid/members", h.addMember)
	as.Get("/:aid/members", h.listMembers)
	as.Get("/:aid/members/:mid", h.getMember)
	as.Patch("/:aid/members/:mid", h.updateMember)
	as.Delete("/:aid/members/:mid", h.eraseMember)
	as.Post("/:aid/members/:mid/invitations", h.inviteMember)
	as.Post("/:aid/members/:mid/posts", h.postForMember)
	as.Post("/:aid/ledger", h.recordEntry)
	as.Get("/:aid/ledger", h.listLedger)
	as.Get("/:aid/ledger/:eid", h.getEntry)
	as.Post("/:aid/ledger/:eid/reverse", h.reverseEntry)
	as.Get("/:aid/report", h.associationReport)
	as.Get("/:aid/renewals", h.associationRenewals)
	as.Get("/:aid/skills", h.associationSkills)
	as.Get("/:aid/audit", h.associationAudit)
}
