package suggestions

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/locator"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Decision is a volunteer's accept: Changes, when given, replace the
// author's proposed changes (an empty object applies nothing); Reason is an
// optional word to the author.
type Decision struct {
	Changes *locator.Input
	Reason  string
}

// Decided is a decision made: the suggestion, and the place as it now is
// when the accept changed or created one.
type Decided struct {
	Suggestion Suggestion     `json:"suggestion"`
	Place      *locator.Place `json:"place,omitempty"`
}

// open is the filter of a suggestion still to decide: pending, or claimed
// by an accept whose claim ran out (its process died).
func (s *Service) open(oid bson.ObjectID) bson.D {
	return bson.D{{Key: "_id", Value: oid}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "status", Value: StatusPending}},
		bson.D{{Key: "status", Value: statusAccepting}, {Key: "claim_until", Value: bson.D{{Key: "$lt", Value: s.now()}}}},
	}}}
}

// deciding loads the suggestion for a volunteer of its association; to
// anyone else it does not exist.
func (s *Service) deciding(ctx context.Context, p auth.Principal, id string) (*doc, error) {
	d, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.places.CanKeep(ctx, p, d.AssociationID); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil, ErrSuggestionNotFound
		}
		return nil, err
	}
	return d, nil
}

// lost tells why a conditional decision matched nothing: the suggestion
// went (not found) or someone else decided it first.
func (s *Service) lost(ctx context.Context, oid bson.ObjectID) error {
	if _, err := s.load(ctx, oid.Hex()); err != nil {
		return err
	}
	return ErrDecided
}

// Accept applies the suggestion to the map and marks it accepted: the
// volunteer's changes if given, else the author's, go through the locator
// as an update of the reported place or the creation of the new one, with
// the suggestion's id as the change's origin in the place's history. A
// report accepted with nothing to change is only marked accepted (the
// entry is not marked verified: that is the locator's verify). A new place
// needs changes (at least its name and kind), the author's or the
// volunteer's. When two volunteers decide at once one wins; the other gets
// ErrDecided.
func (s *Service) Accept(ctx context.Context, p auth.Principal, id string, dec Decision) (Decided, error) {
	d, err := s.deciding(ctx, p, id)
	if err != nil {
		return Decided{}, err
	}
	if d.Status != StatusPending && d.Status != statusAccepting {
		return Decided{}, ErrDecided
	}
	reason := wording.Text(dec.Reason)
	f := fault.Fields{}
	checkText(f, "reason", reason, false, MaxReasonLen)
	changes := d.Changes
	if dec.Changes != nil {
		changes = checkChanges(f, dec.Changes)
	}
	f.Check(d.Kind == KindNewPlace && changes == "" && len(f) == 0, "changes", "required")
	if err := f.Err(); err != nil {
		return Decided{}, err
	}
	in, err := decodeInput(changes)
	if err != nil {
		return Decided{}, err
	}

	claim, err := s.claim(ctx, d.ID)
	if err != nil {
		return Decided{}, err
	}
	mine := bson.D{{Key: "_id", Value: d.ID}, {Key: "status", Value: statusAccepting}, {Key: "claim", Value: claim}}
	// Once claimed, the claim is given back or the decision recorded even
	// if the caller goes away: a change made to the place but not recorded
	// could be made again once the claim runs out.
	keep := context.WithoutCancel(ctx)

	var place *locator.Place
	if changes != "" {
		var pl locator.Place
		if d.Kind == KindNewPlace {
			pl, err = s.places.Create(ctx, p, d.AssociationID, in, d.ID.Hex())
		} else {
			pl, err = s.places.Update(ctx, p, d.PlaceID, in, d.ID.Hex())
		}
		if err != nil {
			// Nothing changed: the suggestion is pending again, for
			// this volunteer to retry with other changes, or decline.
			if _, rerr := s.coll.UpdateOne(keep, mine, bson.D{
				{Key: "$set", Value: bson.D{{Key: "status", Value: StatusPending}}},
				{Key: "$unset", Value: bson.D{{Key: "claim", Value: ""}, {Key: "claim_until", Value: ""}}}}); rerr != nil {
				s.log.Warn("suggestions: giving back a claim", "suggestion", d.ID.Hex(), "err", rerr)
			}
			return Decided{}, err
		}
		place = &pl
	}

	now := s.now()
	set := bson.D{{Key: "status", Value: StatusAccepted}, {Key: "decided_at", Value: now}, {Key: "decided_by", Value: p.UserID}}
	if reason != "" {
		set = append(set, bson.E{Key: "reason", Value: reason})
	}
	if changes != "" {
		set = append(set, bson.E{Key: "applied", Value: changes})
	}
	if place != nil {
		set = append(set, bson.E{Key: "place_id", Value: place.ID}, bson.E{Key: "place_name", Value: place.Name})
	}
	r, err := s.coll.UpdateOne(keep, mine, bson.D{{Key: "$set", Value: set},
		{Key: "$unset", Value: bson.D{{Key: "claim", Value: ""}, {Key: "claim_until", Value: ""}}}})
	if err != nil {
		return Decided{}, err
	}
	if r.MatchedCount == 0 {
		// The place changed, but this accept took longer than its claim
		// and another decision came meanwhile: that one stands.
		s.log.Warn("suggestions: claim ran out before the accept was recorded", "suggestion", d.ID.Hex())
		return Decided{}, ErrDecided
	}
	// The document is now as this accept wrote it.
	d.Status, d.DecidedAt, d.DecidedBy, d.Reason, d.Applied = StatusAccepted, &now, p.UserID, reason, changes
	if place != nil {
		d.PlaceID, d.PlaceName = place.ID, place.Name
	}
	return Decided{Suggestion: d.view(true), Place: place}, nil
}

// claim takes the open suggestion for one accept, for claimFor; the
// loser of a race gets ErrDecided.
func (s *Service) claim(ctx context.Context, oid bson.ObjectID) (string, error) {
	claim := token()
	r, err := s.coll.UpdateOne(ctx, s.open(oid), bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: statusAccepting}, {Key: "claim", Value: claim}, {Key: "claim_until", Value: s.now().Add(claimFor)}}}})
	if err != nil {
		return "", err
	}
	if r.MatchedCount == 0 {
		return "", s.lost(ctx, oid)
	}
	return claim, nil
}

// Decline marks the suggestion declined with the volunteer's reason, which
// its author sees. The map does not change.
func (s *Service) Decline(ctx context.Context, p auth.Principal, id, reason string) (Decided, error) {
	d, err := s.deciding(ctx, p, id)
	if err != nil {
		return Decided{}, err
	}
	if d.Status != StatusPending && d.Status != statusAccepting {
		return Decided{}, ErrDecided
	}
	reason = wording.Text(reason)
	f := fault.Fields{}
	checkText(f, "reason", reason, true, MaxReasonLen)
	if err := f.Err(); err != nil {
		return Decided{}, err
	}
	now := s.now()
	r, err := s.coll.UpdateOne(ctx, s.open(d.ID), bson.D{
		{Key: "$set", Value: bson.D{{Key: "status", Value: StatusDeclined}, {Key: "decided_at", Value: now},
			{Key: "decided_by", Value: p.UserID}, {Key: "reason", Value: reason}}},
		{Key: "$unset", Value: bson.D{{Key: "claim", Value: ""}, {Key: "claim_until", Value: ""}}}})
	if err != nil {
		return Decided{}, err
	}
	if r.MatchedCount == 0 {
		return Decided{}, s.lost(ctx, d.ID)
	}
	d.Status, d.DecidedAt, d.DecidedBy, d.Reason = StatusDeclined, &now, p.UserID, reason
	return Decided{Suggestion: d.view(true)}, nil
}

// token names one accept's claim.
func token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
