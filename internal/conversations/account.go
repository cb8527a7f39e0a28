package conversations

import (
	"context"
	"errors"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/pseudonym"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrTooManyBlocks refuses a block beyond MaxBlocks.
var ErrTooManyBlocks = fault.New(fault.Invalid, "too_many_blocks", "you blocked as many neighbours as one account may")

func upsert() *options.UpdateOneOptionsBuilder { return options.UpdateOne().SetUpsert(true) }

// ExportedMessage is one message of the user's, in GET /me/export.
type ExportedMessage struct {
	ConversationID string    `json:"conversation_id"`
	With           string    `json:"with"`
	Body           string    `json:"body"`
	At             time.Time `json:"at"`
}

// Export returns the messages userID wrote, and whom they blocked.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	docs, err := s.inbox(ctx, userID)
	if err != nil {
		return nil, err
	}
	msgs := []ExportedMessage{}
	for _, d := range docs {
		items, err := s.messages.All(ctx, messagesKey(d.ID.Hex()))
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.AuthorID == userID {
				msgs = append(msgs, ExportedMessage{ConversationID: d.ID.Hex(), With: d.other(userID), Body: it.Body, At: it.At.UTC()})
			}
		}
	}
	blocks, err := s.blockList(ctx, userID)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for id := range blocks {
		ids = append(ids, id)
	}
	return map[string]any{"messages": msgs, "blocked": ids}, nil
}

// Erase is account deletion's part: the other person keeps their copy of
// each conversation, where the deleted account becomes a pseudonym (its
// messages stay, as the other's letters would); the block list goes.
func (s *Service) Erase(ctx context.Context, userID string) error {
	alias, err := pseudonym.Of(ctx, s.st(), userID)
	if err != nil {
		return err
	}
	docs, err := s.inbox(ctx, userID)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if _, err := s.messages.Rewrite(ctx, messagesKey(d.ID.Hex()), func(it *messageItem) bool {
			if it.AuthorID != userID {
				return false
			}
			it.AuthorID = alias
			return true
		}); err != nil {
			return err
		}
		users := []string{alias, d.other(userID)}
		_, err := s.convs.UpdateOne(ctx, bson.M{"_id": d.ID, "users": userID},
			bson.M{"$set": bson.M{"users": users}, "$unset": bson.M{"view." + userID: ""}})
		if err != nil {
			return err
		}
		if _, err := s.pairs.DeleteOne(ctx, bson.M{"_id": pairID(userID, d.other(userID))}); err != nil {
			return err
		}
	}
	// A member's start slots are 0, 1, … with no gap (one is inserted
	// only once every lower one was found taken), and none is ever
	// removed but here: up to the first missing one is all of them, also
	// those a higher setting of the limit left. They go from the highest
	// down, so an erasure cut short leaves no gap for the next try.
	n := 0
	for ; ; n++ {
		var d startDoc
		err := s.starts.FindOne(ctx, bson.M{"_id": startID(userID, n)}, &d)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
	}
	for k := n - 1; k >= 0; k-- {
		if _, err := s.starts.DeleteOne(ctx, bson.M{"_id": startID(userID, k)}); err != nil {
			return err
		}
	}
	_, err = s.blocks.DeleteOne(ctx, bson.M{"_id": userID})
	return err
}

// Target is a reported message as the street's admins see it.
type Target struct {
	StreetID   string
	AuthorID   string
	AuthorName string
	Body       string
}

// MessageTarget returns the message the caller reports: one they received
// in one of their conversations; the street is one both share (the
// conversation's own first). Anything else is ErrMessageNotFound.
func (s *Service) MessageTarget(ctx context.Context, p auth.Principal, messageID string) (Target, error) {
	if _, ok := store.ID(messageID); !ok {
		return Target{}, ErrMessageNotFound
	}
	var ref refDoc
	err := s.refs.FindOne(ctx, bson.M{"_id": messageID}, &ref)
	if errors.Is(err, store.ErrNotFound) {
		return Target{}, ErrMessageNotFound
	}
	if err != nil {
		return Target{}, err
	}
	d, err := s.load(ctx, p.UserID, ref.CID)
	if err != nil {
		return Target{}, ErrMessageNotFound
	}
	items, err := s.messages.Range(ctx, messagesKey(ref.CID), ref.Pos, ref.Pos+1)
	if err != nil {
		return Target{}, err
	}
	if len(items) != 1 || items[0].ID != messageID || items[0].AuthorID == p.UserID || items[0].HiddenFrom == p.UserID {
		return Target{}, ErrMessageNotFound
	}
	it := items[0]
	street, err := s.shared(ctx, p.UserID, it.AuthorID, d.StreetID)
	if err != nil {
		return Target{}, err
	}
	if street == "" {
		// Reported after the two parted: the street they wrote in.
		street = d.StreetID
	}
	t := Target{StreetID: street, AuthorID: it.AuthorID, Body: it.Body}
	if accs, err := s.deps.Accounts.Users(ctx, []string{it.AuthorID}); err == nil {
		t.AuthorName = accs[it.AuthorID].Name
	}
	return t, nil
}
