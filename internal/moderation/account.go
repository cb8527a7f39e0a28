package moderation

import (
	"context"
	"sort"
	"time"

	"civico/internal/events"

	"go.mongodb.org/mongo-driver/v2/bson"
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

// Export lists the reports the user filed, oldest first, from memory.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	var mine []reportDoc
	s.mu.RLock()
	for _, d := range s.byID {
		if d.ReporterID == userID && userID != "" {
			mine = append(mine, *d)
		}
	}
	s.mu.RUnlock()
	sort.Slice(mine, func(i, j int) bool { return older(&mine[i], &mine[j]) })
	out := AccountData{Reports: []MyReport{}, Limit: MaxExport}
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
// drops their name, before their account is deleted.
func (s *Service) Erase(ctx context.Context, userID, alias string) error {
	if userID == "" || alias == "" || userID == alias {
		return nil
	}
	if err := s.ensure(ctx); err != nil {
		return err
	}
	streetSet := map[string]bool{}
	s.mu.RLock()
	for _, d := range s.byID {
		if d.ReporterID == userID || d.AuthorID == userID || d.ResolvedBy == userID {
			streetSet[d.StreetID] = true
		}
	}
	s.mu.RUnlock()
	sids := make([]string, 0, len(streetSet))
	for sid := range streetSet {
		sids = append(sids, sid)
	}
	sort.Strings(sids)
	for _, sid := range sids {
		if err := s.eraseIn(ctx, sid, userID, alias); err != nil {
			return err
		}
	}
	return nil
}

// eraseIn rewrites the street's reports under its lock.
func (s *Service) eraseIn(ctx context.Context, streetID, userID, alias string) error {
	unlock := s.lock(streetID)
	defer unlock()
	s.mu.RLock()
	list := append([]*reportDoc(nil), s.byStreet[streetID]...)
	s.mu.RUnlock()
	for _, r := range list {
		s.mu.RLock()
		next := *r
		s.mu.RUnlock()
		changed, dismissed := false, false
		if next.ReporterID == userID {
			next.ReporterID, next.ReporterName, changed = alias, "", true
		}
		if next.AuthorID == userID {
			next.AuthorID, next.AuthorName, changed = alias, "", true
			if next.Target == TargetUser {
				next.TargetID, next.TargetName = alias, ""
				if next.Status == StatusOpen {
					now := s.now()
					next.Status, next.Action, next.Resolution, next.ResolvedBy, next.ResolvedAt = StatusResolved, ActionDismiss,
						ReasonAccountDeleted, alias, &now
					dismissed = true
				}
			}
		}
		if next.ResolvedBy == userID {
			next.ResolvedBy, changed = alias, true
		}
		if !changed {
			continue
		}
		if _, err := s.reports.ReplaceOne(ctx, bson.M{"_id": next.ID}, next); err != nil {
			return err
		}
		s.mu.Lock()
		*r = next
		s.mu.Unlock()
		if dismissed {
			s.publish(ctx, events.ReportResolved, next, alias)
		}
	}
	return nil
}
