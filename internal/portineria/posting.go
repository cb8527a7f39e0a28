package portineria

import (
	"context"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/store"
)

// AssistedPost is a request or offer the desk writes in a street for a
// roster member who has no smartphone ("no wrong door").
type AssistedPost struct {
	Kind     string
	Category string
	Title    string
	Body     string
	// AssociationID, MemberID and MemberName say for whom; the name is the
	// short form ("Maria R."): the street sees who, not their contacts.
	AssociationID string
	MemberID      string
	MemberName    string
	// IdempotencyKey, when set, makes the post once per key: a retry with
	// the same key answers the same post (Posted.Replayed).
	IdempotencyKey string
}

// Posted is what the posts service answered: the new post's id and the
// post itself as its owner shapes it for clients.
type Posted struct {
	ID   string
	Post any
	// Replayed says the post was made earlier, by a request with the same
	// idempotency key.
	Replayed bool
}

// Poster publishes a post in a street as the volunteer p, marked as made
// for a member. It is implemented over the posts service in app.go, which
// checks that p is an active member of the street, validates the post and
// rate-limits; replies then reach p, the post's author.
type Poster interface {
	PostOnBehalf(ctx context.Context, p auth.Principal, streetID string, in AssistedPost) (Posted, error)
}

// PostForMember lets a volunteer post in one of their streets on behalf of
// a member of the association's roster. The audit trail keeps which
// volunteer posted what for whom.
func (s *Service) PostForMember(ctx context.Context, p auth.Principal, aid, mid, streetID string, in AssistedPost) (Posted, error) {
	a, _, err := s.staff(ctx, p, aid, "")
	if err != nil {
		return Posted{}, err
	}
	m, err := s.loadMember(ctx, &a, mid)
	if err != nil {
		return Posted{}, err
	}
	if m.Erased {
		return Posted{}, ErrMemberErased
	}
	if _, ok := store.ID(streetID); !ok {
		if streetID == "" {
			return Posted{}, fault.Validation("street_id", "required")
		}
		return Posted{}, fault.Validation("street_id", "invalid")
	}
	if s.poster == nil {
		return Posted{}, ErrPostingUnavailable
	}
	in.AssociationID, in.MemberID, in.MemberName = a.ID.Hex(), m.ID.Hex(), shortName(m.FullName)
	out, err := s.poster.PostOnBehalf(ctx, p, streetID, in)
	if err != nil {
		return Posted{}, err
	}
	if !out.Replayed { // the trail has it already
		s.trail(ctx, a.ID, p.UserID, "post.on_behalf", auditRef{MemberID: m.ID.Hex(), Detail: "street:" + streetID + " post:" + out.ID})
	}
	return out, nil
}
