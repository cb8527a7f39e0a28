package handoff

import (
	"context"
	"errors"
	"sort"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/portineria"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A street and a Portinaio association are linked when both sides agreed:
// a street admin asks (or accepts) from the street, a coordinator of the
// association from the association. Someone who is both an admin of the
// street and a coordinator of the association agrees for both at once.
// Volunteers of a linked association then see the street's unanswered
// requests (with the author's name and the post), and the street's
// figures count for the association's. Either side may undo the link.

// Audit actions of a link, written to the street's audit log and to the
// association's audit trail alike, with the side that acted.
const (
	ActionLinkRequest = "link.request" // one side agreed, the other has not yet
	ActionLinkAccept  = "link.accept"  // this agreement made the link active
	ActionLinkRemove  = "link.remove"  // a link, or a request for one, removed
)

// Sides of a link, as audit lines name who acted.
const (
	SideStreet      = "street"
	SideAssociation = "association"
	SideBoth        = "both"
)

// Link statuses.
const (
	LinkActive              = "active"
	LinkAwaitingAssociation = "awaiting_association"
	LinkAwaitingStreet      = "awaiting_street"
)

type linkDoc struct {
	ID            string     `bson:"_id"` // street:association
	StreetID      string     `bson:"street_id"`
	AssociationID string     `bson:"association_id"`
	StreetOK      bool       `bson:"street_ok"`
	AssociationOK bool       `bson:"association_ok"`
	StreetBy      string     `bson:"street_by,omitempty"`
	AssociationBy string     `bson:"association_by,omitempty"`
	CreatedAt     time.Time  `bson:"created_at"`
	UpdatedAt     time.Time  `bson:"updated_at"`
	ActiveSince   *time.Time `bson:"active_since,omitempty"`
}

func (d linkDoc) status() string {
	switch {
	case d.StreetOK && d.AssociationOK:
		return LinkActive
	case d.StreetOK:
		return LinkAwaitingAssociation
	}
	return LinkAwaitingStreet
}

// Link is a street–association link as either side sees it.
type Link struct {
	StreetID        string     `json:"street_id"`
	StreetName      string     `json:"street_name"`
	AssociationID   string     `json:"association_id"`
	AssociationName string     `json:"association_name"`
	Status          string     `json:"status"`
	ActiveSince     *time.Time `json:"active_since,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
}

func linkKey(streetID, aid string) string { return streetID + ":" + aid }

// LinkFromStreet is a street admin asking for (or accepting) a link with
// an association.
func (s *Service) LinkFromStreet(ctx context.Context, p auth.Principal, streetID, aid string) (Link, error) {
	if _, err := s.streets.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return Link{}, err
	}
	if _, ok := store.ID(aid); !ok {
		return Link{}, fault.Validation("association_id", "invalid")
	}
	role, err := s.desks.RoleOf(ctx, aid, p.UserID)
	if errors.Is(err, portineria.ErrAssociationNotFound) {
		return Link{}, fault.Validation("association_id", "unknown")
	}
	if err != nil {
		return Link{}, err
	}
	return s.agree(ctx, p, streetID, aid, true, role == portineria.Coordinator)
}

// LinkFromAssociation is a coordinator asking for (or accepting) a link
// with a street.
func (s *Service) LinkFromAssociation(ctx context.Context, p auth.Principal, aid, streetID string) (Link, error) {
	if err := s.requireCoordinator(ctx, p, aid); err != nil {
		return Link{}, err
	}
	if _, ok := store.ID(streetID); !ok {
		return Link{}, fault.Validation("street_id", "invalid")
	}
	if _, err := s.streets.StreetName(ctx, streetID); err != nil {
		if errors.Is(err, streets.ErrStreetNotFound) {
			return Link{}, fault.Validation("street_id", "unknown")
		}
		return Link{}, err
	}
	m, err := s.streets.Membership(ctx, streetID, p.UserID)
	admin := err == nil && m.Status == streets.StatusActive && m.Role == streets.RoleAdmin
	return s.agree(ctx, p, streetID, aid, admin, true)
}

func (s *Service) requireCoordinator(ctx context.Context, p auth.Principal, aid string) error {
	role, err := s.desks.RoleOf(ctx, aid, p.UserID)
	switch {
	case err != nil:
		return err
	case role == "":
		return portineria.ErrAssociationNotFound
	case role != portineria.Coordinator:
		return portineria.ErrCoordinatorOnly
	}
	return nil
}

// agree records one side's (or both sides') consent. Each side sets only
// its own flag, in one update that returns the link as it was, so that of
// agreements made at once (on any processes) exactly one sees the link
// become active, sets its active_since and writes "accept" in the logs.
func (s *Service) agree(ctx context.Context, p auth.Principal, streetID, aid string, streetSide, assocSide bool) (Link, error) {
	key := linkKey(streetID, aid)
	var cur linkDoc
	err := s.links.FindOne(ctx, bson.M{"_id": key}, &cur)
	if errors.Is(err, store.ErrNotFound) {
		// MaxLinks is a soft bound: counting and then writing are two
		// steps, so new links racing on one street or association may pass
		// it by as many as race. It keeps the link lists and the scans of
		// an abusive street small, and that holds; an exact bound would need
		// a counter kept in step with every link and unlink (a process dying
		// between the two leaves it wrong for good) for nobody's benefit.
		n, err := s.countLinks(ctx, streetID, aid)
		if err != nil {
			return Link{}, err
		}
		if n >= MaxLinks {
			return Link{}, ErrTooManyLinks
		}
	} else if err != nil {
		return Link{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	set := bson.M{"street_id": streetID, "association_id": aid, "updated_at": now}
	if streetSide {
		set["street_ok"], set["street_by"] = true, p.UserID
	}
	if assocSide {
		set["association_ok"], set["association_by"] = true, p.UserID
	}
	update := bson.M{"$set": set, "$setOnInsert": bson.M{"created_at": now}}
	var before linkDoc
	err = s.links.FindOneAndUpdate(ctx, bson.M{"_id": key}, update, &before,
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before))
	if store.IsDuplicate(err) { // two first agreements racing to insert: the loser updates
		err = s.links.FindOneAndUpdate(ctx, bson.M{"_id": key}, update, &before,
			options.FindOneAndUpdate().SetReturnDocument(options.Before))
	}
	if errors.Is(err, store.ErrNotFound) {
		before, err = linkDoc{}, nil // this agreement made the link
	}
	if err != nil {
		return Link{}, err
	}
	becameActive := before.status() != LinkActive &&
		(before.StreetOK || streetSide) && (before.AssociationOK || assocSide)
	// A link active without its time (its accept's process died before
	// setting it) gets it from the next agreement.
	if becameActive || before.status() == LinkActive && before.ActiveSince == nil {
		if _, err := s.links.UpdateOne(ctx, bson.M{"_id": key, "active_since": nil}, bson.M{"$set": bson.M{"active_since": now}}); err != nil {
			return Link{}, err
		}
	}
	// Only a side's first agreement is a line in the logs: asking again
	// changes nothing.
	if streetSide && !before.StreetOK || assocSide && !before.AssociationOK {
		action := ActionLinkRequest
		if becameActive {
			action = ActionLinkAccept
		}
		s.auditLink(ctx, p, streetID, aid, action, sideOf(streetSide, assocSide))
	}
	if err := s.links.FindOne(ctx, bson.M{"_id": key}, &cur); err != nil {
		return Link{}, err
	}
	return s.linkView(ctx, cur), nil
}

func sideOf(streetSide, assocSide bool) string {
	switch {
	case streetSide && assocSide:
		return SideBoth
	case streetSide:
		return SideStreet
	}
	return SideAssociation
}

// auditLink writes what p did to a link on both sides: the street's audit
// log (target: the association) and the association's audit trail (detail:
// the street). The action is done already, so failures are only logged.
func (s *Service) auditLink(ctx context.Context, p auth.Principal, streetID, aid, action, side string) {
	ctx = context.WithoutCancel(ctx)
	e := streets.AuditEntry{ActorID: p.UserID, Action: action, TargetType: "association", TargetID: aid, Detail: "side=" + side}
	if a, err := s.desks.Lookup(ctx, aid); err == nil {
		e.TargetName = a.Name
	}
	// A coordinator acting from the association may not be a member of the
	// street: their account's name stands in for the member's.
	if m, err := s.streets.Membership(ctx, streetID, p.UserID); (err != nil || m.Name == "") && s.accounts != nil {
		if acc, err := s.accounts.User(ctx, p.UserID); err == nil {
			e.ActorName = acc.Name
		}
	}
	if err := s.streets.Record(ctx, streetID, e); err != nil {
		s.log.Error("handoff: link not in the street's audit log", "street", streetID, "association", aid, "action", action, "err", err)
	}
	s.desks.RecordAudit(ctx, aid, p.UserID, action, "street="+streetID+" side="+side)
}

func (s *Service) countLinks(ctx context.Context, streetID, aid string) (int64, error) {
	n, err := s.links.Count(ctx, bson.M{"street_id": streetID})
	if err != nil || n >= MaxLinks {
		return n, err
	}
	return s.links.Count(ctx, bson.M{"association_id": aid})
}

// UnlinkFromStreet removes a link (or a request for one), by a street admin.
func (s *Service) UnlinkFromStreet(ctx context.Context, p auth.Principal, streetID, aid string) error {
	if _, err := s.streets.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return err
	}
	return s.unlink(ctx, p, streetID, aid, SideStreet)
}

// UnlinkFromAssociation removes a link (or a request for one), by a coordinator.
func (s *Service) UnlinkFromAssociation(ctx context.Context, p auth.Principal, aid, streetID string) error {
	if err := s.requireCoordinator(ctx, p, aid); err != nil {
		return err
	}
	return s.unlink(ctx, p, streetID, aid, SideAssociation)
}

func (s *Service) unlink(ctx context.Context, p auth.Principal, streetID, aid, side string) error {
	n, err := s.links.DeleteOne(ctx, bson.M{"_id": linkKey(streetID, aid)})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLinkNotFound
	}
	s.auditLink(ctx, p, streetID, aid, ActionLinkRemove, side)
	return nil
}

// StreetLinks lists the street's links and requests for its admins; its
// other members see the active links only: which desks their street works
// with, whose skills directory they may open.
func (s *Service) StreetLinks(ctx context.Context, p auth.Principal, streetID string) ([]Link, error) {
	m, err := s.streets.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return nil, err
	}
	all, err := s.listLinks(ctx, bson.M{"street_id": streetID})
	if err != nil || m.Role == streets.RoleAdmin {
		return all, err
	}
	active := []Link{}
	for _, l := range all {
		if l.Status == LinkActive {
			active = append(active, l)
		}
	}
	return active, nil
}

// AssociationLinks lists an association's links and requests (its staff).
func (s *Service) AssociationLinks(ctx context.Context, p auth.Principal, aid string) ([]Link, error) {
	if _, err := s.staffRole(ctx, p, aid); err != nil {
		return nil, err
	}
	return s.listLinks(ctx, bson.M{"association_id": aid})
}

// staffRole is the caller's role in the association; NotFound for anyone
// not on its staff.
func (s *Service) staffRole(ctx context.Context, p auth.Principal, aid string) (portineria.Role, error) {
	role, err := s.desks.RoleOf(ctx, aid, p.UserID)
	if err != nil {
		return "", err
	}
	if role == "" {
		return "", portineria.ErrAssociationNotFound
	}
	return role, nil
}

// listLinks reads links by a filter: a scan of the links collection,
// which holds at most MaxLinks per street and association.
func (s *Service) listLinks(ctx context.Context, filter bson.M) ([]Link, error) {
	var docs []linkDoc
	if err := s.links.FindAll(ctx, filter, &docs); err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(docs))
	for _, d := range docs {
		out = append(out, s.linkView(ctx, d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (s *Service) linkView(ctx context.Context, d linkDoc) Link {
	l := Link{StreetID: d.StreetID, AssociationID: d.AssociationID, Status: d.status(), ActiveSince: d.ActiveSince,
		CreatedAt: d.CreatedAt.UTC()}
	if name, err := s.streets.StreetName(ctx, d.StreetID); err == nil {
		l.StreetName = name
	}
	if a, err := s.desks.Lookup(ctx, d.AssociationID); err == nil {
		l.AssociationName = a.Name
	}
	if l.ActiveSince != nil {
		t := l.ActiveSince.UTC()
		l.ActiveSince = &t
	}
	return l
}

// LinkedStreets lists the streets actively linked to an association.
func (s *Service) LinkedStreets(ctx context.Context, aid string) ([]string, error) {
	return s.active(ctx, bson.M{"association_id": aid}, func(d linkDoc) string { return d.StreetID })
}

// LinkedAssociations lists the associations actively linked to a street.
func (s *Service) LinkedAssociations(ctx context.Context, streetID string) ([]string, error) {
	return s.active(ctx, bson.M{"street_id": streetID}, func(d linkDoc) string { return d.AssociationID })
}

func (s *Service) active(ctx context.Context, filter bson.M, pick func(linkDoc) string) ([]string, error) {
	var docs []linkDoc
	if err := s.links.FindAll(ctx, filter, &docs); err != nil {
		return nil, err
	}
	out := []string{}
	for _, d := range docs {
		if d.status() == LinkActive {
			out = append(out, pick(d))
		}
	}
	sort.Strings(out)
	return out, nil
}

// linked tells whether the street and the association are actively linked.
func (s *Service) linked(ctx context.Context, streetID, aid string) (bool, error) {
	var d linkDoc
	err := s.links.FindOne(ctx, bson.M{"_id": linkKey(streetID, aid)}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && d.status() == LinkActive, err
}
