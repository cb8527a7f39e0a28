package streets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"civico/internal/events"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// What streets hold of a person: their memberships, and their name and id
// in the streets' audit logs. GET /me/export shows the memberships; DELETE
// /me takes the person out of every street (Erase) while keeping each
// street's history coherent:
//   - the membership goes (the person is in no roster, list or count);
//   - a street whose last admin leaves this way gets a new admin, the
//     active member who joined first, and its audit log says why
//     (member.role, reason ReasonAccountDeleted, actor the pseudonym);
//   - a street left with no active member is archived: out of the
//     directory and unreachable, its records kept;
//   - audit entries stay (the decisions were the street's), but name the
//     person nowhere: their id becomes the pseudonym, their name goes.

// ReasonAccountDeleted is the reason recorded for what an account's
// deletion does in a street (a new admin named).
const ReasonAccountDeleted = "account_deleted"

// ActionStreetArchive is logged when a street is archived because its last
// member deleted their account.
const ActionStreetArchive = "street.archive"

// MyMembership is one of the user's memberships, in any status, for the
// export.
type MyMembership struct {
	StreetID    string     `json:"street_id"`
	StreetName  string     `json:"street_name"`
	City        string     `json:"city"`
	Role        string     `json:"role"`
	Status      string     `json:"status"`
	Name        string     `json:"name"`
	Message     string     `json:"message,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	RequestedAt *time.Time `json:"requested_at,omitempty"`
	JoinedAt    *time.Time `json:"joined_at,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// AccountData is everything this package holds about a user.
type AccountData struct {
	Memberships []MyMembership `json:"memberships"`
}

// Export gathers the user's memberships for GET /me/export.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	ms, err := s.memberships(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := AccountData{Memberships: []MyMembership{}}
	for _, um := range ms {
		m, st := um.member, um.street
		out.Memberships = append(out.Memberships, MyMembership{StreetID: m.StreetID, StreetName: st.Name, City: st.City, Role: m.Role,
			Status: m.Status, Name: m.Name, Message: m.Message, Reason: m.Reason, RequestedAt: utcPtr(m.RequestedAt),
			JoinedAt: utcPtr(m.JoinedAt), UpdatedAt: m.UpdatedAt.UTC()})
	}
	sort.Slice(out.Memberships, func(i, j int) bool {
		a, b := out.Memberships[i], out.Memberships[j]
		if a.UpdatedAt.Equal(b.UpdatedAt) {
			return a.StreetID < b.StreetID
		}
		return a.UpdatedAt.Before(b.UpdatedAt)
	})
	return out, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Erase takes the user out of every street before their account is
// deleted (see the top of this file); alias is their pseudonym. Running it
// again finishes an erasure that failed midway.
func (s *Service) Erase(ctx context.Context, userID, alias string) error {
	if userID == "" || alias == "" || userID == alias {
		return nil
	}
	sids, err := s.userStreets(ctx, userID)
	if err != nil {
		return err
	}
	sids = slices.Clone(sids)
	sort.Strings(sids)
	for _, sid := range sids {
		if err := s.eraseFrom(ctx, sid, userID, alias); err != nil {
			return err
		}
	}
	// Who created a street or an invite is not shown, but is the person.
	if _, err := s.streets.UpdateMany(ctx, bson.M{"created_by": userID}, bson.M{"$set": bson.M{"created_by": alias}}); err != nil {
		return err
	}
	if _, err := s.invites.UpdateMany(ctx, bson.M{"created_by": userID}, bson.M{"$set": bson.M{"created_by": alias}}); err != nil {
		return err
	}
	_, err = s.userIndex.DeleteOne(ctx, bson.M{"_id": userID})
	return err
}

// eraseFrom takes the user out of one street: a new admin if they were
// the last, the membership gone, the street archived if nobody is left,
// the audit log rewritten. Each step is a conditional write, as in
// members.go: a change made meanwhile by another process makes it start
// over from what is there now.
func (s *Service) eraseFrom(ctx context.Context, streetID, userID, alias string) error {
	deleted := Member{UserID: alias}
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("streets: erase %s from %s: %w", userID, streetID, ErrMemberChanged)
		}
		m, ok, err := s.lookup(ctx, streetID, userID)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		_, admins := delta(m, Member{})
		released, archive := false, false
		if admins < 0 {
			if released, err = s.releaseAdmin(ctx, streetID); err != nil {
				return err
			}
			if !released {
				heir, found, err := s.firstJoined(ctx, streetID, userID)
				if err != nil {
					return err
				}
				if found {
					// Name the heir, then try again: the street has two admins.
					if err := s.promoteHeir(ctx, heir, alias, deleted); err != nil {
						return err
					}
					continue
				}
				archive = true
			}
		}
		n, err := s.members.DeleteOne(ctx, stateFilter(m))
		if err != nil || n == 0 {
			if released {
				s.bump(ctx, streetID, 0, 1)
			}
			if err != nil {
				return err
			}
			continue
		}
		members, _ := delta(m, Member{})
		s.bump(ctx, streetID, members, 0)
		if m.Status == StatusActive || m.Status == StatusPending {
			// SubjectID closes the person's sockets in the street; members
			// see someone left, with no name.
			s.publish(ctx, events.MemberLeft, Member{StreetID: streetID, UserID: userID, Role: RoleMember, Status: StatusLeft},
				userID, events.Members)
		}
		if archive {
			if err := s.archive(ctx, streetID, deleted); err != nil {
				return err
			}
		}
		break
	}
	_, err := s.audit.Rewrite(ctx, auditKey(streetID), func(r *auditRecord) bool {
		changed := false
		if r.ActorID == userID {
			r.ActorID, r.ActorName, changed = alias, "", true
		}
		if r.TargetID == userID {
			r.TargetID, r.TargetName, changed = alias, "", true
		}
		// A resolved report on the person names them in Detail ("ban user
		// <id>") and in TargetName.
		if strings.Contains(r.Detail, userID) {
			r.Detail, r.TargetName, changed = strings.ReplaceAll(r.Detail, userID, alias), "", true
		}
		return changed
	})
	return err
}

// promoteHeir makes heir an admin in place of a deleted account's last
// admin; if heir changed meanwhile, nothing is done and the caller picks again.
func (s *Service) promoteHeir(ctx context.Context, heir Member, alias string, deleted Member) error {
	to := heir
	to.Role, to.UpdatedAt = RoleAdmin, s.now()
	done, err := s.apply(ctx, heir, to, alias)
	if err != nil || !done {
		return err
	}
	s.record(ctx, heir.StreetID, deleted, auditRecord{Action: ActionMemberRole, TargetType: "member", TargetID: heir.UserID,
		TargetName: heir.Name, Reason: ReasonAccountDeleted, Detail: RoleAdmin})
	s.publish(ctx, events.MemberRole, to, alias, events.Members)
	return nil
}

// firstJoined is the street's active member, other than userID, who joined
// first (by id on a tie).
func (s *Service) firstJoined(ctx context.Context, streetID, userID string) (Member, bool, error) {
	r, err := s.roster(ctx, streetID)
	if errors.Is(err, ErrStreetNotFound) { // archived meanwhile: nobody to name
		return Member{}, false, nil
	}
	if err != nil {
		return Member{}, false, err
	}
	var best Member
	found := false
	since := func(m Member) time.Time {
		if m.JoinedAt != nil {
			return *m.JoinedAt
		}
		return m.UpdatedAt
	}
	for _, m := range r {
		if m.UserID == userID || m.Status != StatusActive {
			continue
		}
		if !found || since(m).Before(since(best)) || (since(m).Equal(since(best)) && m.UserID < best.UserID) {
			best, found = m, true
		}
	}
	return best, found, nil
}

// archive hides a street nobody is left in: out of the directory, and
// NotFound to everyone (its posts and logs stay in the database).
func (s *Service) archive(ctx context.Context, streetID string, actor Member) error {
	oid, ok := store.ID(streetID)
	if !ok {
		return errors.New("streets: archive: bad id " + streetID)
	}
	if _, err := s.streets.UpdateOne(ctx, bson.M{"_id": oid}, bson.M{"$set": bson.M{"archived_at": s.now()}, "$inc": bson.M{"roster_gen": 1}}); err != nil {
		return err
	}
	s.record(ctx, streetID, actor, auditRecord{Action: ActionStreetArchive, TargetType: "street", TargetID: streetID,
		Reason: ReasonAccountDeleted})
	return nil
}
