package suggestions

import (
	"context"
	"errors"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Export is the user's suggestions, oldest first, as they see them: for
// GET /me/export.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	ids, err := s.lists.All(ctx, authorKey(userID))
	if err != nil {
		return nil, err
	}
	out := make([]Suggestion, 0, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		d, err := s.load(ctx, id)
		if errors.Is(err, ErrSuggestionNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.AuthorID == userID {
			out = append(out, d.view(false))
		}
	}
	return out, nil
}

// Erase removes the user from their suggestions before their account is
// deleted. Every one loses its author's id and name. A decided one keeps
// its text: it is why the entry changed (or did not), which the volunteers
// keep, as a deleted account's posts keep theirs. A pending one is
// withdrawn: its text and proposed changes go, as nobody acted on them
// yet and they may say more about the author than the map needs. Last,
// the author's list forgets which suggestions were theirs. Running it
// again finishes what a failed run left.
func (s *Service) Erase(ctx context.Context, userID string) error {
	key := authorKey(userID)
	ids, err := s.lists.All(ctx, key)
	if err != nil {
		return err
	}
	now := s.now()
	for _, id := range ids {
		oid, ok := store.ID(id)
		if !ok {
			continue
		}
		mine := bson.D{{Key: "_id", Value: oid}, {Key: "author_id", Value: userID}}
		pending := append(mine[:len(mine):len(mine)], bson.E{Key: "status", Value: StatusPending})
		if _, err := s.coll.UpdateOne(ctx, pending, bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: StatusWithdrawn}, {Key: "decided_at", Value: now}, {Key: "text", Value: ""}}},
			{Key: "$unset", Value: bson.D{{Key: "changes", Value: ""}}}}); err != nil {
			return err
		}
		if _, err := s.coll.UpdateOne(ctx, mine, bson.D{
			{Key: "$set", Value: bson.D{{Key: "erased", Value: true}}},
			{Key: "$unset", Value: bson.D{{Key: "author_id", Value: ""}, {Key: "author_name", Value: ""}}}}); err != nil {
			return err
		}
	}
	_, err = s.lists.Rewrite(ctx, key, func(id *string) bool {
		if *id == "" {
			return false
		}
		*id = ""
		return true
	})
	return err
}
