package streets

import (
	"context"
	"errors"
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

// Export gathers the user's memberships for GET /me/export, from memory.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	out := AccountData{Memberships: []MyMembership{}}
	s.mu.RLock()
	for sid := range s.byUser[userID] {
		m, ok := s.roster[sid][userID]
		st := s.byID[sid]
		if !ok || st == nil {
			continue
		}
		out.Memberships = append(out.Memberships, MyMembership{StreetID: sid, StreetName: st.Name, City: st.City, Role: m.Role,
			Status: m.Status, Name: m.Name, Message: m.Message, Reason: m.Reason, RequestedAt: utcPtr(m.RequestedAt),
			JoinedAt: utcPtr(m.JoinedAt), UpdatedAt: m.UpdatedAt.UTC()})
	}
	s.mu.RUnlock()
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
	if err := s.ensure(ctx); err != nil {
		return err
	}
	s.mu.RLock()
	sids := make([]string, 0, len(s.byUser[userID]))
	for sid := range s.byUser[userID] {
		sids = append(sids, sid)
	}
	s.mu.RUnlock()
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
	return nil
}

// eraseFrom takes the user out of one street under its lock: a new admin
// if they were the last, the membership gone, the street archived if
// nobody is left, the audit log rewritten.
func (s *Service) eraseFrom(ctx context.Context, streetID, userID, alias string) error {
	unlock := s.lock(streetID)
	defer unlock()
	deleted := Member{UserID: alias}
	if m, ok := s.member(streetID, userID); ok {
		archive := false
		if m.Status == StatusActive && m.Role == RoleAdmin && s.adminCount(streetID) <= 1 {
			heir, found := s.firstJoined(streetID, userID)
			if found {
				heir.Role, heir.UpdatedAt = RoleAdmin, s.now()
				if err := s.save(ctx, heir, alias); err != nil {
					return err
				}
				s.record(ctx, streetID, deleted, auditRecord{Action: ActionMemberRole, TargetType: "member", TargetID: heir.UserID,
					TargetName: heir.Name, Reason: ReasonAccountDeleted, Detail: RoleAdmin})
				s.publish(ctx, events.MemberRole, heir, alias, events.Members)
			} else {
				archive = true
			}
		}
		if _, err := s.members.DeleteOne(ctx, bson.M{"_id": memberKey(streetID, userID)}); err != nil {
			return err
		}
		s.mu.Lock()
		s.dropLocked(streetID, userID)
		s.mu.Unlock()
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

// firstJoined is the street's active member, other than userID, who joined
// first (by id on a tie).
func (s *Service) firstJoined(streetID, userID string) (Member, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best Member
	found := false
	since := func(m Member) time.Time {
		if m.JoinedAt != nil {
			return *m.JoinedAt
		}
		return m.UpdatedAt
	}
	for id, m := range s.roster[streetID] {
		if id == userID || m.Status != StatusActive {
			continue
		}
		if !found || since(m).Before(since(best)) || (since(m).Equal(since(best)) && m.UserID < best.UserID) {
			best, found = m, true
		}
	}
	return best, found
}

// dropLocked forgets a membership and refreshes the member count; s.mu is held.
func (s *Service) dropLocked(streetID, userID string) {
	prev, had := s.roster[streetID][userID]
	if !had {
		return
	}
	delete(s.roster[streetID], userID)
	if st := s.byID[streetID]; st != nil && prev.Status == StatusActive {
		st.MemberCount--
	}
	if u := s.byUser[userID]; u != nil {
		delete(u, streetID)
		if len(u) == 0 {
			delete(s.byUser, userID)
		}
	}
}

// archive hides a street nobody is left in: out of the directory, and
// NotFound to everyone (its posts and logs stay in the database). The
// street's lock is held.
func (s *Service) archive(ctx context.Context, streetID string, actor Member) error {
	oid, ok := store.ID(streetID)
	if !ok {
		return errors.New("streets: archive: bad id " + streetID)
	}
	if _, err := s.streets.UpdateOne(ctx, bson.M{"_id": oid}, bson.M{"$set": bson.M{"archived_at": s.now()}}); err != nil {
		return err
	}
	s.record(ctx, streetID, actor, auditRecord{Action: ActionStreetArchive, TargetType: "street", TargetID: streetID,
		Reason: ReasonAccountDeleted})
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.byID[streetID]; st != nil {
		for i, d := range s.dir {
			if d == st {
				s.dir = append(s.dir[:i:i], s.dir[i+1:]...)
				break
			}
		}
	}
	delete(s.byID, streetID)
	delete(s.keys, streetID)
	for uid := range s.roster[streetID] {
		if u := s.byUser[uid]; u != nil {
			delete(u, streetID)
			if len(u) == 0 {
				delete(s.byUser, uid)
			}
		}
	}
	delete(s.roster, streetID)
	return nil
}
