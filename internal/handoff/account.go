package handoff

import (
	"context"
	"errors"
	"time"

	"civico/internal/posts"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// What the hand-off holds of a person: the reminders sent to them as
// authors (with their answers), the requests they took on for a desk, and
// the street–association links they agreed to. GET /me/export shows it;
// DELETE /me unlinks it from them.

// maxExport bounds each list of an export; a person with more reminders
// than this has been using Civico for decades.
const maxExport = 10000

// MyReminder is a reminder sent to the user about one of their requests.
type MyReminder struct {
	PostID     string     `json:"post_id"`
	StreetID   string     `json:"street_id"`
	State      string     `json:"state"`
	SentAt     time.Time  `json:"sent_at"`
	Answer     string     `json:"answer,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
}

// MyTake is a request the user took on for a desk.
type MyTake struct {
	PostID        string    `json:"post_id"`
	StreetID      string    `json:"street_id"`
	AssociationID string    `json:"association_id"`
	At            time.Time `json:"at"`
}

// MyLink is a street–association link the user agreed to, for one side or
// both.
type MyLink struct {
	StreetID      string    `json:"street_id"`
	AssociationID string    `json:"association_id"`
	Side          string    `json:"side"`
	Status        string    `json:"status"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// AccountData is everything this package holds about a user.
type AccountData struct {
	Reminders []MyReminder `json:"reminders"`
	Takes     []MyTake     `json:"takes"`
	Links     []MyLink     `json:"links"`
}

// Export gathers the user's data for GET /me/export. Each list is one scan
// of a small collection: fine for an export, never a hot path.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	out := AccountData{Reminders: []MyReminder{}, Takes: []MyTake{}, Links: []MyLink{}}
	if userID == "" {
		return out, nil
	}
	var rs []reminderDoc
	if err := s.reminders.FindAll(ctx, bson.M{"user_id": userID}, &rs,
		options.Find().SetSort(bson.D{{Key: "sent_at", Value: 1}}).SetLimit(maxExport)); err != nil {
		return nil, err
	}
	for _, r := range rs {
		out.Reminders = append(out.Reminders, MyReminder{PostID: r.PostID, StreetID: r.StreetID, State: r.State,
			SentAt: r.SentAt.UTC(), Answer: r.Answer, AnsweredAt: utcPtr(r.AnsweredAt)})
	}
	var ts []takeDoc
	if err := s.takes.FindAll(ctx, bson.M{"user_id": userID}, &ts,
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}}).SetLimit(maxExport)); err != nil {
		return nil, err
	}
	for _, t := range ts {
		out.Takes = append(out.Takes, MyTake{PostID: t.ID, StreetID: t.StreetID, AssociationID: t.AssociationID, At: t.At.UTC()})
	}
	var ls []linkDoc
	if err := s.links.FindAll(ctx, bson.M{"$or": bson.A{bson.M{"street_by": userID}, bson.M{"association_by": userID}}}, &ls,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(maxExport)); err != nil {
		return nil, err
	}
	for _, l := range ls {
		out.Links = append(out.Links, MyLink{StreetID: l.StreetID, AssociationID: l.AssociationID,
			Side: sideOf(l.StreetBy == userID, l.AssociationBy == userID), Status: l.status(), UpdatedAt: l.UpdatedAt.UTC()})
	}
	return out, nil
}

// Erase runs before an account is deleted. The records stay, since they
// keep reminders from being sent twice and say which desk is on a
// request, but no longer name the user: reminders lose their author and
// answer, takes their volunteer (and the post's desk note the volunteer's
// name), links who agreed (the consent was given for the street or the
// association, and stays).
func (s *Service) Erase(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	if _, err := s.reminders.UpdateMany(ctx, bson.M{"user_id": userID},
		bson.M{"$set": bson.M{"user_id": ""}, "$unset": bson.M{"answer": "", "answered_at": ""}}); err != nil {
		return err
	}
	var ts []takeDoc
	if err := s.takes.FindAll(ctx, bson.M{"user_id": userID}, &ts); err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.posts.ForgetDeskVolunteer(ctx, t.ID, t.AssociationID); err != nil && !errors.Is(err, posts.ErrPostNotFound) {
			return err
		}
	}
	if _, err := s.takes.UpdateMany(ctx, bson.M{"user_id": userID}, bson.M{"$set": bson.M{"user_id": ""}}); err != nil {
		return err
	}
	for _, field := range []string{"street_by", "association_by"} {
		if _, err := s.links.UpdateMany(ctx, bson.M{field: userID}, bson.M{"$set": bson.M{field: ""}}); err != nil {
			return err
		}
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
