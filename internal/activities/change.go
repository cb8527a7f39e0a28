package activities

import (
	"context"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Change is an edit of an event: nil fields stay. Reason is required
// when the time or the place changes (those who answered planned on
// them); Capacity 0 removes the limit. With SetPhoto, Photo replaces the
// event's photo (the caller's upload in the street), or nil removes it;
// the image replaced or removed is deleted.
type Change struct {
	Title, Description, Place *string
	StartsAt, EndsAt          *string
	Capacity                  *int
	SetPhoto                  bool
	Photo                     *PhotoIn
	Reason                    string
}

// Update is the author or a street admin changing an event still to
// come. It is one conditional update on the event's Seq: of two edits at
// once the second gets ErrChanged. Everyone who answered is told.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, in Change) (Event, error) {
	d, m, err := s.access(ctx, p, id)
	if err != nil {
		return Event{}, err
	}
	if !mayEdit(d, m) {
		return Event{}, ErrNotAllowed
	}
	if d.Status == StatusCancelled {
		return Event{}, ErrCancelled
	}
	now := s.now()
	if !d.EndsAt.After(now) {
		return Event{}, ErrOver
	}
	f := fault.Fields{}
	next := d
	if in.Title != nil {
		next.Title = cleanText(f, "title", *in.Title, MinTitle, MaxTitle)
	}
	if in.Description != nil {
		next.Description = cleanText(f, "description", *in.Description, 0, MaxDescription)
	}
	if in.Place != nil {
		next.Place = cleanText(f, "place", *in.Place, 1, MaxPlace)
	}
	if in.StartsAt != nil {
		next.StartsAt = parseTime(f, "starts_at", *in.StartsAt)
	}
	if in.EndsAt != nil {
		next.EndsAt = parseTime(f, "ends_at", *in.EndsAt)
	}
	if in.Capacity != nil {
		next.Capacity = checkCapacity(f, in.Capacity)
	}
	moved := !next.StartsAt.Equal(d.StartsAt) || !next.EndsAt.Equal(d.EndsAt)
	if moved {
		// An event under way may still end later; a start moved must
		// not be in the past.
		start := now
		if next.StartsAt.Equal(d.StartsAt) {
			start = minTime(now, d.StartsAt)
		}
		checkTimes(f, next.StartsAt, next.EndsAt, start)
	}
	reason := cleanText(f, "reason", in.Reason, 0, MaxReason)
	relocated := next.Place != d.Place
	if (moved || relocated) && reason == "" && f["reason"] == "" {
		f.Add("reason", "required")
	}
	if next.Capacity > 0 && next.Capacity < d.Taken && f["capacity"] == "" {
		f.Add("capacity", "below_taken")
	}
	var photo *PhotoIn
	if in.SetPhoto {
		photo = s.checkPhoto(f, in.Photo)
	}
	if err := f.Err(); err != nil {
		return Event{}, err
	}
	if in.SetPhoto {
		next.Photo = nil
		if photo != nil {
			next.Photo = &photoRef{ID: photo.ID, Alt: photo.Alt}
			if d.Photo != nil && d.Photo.ID == photo.ID { // the same image, its alt text perhaps changed
				next.Photo.Width, next.Photo.Height, next.Photo.By = d.Photo.Width, d.Photo.Height, d.Photo.By
			}
		}
	}
	newPhoto := !samePhoto(next.Photo, d.Photo)
	if next.Title == d.Title && next.Description == d.Description && next.Place == d.Place && !moved && next.Capacity == d.Capacity &&
		!newPhoto {
		return s.view(d, p.UserID, m), nil // nothing changed: nobody to tell
	}
	// A new image is attached before the update names it, and given back
	// if the update does not happen.
	eid := d.ID.Hex()
	var taken *photoRef
	if next.Photo != nil && (d.Photo == nil || d.Photo.ID != next.Photo.ID) {
		if taken, err = s.attachPhoto(ctx, d.StreetID, p.UserID, eid, photo, false); err != nil {
			return Event{}, err
		}
		next.Photo = taken
	}
	if moved && monthOf(next.StartsAt) != monthOf(d.StartsAt) {
		// Before the update, as at creation: a stale entry in the old
		// month is skipped when read.
		if _, err := s.lists.Append(ctx, monthKey(d.StreetID, next.StartsAt), id); err != nil {
			s.releasePhoto(ctx, eid, taken)
			return Event{}, err
		}
	}
	filter := bson.M{"_id": d.ID, "status": StatusScheduled, "seq": d.Seq}
	if next.Capacity > 0 {
		filter["taken"] = bson.M{"$lte": next.Capacity}
	}
	next.Seq, next.Reason, next.UpdatedAt = d.Seq+1, reason, now
	set := bson.M{"title": next.Title, "description": next.Description, "place": next.Place, "starts_at": next.StartsAt,
		"ends_at": next.EndsAt, "capacity": next.Capacity, "reason": reason, "updated_at": now}
	upd := bson.M{"$set": set, "$inc": bson.M{"seq": 1}}
	if next.Photo != nil {
		set["photo"] = next.Photo
	} else if d.Photo != nil {
		upd["$unset"] = bson.M{"photo": ""}
	}
	r, err := s.events.UpdateOne(ctx, filter, upd)
	if err != nil {
		s.releasePhoto(ctx, eid, taken)
		return Event{}, err
	}
	if r.MatchedCount == 0 {
		s.releasePhoto(ctx, eid, taken)
		cur, err := s.load(ctx, id)
		switch {
		case err != nil:
			return Event{}, err
		case cur.Status == StatusCancelled:
			return Event{}, ErrCancelled
		case cur.Seq == d.Seq && next.Capacity > 0 && cur.Taken > next.Capacity:
			return Event{}, fault.Validation("capacity", "below_taken")
		}
		return Event{}, ErrChanged
	}
	if d.Photo != nil && (next.Photo == nil || next.Photo.ID != d.Photo.ID) {
		s.deletePhoto(ctx, d.Photo) // replaced or removed
	}
	if moved {
		s.plan(ctx, id, next.StartsAt, now)
	}
	// The answers as they are now (an answer given meanwhile is told too).
	if cur, err := s.load(ctx, id); err == nil {
		next.RSVPs, next.Taken, next.Yes, next.No = cur.RSVPs, cur.Taken, cur.Yes, cur.No
	}
	s.tell(ctx, next, p.UserID, noteChanged, moved || relocated)
	s.publish(ctx, TypeUpdated, next, p.UserID)
	return s.view(next, p.UserID, m), nil
}

// plan sets an event's reminder for a new start, or drops it when the
// day before has passed (the change notice told them already).
func (s *Service) plan(ctx context.Context, id string, starts, now time.Time) {
	at := starts.Add(-RemindBefore)
	var err error
	if at.After(now) {
		_, err = s.due.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"at": at}}, upsert())
	} else {
		_, err = s.due.DeleteOne(ctx, bson.M{"_id": id})
	}
	if err != nil {
		s.log.Error("activities: reminder not replanned", "event", id, "err", err)
	}
}

// Cancel is the author or a street admin calling an event off, with a
// reason; everyone who answered is told. Once only: a second cancel gets
// ErrCancelled.
func (s *Service) Cancel(ctx context.Context, p auth.Principal, id, reason string) (Event, error) {
	d, m, err := s.access(ctx, p, id)
	if err != nil {
		return Event{}, err
	}
	if !mayEdit(d, m) {
		return Event{}, ErrNotAllowed
	}
	f := fault.Fields{}
	reason = cleanText(f, "reason", reason, 1, MaxReason)
	if err := f.Err(); err != nil {
		return Event{}, err
	}
	if d.Status == StatusCancelled {
		return Event{}, ErrCancelled
	}
	now := s.now()
	if !d.EndsAt.After(now) {
		return Event{}, ErrOver
	}
	r, err := s.events.UpdateOne(ctx, bson.M{"_id": d.ID, "status": StatusScheduled},
		bson.M{"$set": bson.M{"status": StatusCancelled, "reason": reason, "cancelled_at": now, "cancelled_by": p.UserID,
			"updated_at": now}, "$inc": bson.M{"seq": 1}})
	if err != nil {
		return Event{}, err
	}
	if r.MatchedCount == 0 {
		return Event{}, ErrCancelled
	}
	if _, err := s.due.DeleteOne(ctx, bson.M{"_id": id}); err != nil {
		s.log.Warn("activities: reminder of a cancelled event kept", "event", id, "err", err) // the sweep skips it
	}
	next, err := s.load(ctx, id)
	if err != nil {
		return Event{}, err
	}
	s.tell(ctx, next, p.UserID, noteCancelled, true)
	s.publish(ctx, TypeCancelled, next, p.UserID)
	return s.view(next, p.UserID, m), nil
}
