package streets

import (
	"context"
	"sync"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A street's roster (every membership, in any status) answers the push
// fan-out's recipients on every post and the member lists. Reading it is a
// query on street_id, which the embedded engine answers by reading every
// membership of every street, so each process keeps the rosters it read,
// each with the street's roster_gen at the time. Every use reads the
// street by _id first and reads the roster again when roster_gen moved:
// a copy is never older than the last change any process made.
//
// Every change to a membership bumps roster_gen before and after its write
// (members.go). A copy read between the two is behind, but the second bump
// outdates it; only a process that stops between its write and the second
// bump can leave a copy read in that window standing, until the street's
// next change. Access decisions never use these copies: they read the
// membership by _id.
type rosterCache struct {
	mu sync.Mutex
	by map[string]*rosterCopy
}

// rosterCopy is one street's roster as of gen; mu makes the requests that
// find it out of date read it once.
type rosterCopy struct {
	mu      sync.Mutex
	read    bool
	gen     int64
	members []Member // never changed once set: readers share it
}

func (c *rosterCache) copyOf(streetID string) *rosterCopy {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]*rosterCopy{}
	}
	r := c.by[streetID]
	if r == nil {
		r = &rosterCopy{}
		c.by[streetID] = r
	}
	return r
}

// roster returns every membership of the street, or ErrStreetNotFound;
// callers must not change the slice.
func (s *Service) roster(ctx context.Context, streetID string) ([]Member, error) {
	// roster_gen is read before the memberships: a change whose second
	// bump comes after this read outdates what is read next.
	st, err := s.streetDoc(ctx, streetID)
	if err != nil {
		return nil, err
	}
	r := s.rosters.copyOf(streetID)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read && r.gen >= st.RosterGen {
		return r.members, nil
	}
	var docs []memberDoc
	if err := s.members.FindAll(ctx, bson.M{"street_id": streetID}, &docs); err != nil {
		return nil, err
	}
	members := make([]Member, len(docs))
	for i, d := range docs {
		members[i] = d.member()
	}
	r.read, r.gen, r.members = true, st.RosterGen, members
	return members, nil
}

// bump moves the street's roster_gen, with the counts' changes; a failure
// is logged: the membership's change is already done, or about to be
// checked by its own write.
func (s *Service) bump(ctx context.Context, streetID string, members, admins int) {
	oid, ok := store.ID(streetID)
	if !ok {
		return
	}
	inc := bson.M{"roster_gen": 1}
	if members != 0 {
		inc["member_count"] = members
	}
	if admins != 0 {
		inc["admin_count"] = admins
	}
	if _, err := s.streets.UpdateOne(ctx, bson.M{"_id": oid}, bson.M{"$inc": inc}); err != nil {
		s.log.Error("streets: counts not updated", "street", streetID, "members", members, "admins", admins, "err", err)
	}
}
