package mail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// bounceDoc marks an address a relay refused for good (5xx to RCPT): no
// mail but "reset" and "verify" goes to it until it is proven again.
type bounceDoc struct {
	ID   string    `bson:"_id"` // addressKey
	At   time.Time `bson:"at"`
	Code int       `bson:"code"`
}

// Bouncing tells whether address is marked as bouncing.
func (s *Service) Bouncing(ctx context.Context, address string) (bool, error) {
	var b bounceDoc
	err := s.bounces.FindOne(ctx, bson.M{"_id": addressKey(address)}, &b)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("mail: read bounce: %w", err)
	}
	return true, nil
}

// ClearBounce lifts the mark: the address was proven (a verification
// link followed).
func (s *Service) ClearBounce(ctx context.Context, address string) error {
	if _, err := s.bounces.DeleteOne(ctx, bson.M{"_id": addressKey(address)}); err != nil {
		return fmt.Errorf("mail: clear bounce: %w", err)
	}
	return nil
}

// markBounce records that the relay refused address with code.
func (s *Service) markBounce(ctx context.Context, address string, code int) error {
	_, err := s.bounces.UpdateOne(ctx, bson.M{"_id": addressKey(address)},
		bson.M{"$set": bson.M{"at": s.clock.Now(), "code": code}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mail: mark bounce: %w", err)
	}
	return nil
}
