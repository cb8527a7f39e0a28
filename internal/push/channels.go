package push

import (
	"context"
	"errors"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// What the email channel asks of push: a notice goes by mail only to
// someone no device of theirs can tell, and waits for their quiet hours
// as a push would.

// HasDevices tells whether the user has a push subscription.
func (s *Service) HasDevices(ctx context.Context, userID string) (bool, error) {
	if s.st.Embedded() {
		subs, _, err := s.userCopy(ctx)
		if err != nil {
			return false, err
		}
		return len(subs[userID]) > 0, nil
	}
	var d subscriptionDoc
	err := s.subs.FindOne(ctx, bson.M{"user_id": userID}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// QuietUntil says when a non-urgent notice made at now may reach the
// user: now itself outside their quiet hours, else the hours' end.
func (s *Service) QuietUntil(ctx context.Context, userID string, now time.Time) (time.Time, error) {
	var d settingsDoc
	err := s.settings.FindOne(ctx, bson.M{"_id": userID}, &d)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.Quiet == nil) {
		return now, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	tz, err := s.timeZone(ctx, userID)
	if err != nil {
		return time.Time{}, err
	}
	return quietUntil(now, loadLocation(tz), d.Quiet), nil
}
