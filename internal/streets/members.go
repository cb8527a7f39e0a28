package streets

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// JoinRequest is what a user sends to join a street.
type JoinRequest struct {
	Message    string
	InviteCode string
}

// maxAttempts bounds how often a user's own change (joining, leaving) is
// decided again when another change to the membership came first.
const maxAttempts = 3

// Join asks to join a street: with a valid invite the caller is an active
// member at once (member.joined), otherwise the request waits for an admin
// (member.requested, for admins). Asking again while pending changes nothing.
// A banned member's document is never overwritten: the write requires the
// state it was decided on.
func (s *Service) Join(ctx context.Context, p auth.Principal, streetID string, in JoinRequest) (Member, error) {
	in.Message, in.InviteCode = strings.TrimSpace(in.Message), strings.TrimSpace(in.InviteCode)
	f := fault.Fields{}
	checkText(f, "message", in.Message, 0, MaxMessageLen)
	f.Check(len(in.InviteCode) > 64, "invite_code", "invalid")
	if err := f.Err(); err != nil {
		return Member{}, err
	}
	st, err := s.street(ctx, streetID)
	if err != nil {
		return Member{}, err
	}
	acc, err := s.users.User(ctx, p.UserID)
	if err != nil {
		return Member{}, err
	}
	invited := false // the invite's use is counted once, whatever the attempts
	for range maxAttempts {
		cur, had, err := s.lookup(ctx, streetID, p.UserID)
		if err != nil {
			return Member{}, err
		}
		if had {
			switch cur.Status {
			case StatusActive:
				return Member{}, ErrAlreadyMember
			case StatusBanned:
				return Member{}, ErrBanned
			case StatusPending:
				if in.InviteCode == "" {
					return cur, nil
				}
			}
		}
		now := s.now()
		m := Member{StreetID: streetID, UserID: p.UserID, Name: acc.Name, Role: RoleMember, UpdatedAt: now}
		typ, audience := events.MemberRequested, events.Admins
		if in.InviteCode != "" {
			if !invited {
				if err := s.useInvite(ctx, streetID, in.InviteCode, st.MembersInvite); err != nil {
					return Member{}, err
				}
				invited = true
			}
			m.Status, m.JoinedAt = StatusActive, &now
			typ, audience = events.MemberJoined, events.Members
		} else {
			m.Status, m.Message, m.RequestedAt = StatusPending, in.Message, &now
		}
		var done bool
		if had {
			done, err = s.apply(ctx, cur, m, p.UserID)
		} else {
			done, err = s.insert(ctx, m, p.UserID)
		}
		if err != nil {
			return Member{}, err
		}
		if done {
			s.publish(ctx, typ, m, p.UserID, audience)
			return m, nil
		}
	}
	return Member{}, ErrMemberChanged
}

// delta is how a change of a membership moves the street's counts of
// active members and active admins.
func delta(from, to Member) (members, admins int) {
	active := func(m Member) int {
		if m.Status == StatusActive {
			return 1
		}
		return 0
	}
	admin := func(m Member) int {
		if m.Status == StatusActive && m.Role == RoleAdmin {
			return 1
		}
		return 0
	}
	return active(to) - active(from), admin(to) - admin(from)
}

// stateFilter matches the membership only while it is as m says: the
// filter of every change, so the first of two changes decided on the same
// state wins and the second matches nothing.
func stateFilter(m Member) bson.M {
	return bson.M{"_id": memberKey(m.StreetID, m.UserID), "status": m.Status, "role": m.Role, "updated_at": m.UpdatedAt}
}

// changeOf is the update that makes a membership m.
func changeOf(m Member, by string) bson.M {
	set := bson.M{"name": m.Name, "role": m.Role, "status": m.Status, "updated_at": m.UpdatedAt, "updated_by": by}
	unset := bson.M{}
	opt := func(key string, v any, empty bool) {
		if empty {
			unset[key] = ""
		} else {
			set[key] = v
		}
	}
	opt("message", m.Message, m.Message == "")
	opt("reason", m.Reason, m.Reason == "")
	opt("requested_at", m.RequestedAt, m.RequestedAt == nil)
	opt("joined_at", m.JoinedAt, m.JoinedAt == nil)
	u := bson.M{"$set": set}
	if len(unset) > 0 { // an empty operator is an error on some engines
		u["$unset"] = unset
	}
	return u
}

// apply changes a membership from from to to, if it is still as from
// says; false when another change came first. Taking away an admin first
// takes one from the street's admin_count, only while it is above one
// (ErrLastAdmin otherwise), and gives it back if the membership had
// changed: the street's last admin stays whatever runs at once. Adding one
// counts it after the write. Either way roster_gen moves before and after.
func (s *Service) apply(ctx context.Context, from, to Member, by string) (bool, error) {
	members, admins := delta(from, to)
	if admins < 0 {
		ok, err := s.releaseAdmin(ctx, from.StreetID)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, ErrLastAdmin
		}
	} else {
		s.bump(ctx, from.StreetID, 0, 0)
	}
	r, err := s.members.UpdateOne(ctx, stateFilter(from), changeOf(to, by))
	if err != nil || r.MatchedCount == 0 {
		if admins < 0 {
			s.bump(ctx, from.StreetID, 0, 1)
		}
		return false, err
	}
	s.bump(ctx, from.StreetID, members, max(admins, 0))
	return true, nil
}

// releaseAdmin takes one admin from the street's count if it has more
// than one; false when it has not.
func (s *Service) releaseAdmin(ctx context.Context, streetID string) (bool, error) {
	oid, ok := store.ID(streetID)
	if !ok {
		return false, ErrStreetNotFound
	}
	r, err := s.streets.UpdateOne(ctx, bson.M{"_id": oid, "admin_count": bson.M{"$gt": 1}},
		bson.M{"$inc": bson.M{"admin_count": -1, "roster_gen": 1}})
	if err != nil {
		return false, err
	}
	return r.MatchedCount == 1, nil
}

// insert writes a user's first membership of a street; false when one was
// written meanwhile (a unique _id decides).
func (s *Service) insert(ctx context.Context, m Member, by string) (bool, error) {
	if err := s.indexUser(ctx, m.UserID, m.StreetID); err != nil {
		return false, err
	}
	s.bump(ctx, m.StreetID, 0, 0)
	if _, err := s.members.InsertOne(ctx, toDoc(m, by)); err != nil {
		if store.IsDuplicate(err) {
			return false, nil
		}
		return false, err
	}
	members, admins := delta(Member{}, m)
	s.bump(ctx, m.StreetID, members, admins)
	return true, nil
}

// change is one admin decision about a member: it returns the new
// membership or an error, given the acting admin and the target.
type change func(admin, target Member, now time.Time) (Member, error)

// decide runs an admin decision on a member, writes it if the member is
// still as read, logs it and publishes typ. When another change came
// first the decision is made again on what is there now, only to say why
// it no longer holds (ErrMemberChanged if it still would): of two admins
// deciding at once, one wins.
func (s *Service) decide(ctx context.Context, p auth.Principal, streetID, userID, action, reason string, typ events.Type, fn change) (Member, error) {
	admin, err := s.RequireAdmin(ctx, streetID, p.UserID)
	if err != nil {
		return Member{}, err
	}
	target, ok, err := s.lookup(ctx, streetID, userID)
	if err != nil {
		return Member{}, err
	}
	if !ok {
		return Member{}, ErrMemberNotFound
	}
	now := s.now()
	m, err := fn(admin, target, now)
	if errors.Is(err, errUnchanged) {
		return target, nil
	}
	if err != nil {
		return Member{}, err
	}
	m.UpdatedAt = now
	if s.decided != nil {
		s.decided()
	}
	done, err := s.apply(ctx, target, m, p.UserID)
	if err != nil {
		return Member{}, err
	}
	if !done {
		return s.overtaken(ctx, admin, streetID, userID, now, fn)
	}
	detail := ""
	if action == ActionMemberRole {
		detail = m.Role
	}
	s.record(ctx, streetID, admin, auditRecord{Action: action, TargetType: "member", TargetID: userID, TargetName: m.Name, Reason: reason, Detail: detail})
	s.publish(ctx, typ, m, p.UserID, events.Members)
	return m, nil
}

// overtaken says why a decision whose write matched nothing no longer
// holds, from the membership as it is now.
func (s *Service) overtaken(ctx context.Context, admin Member, streetID, userID string, now time.Time, fn change) (Member, error) {
	cur, ok, err := s.lookup(ctx, streetID, userID)
	if err != nil {
		return Member{}, err
	}
	if !ok {
		return Member{}, ErrMemberNotFound
	}
	if _, err := fn(admin, cur, now); err != nil {
		if errors.Is(err, errUnchanged) {
			return cur, nil
		}
		return Member{}, err
	}
	return Member{}, ErrMemberChanged
}

func checkReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	f := fault.Fields{}
	f.Check(required && reason == "", "reason", "required")
	f.Check(utf8.RuneCountInString(reason) > MaxReasonLen, "reason", "too_long")
	return reason, f.Err()
}

// Approve admits a pending member.
func (s *Service) Approve(ctx context.Context, p auth.Principal, streetID, userID, reason string) (Member, error) {
	reason, err := checkReason(reason, false)
	if err != nil {
		return Member{}, err
	}
	return s.decide(ctx, p, streetID, userID, ActionMemberApprove, reason, events.MemberApproved, func(_, t Member, now time.Time) (Member, error) {
		if t.Status != StatusPending {
			return Member{}, ErrNotPending
		}
		t.Status, t.JoinedAt, t.Reason = StatusActive, &now, ""
		return t, nil
	})
}

// Reject turns a pending request down; the user may ask again.
func (s *Service) Reject(ctx context.Context, p auth.Principal, streetID, userID, reason string) (Member, error) {
	reason, err := checkReason(reason, false)
	if err != nil {
		return Member{}, err
	}
	return s.decide(ctx, p, streetID, userID, ActionMemberReject, reason, events.MemberRejected, func(_, t Member, _ time.Time) (Member, error) {
		if t.Status != StatusPending {
			return Member{}, ErrNotPending
		}
		t.Status, t.Reason = StatusRejected, reason
		return t, nil
	})
}

// Ban shuts a user out of the street, with a reason. Admins must be
// demoted first; nobody bans themself.
func (s *Service) Ban(ctx context.Context, p auth.Principal, streetID, userID, reason string) (Member, error) {
	reason, err := checkReason(reason, true)
	if err != nil {
		return Member{}, err
	}
	return s.decide(ctx, p, streetID, userID, ActionMemberBan, reason, events.MemberBanned, func(a, t Member, _ time.Time) (Member, error) {
		switch {
		case t.UserID == a.UserID:
			return Member{}, ErrSelf
		case t.Status == StatusBanned:
			return Member{}, ErrAlreadyBanned
		case t.Role == RoleAdmin && t.Status == StatusActive:
			return Member{}, ErrBanAdmin
		}
		t.Status, t.Role, t.Reason = StatusBanned, RoleMember, reason
		return t, nil
	})
}

// Unban lifts a ban: the user is no longer a member and may ask to join again.
func (s *Service) Unban(ctx context.Context, p auth.Principal, streetID, userID, reason string) (Member, error) {
	reason, err := checkReason(reason, false)
	if err != nil {
		return Member{}, err
	}
	return s.decide(ctx, p, streetID, userID, ActionMemberUnban, reason, events.MemberUnbanned, func(_, t Member, _ time.Time) (Member, error) {
		if t.Status != StatusBanned {
			return Member{}, ErrNotBanned
		}
		t.Status, t.Reason = StatusLeft, ""
		return t, nil
	})
}

// SetRole promotes or demotes an active member; the last admin stays
// (admin_count, see apply).
func (s *Service) SetRole(ctx context.Context, p auth.Principal, streetID, userID, role string) (Member, error) {
	if role != RoleAdmin && role != RoleMember {
		return Member{}, fault.Validation("role", "invalid")
	}
	return s.decide(ctx, p, streetID, userID, ActionMemberRole, "", events.MemberRole, func(_, t Member, _ time.Time) (Member, error) {
		if t.Status != StatusActive {
			return Member{}, ErrNotActive
		}
		if t.Role == role {
			return Member{}, errUnchanged
		}
		t.Role = role
		return t, nil
	})
}

// errUnchanged tells decide's callers that nothing was to be done.
var errUnchanged = fault.New(fault.Conflict, "unchanged", "nothing to change")

// Leave ends the caller's membership or withdraws their request; the last
// admin cannot leave. Anyone else learns nothing (NotFound).
func (s *Service) Leave(ctx context.Context, p auth.Principal, streetID string) error {
	if _, err := s.street(ctx, streetID); err != nil {
		return err
	}
	for range maxAttempts {
		m, ok, err := s.lookup(ctx, streetID, p.UserID)
		if err != nil {
			return err
		}
		if !ok || (m.Status != StatusActive && m.Status != StatusPending) {
			return ErrStreetNotFound
		}
		to := m
		to.Status, to.Role, to.UpdatedAt = StatusLeft, RoleMember, s.now()
		done, err := s.apply(ctx, m, to, p.UserID)
		if err != nil {
			return err
		}
		if done {
			s.publish(ctx, events.MemberLeft, to, p.UserID, events.Members)
			return nil
		}
	}
	return ErrMemberChanged
}
