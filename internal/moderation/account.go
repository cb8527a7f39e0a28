package moderation

import (
	"context"
	"time"

	"civico/internal/events"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// What moderation holds of a person: the reports they filed (GET
// /me/export), and their name and id in reports they filed, were reported
// in, or resolved. DELETE /me keeps every report, for the street's
// moderation history, with the person's id replaced by their pseudonym and
// their name dropped (Erase). An open report on the person themself can no
// longer be acted on (there is nobody left to ban): it is dismissed with
// the resolution ReasonAccountDeleted.

// MaxExport bounds the reports of an export (reports are rate limited to
// 30 an hour per person; past this the list stops and says so).
const MaxExport = 10000

// ReasonAccountDeleted is the resolution of a report dismissed because the
// reported person deleted their account.
const ReasonAccountDeleted = "account_deleted"

// MyReport is a report the user filed, for the export.
type MyReport struct {
	ID         string     `json:"id"`
	StreetID   string     `json:"street_id"`
	Target     string     `json:"target"`
	TargetID   string     `json:"target_id"`
	Reason     string     `json:"reason"`
	Status     string     `json:"status"`
	Action     string     `json:"action,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// AccountData is everything this package holds about a user.
type AccountData struct {
	Reports   []MyReport `json:"reports"`
	Limit     int        `json:"limit"`
	Truncated bool       `json:"truncated"`
}

// Export lists the reports the user filed, oldest first.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	out := AccountData{Reports: []MyReport{}, Limit: MaxExport}
	if userID == "" {
		return out, nil
	}
	var mine []reportDoc
	err := s.reports.FindAll(ctx, bson.M{"reporter_id": userID}, &mine, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(MaxExport+1))
	if err != nil {
		return nil, err
	}
	if len(mine) > MaxExport {
		mine, out.Truncated = mine[:MaxExport], true
	}
	for _, d := range mine {
		v := d.view()
		out.Reports = append(out.Reports, MyReport{ID: v.ID, StreetID: v.StreetID, Target: v.Target, TargetID: v.TargetID,
			Reason: v.Reason, Status: v.Status, Action: v.Action, CreatedAt: v.CreatedAt, ResolvedAt: v.ResolvedAt})
	}
	return out, nil
}

// Erase replaces the user by alias (their pseudonym) in every report and
// drops their name, before their account is deleted. Each report is
// changed field by field, so a resolution made meanwhile stays; an open
// report on the user is dismissed only if it is still open.
func (s *Service) Erase(ctx context.Context, userID, alias string) error {
	if userID == "" || alias == "" || userID == alias {
		return nil
	}
	var docs []reportDoc
	err := s.reports.FindAll(ctx, bson.M{"$or": bson.A{bson.M{"reporter_id": userID}, bson.M{"author_id": userID}, bson.M{"resolved_by": userID}}}, &docs)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if err := s.eraseFrom(ctx, d, userID, alias); err != nil {
			return err
		}
	}
	return nil
}

// eraseFrom takes the user out of one report.
func (s *Service) eraseFrom(ctx context.Context, d reportDoc, userID, alias string) error {
	next, set := d, bson.M{}
	if d.ReporterID == userID {
		next.ReporterID, next.ReporterName = alias, ""
		set["reporter_id"], set["reporter_name"] = alias, ""
	}
	if d.ResolvedBy == userID {
		next.ResolvedBy = alias
		set["resolved_by"] = alias
	}
	dismiss := false
	if d.AuthorID == userID {
		next.AuthorID, next.AuthorName = alias, ""
		set["author_id"], set["author_name"] = alias, ""
		if d.Target == TargetUser {
			next.TargetID, next.TargetName = alias, ""
			set["target_id"], set["target_name"] = alias, ""
			dismiss = d.Status == StatusOpen
		}
	}
	if dismiss {
		now := s.now()
		dismissed := next
		dismissed.Status, dismissed.Action, dismissed.Resolution, dismissed.ResolvedBy, dismissed.ResolvedAt = StatusResolved, ActionDismiss,
			ReasonAccountDeleted, alias, &now
		both := bson.M{"status": StatusResolved, "action": ActionDismiss, "resolution": ReasonAccountDeleted, "resolved_by": alias, "resolved_at": now}
		for k, v := range set {
			both[k] = v
		}
		r, err := s.reports.UpdateOne(ctx, bson.M{"_id": d.ID, "status": StatusOpen}, bson.M{"$set": both})
		if err != nil {
			return err
		}
		if r.MatchedCount == 1 {
			s.unclaim(ctx, d)
			s.publish(ctx, events.ReportResolved, dismissed, alias)
			return nil
		}
		// Resolved meanwhile: only the names go.
	}
	if _, err := s.reports.UpdateOne(ctx, bson.M{"_id": d.ID}, bson.M{"$set": set}); err != nil {
		return err
	}
	if d.ReporterID == userID && d.Status == StatusOpen {
		s.unclaim(ctx, d) // the claim's _id names the user
	}
	return nil
}
