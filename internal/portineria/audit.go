package portineria

import (
	"context"
	"time"

	"civico/internal/auth"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// auditRef is what an audit line is about.
type auditRef struct {
	MemberID string
	EntryID  string
	UserID   string
	// Detail is a short machine-readable note: changed field names, a role,
	// a post id. Never personal data: the trail outlives erasures.
	Detail string
}

type auditLine struct {
	ID            bson.ObjectID `bson:"_id"`
	AssociationID bson.ObjectID `bson:"association_id"`
	ActorID       string        `bson:"actor_id"`
	Action        string        `bson:"action"`
	MemberID      string        `bson:"member_id,omitempty"`
	EntryID       string        `bson:"entry_id,omitempty"`
	UserID        string        `bson:"user_id,omitempty"`
	Detail        string        `bson:"detail,omitempty"`
	At            time.Time     `bson:"at"`
}

// trail records who did what. It runs after the action succeeded and has
// no transaction to join, so a failure is logged rather than undoing the
// action (the ledger is its own, complete, record of money).
func (s *Service) trail(ctx context.Context, aid bson.ObjectID, actor, action string, ref auditRef) {
	line := auditLine{ID: bson.NewObjectID(), AssociationID: aid, ActorID: actor, Action: action,
		MemberID: ref.MemberID, EntryID: ref.EntryID, UserID: ref.UserID, Detail: ref.Detail, At: s.now()}
	if _, err := s.audit.InsertOne(context.WithoutCancel(ctx), line); err != nil {
		s.log.Error("portineria: audit", "action", action, "association", aid.Hex(), "err", err)
	}
}

// AuditItem is one line of an association's audit trail.
type AuditItem struct {
	ID        string    `json:"id"`
	Action    string    `json:"action"`
	ActorID   string    `json:"actor_id"`
	ActorName string    `json:"actor_name"`
	MemberID  string    `json:"member_id,omitempty"`
	EntryID   string    `json:"entry_id,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

// Audit lists who did what in the association, newest first (staff only).
func (s *Service) Audit(ctx context.Context, p auth.Principal, aid, cursor string, limit int) ([]AuditItem, string, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	filter := bson.D{{Key: "association_id", Value: a.ID}}
	if after != "" {
		oid, ok := store.ID(after)
		if !ok {
			return nil, "", ErrBadCursor
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.M{"$lt": oid}})
	}
	limit = clampLimit(limit)
	var lines []auditLine
	if err := s.audit.FindAll(ctx, filter, &lines, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit+1))); err != nil {
		return nil, "", err
	}
	next := ""
	if len(lines) > limit {
		lines = lines[:limit]
		next = encodeCursor(lines[limit-1].ID.Hex())
	}
	ids := make([]string, 0, len(lines))
	for _, l := range lines {
		ids = append(ids, l.ActorID)
	}
	accs, err := s.accounts.Users(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	out := make([]AuditItem, 0, len(lines))
	for _, l := range lines {
		out = append(out, AuditItem{ID: l.ID.Hex(), Action: l.Action, ActorID: l.ActorID, ActorName: accs[l.ActorID].Name,
			MemberID: l.MemberID, EntryID: l.EntryID, UserID: l.UserID, Detail: l.Detail, At: l.At})
	}
	return out, next, nil
}
