package portineria

import (
	"context"
	"errors"
	"slices"
	"time"

	"civico/internal/auth"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MyStaffRole is one association where the user is staff, for the export.
type MyStaffRole struct {
	AssociationID   string    `json:"association_id"`
	AssociationName string    `json:"association_name"`
	Role            Role      `json:"role"`
	AddedAt         time.Time `json:"added_at"`
}

// MyCard is the roster card linked to the user's account, with the
// payments recorded for it: what the association holds about them.
type MyCard struct {
	AssociationID   string  `json:"association_id"`
	AssociationName string  `json:"association_name"`
	Member          Member  `json:"member"`
	Entries         []Entry `json:"entries"`
}

// AccountData is everything this package holds about a user.
type AccountData struct {
	Staff       []MyStaffRole  `json:"staff"`
	Cards       []MyCard       `json:"cards"`
	Invitations []MyInvitation `json:"invitations"`
}

// Export gathers the user's data for GET /me/export.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	out := AccountData{Staff: []MyStaffRole{}, Cards: []MyCard{}, Invitations: []MyInvitation{}}
	var staffOf []association
	if err := s.assocs.FindAll(ctx, bson.M{"staff.user_id": userID}, &staffOf, options.Find().SetLimit(200)); err != nil {
		return nil, err
	}
	for _, a := range staffOf {
		for _, st := range a.Staff {
			if st.UserID == userID {
				out.Staff = append(out.Staff, MyStaffRole{AssociationID: a.ID.Hex(), AssociationName: a.Name, Role: st.Role, AddedAt: st.AddedAt})
			}
		}
	}
	ms, as, err := s.linkedMembers(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		m, a := &ms[i], &as[i]
		y := a.year(s.clock.Now())
		var es []entry
		if err := s.ledger.FindAll(ctx, bson.D{{Key: "association_id", Value: a.ID}, {Key: "member_id", Value: m.ID.Hex()}}, &es); err != nil {
			return nil, err
		}
		paid := int64(0)
		for j := range es {
			if es[j].Year == y {
				paid += cardCents(&es[j])
			}
		}
		views, err := s.entryViews(ctx, es, nil)
		if err != nil {
			return nil, err
		}
		out.Cards = append(out.Cards, MyCard{AssociationID: a.ID.Hex(), AssociationName: a.Name,
			Member: a.memberView(m, y, paid), Entries: views})
	}
	me, err := s.invitee(ctx, auth.Principal{UserID: userID})
	if err != nil {
		return nil, err
	}
	if out.Invitations, err = s.myOpenInvitations(ctx, me); err != nil {
		return nil, err
	}
	return out, nil
}

// linkedMembers are the members linked to userID, with their associations.
func (s *Service) linkedMembers(ctx context.Context, userID string) ([]member, []association, error) {
	var ls []link
	if err := s.links.FindAll(ctx, bson.M{"user_id": userID}, &ls, options.Find().SetLimit(200)); err != nil {
		return nil, nil, err
	}
	var ms []member
	var as []association
	for _, l := range ls {
		var m member
		if err := s.members.FindOne(ctx, bson.M{"_id": l.MemberID}, &m); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, nil, err
		}
		if m.UserID != userID || m.Erased {
			continue
		}
		a, err := s.load(ctx, m.AssociationID.Hex())
		if errors.Is(err, ErrAssociationNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		ms, as = append(ms, m), append(as, a)
	}
	return ms, as, nil
}

// Erase runs before an account is deleted. The association's records are
// its own and stay (the roster card, the ledger with who recorded what);
// the account leaves every staff and its link to a card goes. When the
// last coordinator leaves this way, the longest-serving remaining volunteer
// becomes coordinator, so no association is left without one.
func (s *Service) Erase(ctx context.Context, userID string) error {
	var staffOf []association
	if err := s.assocs.FindAll(ctx, bson.M{"staff.user_id": userID}, &staffOf,
		options.Find().SetLimit(200).SetProjection(bson.M{"_id": 1})); err != nil {
		return err
	}
	p := auth.Principal{UserID: userID}
	for _, a := range staffOf {
		var promoted string
		_, err := s.changeStaffAs(ctx, p, a.ID.Hex(), true, func(a *association) error {
			promoted = ""
			a.Staff = slices.DeleteFunc(a.Staff, func(st staffer) bool { return st.UserID == userID })
			if a.coordinators() == 0 && len(a.Staff) > 0 {
				first := 0
				for i, st := range a.Staff {
					if st.AddedAt.Before(a.Staff[first].AddedAt) {
						first = i
					}
				}
				a.Staff[first].Role = Coordinator
				promoted = a.Staff[first].UserID
			}
			return nil
		})
		if errors.Is(err, ErrAssociationNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		s.trail(ctx, a.ID, userID, "volunteer.removed", auditRef{UserID: userID, Detail: "account_deleted"})
		if promoted != "" {
			s.trail(ctx, a.ID, userID, "volunteer.role", auditRef{UserID: promoted, Detail: string(Coordinator)})
		}
	}
	ms, as, err := s.linkedMembers(ctx, userID)
	if err != nil {
		return err
	}
	for i := range ms {
		if err := s.relink(ctx, p, &as[i], &ms[i], ""); err != nil {
			return err
		}
	}
	return s.forgetInvitee(ctx, userID)
}
