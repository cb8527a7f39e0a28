package streets

import (
	"context"
	"strconv"
	"time"

	"civico/internal/auth"
	"civico/internal/cursor"
)

// Audit actions. Other packages log theirs through Record.
const (
	ActionStreetCreate  = "street.create"
	ActionMemberApprove = "member.approve"
	ActionMemberReject  = "member.reject"
	ActionMemberBan     = "member.ban"
	ActionMemberUnban   = "member.unban"
	ActionMemberRole    = "member.role"
	ActionInviteCreate  = "invite.create"
	ActionInviteRevoke  = "invite.revoke"
	ActionPostRemove    = "post.remove"
	ActionPostPin       = "post.pin"
	ActionPostUnpin     = "post.unpin"
	ActionPostOnBehalf  = "post.on_behalf"
	ActionReplyRemove   = "reply.remove"
	ActionReportResolve = "report.resolve"
)

// AuditEntry is one line of a street's moderation log: who did what to
// what, why and when.
type AuditEntry struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	ActorID    string    `json:"actor_id"`
	ActorName  string    `json:"actor_name"`
	Action     string    `json:"action"`
	TargetType string    `json:"target_type"`
	TargetID   string    `json:"target_id"`
	TargetName string    `json:"target_name,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// auditRecord is an entry as kept in the journal; entries never change.
type auditRecord struct {
	At         time.Time `bson:"at"`
	ActorID    string    `bson:"actor_id"`
	ActorName  string    `bson:"actor_name"`
	Action     string    `bson:"action"`
	TargetType string    `bson:"target_type"`
	TargetID   string    `bson:"target_id"`
	TargetName string    `bson:"target_name,omitempty"`
	Reason     string    `bson:"reason,omitempty"`
	Detail     string    `bson:"detail,omitempty"`
}

func auditKey(streetID string) string { return "audit:" + streetID }

// Record appends an entry to the street's audit log; the actor's display
// name is filled from their membership when missing. Other packages call it
// for the moderation they do (post removal, pins, reports).
func (s *Service) Record(ctx context.Context, streetID string, e AuditEntry) error {
	r := auditRecord{At: e.At, ActorID: e.ActorID, ActorName: e.ActorName, Action: e.Action, TargetType: e.TargetType,
		TargetID: e.TargetID, TargetName: e.TargetName, Reason: e.Reason, Detail: e.Detail}
	if r.At.IsZero() {
		r.At = s.now()
	}
	if r.ActorName == "" {
		m, ok, err := s.lookup(ctx, streetID, e.ActorID)
		if err != nil {
			return err
		}
		if ok {
			r.ActorName = m.Name
		}
	}
	_, err := s.audit.Append(ctx, auditKey(streetID), r)
	return err
}

// record logs an action by actor; a failure is logged, not returned: the
// action itself is already done.
func (s *Service) record(ctx context.Context, streetID string, actor Member, r auditRecord) {
	r.ActorID, r.ActorName = actor.UserID, actor.Name
	if r.At.IsZero() {
		r.At = s.now()
	}
	if _, err := s.audit.Append(ctx, auditKey(streetID), r); err != nil {
		s.log.Error("audit log write failed", "street", streetID, "action", r.Action, "err", err)
	}
}

// Audit lists the street's moderation log, newest first (admins).
func (s *Service) Audit(ctx context.Context, p auth.Principal, streetID, after string, limit int) ([]AuditEntry, string, error) {
	if _, err := s.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, 20)
	end, err := s.audit.Len(ctx, auditKey(streetID))
	if err != nil {
		return nil, "", err
	}
	if after != "" {
		c, ok := s.cursors.Decode(after, 3)
		if !ok || c[0] != "aud" || c[1] != streetID {
			return nil, "", ErrBadCursor
		}
		n, err := strconv.ParseInt(c[2], 10, 64)
		if err != nil || n < 0 || n > end {
			return nil, "", ErrBadCursor
		}
		end = n
	}
	from := max(end-int64(limit), 0)
	recs, err := s.audit.Range(ctx, auditKey(streetID), from, end)
	if err != nil {
		return nil, "", err
	}
	out := make([]AuditEntry, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		out = append(out, AuditEntry{Seq: from + int64(i) + 1, At: r.At.UTC(), ActorID: r.ActorID, ActorName: r.ActorName, Action: r.Action,
			TargetType: r.TargetType, TargetID: r.TargetID, TargetName: r.TargetName, Reason: r.Reason, Detail: r.Detail})
	}
	next := ""
	if from > 0 {
		next = s.cursors.Encode("aud", streetID, strconv.FormatInt(from, 10))
	}
	return out, next, nil
}
