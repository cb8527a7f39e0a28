package portineria

import (
	"context"
	"errors"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Invitations. Joining an association's staff and linking a roster card to
// a Civico account both need the person's yes: the staff sends an
// invitation to an email address (or, for a card, to an account id it
// already knows), the person sees it under their own pending invitations
// and accepts or declines. The staff's answer never depends on whether the
// address has an account, and the association learns who the person is
// only once they accept.
//
// An invitation is one document reached by _id. While open it holds a
// unique key (association, kind, addressee; for a card the card itself), so
// the same invitation is answered to a repeat and two concurrent sends
// make one. Every change of state is a conditional single-document update
// on the state read (`{_id, status:"pending", expires_at > now}` →
// MatchedCount), so of two concurrent answers exactly one wins. Accepting
// first moves the invitation to "accepting" (claimed by the invitee), then
// applies the effect (the staff CAS on staff_version, or the card's link),
// then marks it "accepted": a crash in between leaves it "accepting" for
// the same invitee, whose next accept finishes it; the effects are
// idempotent. Expiry needs no sweep: a pending invitation past expires_at
// is treated as expired wherever it is read.

// Kinds of invitation.
const (
	KindStaff  = "staff"  // join the association's staff with a role
	KindMember = "member" // link one roster card to the invitee's account
)

// Statuses of an invitation. Pending and accepting are open; the others are final.
const (
	InvitationPending   = "pending"
	InvitationAccepting = "accepting" // claimed by the invitee, effect being applied
	InvitationAccepted  = "accepted"
	InvitationDeclined  = "declined"
	InvitationRevoked   = "revoked"
	InvitationExpired   = "expired"
)

// InvitationMailer is the seam for telling an invitee by email (a later
// issue): a mail package implements it by queueing the message in its
// persisted outbox (one owner sends it, once), not by talking SMTP inside
// the request. It is called once per new invitation addressed to an email,
// after the invitation is stored. The mail must read the same whether or
// not the address has an account ("you are invited; sign in, or sign up
// with this address, to answer"), and a failure is only logged: neither
// the inviter's answer nor its timing may depend on the account.
type InvitationMailer interface {
	InvitationSent(ctx context.Context, n InvitationNotice) error
}

// InvitationNotice is what a mail about an invitation may say.
type InvitationNotice struct {
	InvitationID    string
	Email           string
	Kind            string
	Role            Role
	AssociationID   string
	AssociationName string
	InviterName     string
	ExpiresAt       time.Time
}

type invitation struct {
	ID            bson.ObjectID `bson:"_id"`
	Key           string        `bson:"key"`
	AssociationID bson.ObjectID `bson:"association_id"`
	Kind          string        `bson:"kind"`
	// Email or InviteeID addresses the invitation: an email (the account
	// signed in with it answers), or an account the staff already knows.
	Email     string `bson:"email"`
	InviteeID string `bson:"invitee_id"`
	Role      Role   `bson:"role"`
	MemberID  string `bson:"member_id"`
	Status    string `bson:"status"`
	// UserID is the account that accepted (set from "accepting" on). A
	// decline records no account: the association never learns who said no.
	UserID     string     `bson:"user_id"`
	InvitedBy  string     `bson:"invited_by"`
	RevokedBy  string     `bson:"revoked_by,omitempty"`
	CreatedAt  time.Time  `bson:"created_at"`
	ExpiresAt  time.Time  `bson:"expires_at"`
	AnsweredAt *time.Time `bson:"answered_at,omitempty"`
}

func staffKey(aid bson.ObjectID, email string) string { return aid.Hex() + "|staff|" + email }
func memberKey(aid bson.ObjectID, mid string) string  { return aid.Hex() + "|member|" + mid }

// freedKey is the key of a closed invitation: unique, and no longer in the way.
func (inv *invitation) freedKey() string { return inv.Key + "|" + inv.ID.Hex() }

func (inv *invitation) open(now time.Time) bool {
	return inv.Status == InvitationAccepting || (inv.Status == InvitationPending && inv.ExpiresAt.After(now))
}

// status is the status as shown: a pending invitation past its time is expired.
func (inv *invitation) status(now time.Time) string {
	if inv.Status == InvitationPending && !inv.ExpiresAt.After(now) {
		return InvitationExpired
	}
	if inv.Status == InvitationAccepting {
		return InvitationPending
	}
	return inv.Status
}

// Invitation is an invitation as the association's staff sees it: the
// address they typed, never the account behind it.
type Invitation struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Email     string    `json:"email,omitempty"`
	Role      Role      `json:"role,omitempty"`
	MemberID  string    `json:"member_id,omitempty"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
}

func (inv *invitation) staffView(now time.Time) Invitation {
	return Invitation{ID: inv.ID.Hex(), Kind: inv.Kind, Email: inv.Email, Role: inv.Role, MemberID: inv.MemberID,
		Status: inv.status(now), ExpiresAt: inv.ExpiresAt, CreatedAt: inv.CreatedAt}
}

// InvitingAssociation is the association an invitation comes from.
type InvitingAssociation struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Area string `json:"area"`
}

// MyInvitation is an invitation as its invitee sees it.
type MyInvitation struct {
	ID            string              `json:"id"`
	Kind          string              `json:"kind"`
	Role          Role                `json:"role,omitempty"`
	MemberNumber  int64               `json:"member_number,omitempty"`
	Association   InvitingAssociation `json:"association"`
	InvitedByName string              `json:"invited_by_name"`
	Status        string              `json:"status"`
	ExpiresAt     time.Time           `json:"expires_at"`
	CreatedAt     time.Time           `json:"created_at"`
}

// invite stores inv as a new invitation, or answers the open one holding
// its key: unchanged for a repeat, with the new role for a staff
// invitation sent again with another role. An open invitation for a card
// addressed elsewhere, or one past its time, is closed to make room.
func (s *Service) invite(ctx context.Context, p auth.Principal, a *association, inv invitation) (invitation, error) {
	inv.InvitedBy, inv.Status = p.UserID, InvitationPending
	for range 5 {
		now := s.now()
		inv.ID, inv.CreatedAt, inv.ExpiresAt = bson.NewObjectID(), now, now.Add(s.ttl)
		_, err := s.invites.InsertOne(ctx, inv)
		if err == nil {
			detail := inv.Kind
			if inv.Role != "" {
				detail += ":" + string(inv.Role)
			}
			s.trail(ctx, a.ID, p.UserID, "invitation.sent", auditRef{MemberID: inv.MemberID, Detail: detail})
			s.notify(ctx, p, a, &inv)
			return inv, nil
		}
		if !store.IsDuplicate(err) {
			return invitation{}, err
		}
		var cur invitation
		if err := s.invites.FindOne(ctx, bson.M{"key": inv.Key}, &cur); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // closed meanwhile: try again
			}
			return invitation{}, err
		}
		same := cur.Email == inv.Email && cur.InviteeID == inv.InviteeID
		switch {
		case cur.Status == InvitationAccepting:
			if same {
				return cur, nil
			}
			return invitation{}, ErrBusy
		case cur.Status == InvitationPending && cur.ExpiresAt.After(now) && same:
			if cur.Role == inv.Role {
				return cur, nil
			}
			r, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: cur.ID}, {Key: "status", Value: InvitationPending}},
				bson.M{"$set": bson.M{"role": inv.Role}})
			if err != nil {
				return invitation{}, err
			}
			if r.MatchedCount == 1 {
				cur.Role = inv.Role
				return cur, nil
			}
		case cur.Status == InvitationPending:
			status := InvitationExpired
			if cur.ExpiresAt.After(now) {
				status = InvitationRevoked
			}
			set := bson.M{"status": status, "key": cur.freedKey(), "answered_at": now}
			if status == InvitationRevoked {
				set["revoked_by"] = p.UserID
			}
			if _, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: cur.ID}, {Key: "status", Value: InvitationPending}},
				bson.M{"$set": set}); err != nil {
				return invitation{}, err
			}
		default:
			// A final invitation still holding the key (a crash between
			// two writes of an answer): free it.
			if _, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: cur.ID}, {Key: "status", Value: cur.Status}, {Key: "key", Value: cur.Key}},
				bson.M{"$set": bson.M{"key": cur.freedKey()}}); err != nil {
				return invitation{}, err
			}
		}
	}
	return invitation{}, ErrBusy
}

// notify hands a new invitation to the mailer, if any. Its failure is
// logged, never answered: the inviter learns nothing from it.
func (s *Service) notify(ctx context.Context, p auth.Principal, a *association, inv *invitation) {
	if s.mailer == nil || inv.Email == "" {
		return
	}
	inviter := ""
	if acc, err := s.accounts.User(ctx, p.UserID); err == nil {
		inviter = acc.Name
	}
	n := InvitationNotice{InvitationID: inv.ID.Hex(), Email: inv.Email, Kind: inv.Kind, Role: inv.Role,
		AssociationID: a.ID.Hex(), AssociationName: a.Name, InviterName: inviter, ExpiresAt: inv.ExpiresAt}
	if err := s.mailer.InvitationSent(context.WithoutCancel(ctx), n); err != nil {
		s.log.Warn("portineria: invitation mail", "invitation", n.InvitationID, "err", err)
	}
}

// inviteMember invites the holder of email, or the account userID, to link
// their account to member m's card. The caller has checked the staff
// right and the input.
func (s *Service) inviteMember(ctx context.Context, p auth.Principal, a *association, m *member, email, userID string) (invitation, error) {
	return s.invite(ctx, p, a, invitation{Key: memberKey(a.ID, m.ID.Hex()), AssociationID: a.ID, Kind: KindMember,
		Email: email, InviteeID: userID, MemberID: m.ID.Hex()})
}

// InviteMember invites the holder of email to link their account to a
// roster card (any of the staff). It answers the same whether or not the
// address has an account; a card has one open invitation at a time, so
// inviting another address withdraws the previous one.
func (s *Service) InviteMember(ctx context.Context, p auth.Principal, aid, mid, email string) (Invitation, error) {
	email = normalizeEmail(email)
	f := fault.Fields{}
	if email == "" {
		f.Add("email", "required")
	}
	checkEmail(f, "email", email)
	if err := f.Err(); err != nil {
		return Invitation{}, err
	}
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Invitation{}, err
	}
	m, err := s.loadMember(ctx, &a, mid)
	if err != nil {
		return Invitation{}, err
	}
	if m.Erased {
		return Invitation{}, ErrMemberErased
	}
	if err := s.allow(ctx, s.inviteLimit, p.UserID, ErrInviteRateLimited); err != nil {
		return Invitation{}, err
	}
	inv, err := s.inviteMember(ctx, p, &a, &m, email, "")
	if err != nil {
		return Invitation{}, err
	}
	return inv.staffView(s.now()), nil
}

// memberInvitation is the open invitation of member mid's card, if any.
func (s *Service) memberInvitation(ctx context.Context, aid bson.ObjectID, mid string) (*Invitation, error) {
	var inv invitation
	if err := s.invites.FindOne(ctx, bson.M{"key": memberKey(aid, mid)}, &inv); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	now := s.now()
	if !inv.open(now) {
		return nil, nil
	}
	v := inv.staffView(now)
	return &v, nil
}

// withdrawMemberInvitation closes the open invitation of a card that is
// being unlinked or erased.
func (s *Service) withdrawMemberInvitation(ctx context.Context, p auth.Principal, aid bson.ObjectID, mid string) error {
	var inv invitation
	if err := s.invites.FindOne(ctx, bson.M{"key": memberKey(aid, mid)}, &inv); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if inv.Status != InvitationPending {
		return nil
	}
	_, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "status", Value: InvitationPending}},
		bson.M{"$set": bson.M{"status": InvitationRevoked, "key": inv.freedKey(), "revoked_by": p.UserID, "answered_at": s.now()}})
	return err
}

// InvitationQuery filters an association's open invitations.
type InvitationQuery struct {
	Kind     string
	MemberID string
	Cursor   string
	Limit    int
}

// openFilter matches the invitations still waiting for an answer.
func openFilter(now time.Time) bson.D {
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "status", Value: InvitationPending}, {Key: "expires_at", Value: bson.M{"$gt": now}}},
		bson.D{{Key: "status", Value: InvitationAccepting}},
	}}}
}

// afterCursor adds the newest-first page position to filter.
func afterCursor(filter bson.D, cursor string) (bson.D, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	if after != "" {
		oid, ok := store.ID(after)
		if !ok {
			return nil, ErrBadCursor
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.M{"$lt": oid}})
	}
	return filter, nil
}

// pageOf reads a newest-first page of invitations.
func (s *Service) pageOf(ctx context.Context, filter bson.D, limit int) ([]invitation, string, error) {
	var invs []invitation
	if err := s.invites.FindAll(ctx, filter, &invs, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit+1))); err != nil {
		return nil, "", err
	}
	next := ""
	if len(invs) > limit {
		invs = invs[:limit]
		next = encodeCursor(invs[limit-1].ID.Hex())
	}
	return invs, next, nil
}

// Invitations lists the association's open invitations, newest first.
// Coordinators see both kinds; volunteers, who cannot invite to the
// staff, see the cards' invitations only.
func (s *Service) Invitations(ctx context.Context, p auth.Principal, aid string, q InvitationQuery) ([]Invitation, string, error) {
	a, role, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return nil, "", err
	}
	f := fault.Fields{}
	if q.Kind != "" && q.Kind != KindStaff && q.Kind != KindMember {
		f.Add("kind", "invalid")
	}
	if _, ok := store.ID(q.MemberID); q.MemberID != "" && !ok {
		f.Add("member_id", "invalid")
	}
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	if role != Coordinator {
		if q.Kind == KindStaff {
			return nil, "", ErrCoordinatorOnly
		}
		q.Kind = KindMember
	}
	now := s.now()
	filter := append(bson.D{{Key: "association_id", Value: a.ID}}, openFilter(now)...)
	if q.Kind != "" {
		filter = append(filter, bson.E{Key: "kind", Value: q.Kind})
	}
	if q.MemberID != "" {
		filter = append(filter, bson.E{Key: "member_id", Value: q.MemberID})
	}
	filter, err = afterCursor(filter, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	invs, next, err := s.pageOf(ctx, filter, clampLimit(q.Limit))
	if err != nil {
		return nil, "", err
	}
	out := make([]Invitation, 0, len(invs))
	for i := range invs {
		out = append(out, invs[i].staffView(now))
	}
	return out, next, nil
}

// RevokeInvitation withdraws an open invitation: a staff one by a
// coordinator, a card's by any of the staff. Withdrawing one that is no
// longer open is not an error (whether it was declined or ran out is the
// invitee's business); one already accepted cannot be withdrawn.
func (s *Service) RevokeInvitation(ctx context.Context, p auth.Principal, aid, iid string) error {
	a, role, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return err
	}
	oid, ok := store.ID(iid)
	if !ok {
		return ErrInvitationNotFound
	}
	for range 5 {
		var inv invitation
		if err := s.invites.FindOne(ctx, bson.M{"_id": oid}, &inv); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrInvitationNotFound
			}
			return err
		}
		if inv.AssociationID != a.ID {
			return ErrInvitationNotFound
		}
		if inv.Kind == KindStaff && role != Coordinator {
			return ErrCoordinatorOnly
		}
		switch inv.Status {
		case InvitationAccepting, InvitationAccepted:
			return ErrInvitationAnswered
		case InvitationPending:
		default:
			return nil
		}
		r, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "status", Value: InvitationPending}},
			bson.M{"$set": bson.M{"status": InvitationRevoked, "key": inv.freedKey(), "revoked_by": p.UserID, "answered_at": s.now()}})
		if err != nil {
			return err
		}
		if r.MatchedCount == 1 {
			s.trail(ctx, a.ID, p.UserID, "invitation.revoked", auditRef{MemberID: inv.MemberID, Detail: inv.Kind})
			return nil
		}
	}
	return ErrBusy
}

// invitee is the signed-in user as an addressee: their id and the email
// they sign in with. Invitations are found through these two only, so
// nobody learns anything about an address that is not theirs.
type invitee struct {
	id    string
	email string
}

func (s *Service) invitee(ctx context.Context, p auth.Principal) (invitee, error) {
	acc, err := s.accounts.User(ctx, p.UserID)
	if err != nil {
		return invitee{}, err
	}
	return invitee{id: acc.ID, email: normalizeEmail(acc.Email)}, nil
}

// addressee is the filter condition by which inv is addressed to me, or nil.
func (me invitee) addressee(inv *invitation) bson.E {
	switch {
	case inv.Email != "" && inv.Email == me.email:
		return bson.E{Key: "email", Value: me.email}
	case inv.InviteeID != "" && inv.InviteeID == me.id:
		return bson.E{Key: "invitee_id", Value: me.id}
	}
	return bson.E{}
}

// mine reads invitation iid if it is addressed to me; to anyone else it
// does not exist.
func (s *Service) mine(ctx context.Context, me invitee, iid string) (invitation, bson.E, error) {
	oid, ok := store.ID(iid)
	if !ok {
		return invitation{}, bson.E{}, ErrInvitationNotFound
	}
	var inv invitation
	if err := s.invites.FindOne(ctx, bson.M{"_id": oid}, &inv); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return invitation{}, bson.E{}, ErrInvitationNotFound
		}
		return invitation{}, bson.E{}, err
	}
	cond := me.addressee(&inv)
	if cond.Key == "" || inv.Status == InvitationRevoked {
		return invitation{}, bson.E{}, ErrInvitationNotFound
	}
	return inv, cond, nil
}

// MyInvitations lists the open invitations addressed to the caller (to
// the email they sign in with, or to their account), newest first.
func (s *Service) MyInvitations(ctx context.Context, p auth.Principal, cursor string, limit int) ([]MyInvitation, string, error) {
	me, err := s.invitee(ctx, p)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	filter := bson.D{
		{Key: "$and", Value: bson.A{
			bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "email", Value: me.email}}, bson.D{{Key: "invitee_id", Value: me.id}}}}},
			bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: "status", Value: InvitationPending}, {Key: "expires_at", Value: bson.M{"$gt": now}}},
				bson.D{{Key: "status", Value: InvitationAccepting}, {Key: "user_id", Value: me.id}},
			}}},
		}},
	}
	filter, err = afterCursor(filter, cursor)
	if err != nil {
		return nil, "", err
	}
	invs, next, err := s.pageOf(ctx, filter, clampLimit(limit))
	if err != nil {
		return nil, "", err
	}
	out, err := s.myViews(ctx, invs)
	return out, next, err
}

// myViews shows invitations to their invitee: the association, the card's
// number, who invited them.
func (s *Service) myViews(ctx context.Context, invs []invitation) ([]MyInvitation, error) {
	ids := make([]string, 0, len(invs))
	for _, inv := range invs {
		ids = append(ids, inv.InvitedBy)
	}
	accs, err := s.accounts.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := s.now()
	assocs := map[bson.ObjectID]association{}
	out := make([]MyInvitation, 0, len(invs))
	for _, inv := range invs {
		a, ok := assocs[inv.AssociationID]
		if !ok {
			a, err = s.load(ctx, inv.AssociationID.Hex())
			if errors.Is(err, ErrAssociationNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			assocs[inv.AssociationID] = a
		}
		v := MyInvitation{ID: inv.ID.Hex(), Kind: inv.Kind, Role: inv.Role,
			Association:   InvitingAssociation{ID: a.ID.Hex(), Name: a.Name, Area: a.Area},
			InvitedByName: accs[inv.InvitedBy].Name, Status: inv.status(now), ExpiresAt: inv.ExpiresAt, CreatedAt: inv.CreatedAt}
		if inv.Kind == KindMember {
			if m, err := s.loadMember(ctx, &a, inv.MemberID); err == nil {
				v.MemberNumber = m.Number
			} else if !errors.Is(err, ErrMemberNotFound) {
				return nil, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Service) myView(ctx context.Context, inv invitation) (MyInvitation, error) {
	vs, err := s.myViews(ctx, []invitation{inv})
	if err != nil {
		return MyInvitation{}, err
	}
	if len(vs) == 0 {
		return MyInvitation{}, ErrInvitationNotFound
	}
	return vs[0], nil
}

// AcceptInvitation says yes to an invitation addressed to the caller:
// they join the staff with the invitation's role, or their account is
// linked to the card. Anyone else is told it does not exist. Accepting
// again is answered as accepted; concurrent accepts make one change.
func (s *Service) AcceptInvitation(ctx context.Context, p auth.Principal, iid string) (MyInvitation, error) {
	me, err := s.invitee(ctx, p)
	if err != nil {
		return MyInvitation{}, err
	}
	for range 5 {
		inv, cond, err := s.mine(ctx, me, iid)
		if err != nil {
			return MyInvitation{}, err
		}
		now := s.now()
		switch inv.Status {
		case InvitationAccepted:
			if inv.UserID != me.id {
				return MyInvitation{}, ErrInvitationAnswered
			}
			return s.myView(ctx, inv)
		case InvitationAccepting:
			if inv.UserID != me.id {
				return MyInvitation{}, ErrInvitationAnswered
			}
			return s.finishAccept(ctx, me, inv)
		case InvitationPending:
			if !inv.ExpiresAt.After(now) {
				return MyInvitation{}, ErrInvitationExpired
			}
		case InvitationExpired:
			return MyInvitation{}, ErrInvitationExpired
		default:
			return MyInvitation{}, ErrInvitationAnswered
		}
		r, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "status", Value: InvitationPending},
			{Key: "expires_at", Value: bson.M{"$gt": now}}, cond},
			bson.M{"$set": bson.M{"status": InvitationAccepting, "user_id": me.id, "answered_at": now}})
		if err != nil {
			return MyInvitation{}, err
		}
		if r.MatchedCount == 1 {
			inv.Status, inv.UserID, inv.AnsweredAt = InvitationAccepting, me.id, &now
			return s.finishAccept(ctx, me, inv)
		}
		// Answered, withdrawn or expired meanwhile: read it again.
	}
	return MyInvitation{}, ErrBusy
}

// finishAccept applies an invitation the caller holds in "accepting" and
// closes it. A refusal from the association's side (the staff is full, the
// card was erased or is linked to this account's other card) puts the
// invitation back to pending, so the invitee may decline it or try again;
// any other failure leaves it "accepting" for the next attempt.
func (s *Service) finishAccept(ctx context.Context, me invitee, inv invitation) (MyInvitation, error) {
	var err error
	switch inv.Kind {
	case KindStaff:
		err = s.joinStaff(ctx, me, &inv)
	case KindMember:
		err = s.linkCard(ctx, me, &inv)
	default:
		err = ErrInvitationNotFound
	}
	if err != nil {
		if _, domain := fault.As(err); domain {
			if _, rerr := s.invites.UpdateOne(context.WithoutCancel(ctx),
				bson.D{{Key: "_id", Value: inv.ID}, {Key: "status", Value: InvitationAccepting}, {Key: "user_id", Value: me.id}},
				bson.M{"$set": bson.M{"status": InvitationPending, "user_id": ""}, "$unset": bson.M{"answered_at": ""}}); rerr != nil {
				s.log.Warn("portineria: reopen invitation", "invitation", inv.ID.Hex(), "err", rerr)
			}
		}
		return MyInvitation{}, err
	}
	if _, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "status", Value: InvitationAccepting}, {Key: "user_id", Value: me.id}},
		bson.M{"$set": bson.M{"status": InvitationAccepted, "key": inv.freedKey()}}); err != nil {
		return MyInvitation{}, err
	}
	inv.Status = InvitationAccepted
	return s.myView(ctx, inv)
}

// joinStaff adds the invitee to the staff through the staff CAS; already
// being on the staff (an earlier attempt, a concurrent accept) is success.
func (s *Service) joinStaff(ctx context.Context, me invitee, inv *invitation) error {
	role := inv.Role
	if role != Coordinator {
		role = Volunteer
	}
	a, changed, err := s.casStaff(ctx, inv.AssociationID.Hex(), func(a *association) error {
		if a.roleOf(me.id) != "" {
			return errUnchanged
		}
		if len(a.Staff) >= MaxStaff {
			return ErrStaffFull
		}
		a.Staff = append(a.Staff, staffer{UserID: me.id, Role: role, AddedBy: inv.InvitedBy, AddedAt: s.now()})
		return nil
	})
	if err != nil {
		return err
	}
	if changed {
		s.trail(ctx, a.ID, me.id, "volunteer.added", auditRef{UserID: me.id, Detail: string(role)})
	}
	return nil
}

// linkCard links the invitee's account to the invitation's card (moving
// it off any account linked before); already linked is success.
func (s *Service) linkCard(ctx context.Context, me invitee, inv *invitation) error {
	a, err := s.load(ctx, inv.AssociationID.Hex())
	if err != nil {
		return err
	}
	for range 5 {
		m, err := s.loadMember(ctx, &a, inv.MemberID)
		if err != nil {
			return err
		}
		if m.Erased {
			return ErrMemberErased
		}
		if m.UserID == me.id {
			return nil
		}
		err = s.relink(ctx, auth.Principal{UserID: me.id}, &a, &m, me.id)
		if !errors.Is(err, ErrBusy) {
			return err
		}
		// The card changed meanwhile (a concurrent accept): look again.
	}
	return ErrBusy
}

// DeclineInvitation says no. Nothing about the invitee is kept on the
// invitation, and the association is not told who declined.
func (s *Service) DeclineInvitation(ctx context.Context, p auth.Principal, iid string) (MyInvitation, error) {
	me, err := s.invitee(ctx, p)
	if err != nil {
		return MyInvitation{}, err
	}
	for range 5 {
		inv, cond, err := s.mine(ctx, me, iid)
		if err != nil {
			return MyInvitation{}, err
		}
		switch inv.Status {
		case InvitationDeclined:
			return s.myView(ctx, inv)
		case InvitationPending:
		default:
			return MyInvitation{}, ErrInvitationAnswered
		}
		now := s.now()
		r, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "status", Value: InvitationPending}, cond},
			bson.M{"$set": bson.M{"status": InvitationDeclined, "key": inv.freedKey(), "answered_at": now}})
		if err != nil {
			return MyInvitation{}, err
		}
		if r.MatchedCount == 1 {
			inv.Status, inv.AnsweredAt = InvitationDeclined, &now
			return s.myView(ctx, inv)
		}
	}
	return MyInvitation{}, ErrBusy
}

// myOpenInvitations are the open invitations addressed to me, for the
// export (at most a page: invitations are rate-limited and expire).
func (s *Service) myOpenInvitations(ctx context.Context, me invitee) ([]MyInvitation, error) {
	out, _, err := s.MyInvitations(ctx, auth.Principal{UserID: me.id}, "", 100)
	return out, err
}

// forgetInvitee runs when an account is deleted: the invitations it
// accepted keep their kind and role for the association's history but
// lose the account and address; open ones addressed to the account go.
// Open ones addressed to the email stay: the address is the association's
// record, and whoever signs up with it later may answer.
func (s *Service) forgetInvitee(ctx context.Context, userID string) error {
	var invs []invitation
	if err := s.invites.FindAll(ctx, bson.M{"user_id": userID}, &invs, options.Find().SetLimit(1000)); err != nil {
		return err
	}
	var byID []invitation
	if err := s.invites.FindAll(ctx, bson.M{"invitee_id": userID}, &byID, options.Find().SetLimit(1000)); err != nil {
		return err
	}
	now := s.now()
	for _, inv := range append(invs, byID...) {
		set := bson.M{"email": "", "invitee_id": "", "user_id": ""}
		if inv.Status == InvitationPending || inv.Status == InvitationAccepting {
			set["status"], set["key"], set["answered_at"] = InvitationDeclined, inv.freedKey(), now
		}
		if _, err := s.invites.UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "status", Value: inv.Status}},
			bson.M{"$set": set}); err != nil {
			return err
		}
	}
	return nil
}
