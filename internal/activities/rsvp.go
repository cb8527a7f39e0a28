package activities

import (
	"context"
	"errors"

	"civico/internal/auth"
	"civico/internal/fault"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxAnswerTries bounds how often one answer is tried again after the
// caller's own answer changed under it (their other device at once).
const maxAnswerTries = 8

func upsert() *options.UpdateOneOptionsBuilder { return options.UpdateOne().SetUpsert(true) }

// Answer records p's answer to an event: "yes" with guests (0 to
// MaxGuests), or "no". It is one conditional update of the event: its
// filter holds the caller's previous answer as read, the event still
// scheduled and, when the answer takes seats, "taken ≤ capacity − more",
// so concurrent answers never pass the capacity: those that would get
// ErrFull. Changing one's answer or guests frees or takes the
// difference. The event as it is then comes back, counts and the
// caller's answer included.
func (s *Service) Answer(ctx context.Context, p auth.Principal, id, answer string, guests int) (Event, error) {
	f := fault.Fields{}
	switch answer {
	case AnswerYes, AnswerNo:
	case "":
		f.Add("answer", "required")
	default:
		f.Add("answer", "invalid")
	}
	if guests < 0 || guests > MaxGuests {
		f.Add("guests", "out_of_range")
	}
	if answer == AnswerNo && guests != 0 {
		guests = 0 // a no brings nobody
	}
	if err := f.Err(); err != nil {
		return Event{}, err
	}
	d, m, err := s.access(ctx, p, id)
	if err != nil {
		return Event{}, err
	}
	uid := p.UserID
	for range maxAnswerTries {
		if d.Status == StatusCancelled {
			return Event{}, ErrCancelled
		}
		now := s.now()
		if !d.EndsAt.After(now) {
			return Event{}, ErrOver
		}
		old, had := d.RSVPs[uid]
		next := rsvpEntry{Answer: answer, Guests: guests, At: now}
		if had && old.Answer == next.Answer && old.Guests == next.Guests {
			return s.view(d, uid, m), nil
		}
		more := next.seats() - old.seats()
		field := "rsvps." + uid
		filter := bson.M{"_id": d.ID, "status": StatusScheduled}
		if had {
			filter[field+".answer"], filter[field+".guests"] = old.Answer, old.Guests
		} else {
			filter[field] = bson.M{"$exists": false}
		}
		if more > 0 && d.Capacity > 0 {
			filter["taken"] = bson.M{"$lte": d.Capacity - more}
		}
		inc := bson.M{"taken": more}
		count := func(a string, by int) {
			switch a {
			case AnswerYes:
				inc["yes"] = inc["yes"].(int) + by
			case AnswerNo:
				inc["no"] = inc["no"].(int) + by
			}
		}
		inc["yes"], inc["no"] = 0, 0
		if had {
			count(old.Answer, -1)
		}
		count(next.Answer, 1)
		// The capacity may be lowered meanwhile by an edit: the filter
		// reads it from the document as it was read here, and an edit
		// that lowers it checks taken itself.
		if d.Capacity > 0 && more > 0 {
			filter["capacity"] = d.Capacity
		}
		r, err := s.events.UpdateOne(ctx, filter, bson.M{"$set": bson.M{field: next}, "$inc": inc})
		if err != nil {
			return Event{}, err
		}
		if r.MatchedCount == 1 {
			if !had {
				// The user's own list, for their export and erasure: a
				// failure leaves the answer, which Erase also finds by
				// the street's lists.
				if _, err := s.lists.Append(ctx, userKey(uid), id); err != nil {
					s.log.Warn("activities: answer not listed for its user", "event", id, "err", err)
				}
			}
			d, err = s.load(ctx, id)
			if err != nil {
				return Event{}, err
			}
			return s.view(d, uid, m), nil
		}
		cur, err := s.load(ctx, id)
		if err != nil {
			return Event{}, err
		}
		now2, stillHad := cur.RSVPs[uid]
		same := stillHad == had && (!had || now2.Answer == old.Answer && now2.Guests == old.Guests)
		if same && cur.Status == StatusScheduled && cur.Capacity == d.Capacity && more > 0 && cur.Capacity > 0 &&
			cur.Taken > cur.Capacity-more {
			return Event{}, ErrFull
		}
		d = cur // the caller's answer or the capacity changed meanwhile: again
	}
	return Event{}, errors.New("activities: an answer kept changing under another")
}
