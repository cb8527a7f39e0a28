// Package followups acts on checks that fall due at a time (the hand-off's
// "how did it go?", the referrals' "did it help?"), each once, whichever
// sweep of whichever process reaches it first.
//
// A check is a document of its owner's collection with an `_id` and an `at`
// (when it is due) besides the owner's own fields. A sweep claims a due
// check by moving its `at` ClaimFor into the future in one conditional
// update, which only one sweep wins; the new time is the claim's token. The
// check is deleted once acted on, guarded by that token, so a sweep that
// took the check over after a claim ran out deletes it itself. A check
// whose action failed, or whose process died, falls due again when its
// claim runs out: each is acted on at least once, and the owner's own
// conditional write (a reminder's status, a referral's) makes it once.
package followups

import (
	"context"
	"errors"
	"sort"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ClaimFor is how long a sweep holds a check it claimed.
const ClaimFor = 2 * time.Minute

// batch bounds the checks one read of the collection returns. The
// collection holds only checks still to act on, so reading it is a small
// scan on the embedded engine (an index on "at" on MongoDB).
const batch = 200

// due is what a sweep reads of every check.
type due struct {
	ID string    `bson:"_id"`
	At time.Time `bson:"at"`
}

// Sweep hands each check of c due at now, decoded as a T, to act; one
// whose act fails is tried again once its claim runs out. It returns the
// failures joined.
func Sweep[T any](ctx context.Context, c *store.Collection, now time.Time, act func(context.Context, T) error) error {
	var errs []error
	for {
		var raws []bson.Raw
		if err := c.FindAll(ctx, bson.M{"at": bson.M{"$lte": now}}, &raws,
			options.Find().SetSort(bson.D{{Key: "at", Value: 1}}).SetLimit(batch)); err != nil {
			return errors.Join(append(errs, err)...)
		}
		type check struct {
			due
			doc T
		}
		checks := make([]check, 0, len(raws))
		for _, raw := range raws {
			var ch check
			if err := bson.Unmarshal(raw, &ch.due); err != nil {
				return errors.Join(append(errs, err)...)
			}
			if err := bson.Unmarshal(raw, &ch.doc); err != nil {
				return errors.Join(append(errs, err)...)
			}
			checks = append(checks, ch)
		}
		// The embedded engine does not sort this filter's answer.
		sort.SliceStable(checks, func(i, j int) bool { return checks[i].At.Before(checks[j].At) })
		for _, ch := range checks {
			until, ok, err := claim(ctx, c, ch.ID, now)
			if err != nil {
				// Unclaimed, it would be read again: the next sweep goes on.
				return errors.Join(append(errs, err)...)
			}
			if !ok {
				continue // another sweep has it, or it is done
			}
			if err := act(ctx, ch.doc); err != nil {
				errs = append(errs, err) // due again once the claim runs out
				continue
			}
			if _, err := c.DeleteOne(ctx, bson.M{"_id": ch.ID, "at": until}); err != nil {
				errs = append(errs, err) // acted on: a second go changes nothing
			}
		}
		// Every check read was claimed or taken by someone else, so none of
		// them is read again.
		if len(raws) < batch {
			return errors.Join(errs...)
		}
	}
}

// claim takes a due check: its time moves ClaimFor past now if it still
// was due. The new time is the claim's token.
func claim(ctx context.Context, c *store.Collection, id string, now time.Time) (time.Time, bool, error) {
	until := now.Add(ClaimFor).Truncate(time.Millisecond)
	r, err := c.UpdateOne(ctx, bson.M{"_id": id, "at": bson.M{"$lte": now}},
		bson.M{"$set": bson.M{"at": until}, "$inc": bson.M{"tries": 1}})
	if err != nil {
		return time.Time{}, false, err
	}
	return until, r.MatchedCount == 1, nil
}
