package posts

import (
	"context"
	"errors"
	"time"

	"civico/internal/store"
	"civico/internal/streets"
)

// Exchange is one act of help, recorded when a post is marked done; it
// never changes. For a request the giver is the accepted replier and the
// receiver the author; for an offer the reverse. When the post was written
// by a desk volunteer on behalf of a roster member, the author's side is
// that member: OnBehalf names them (the volunteer's user id stays in the
// author's field, so an impact figure can count the member instead).
type Exchange struct {
	PostID     string    `bson:"_id" json:"post_id"`
	StreetID   string    `bson:"street_id" json:"street_id"`
	Kind       string    `bson:"kind" json:"kind"`
	Category   string    `bson:"category" json:"category"`
	GiverID    string    `bson:"giver_id" json:"giver_id"`
	ReceiverID string    `bson:"receiver_id" json:"receiver_id"`
	At         time.Time `bson:"at" json:"at"`
	OnBehalf   *OnBehalf `bson:"on_behalf,omitempty" json:"on_behalf,omitempty"`
}

// adminView sees everything a post shows.
var adminView = streets.Member{Role: streets.RoleAdmin}

func exchangeKey(streetID string) string { return "exchanges:" + streetID }

func newExchange(d *postDoc, now time.Time) Exchange {
	ex := Exchange{PostID: d.ID.Hex(), StreetID: d.StreetID, Kind: d.Kind, Category: d.Category, At: now, OnBehalf: d.OnBehalf}
	if d.Kind == KindRequest {
		ex.GiverID, ex.ReceiverID = d.MatchedUserID, d.AuthorID
	} else {
		ex.GiverID, ex.ReceiverID = d.AuthorID, d.MatchedUserID
	}
	return ex
}

// recordExchange stores ex under the post's id: one exchange per post, so
// a retried "done" cannot count twice. It tells whether ex was new.
func (s *Service) recordExchange(ctx context.Context, ex Exchange) (bool, error) {
	if _, err := s.exchanges.InsertOne(ctx, ex); err != nil {
		if store.IsDuplicate(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// EachExchange calls fn with the street's exchanges, oldest first, reading
// the street's own journal (no collection scan).
func (s *Service) EachExchange(ctx context.Context, streetID string, fn func(Exchange) error) error {
	n, err := s.exchangeJ.Len(ctx, exchangeKey(streetID))
	if err != nil {
		return err
	}
	const batch = 128
	for from := int64(0); from < n; from += batch {
		exs, err := s.exchangeJ.Range(ctx, exchangeKey(streetID), from, min(from+batch, n))
		if err != nil {
			return err
		}
		for _, ex := range exs {
			ex.At = ex.At.UTC()
			if err := fn(ex); err != nil {
				return err
			}
		}
	}
	return nil
}

// PostRecord is a post with what impact figures need beyond the member view:
// who was matched with it.
type PostRecord struct {
	Post
	MatchedUserID string
}

// EachPost calls fn with every post of the street, oldest first, reading the
// street's journal and each post by _id: the cost follows the street, not
// the database.
func (s *Service) EachPost(ctx context.Context, streetID string, fn func(PostRecord) error) error {
	n, err := s.feedJ.Len(ctx, feedKey(streetID))
	if err != nil {
		return err
	}
	const batch = 256
	for from := int64(0); from < n; from += batch {
		ids, err := s.feedJ.Range(ctx, feedKey(streetID), from, min(from+batch, n))
		if err != nil {
			return err
		}
		for _, id := range ids {
			d, err := s.load(ctx, id)
			if errors.Is(err, ErrPostNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			rec := PostRecord{Post: d.view(adminView), MatchedUserID: d.MatchedUserID}
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
	return nil
}
