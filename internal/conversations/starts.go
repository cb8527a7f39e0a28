package conversations

import (
	"context"
	"errors"
	"strconv"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The daily limit on new conversations.
//
// A member has Options.NewPerDay start slots, one document each
// (`<user>#<k>`). Starting a conversation takes a slot that is free: never
// used, used more than 24 hours ago, or used for a conversation that was
// answered since. A start that then loses the pair to the other person's
// (both wrote first at once) gives its slot back. Taking one is an insert under the unique _id, or a
// compare-and-set on the time it was last taken, so two starts at the same
// moment, on one process or two, never take one slot twice: the limit
// holds exactly, where counting the inbox and then creating let both
// through.

// startDoc is one start slot.
type startDoc struct {
	ID  string        `bson:"_id"`
	CID bson.ObjectID `bson:"cid"`
	At  time.Time     `bson:"at"`
}

func startID(userID string, k int) string { return userID + "#" + strconv.Itoa(k) }

// takeStart takes a free start slot of userID for the conversation cid, or
// returns ErrTooMany.
func (s *Service) takeStart(ctx context.Context, userID string, cid bson.ObjectID) error {
	now := s.now()
	for k := range s.opts.NewPerDay {
		id := startID(userID, k)
		for attempt := 0; attempt < 3; attempt++ {
			var d startDoc
			err := s.starts.FindOne(ctx, bson.M{"_id": id}, &d)
			if errors.Is(err, store.ErrNotFound) {
				_, err = s.starts.InsertOne(ctx, startDoc{ID: id, CID: cid, At: now})
				if store.IsDuplicate(err) {
					continue // taken at this moment: look at it again
				}
				return err
			}
			if err != nil {
				return err
			}
			free, err := s.startFree(ctx, d, now)
			if err != nil {
				return err
			}
			if !free {
				break
			}
			r, err := s.starts.UpdateOne(ctx, bson.M{"_id": id, "at": d.At}, bson.M{"$set": bson.M{"cid": cid, "at": now}})
			if err != nil {
				return err
			}
			if r.MatchedCount == 1 {
				return nil
			}
			// Another start took it since it was read: look again.
		}
	}
	return ErrTooMany
}

// startFree tells whether the slot d may be taken again at now.
func (s *Service) startFree(ctx context.Context, d startDoc, now time.Time) (bool, error) {
	if !d.At.After(now.Add(-24 * time.Hour)) {
		return true, nil
	}
	var c struct {
		Answered bool `bson:"answered"`
	}
	// A conversation not found is being written (the slot is taken
	// first), or its start crashed in between: taken either way, until
	// the day is over.
	err := s.convs.FindOne(ctx, bson.M{"_id": d.CID}, &c)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return c.Answered, err
}

// releaseStart gives back the slot taken for cid, whose conversation was
// not created.
func (s *Service) releaseStart(ctx context.Context, userID string, cid bson.ObjectID) {
	for k := range s.opts.NewPerDay {
		r, err := s.starts.UpdateOne(ctx, bson.M{"_id": startID(userID, k), "cid": cid}, bson.M{"$set": bson.M{"at": time.Time{}}})
		if err != nil {
			s.log.Warn("conversations: a start slot stays taken for the day", "err", err)
			return
		}
		if r.MatchedCount == 1 {
			return
		}
	}
}
