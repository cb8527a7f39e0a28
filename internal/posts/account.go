package posts

import (
	"context"
	"errors"
	"sort"
	"time"

	"civico/internal/events"
	"civico/internal/pseudonym"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// What posts hold of a person: the posts they wrote, their replies, and
// the exchanges they took part in. GET /me/export shows it; DELETE /me
// anonymises it (Erase).
//
// The choice made for deletion: the street's history stays whole and
// nobody is named. Every post and reply of the person keeps its place, with
// no author name (author_name "", author_deleted true: the PWA shows a
// "deleted neighbour") and a pseudonym for the author id. Posts still in
// progress (open or matched) can no longer be answered or completed by
// anyone, and are the ones most likely to hold a phone number or "I am at
// number 12 after six": they are closed (close_reason "author_deleted") and
// their body is dropped, the title kept so the thread's replies still make
// sense. Done, closed and removed posts keep their text: they are the
// others' history too (a thanks, an answer, a moderation decision). Replies
// keep their text for the same reason. Exchanges stay, for the impact
// figures, with the pseudonym for the person: since every stored id of the
// person is replaced by the same pseudonym, counts of people, reciprocity
// and new pairs do not change.

// MaxExport bounds each list of an export. A person's own posts are bounded
// by the posting rate limits; past this many the list stops and the export
// says so in Truncated.
const MaxExport = 10000

// CloseAuthorDeleted is the close_reason of a post closed because its
// author deleted their account.
const CloseAuthorDeleted = "author_deleted"

// MyPost is a post the user wrote, for the export.
type MyPost struct {
	ID            string      `json:"id"`
	StreetID      string      `json:"street_id"`
	Kind          string      `json:"kind"`
	Category      string      `json:"category"`
	Title         string      `json:"title"`
	Body          string      `json:"body"`
	When          *TimeWindow `json:"when,omitempty"`
	Status        string      `json:"status"`
	OnBehalf      *OnBehalf   `json:"on_behalf,omitempty"`
	ReplyCount    int         `json:"reply_count"`
	Thanks        string      `json:"thanks,omitempty"`
	CloseReason   string      `json:"close_reason,omitempty"`
	RemovalReason string      `json:"removal_reason,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
	MatchedAt     *time.Time  `json:"matched_at,omitempty"`
	DoneAt        *time.Time  `json:"done_at,omitempty"`
	ClosedAt      *time.Time  `json:"closed_at,omitempty"`
	RemovedAt     *time.Time  `json:"removed_at,omitempty"`
}

// MyReply is a reply the user wrote, for the export.
type MyReply struct {
	ID            string     `json:"id"`
	PostID        string     `json:"post_id"`
	StreetID      string     `json:"street_id"`
	Body          string     `json:"body"`
	Status        string     `json:"status"` // "visible" or "removed"
	CreatedAt     time.Time  `json:"created_at"`
	RemovedAt     *time.Time `json:"removed_at,omitempty"`
	RemovalReason string     `json:"removal_reason,omitempty"`
}

// Reply statuses in the export.
const (
	ReplyVisible = "visible"
	ReplyRemoved = "removed"
)

// MyExchange is an exchange the user took part in, for the export: what,
// when, which side, and the other party's display name in that street
// (empty, with OtherDeleted, when they deleted their account).
type MyExchange struct {
	PostID       string    `json:"post_id"`
	StreetID     string    `json:"street_id"`
	Kind         string    `json:"kind"`
	Category     string    `json:"category"`
	Role         string    `json:"role"` // "giver" or "receiver"
	At           time.Time `json:"at"`
	OtherName    string    `json:"other_name"`
	OtherDeleted bool      `json:"other_deleted,omitempty"`
}

// AccountData is everything this package holds about a user.
type AccountData struct {
	Posts     []MyPost     `json:"posts"`
	Replies   []MyReply    `json:"replies"`
	Exchanges []MyExchange `json:"exchanges"`
	// Limit is the most items a list holds; Truncated names the lists that
	// reached it (the oldest items are exported).
	Limit     int      `json:"limit"`
	Truncated []string `json:"truncated"`
}

// scanCap streams the documents of c matching filter to fn, oldest first,
// at most MaxExport of them, and tells whether more were left out. It is
// one scan on the embedded engine (no index serves a user's documents):
// fine for an export or an erasure, never a hot path. The driver fetches
// the documents in batches, so memory follows fn, not the result.
func scanCap(ctx context.Context, c *store.Collection, filter bson.M, limit int, fn func(bson.Raw) error) (bool, error) {
	n := 0
	truncated := false
	errStop := errors.New("stop")
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit) + 1)
	}
	err := c.Each(ctx, filter, func(raw bson.Raw) error {
		if limit > 0 && n == limit {
			truncated = true
			return errStop
		}
		n++
		return fn(raw)
	}, opts)
	if errors.Is(err, errStop) {
		err = nil
	}
	return truncated, err
}

// Export gathers the user's posts, replies and exchanges for GET /me/export.
func (s *Service) Export(ctx context.Context, userID string) (any, error) {
	out := AccountData{Posts: []MyPost{}, Replies: []MyReply{}, Exchanges: []MyExchange{}, Limit: MaxExport, Truncated: []string{}}
	if _, ok := store.ID(userID); !ok {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cut, err := scanCap(ctx, s.posts, bson.M{"author_id": userID}, MaxExport, func(raw bson.Raw) error {
		var d postDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		v := d.view(adminView)
		out.Posts = append(out.Posts, MyPost{ID: v.ID, StreetID: v.StreetID, Kind: v.Kind, Category: v.Category, Title: v.Title,
			Body: v.Body, When: v.When, Status: v.Status, OnBehalf: v.OnBehalf, ReplyCount: v.ReplyCount, Thanks: v.Thanks,
			CloseReason: v.CloseReason, RemovalReason: v.RemovalReason, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
			MatchedAt: v.MatchedAt, DoneAt: v.DoneAt, ClosedAt: v.ClosedAt, RemovedAt: v.RemovedAt})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cut {
		out.Truncated = append(out.Truncated, "posts")
	}
	cut, err = scanCap(ctx, s.replies, bson.M{"author_id": userID}, MaxExport, func(raw bson.Raw) error {
		var r replyDoc
		if err := bson.Unmarshal(raw, &r); err != nil {
			return err
		}
		status := ReplyVisible
		if r.Removed {
			status = ReplyRemoved
		}
		out.Replies = append(out.Replies, MyReply{ID: r.ID.Hex(), PostID: r.PostID, StreetID: r.StreetID, Body: r.Body, Status: status,
			CreatedAt: r.CreatedAt.UTC(), RemovedAt: utc(r.RemovedAt), RemovalReason: r.RemovalReason})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cut {
		out.Truncated = append(out.Truncated, "replies")
	}
	var exs []Exchange
	cut, err = scanCap(ctx, s.exchanges, bson.M{"$or": bson.A{bson.M{"giver_id": userID}, bson.M{"receiver_id": userID}}}, MaxExport,
		func(raw bson.Raw) error {
			var ex Exchange
			if err := bson.Unmarshal(raw, &ex); err != nil {
				return err
			}
			exs = append(exs, ex)
			return nil
		})
	if err != nil {
		return nil, err
	}
	if cut {
		out.Truncated = append(out.Truncated, "exchanges")
	}
	sort.SliceStable(exs, func(i, j int) bool { return exs[i].At.Before(exs[j].At) })
	for _, ex := range exs {
		out.Exchanges = append(out.Exchanges, s.myExchange(ctx, ex, userID))
	}
	return out, nil
}

// myExchange is ex seen from userID's side.
func (s *Service) myExchange(ctx context.Context, ex Exchange, userID string) MyExchange {
	me := MyExchange{PostID: ex.PostID, StreetID: ex.StreetID, Kind: ex.Kind, Category: ex.Category, Role: "giver", At: ex.At.UTC()}
	other := ex.ReceiverID
	if ex.GiverID != userID {
		me.Role, other = "receiver", ex.GiverID
	}
	// The post's author side: for a post written on behalf of a roster
	// member, that member is the other party.
	authorSide := ex.ReceiverID
	if ex.Kind == KindOffer {
		authorSide = ex.GiverID
	}
	switch {
	case ex.OnBehalf != nil && other == authorSide && other != userID:
		me.OtherName = ex.OnBehalf.MemberName
	case pseudonym.Is(other):
		me.OtherDeleted = true
	default:
		if m, err := s.streets.Membership(ctx, ex.StreetID, other); err == nil {
			me.OtherName = m.Name
		}
	}
	return me
}

// Erase anonymises what the user wrote, before their account is deleted:
// every stored id of theirs becomes alias (a pseudonym.Of the user), their
// name goes, their posts in progress are closed (see the top of this file).
// Members' feeds, sockets and open threads learn it through post.updated.
// Running it again finishes an erasure that failed midway.
func (s *Service) Erase(ctx context.Context, userID, alias string) error {
	if userID == "" || alias == "" || userID == alias {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// Posts first: once their matched ids are the alias, a post marked done
	// meanwhile records its exchange with the alias, not the person.
	done, err := s.erasePosts(ctx, userID, alias)
	if err != nil {
		return err
	}
	if err := s.eraseReplies(ctx, userID, alias, done); err != nil {
		return err
	}
	return s.eraseExchanges(ctx, userID, alias)
}

// postRef is where a post lives.
type postRef struct{ id, streetID string }

// byStreet groups refs by street, streets and posts in a stable order.
func byStreet(refs []postRef) ([]string, map[string][]string) {
	ids := map[string][]string{}
	var streets []string
	for _, r := range refs {
		if _, ok := ids[r.streetID]; !ok {
			streets = append(streets, r.streetID)
		}
		ids[r.streetID] = append(ids[r.streetID], r.id)
	}
	sort.Strings(streets)
	return streets, ids
}

// erasePosts anonymises the user's posts and the posts they were matched
// with; it returns the ids it announced.
func (s *Service) erasePosts(ctx context.Context, userID, alias string) (map[string]bool, error) {
	var refs []postRef
	filter := bson.M{"$or": bson.A{bson.M{"author_id": userID}, bson.M{"matched_user_id": userID}}}
	err := s.posts.Each(ctx, filter, func(raw bson.Raw) error {
		var d struct {
			ID       bson.ObjectID `bson:"_id"`
			StreetID string        `bson:"street_id"`
		}
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		refs = append(refs, postRef{id: d.ID.Hex(), streetID: d.StreetID})
		return nil
	}, options.Find().SetProjection(bson.M{"_id": 1, "street_id": 1}))
	if err != nil {
		return nil, err
	}
	announced := map[string]bool{}
	streetIDs, ids := byStreet(refs)
	for _, sid := range streetIDs {
		if err := s.erasePostsIn(ctx, sid, ids[sid], userID, alias, announced); err != nil {
			return nil, err
		}
	}
	return announced, nil
}

// erasePostsIn anonymises the street's posts, each with one conditional
// write (see mutate), and tells members of each change.
func (s *Service) erasePostsIn(ctx context.Context, streetID string, ids []string, userID, alias string, announced map[string]bool) error {
	for _, id := range ids {
		next, changed, err := s.change(ctx, id, func(d *postDoc, now time.Time) error {
			if !anonymise(d, userID, alias, now) {
				return errUnchanged
			}
			return nil
		})
		if errors.Is(err, ErrPostNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		announced[id] = true
		if next.Status != StatusRemoved {
			s.publish(ctx, events.PostUpdated, streetID, "", next.AuthorID, next.data())
		}
	}
	return nil
}

// anonymise replaces userID by alias in d and drops their name; a post of
// theirs still in progress is closed and its body dropped. It tells
// whether d changed.
func anonymise(d *postDoc, userID, alias string, now time.Time) bool {
	changed := false
	if d.AuthorID == userID {
		// Their photos go with their account (photos.Erase deletes them).
		d.AuthorID, d.AuthorName, d.Photos, changed = alias, "", nil, true
		if d.Status == StatusOpen || d.Status == StatusMatched {
			d.Status, d.ClosedAt, d.CloseReason, d.Body = StatusClosed, &now, CloseAuthorDeleted, ""
		}
	}
	if d.MatchedUserID == userID {
		d.MatchedUserID, changed = alias, true
	}
	if changed {
		d.UpdatedAt = now
	}
	return changed
}

// eraseReplies anonymises the user's replies, then tells each post's
// readers (post.updated) so that open threads reload; posts already
// announced by erasePosts are not announced twice.
func (s *Service) eraseReplies(ctx context.Context, userID, alias string, announced map[string]bool) error {
	var refs []postRef
	seen := map[string]bool{}
	err := s.replies.Each(ctx, bson.M{"author_id": userID}, func(raw bson.Raw) error {
		var r struct {
			PostID   string `bson:"post_id"`
			StreetID string `bson:"street_id"`
		}
		if err := bson.Unmarshal(raw, &r); err != nil {
			return err
		}
		if !seen[r.PostID] && !announced[r.PostID] {
			seen[r.PostID] = true
			refs = append(refs, postRef{id: r.PostID, streetID: r.StreetID})
		}
		return nil
	}, options.Find().SetProjection(bson.M{"post_id": 1, "street_id": 1}))
	if err != nil {
		return err
	}
	if _, err := s.replies.UpdateMany(ctx, bson.M{"author_id": userID},
		bson.M{"$set": bson.M{"author_id": alias, "author_name": ""}, "$unset": bson.M{"photo": ""}}); err != nil {
		return err
	}
	streetIDs, ids := byStreet(refs)
	for _, sid := range streetIDs {
		if err := s.announce(ctx, sid, ids[sid]); err != nil {
			return err
		}
	}
	return nil
}

// announce publishes post.updated for the street's posts that members see.
func (s *Service) announce(ctx context.Context, streetID string, ids []string) error {
	for _, id := range ids {
		d, err := s.load(ctx, id)
		if errors.Is(err, ErrPostNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if d.Status != StatusRemoved {
			s.publish(ctx, events.PostUpdated, streetID, "", d.AuthorID, d.data())
		}
	}
	return nil
}

// eraseExchanges puts alias in place of the user in their exchanges: the
// documents and each street's exchange journal, which the figures read.
func (s *Service) eraseExchanges(ctx context.Context, userID, alias string) error {
	// The alias too: a retry after a failure between the two writes below
	// must still find the journals to rewrite.
	either := bson.M{"$in": bson.A{userID, alias}}
	streetSet := map[string]bool{}
	err := s.exchanges.Each(ctx, bson.M{"$or": bson.A{bson.M{"giver_id": either}, bson.M{"receiver_id": either}}}, func(raw bson.Raw) error {
		var ex struct {
			StreetID string `bson:"street_id"`
		}
		if err := bson.Unmarshal(raw, &ex); err != nil {
			return err
		}
		streetSet[ex.StreetID] = true
		return nil
	}, options.Find().SetProjection(bson.M{"street_id": 1}))
	if err != nil {
		return err
	}
	for _, field := range []string{"giver_id", "receiver_id"} {
		if _, err := s.exchanges.UpdateMany(ctx, bson.M{field: userID}, bson.M{"$set": bson.M{field: alias}}); err != nil {
			return err
		}
	}
	streetIDs := make([]string, 0, len(streetSet))
	for sid := range streetSet {
		streetIDs = append(streetIDs, sid)
	}
	sort.Strings(streetIDs)
	for _, sid := range streetIDs {
		_, err := s.exchangeJ.Rewrite(ctx, exchangeKey(sid), func(ex *Exchange) bool {
			changed := false
			if ex.GiverID == userID {
				ex.GiverID, changed = alias, true
			}
			if ex.ReceiverID == userID {
				ex.ReceiverID, changed = alias, true
			}
			return changed
		})
		if err != nil {
			return err
		}
	}
	return nil
}
