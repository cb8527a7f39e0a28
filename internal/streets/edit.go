package streets

import (
	"context"
	"strings"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ActionStreetUpdate is an admin's change of the street's card or listing.
const ActionStreetUpdate = "street.update"

// StreetChange is what an admin changes of a street; nil leaves a field
// as it is. The city is not changed: a street does not move. A new name
// keeps the street's slug (its links stay valid).
type StreetChange struct {
	Name        *string
	Description *string
	// Listed false takes the street out of the public directory and asks
	// search engines not to index its page; it stays reachable by link.
	Listed *bool
	// MembersInvite true lets every active member make invite links
	// (bounded, invites.go); false leaves it to the admins and stops the
	// links members made.
	MembersInvite *bool
}

// Update changes the street's name, description, listing or who may
// invite (admins).
// One update of the street by _id; the audit log says what changed.
func (s *Service) Update(ctx context.Context, p auth.Principal, streetID string, in StreetChange) (Street, error) {
	f := fault.Fields{}
	set, unset := bson.M{}, bson.M{}
	var changed []string
	if in.Name != nil {
		v := wording.Line(*in.Name)
		checkText(f, "name", v, 2, MaxNameLen)
		set["name"], set["name_key"] = v, foldKey(v)
		changed = append(changed, "name")
	}
	if in.Description != nil {
		v := wording.Text(*in.Description)
		checkText(f, "description", v, 0, MaxDescriptionLen)
		set["description"] = v
		changed = append(changed, "description")
	}
	if in.Listed != nil {
		if *in.Listed {
			unset["unlisted"] = ""
			changed = append(changed, "listed=true")
		} else {
			set["unlisted"] = true
			changed = append(changed, "listed=false")
		}
	}
	if in.MembersInvite != nil {
		if *in.MembersInvite {
			set["members_invite"] = true
			changed = append(changed, "members_invite=true")
		} else {
			unset["members_invite"] = ""
			changed = append(changed, "members_invite=false")
		}
	}
	if err := f.Err(); err != nil {
		return Street{}, err
	}
	me, err := s.RequireAdmin(ctx, streetID, p.UserID)
	if err != nil {
		return Street{}, err
	}
	d, err := s.streetDoc(ctx, streetID)
	if err != nil {
		return Street{}, err
	}
	if len(changed) == 0 {
		return d.card(), nil
	}
	update := bson.M{}
	if len(set) > 0 {
		update["$set"] = set
	}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	res, err := s.streets.UpdateOne(ctx, bson.M{"_id": d.ID, "archived_at": nil}, update)
	if err != nil {
		return Street{}, err
	}
	if res.MatchedCount == 0 {
		return Street{}, ErrStreetNotFound
	}
	st, err := s.street(ctx, streetID)
	if err != nil {
		return Street{}, err
	}
	s.record(ctx, streetID, me, auditRecord{Action: ActionStreetUpdate, TargetType: "street", TargetID: streetID, TargetName: st.Name,
		Detail: strings.Join(changed, ",")})
	return st, nil
}
