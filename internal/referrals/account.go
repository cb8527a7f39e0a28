package referrals

import (
	"context"
	"errors"
	"time"

	"civico/internal/pseudonym"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Fact is one referral as the impact figures count it.
type Fact struct {
	Person     string    // who was referred: "user:<id>" or "member:<id>"
	At         time.Time // made
	FollowedUp bool      // the follow-up question was answered
	Helped     bool      // …with "helped"
}

// Facts lists the association's referrals made before end: its journal,
// and each referral by _id. FollowedUp is any recorded outcome, "no
// answer" included: the desk did follow the referral up, and the figures
// count the desk's follow-ups; Helped is "helped" alone. The caller checks
// who may see the figures.
func (s *Service) Facts(ctx context.Context, aid string, end time.Time) ([]Fact, error) {
	oid, ok := store.ID(aid)
	if !ok {
		return []Fact{}, nil
	}
	aid = oid.Hex()
	ids, err := s.lists.All(ctx, assocKey(aid))
	if err != nil {
		return nil, err
	}
	out := make([]Fact, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		d, err := s.load(ctx, id)
		if errors.Is(err, ErrReferralNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.AssociationID != aid || !d.CreatedAt.Before(end) {
			continue
		}
		out = append(out, Fact{Person: d.Person, At: d.CreatedAt.UTC(), FollowedUp: d.Status == StatusAnswered,
			Helped: d.Status == StatusAnswered && d.Outcome == OutcomeHelped})
	}
	return out, nil
}

// What the referrals hold of a person: the referrals of them (as the
// resident referred), and those they made as a volunteer. GET /me/export
// shows it; DELETE /me unlinks it from them.

// maxExport bounds each list of an export.
const maxExport = 10000

// MyReferral is a referral of the user, as they may see it.
type MyReferral struct {
	ID            string     `json:"id"`
	AssociationID string     `json:"association_id"`
	PlaceID       string     `json:"place_id"`
	PlaceName     string     `json:"place_name"`
	PostID        string     `json:"post_id,omitempty"`
	Note          string     `json:"note"`
	Status        string     `json:"status"`
	Outcome       string     `json:"outcome,omitempty"`
	FollowUpAt    time.Time  `json:"follow_up_at"`
	AskedAt       *time.Time `json:"asked_at,omitempty"`
	AnsweredAt    *time.Time `json:"answered_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

// MadeReferral is a referral the user made as a volunteer: what they did,
// not whom it concerned (no person, no note, no outcome).
type MadeReferral struct {
	ID            string    `json:"id"`
	AssociationID string    `json:"association_id"`
	PlaceID       string    `json:"place_id"`
	PlaceName     string    `json:"place_name"`
	FollowUpTo    string    `json:"follow_up_to"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
}

// AccountData is everything this package holds about a user.
type AccountData struct {
	Referred []MyReferral   `json:"referred"`
	Made     []MadeReferral `json:"made"`
}

// Export gathers the user's data for GET /me/export: two scans of the
// referrals, fine for an export, never a hot path.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	out := AccountData{Referred: []MyReferral{}, Made: []MadeReferral{}}
	if userID == "" {
		return out, nil
	}
	sorted := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(maxExport)
	var mine []referralDoc
	if err := s.refs.FindAll(ctx, bson.M{"user_id": userID}, &mine, sorted); err != nil {
		return nil, err
	}
	for _, d := range mine {
		out.Referred = append(out.Referred, MyReferral{ID: d.ID.Hex(), AssociationID: d.AssociationID, PlaceID: d.PlaceID,
			PlaceName: d.PlaceName, PostID: d.PostID, Note: d.Note, Status: d.Status, Outcome: d.Outcome,
			FollowUpAt: d.FollowUpAt.UTC(), AskedAt: utcPtr(d.AskedAt), AnsweredAt: utcPtr(d.AnsweredAt), CreatedAt: d.CreatedAt.UTC()})
	}
	var made []referralDoc
	if err := s.refs.FindAll(ctx, bson.M{"by": userID}, &made, sorted); err != nil {
		return nil, err
	}
	for _, d := range made {
		out.Made = append(out.Made, MadeReferral{ID: d.ID.Hex(), AssociationID: d.AssociationID, PlaceID: d.PlaceID,
			PlaceName: d.PlaceName, FollowUpTo: d.Ask, Status: d.Status, CreatedAt: d.CreatedAt.UTC()})
	}
	return out, nil
}

// Erase runs before an account is deleted. The referrals of the user lose
// the note, the request and the user, and count a pseudonym as the person
// (the same for all of them, so the figures still count one person); no
// follow-up goes to a deleted account; the referrals the user made or
// answered as a volunteer no longer name them. The counts stay.
func (s *Service) Erase(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	anon, err := pseudonym.Of(ctx, s.st, userID)
	if err != nil {
		return err
	}
	if _, err := s.refs.UpdateMany(ctx, bson.M{"user_id": userID}, bson.M{
		"$set":   bson.M{"person": "user:" + anon, "ask_user_id": ""},
		"$unset": bson.M{"user_id": "", "note": "", "post_id": "", "street_id": ""},
	}); err != nil {
		return err
	}
	for _, field := range []string{"ask_user_id", "by", "answered_by"} {
		if _, err := s.refs.UpdateMany(ctx, bson.M{field: userID}, bson.M{"$set": bson.M{field: ""}}); err != nil {
			return err
		}
	}
	return nil
}
