package activities

import (
	"context"
	"errors"
	"time"

	"civico/internal/pseudonym"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Fact is one event as the impact figures count it.
type Fact struct {
	EventID  string
	StartsAt time.Time
	EndsAt   time.Time
	// People who came: the yes answers and their guests.
	People int
}

// Facts lists the street's events held before end: not cancelled, ended
// by then. It reads the street's journal and each event by _id. The
// caller checks who may see the figures.
func (s *Service) Facts(ctx context.Context, streetID string, end time.Time) ([]Fact, error) {
	oid, ok := store.ID(streetID)
	if !ok {
		return []Fact{}, nil
	}
	streetID = oid.Hex()
	ids, err := s.lists.All(ctx, streetKey(streetID))
	if err != nil {
		return nil, err
	}
	docs, err := s.loadAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := []Fact{}
	for _, d := range docs {
		if d.StreetID != streetID || d.Status != StatusScheduled || d.EndsAt.After(end) {
			continue
		}
		out = append(out, Fact{EventID: d.ID.Hex(), StartsAt: d.StartsAt.UTC(), EndsAt: d.EndsAt.UTC(), People: d.Taken})
	}
	return out, nil
}

// maxExport bounds each list of an export.
const maxExport = 10000

// MyEvent is an event the user proposed.
type MyEvent struct {
	ID        string    `json:"id"`
	StreetID  string    `json:"street_id"`
	Title     string    `json:"title"`
	Place     string    `json:"place"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// MyRSVP is one of the user's answers.
type MyRSVP struct {
	EventID  string    `json:"event_id"`
	StreetID string    `json:"street_id"`
	Title    string    `json:"title"`
	Answer   string    `json:"answer"`
	Guests   int       `json:"guests"`
	At       time.Time `json:"at"`
}

// AccountData is what this package holds about a user.
type AccountData struct {
	Proposed []MyEvent `json:"proposed"`
	Answers  []MyRSVP  `json:"answers"`
	// CalendarFeed says whether the user has a private calendar URL (the
	// URL itself is a credential and stays out of exports).
	CalendarFeed bool `json:"calendar_feed"`
}

// Export gathers the user's data for GET /me/export: one scan of the
// events by author (fine for an export, never a hot path), the user's
// answers through their journal.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	out := AccountData{Proposed: []MyEvent{}, Answers: []MyRSVP{}}
	if userID == "" {
		return out, nil
	}
	var mine []eventDoc
	if err := s.events.FindAll(ctx, bson.M{"author_id": userID}, &mine,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(maxExport)); err != nil {
		return nil, err
	}
	for _, d := range mine {
		out.Proposed = append(out.Proposed, MyEvent{ID: d.ID.Hex(), StreetID: d.StreetID, Title: d.Title, Place: d.Place,
			StartsAt: d.StartsAt.In(location(d.TZ)), EndsAt: d.EndsAt.In(location(d.TZ)), Status: d.Status, CreatedAt: d.CreatedAt.UTC()})
	}
	ids, err := s.lists.All(ctx, userKey(userID))
	if err != nil {
		return nil, err
	}
	docs, err := s.loadAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if r, ok := d.RSVPs[userID]; ok {
			out.Answers = append(out.Answers, MyRSVP{EventID: d.ID.Hex(), StreetID: d.StreetID, Title: d.Title, Answer: r.Answer,
				Guests: r.Guests, At: r.At.UTC()})
		}
	}
	n, err := s.feeds.Count(ctx, bson.M{"_id": userID})
	if err != nil {
		return nil, err
	}
	out.CalendarFeed = n > 0
	return out, nil
}

// Erase runs before an account is deleted. The user's answers are
// removed (their seats freed, the counts lowered) and the list of the
// events they answered emptied; the events they proposed are kept, as
// neighbours may still plan to go, under a pseudonym and without their
// name (a street admin may cancel one), and without the photos they
// uploaded; their calendar feed is gone.
func (s *Service) Erase(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	ids, err := s.lists.All(ctx, userKey(userID))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if err := s.forgetAnswer(ctx, id, userID); err != nil {
			return err
		}
	}
	if _, err := s.lists.Rewrite(ctx, userKey(userID), func(v *string) bool {
		changed := *v != ""
		*v = ""
		return changed
	}); err != nil {
		return err
	}
	anon, err := pseudonym.Of(ctx, s.st, userID)
	if err != nil {
		return err
	}
	// Their photos go with their account (photos.Erase, after this, deletes
	// the images); the events stay without them.
	if _, err := s.events.UpdateMany(ctx, bson.M{"photo.by": userID}, bson.M{"$unset": bson.M{"photo": ""}}); err != nil {
		return err
	}
	if _, err := s.events.UpdateMany(ctx, bson.M{"author_id": userID},
		bson.M{"$set": bson.M{"author_id": anon, "author_name": "", "author_deleted": true}}); err != nil {
		return err
	}
	if _, err := s.events.UpdateMany(ctx, bson.M{"cancelled_by": userID}, bson.M{"$set": bson.M{"cancelled_by": anon}}); err != nil {
		return err
	}
	if err := s.eraseFeed(ctx, userID); err != nil {
		return err
	}
	_, err = s.tokens.DeleteMany(ctx, bson.M{"user_id": userID})
	return err
}

// forgetAnswer removes the user's answer to one event, conditional on
// the answer as read (as Answer does), freeing its seats.
func (s *Service) forgetAnswer(ctx context.Context, id, userID string) error {
	for range maxAnswerTries {
		d, err := s.load(ctx, id)
		if errors.Is(err, ErrEventNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		r, ok := d.RSVPs[userID]
		if !ok {
			return nil
		}
		field := "rsvps." + userID
		inc := bson.M{"taken": -r.seats()}
		if r.Answer == AnswerYes {
			inc["yes"] = -1
		} else {
			inc["no"] = -1
		}
		res, err := s.events.UpdateOne(ctx, bson.M{"_id": d.ID, field + ".answer": r.Answer, field + ".guests": r.Guests},
			bson.M{"$unset": bson.M{field: ""}, "$inc": inc})
		if err != nil {
			return err
		}
		if res.MatchedCount == 1 {
			return nil
		}
	}
	return errors.New("activities: an answer kept changing while it was erased")
}
