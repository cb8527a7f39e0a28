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

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// JoinRequest is what a user sends to join a street.
type JoinRequest struct {
	Message    string
	InviteCode string
}

// Join asks to join a street: with a valid invite the caller is an active
// member at once (member.joined), otherwise the request waits for an admin
// (member.requested, for admins). Asking again while pending changes nothing.
func (s *Service) Join(ctx context.Context, p auth.Principal, streetID string, in JoinRequest) (Member, error) {
	in.Message, in.InviteCode = strings.TrimSpace(in.Message), strings.TrimSpace(in.InviteCode)
	f := fault.Fields{}
	checkText(f, "message", in.Message, 0, MaxMessageLen)
	f.Check(len(in.InviteCode) > 64, "invite_code", "invalid")
	if err := f.Err(); err != nil {
		return Member{}, err
	}
	if _, err := s.street(ctx, streetID); err != nil {
		return Member{}, err
	}
	acc, err := s.users.User(ctx, p.UserID)
	if err != nil {
		return Member{}, err
	}
	unlock := s.lock(streetID)
	defer unlock()
	cur, had := s.member(streetID, p.UserID)
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
		if err := s.useInvite(ctx, streetID, in.InviteCode); err != nil {
			return Member{}, err
		}
		m.Status, m.JoinedAt = StatusActive, &now
		typ, audience = events.MemberJoined, events.Members
	} else {
		m.Status, m.Message, m.RequestedAt = StatusPending, in.Message, &now
	}
	if err := s.save(ctx, m, p.UserID); err != nil {
		return Member{}, err
	}
	s.publish(ctx, typ, m, p.UserID, audience)
	return m, nil
}

// save writes m and updates memory; the street's lock is held.
func (s *Service) save(ctx context.Context, m Member, by string) error {
	d := toDoc(m, by)
	if _, err := s.members.ReplaceOne(ctx, bson.M{"_id": d.ID}, d, options.Replace().SetUpsert(true)); err != nil {
		return err
	}
	s.mu.Lock()
	s.putLocked(m)
	s.mu.Unlock()
	return nil
}

// change is one admin decision about a member: it returns the new
// membership or an error, given the acting admin and the target.
type change func(admin, target Member, now time.Time) (Member, error)

// decide runs an admin decision on a member under the street's lock,
// writes it, logs it and publishes typ.
func (s *Service) decide(ctx context.Context, p auth.Principal, streetID, userID, action, reason string, typ events.Type, fn change) (Member, error) {
	if _, err := s.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return Member{}, err
	}
	unlock := s.lock(streetID)
	defer unlock()
	admin, err := s.RequireAdmin(ctx, streetID, p.UserID) // again: it may have changed while we waited
	if err != nil {
		return Member{}, err
	}
	target, ok := s.member(streetID, userID)
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
	if err := s.save(ctx, m, p.UserID); err != nil {
		return Member{}, err
	}
	detail := ""
	if action == ActionMemberRole {
		detail = m.Role
	}
	s.record(ctx, streetID, admin, auditRecord{Action: action, TargetType: "member", TargetID: userID, TargetName: m.Name, Reason: reason, Detail: detail})
	s.publish(ctx, typ, m, p.UserID, events.Members)
	return m, nil
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

// SetRole promotes or demotes an active member; the last admin stays.
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
		if t.Role == RoleAdmin && s.adminCount(streetID) <= 1 {
			return Member{}, ErrLastAdmin
		}
		t.Role = role
		return t, nil
	})
}

// errUnchanged tells decide's callers that nothing was to be done.
var errUnchanged = fault.New(fault.Conflict, "unchanged", "nothing to change")

func (s *Service) adminCount(streetID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, m := range s.roster[streetID] {
		if m.Status == StatusActive && m.Role == RoleAdmin {
			n++
		}
	}
	return n
}

// Leave ends the caller's membership or withdraws their request; the last
// admin cannot leave. Anyone else learns nothing (NotFound).
func (s *Service) Leave(ctx context.Context, p auth.Principal, streetID string) error {
	if _, err := s.street(ctx, streetID); err != nil {
		return err
	}
	unlock := s.lock(streetID)
	defer unlock()
	m, ok := s.member(streetID, p.UserID)
	if !ok || (m.Status != StatusActive && m.Status != StatusPending) {
		return ErrStreetNotFound
	}
	if m.Status == StatusActive && m.Role == RoleAdmin && s.adminCount(streetID) <= 1 {
		return ErrLastAdmin
	}
	m.Status, m.Role, m.UpdatedAt = StatusLeft, RoleMember, s.now()
	if err := s.save(ctx, m, p.UserID); err != nil {
		return err
	}
	s.publish(ctx, events.MemberLeft, m, p.UserID, events.Members)
	return nil
}
