package handoff

import (
	"context"
	"encoding/base64"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrBadCursor says a list cursor is not one of ours.
var ErrBadCursor = fault.New(fault.BadRequest, "bad_cursor", "the cursor is not valid")

// categorySkills maps a request's category to the words, in Italian and
// English, of the skills of roster members who can help, including the
// words of the suggested skills' keys ("small_repairs"). Each matches a
// whole word of a skill; one ending in "*" is a stem matching the words it
// begins (portineria.WordsMatch), so "cane" never finds "americane".
var categorySkills = map[string][]string{
	"babysitting": {"babysit*", "baby", "bambin*", "tata", "tate", "child*", "kids", "doposcuola"},
	"repairs": {"repair*", "ripar*", "aggiust*", "carpent*", "falegnam*", "electric*", "elettric*", "plumb*", "idraul*",
		"tailor*", "sarto", "sarta", "sartoria", "cucito", "fabbro", "bricolage", "fix", "fixing", "bike", "bici", "biciclett*"},
	"dog_walking": {"dog", "dogs", "dogsit*", "cane", "cani", "cagnol*", "pet", "pets", "petsit*", "animal*"},
	"lending":     {"lend*", "prestito", "prestiti", "prestare", "tool", "tools", "attrezz*"},
	"errands":     {"errand*", "commission*", "spesa", "shopping", "paperwork", "pratiche", "farmacia", "farmaci"},
	"company":     {"company", "compagnia", "ascolt*", "anzian*", "elder*"},
	"lessons": {"tutor*", "lesson*", "lezion*", "ripetizion*", "language*", "lingua", "lingue", "translat*", "tradu*",
		"music*", "computer*", "informatic*", "smartphone*", "insegn*"},
	"gardening": {"garden*", "giardin*", "orto", "orti", "pianta", "piante", "piantare", "potatura", "potare"},
	"transport": {"transport*", "trasport*", "passaggio", "passaggi", "drive", "driver", "driving", "autista", "autisti"},
}

// unansweredDoc is a request that went 48 hours without a reply. It is
// dropped when someone lists it after it got a reply or left "open".
type unansweredDoc struct {
	ID        string    `bson:"_id"` // the post's id
	StreetID  string    `bson:"street_id"`
	CreatedAt time.Time `bson:"created_at"`
	Since     time.Time `bson:"since"`
}

func (s *Service) markUnanswered(ctx context.Context, rec posts.PostRecord) error {
	doc := unansweredDoc{ID: rec.ID, StreetID: rec.StreetID, CreatedAt: rec.CreatedAt, Since: s.clock.Now().UTC().Truncate(time.Millisecond)}
	_, err := s.unanswered.InsertOne(ctx, doc)
	if err != nil && !store.IsDuplicate(err) {
		return err
	}
	return nil
}

// Desk is an association that can help with a request, with the members
// whose skills fit it.
type Desk struct {
	AssociationID   string                  `json:"association_id"`
	AssociationName string                  `json:"association_name"`
	DeskPhone       string                  `json:"desk_phone,omitempty"`
	DeskHours       string                  `json:"desk_hours,omitempty"`
	Members         []portineria.SkillMatch `json:"members"`
}

// Unanswered is a request nobody answered in 48 hours.
type Unanswered struct {
	Post         posts.Post `json:"post"`
	StreetName   string     `json:"street_name"`
	WaitingHours int        `json:"waiting_hours"`
	Desks        []Desk     `json:"desks"`
}

// StreetUnanswered lists the street's unanswered requests, oldest first,
// for its admins, each with the members of the linked associations whose
// skills fit: name and membership number, no contacts (the desk holds
// them; its phone is given).
func (s *Service) StreetUnanswered(ctx context.Context, p auth.Principal, streetID, cursor string, limit int) ([]Unanswered, string, error) {
	if _, err := s.streets.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return nil, "", err
	}
	aids, err := s.LinkedAssociations(ctx, streetID)
	if err != nil {
		return nil, "", err
	}
	return s.list(ctx, []string{streetID}, aids, false, cursor, limit)
}

// AssociationUnanswered lists the unanswered requests of the streets
// linked to the association, for its volunteers and coordinators, with
// the matching members' contacts (the staff keep the roster).
func (s *Service) AssociationUnanswered(ctx context.Context, p auth.Principal, aid, cursor string, limit int) ([]Unanswered, string, error) {
	if _, err := s.staffRole(ctx, p, aid); err != nil {
		return nil, "", err
	}
	sids, err := s.LinkedStreets(ctx, aid)
	if err != nil {
		return nil, "", err
	}
	return s.list(ctx, sids, []string{aid}, true, cursor, limit)
}

type listCursor struct {
	at time.Time
	id string
}

func encodeCursor(c listCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at.UnixMilli(), 10) + ":" + c.id))
}

func decodeCursor(raw string) (*listCursor, error) {
	if raw == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(raw) > 100 {
		return nil, ErrBadCursor
	}
	ms, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, ErrBadCursor
	}
	return &listCursor{at: time.UnixMilli(n).UTC(), id: id}, nil
}

func after(d unansweredDoc, c *listCursor) bool {
	if c == nil {
		return true
	}
	if !d.CreatedAt.Equal(c.at) {
		return d.CreatedAt.After(c.at)
	}
	return d.ID > c.id
}

// list pages the unanswered requests of streets. The unanswered collection
// holds only requests waiting for help, so reading the streets' entries
// is one small scan; each listed post is then read by _id, and entries
// whose post moved on are dropped.
func (s *Service) list(ctx context.Context, streetIDs, aids []string, contacts bool, rawCursor string, limit int) ([]Unanswered, string, error) {
	cur, err := decodeCursor(rawCursor)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	out := []Unanswered{}
	if len(streetIDs) == 0 {
		return out, "", nil
	}
	var docs []unansweredDoc
	if err := s.unanswered.FindAll(ctx, bson.M{"street_id": bson.M{"$in": streetIDs}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}})); err != nil {
		return nil, "", err
	}
	sort.SliceStable(docs, func(i, j int) bool {
		if !docs[i].CreatedAt.Equal(docs[j].CreatedAt) {
			return docs[i].CreatedAt.Before(docs[j].CreatedAt)
		}
		return docs[i].ID < docs[j].ID
	})
	now := s.clock.Now()
	names := map[string]string{}
	next := ""
	for _, d := range docs {
		d.CreatedAt = d.CreatedAt.UTC()
		if !after(d, cur) {
			continue
		}
		rec, err := s.posts.Record(ctx, d.ID)
		if err != nil && !posts.IsNotFound(err) {
			return nil, "", err
		}
		if err != nil || rec.Status != posts.StatusOpen || rec.ReplyCount > 0 {
			if _, err := s.unanswered.DeleteOne(ctx, bson.M{"_id": d.ID}); err != nil {
				s.log.Warn("handoff: drop answered entry", "post", d.ID, "err", err)
			}
			continue
		}
		if len(out) == limit {
			next = encodeCursor(listCursor{at: out[limit-1].Post.CreatedAt, id: out[limit-1].Post.ID})
			break
		}
		name, ok := names[rec.StreetID]
		if !ok {
			name, _ = s.streets.StreetName(ctx, rec.StreetID)
			names[rec.StreetID] = name
		}
		out = append(out, Unanswered{Post: rec.Post, StreetName: name, WaitingHours: int(now.Sub(rec.CreatedAt).Hours()), Desks: []Desk{}})
	}
	if err := s.addDesks(ctx, out, aids, contacts); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// addDesks fills in, for each request, the associations' members whose
// skills fit its category: one roster read per association.
func (s *Service) addDesks(ctx context.Context, items []Unanswered, aids []string, contacts bool) error {
	if len(items) == 0 {
		return nil
	}
	needs := map[string][]string{}
	for _, it := range items {
		if words, ok := categorySkills[it.Post.Category]; ok {
			needs[it.Post.Category] = words
		}
	}
	for _, aid := range aids {
		a, err := s.desks.Lookup(ctx, aid)
		if errors.Is(err, portineria.ErrAssociationNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		matches, err := s.desks.MatchSkills(ctx, aid, needs, contacts, MatchesPerDesk)
		if err != nil {
			return err
		}
		for i := range items {
			ms := matches[items[i].Post.Category]
			if ms == nil {
				ms = []portineria.SkillMatch{}
			}
			items[i].Desks = append(items[i].Desks, Desk{AssociationID: a.ID, AssociationName: a.Name,
				DeskPhone: a.Desk.Phone, DeskHours: a.Desk.Hours, Members: ms})
		}
	}
	return nil
}

// takeDoc records which volunteer took a request on, for which desk. Its
// _id is the post's: the first volunteer to insert it has the request.
type takeDoc struct {
	ID            string    `bson:"_id"` // the post's id
	AssociationID string    `bson:"association_id"`
	StreetID      string    `bson:"street_id"`
	UserID        string    `bson:"user_id"` // "" once the volunteer deleted their account
	At            time.Time `bson:"at"`
}

// Take is a volunteer of an association linked to the post's street saying
// the desk is on it: recorded, and shown to the author on the post. The
// first volunteer to take a request has it (the insert of its take, by the
// post's id, decides among processes); anyone else gets ErrDeskTaken, the
// same volunteer again changes nothing, and a colleague may take over a
// request whose volunteer deleted their account.
func (s *Service) Take(ctx context.Context, p auth.Principal, aid, postID string) (posts.Post, error) {
	if _, err := s.staffRole(ctx, p, aid); err != nil {
		return posts.Post{}, err
	}
	rec, err := s.posts.Record(ctx, postID)
	if err != nil {
		return posts.Post{}, err
	}
	ok, err := s.linked(ctx, rec.StreetID, aid)
	if err != nil {
		return posts.Post{}, err
	}
	if !ok || rec.Status == posts.StatusRemoved {
		return posts.Post{}, posts.ErrPostNotFound
	}
	if rec.Status != posts.StatusOpen {
		return posts.Post{}, ErrNoLongerOpen
	}
	a, err := s.desks.Lookup(ctx, aid)
	if err != nil {
		return posts.Post{}, err
	}
	name := ""
	if s.accounts != nil {
		if acc, err := s.accounts.User(ctx, p.UserID); err == nil {
			name = acc.Name
		}
	}
	claimed, err := s.claimTake(ctx, takeDoc{ID: postID, AssociationID: aid, StreetID: rec.StreetID, UserID: p.UserID,
		At: s.clock.Now().UTC().Truncate(time.Millisecond)})
	if err != nil {
		return posts.Post{}, err
	}
	post, err := s.posts.MarkDesk(ctx, postID, posts.DeskNote{AssociationID: aid, AssociationName: a.Name, VolunteerName: name})
	if err != nil {
		if claimed {
			// Give the request back, so that another desk may take it.
			if _, derr := s.takes.DeleteOne(ctx, bson.M{"_id": postID, "user_id": p.UserID, "association_id": aid}); derr != nil {
				s.log.Warn("handoff: release take", "post", postID, "err", derr)
			}
		}
		return posts.Post{}, err
	}
	return post, nil
}

// claimTake records d as the request's take. It says whether this call
// made the record (false when the same volunteer had it already), or
// ErrDeskTaken when someone else has it.
func (s *Service) claimTake(ctx context.Context, d takeDoc) (bool, error) {
	_, err := s.takes.InsertOne(ctx, d)
	if err == nil {
		return true, nil
	}
	if !store.IsDuplicate(err) {
		return false, err
	}
	var cur takeDoc
	if err := s.takes.FindOne(ctx, bson.M{"_id": d.ID}, &cur); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, posts.ErrDeskTaken // given back meanwhile: the caller may try again
		}
		return false, err
	}
	switch {
	case cur.AssociationID != d.AssociationID:
		return false, posts.ErrDeskTaken
	case cur.UserID == d.UserID:
		return false, nil
	case cur.UserID != "":
		return false, posts.ErrDeskTaken
	}
	// The desk's volunteer deleted their account: a colleague takes over,
	// if nobody did first.
	r, err := s.takes.UpdateOne(ctx, bson.M{"_id": d.ID, "association_id": d.AssociationID, "user_id": ""},
		bson.M{"$set": bson.M{"user_id": d.UserID, "at": d.At}})
	if err != nil {
		return false, err
	}
	if r.MatchedCount == 0 {
		return false, posts.ErrDeskTaken
	}
	return false, nil
}
