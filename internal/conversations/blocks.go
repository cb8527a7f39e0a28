package conversations

import (
	"context"
	"errors"
	"strconv"

	"civico/internal/auth"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxBlocks bounds one user's block list.
const MaxBlocks = 500

// blockDoc is one user's block list.
type blockDoc struct {
	ID    string   `bson:"_id"`
	Users []string `bson:"users"`
}

// Blocked is a member the caller blocked.
type Blocked struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Service) blockList(ctx context.Context, userID string) (map[string]bool, error) {
	var d blockDoc
	err := s.blocks.FindOne(ctx, bson.M{"_id": userID}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(d.Users))
	for _, u := range d.Users {
		out[u] = true
	}
	return out, nil
}

// blocked tells whether who blocked whom.
func (s *Service) blocked(ctx context.Context, who, whom string) (bool, error) {
	l, err := s.blockList(ctx, who)
	return l[whom], err
}

// Block stops every message between the caller and userID; userID is not
// told, and their messages are kept for them only. Blocking someone twice
// is one block.
func (s *Service) Block(ctx context.Context, p auth.Principal, userID string) error {
	oid, ok := store.ID(userID)
	if !ok || oid.Hex() == p.UserID {
		return ErrUserNotFound
	}
	accs, err := s.deps.Accounts.Users(ctx, []string{oid.Hex()})
	if err != nil {
		return err
	}
	if _, ok := accs[oid.Hex()]; !ok {
		return ErrUserNotFound
	}
	// One conditional write settles both rules, also for blocks made at
	// once: $addToSet makes two blocks of one member one, and the filter
	// adds only to a list with room. A full list fails the filter, and
	// the upsert then collides with it on _id; so does a first block
	// whose list another first block made at that moment, which the same
	// write without the upsert then settles.
	filter := bson.M{"_id": p.UserID, "users." + strconv.Itoa(MaxBlocks-1): bson.M{"$exists": false}}
	add := bson.M{"$addToSet": bson.M{"users": oid.Hex()}}
	_, err = s.blocks.UpdateOne(ctx, filter, add, upsert())
	if !store.IsDuplicate(err) {
		return err
	}
	r, err := s.blocks.UpdateOne(ctx, filter, add)
	if err != nil || r.MatchedCount == 1 {
		return err
	}
	l, err := s.blockList(ctx, p.UserID)
	if err != nil {
		return err
	}
	if l[oid.Hex()] {
		return nil // blocked already
	}
	return ErrTooManyBlocks
}

// Unblock lifts a block (nothing if there was none).
func (s *Service) Unblock(ctx context.Context, p auth.Principal, userID string) error {
	oid, ok := store.ID(userID)
	if !ok {
		return ErrUserNotFound
	}
	_, err := s.blocks.UpdateOne(ctx, bson.M{"_id": p.UserID}, bson.M{"$pull": bson.M{"users": oid.Hex()}})
	return err
}

// Blocks lists the members the caller blocked.
func (s *Service) Blocks(ctx context.Context, p auth.Principal) ([]Blocked, error) {
	l, err := s.blockList(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(l))
	for id := range l {
		ids = append(ids, id)
	}
	accs, err := s.deps.Accounts.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := []Blocked{}
	for _, id := range ids {
		if a, ok := accs[id]; ok {
			out = append(out, Blocked{ID: id, Name: a.Name})
		}
	}
	sortBlocked(out)
	return out, nil
}

func sortBlocked(b []Blocked) {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && (b[j-1].Name > b[j].Name || (b[j-1].Name == b[j].Name && b[j-1].ID > b[j].ID)); j-- {
			b[j-1], b[j] = b[j], b[j-1]
		}
	}
}
