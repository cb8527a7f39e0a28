package activities

import (
	"context"
	"errors"

	"civico/internal/followups"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Sweep sends the reminders that fell due (the leader runs it every few
// seconds; several at once send each reminder once, see
// internal/followups).
func (s *Service) Sweep(ctx context.Context) error {
	return followups.Sweep(ctx, s.due, s.clock.Now().UTC(), func(ctx context.Context, d dueDoc) error {
		return s.remind(ctx, d.ID)
	})
}

// remind pushes an event's reminder to those who said yes, the day
// before its start. Marking the event reminded for its start is the
// claim: one conditional update, which one sweep wins; an event moved
// after its reminder gets one for its new start. It is given back if a
// push cannot be queued, and the next try sends again (each note is
// idempotent while it waits in the outbox).
func (s *Service) remind(ctx context.Context, id string) error {
	d, err := s.load(ctx, id)
	if errors.Is(err, ErrEventNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now()
	if d.Status != StatusScheduled || now.Before(d.StartsAt.Add(-RemindBefore)) || !now.Before(d.StartsAt) {
		return nil // cancelled, moved later (replanned), or begun
	}
	if d.RemindedFor != nil && d.RemindedFor.Equal(d.StartsAt) {
		return nil
	}
	filter := bson.M{"_id": d.ID, "status": StatusScheduled, "starts_at": d.StartsAt}
	if d.RemindedFor == nil {
		filter["reminded_for"] = bson.M{"$exists": false}
	} else {
		filter["reminded_for"] = *d.RemindedFor
	}
	r, err := s.events.UpdateOne(ctx, filter, bson.M{"$set": bson.M{"reminded_for": d.StartsAt}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 || s.deps.Notifier == nil {
		return nil // another sweep has it, or it changed: its own plan holds
	}
	for _, uid := range answered(d, "", true) {
		if err := s.deps.Notifier.Notify(ctx, note(d, uid, noteReminder, false)); err != nil {
			undo := bson.M{"$unset": bson.M{"reminded_for": ""}}
			if d.RemindedFor != nil {
				undo = bson.M{"$set": bson.M{"reminded_for": *d.RemindedFor}}
			}
			if _, uerr := s.events.UpdateOne(context.WithoutCancel(ctx), bson.M{"_id": d.ID, "reminded_for": d.StartsAt}, undo); uerr != nil {
				s.log.Error("activities: reminder marked sent after a failed push", "event", id, "err", uerr)
			}
			return err
		}
	}
	return nil
}
