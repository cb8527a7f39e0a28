package posts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/pseudonym"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Reply is an answer to a post. A removed reply keeps its place; its text
// is shown to its author and the admins only.
type Reply struct {
	ID            string    `json:"id"`
	PostID        string    `json:"post_id"`
	AuthorID      string    `json:"author_id"`
	AuthorName    string    `json:"author_name"`
	AuthorDeleted bool      `json:"author_deleted,omitempty"` // see Post
	Body          string    `json:"body"`
	CreatedAt     time.Time `json:"created_at"`
	Removed       bool      `json:"removed,omitempty"`
	RemovalReason string    `json:"removal_reason,omitempty"`
	// Photos is the reply's image, if any (a list, as on posts).
	Photos []Photo `json:"photos,omitempty"`
}

// NewReply is what a replier sends.
type NewReply struct {
	Body string
	// Photo is the replier's upload in the street, with its alt text.
	Photo *PhotoIn
}

type replyDoc struct {
	ID            bson.ObjectID `bson:"_id"`
	PostID        string        `bson:"post_id"`
	StreetID      string        `bson:"street_id"`
	AuthorID      string        `bson:"author_id"`
	AuthorName    string        `bson:"author_name"`
	Body          string        `bson:"body"`
	CreatedAt     time.Time     `bson:"created_at"`
	Removed       bool          `bson:"removed,omitempty"`
	RemovedAt     *time.Time    `bson:"removed_at,omitempty"`
	RemovedBy     string        `bson:"removed_by,omitempty"`
	RemovalReason string        `bson:"removal_reason,omitempty"`
	Photo         *photoRef     `bson:"photo,omitempty"`
}

func (r *replyDoc) view(viewer streets.Member) Reply {
	out := Reply{ID: r.ID.Hex(), PostID: r.PostID, AuthorID: r.AuthorID, AuthorName: r.AuthorName, Body: r.Body,
		CreatedAt: r.CreatedAt.UTC(), Removed: r.Removed, AuthorDeleted: pseudonym.Is(r.AuthorID)}
	if r.Photo != nil && !r.Removed {
		out.Photos = []Photo{r.Photo.view()}
	}
	if r.Removed {
		if r.AuthorID == viewer.UserID || viewer.Role == streets.RoleAdmin {
			out.RemovalReason = r.RemovalReason
		} else {
			out.Body = ""
		}
	}
	return out
}

func (s *Service) loadReply(ctx context.Context, id string) (*replyDoc, error) {
	oid, ok := store.ID(id)
	if !ok {
		return nil, ErrReplyNotFound
	}
	var r replyDoc
	err := s.replies.FindOne(ctx, bson.M{"_id": oid}, &r)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrReplyNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Reply answers an open or matched post; the post's author hears of it
// (reply.created).
func (s *Service) Reply(ctx context.Context, p auth.Principal, postID, body string) (Reply, error) {
	r, _, err := s.reply(ctx, p, postID, NewReply{Body: body}, "")
	return r, err
}

// reply is Reply with a photo and an idempotency key (may be empty).
func (s *Service) reply(ctx context.Context, p auth.Principal, postID string, in NewReply, key string) (Reply, bool, error) {
	if err := CheckKey(key); err != nil {
		return Reply{}, false, err
	}
	body := strings.TrimSpace(in.Body)
	f := fault.Fields{}
	checkLen(f, "body", body, true, MaxReplyLen)
	var photo []PhotoIn
	if in.Photo != nil {
		photo = s.checkPhotos(f, "photo", false, []PhotoIn{*in.Photo}, 1)
	}
	if err := f.Err(); err != nil {
		return Reply{}, false, err
	}
	cur, m, err := s.access(ctx, p, postID)
	if err != nil {
		return Reply{}, false, err
	}
	if key == "" { // keyed: charged once per key
		if ok, wait := s.allowed(s.replyLim.Allow(ctx, p.UserID)); !ok {
			return Reply{}, false, ErrReplyRateLimited.WithRetry(wait)
		}
	}
	id := bson.NewObjectID()
	var claim *claimDoc // to take once the post is known to take the reply
	if key != "" {
		want := replyClaim(p, postID, body, key, photo)
		defer s.lockKey(want.ID)()
		if cur, m, err = s.access(ctx, p, postID); err != nil { // as of now, after any duplicate
			return Reply{}, false, err
		}
		c, done, fresh, err := s.replayReply(ctx, cur, want)
		if err != nil {
			return Reply{}, false, err
		}
		if done != nil {
			return done.view(m), false, nil
		}
		if fresh {
			claim = c
		}
		id = c.ObjectID
	}
	if err := replyRefusal(cur); err != nil {
		return Reply{}, false, err
	}
	if claim != nil {
		if ok, wait := s.allowed(s.replyLim.Allow(ctx, p.UserID)); !ok {
			return Reply{}, false, ErrReplyRateLimited.WithRetry(wait)
		}
		if err := s.takeClaim(ctx, claim); err != nil {
			return Reply{}, false, err
		}
	}
	target := "reply:" + id.Hex()
	refs, err := s.attachPhotos(ctx, cur.StreetID, p.UserID, target, "photo", false, photo)
	if err != nil {
		return Reply{}, false, err
	}
	now := s.now()
	r := &replyDoc{ID: id, PostID: postID, StreetID: cur.StreetID, AuthorID: p.UserID, AuthorName: m.Name, Body: body, CreatedAt: now}
	if len(refs) == 1 {
		r.Photo = &refs[0]
	}
	if _, err := s.replies.InsertOne(ctx, r); err != nil {
		if !store.IsDuplicate(err) || key == "" {
			s.releasePhotos(ctx, target, refs)
			return Reply{}, false, err
		}
		// A claim taken over: its reply was written but never listed on
		// the post. Write it again as of now.
		if _, err := s.replies.ReplaceOne(ctx, bson.M{"_id": r.ID}, r); err != nil {
			return Reply{}, false, err
		}
	}
	next, err := s.listReply(ctx, cur, r, now)
	if errors.Is(err, errListed) { // by a retry of the same key, meanwhile
		return r.view(m), false, nil
	}
	if err != nil {
		if key == "" { // a keyed reply stays for its retry to find
			if _, derr := s.replies.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": r.ID}); derr != nil {
				s.log.Error("reply of a refused post was kept", "reply", r.ID.Hex(), "err", derr)
			}
			s.releasePhotos(ctx, target, refs)
		}
		return Reply{}, false, err
	}
	view := r.view(m)
	s.publish(ctx, events.ReplyCreated, next.StreetID, p.UserID, next.AuthorID, events.ReplyData{ID: r.ID.Hex(), PostID: postID,
		PostTitle: next.Title, PostAuthorID: next.AuthorID, AuthorID: r.AuthorID, AuthorName: r.AuthorName, Body: r.Body, CreatedAt: now,
		Photos: view.Photos})
	return view, true, nil
}

// errListed says a reply was already listed on its post.
var errListed = errors.New("posts: reply already listed")

// replyRefusal says why d takes no reply, nil when it does.
func replyRefusal(d *postDoc) error {
	if d.Status != StatusOpen && d.Status != StatusMatched {
		return ErrPostClosed
	}
	if len(d.ReplyIDs) >= MaxReplies {
		return ErrTooManyReplies
	}
	return nil
}

// listReply adds r to its post in one atomic update, only while the post
// takes replies: replies made at once, through any process, all land. The
// first reply by someone other than the author sets first_reply_at ($min:
// the earliest wins whatever the order of the writes).
func (s *Service) listReply(ctx context.Context, cur *postDoc, r *replyDoc, now time.Time) (*postDoc, error) {
	update := bson.M{"$push": bson.M{"reply_ids": r.ID.Hex()}, "$inc": bson.M{"reply_count": 1}, "$set": bson.M{"updated_at": now}}
	if r.AuthorID != cur.AuthorID {
		update["$min"] = bson.M{"first_reply_at": now}
	}
	// Not listed yet: two retries of one keyed reply (two processes)
	// list it once.
	filter := bson.M{"_id": cur.ID, "status": bson.M{"$in": bson.A{StatusOpen, StatusMatched}},
		"reply_ids." + strconv.Itoa(MaxReplies-1): bson.M{"$exists": false}, "reply_ids": bson.M{"$ne": r.ID.Hex()}}
	for race := 0; ; race++ {
		var next postDoc
		err := s.posts.FindOneAndUpdate(ctx, filter, update, &next, options.FindOneAndUpdate().SetReturnDocument(options.After))
		if err == nil {
			s.touch(ctx, next.StreetID)
			return &next, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		// Nothing matched: tell which state refused it.
		d, err := s.load(ctx, cur.ID.Hex())
		if err != nil {
			return nil, err
		}
		if slices.Contains(d.ReplyIDs, r.ID.Hex()) {
			return d, errListed
		}
		if err := replyRefusal(d); err != nil {
			return nil, err
		}
		if race == maxRaces {
			return nil, fmt.Errorf("posts: reply to %s: the post keeps changing", cur.ID.Hex())
		}
	}
}

// Replies lists a post's replies, oldest first.
func (s *Service) Replies(ctx context.Context, p auth.Principal, postID, after string, limit int) ([]Reply, string, error) {
	d, m, err := s.access(ctx, p, postID)
	if err != nil {
		return nil, "", err
	}
	return s.replyPage(ctx, d, m, after, limit)
}

func (s *Service) replyPage(ctx context.Context, d *postDoc, viewer streets.Member, after string, limit int) ([]Reply, string, error) {
	limit = cursor.Limit(limit, 50)
	start := 0
	if after != "" {
		c, ok := s.cursors.Decode(after, 3)
		if !ok || c[0] != "r" || c[1] != d.ID.Hex() {
			return nil, "", ErrBadCursor
		}
		n, err := strconv.Atoi(c[2])
		if err != nil || n < 0 || n > len(d.ReplyIDs) {
			return nil, "", ErrBadCursor
		}
		start = n
	}
	end := min(start+limit, len(d.ReplyIDs))
	out := make([]Reply, 0, end-start)
	for _, id := range d.ReplyIDs[start:end] {
		r, err := s.loadReply(ctx, id)
		if errors.Is(err, ErrReplyNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, r.view(viewer))
	}
	next := ""
	if end < len(d.ReplyIDs) {
		next = s.cursors.Encode("r", d.ID.Hex(), strconv.Itoa(end))
	}
	return out, next, nil
}

// Target is what a report points at: a post or a reply, with where it
// lives and who wrote it.
type Target struct {
	StreetID   string
	PostID     string
	ReplyID    string
	AuthorID   string
	AuthorName string
	// Title is the post's title, for the audit log.
	Title   string
	Removed bool
}

// PostTarget describes a post the caller can see, for a report.
func (s *Service) PostTarget(ctx context.Context, p auth.Principal, postID string) (Target, error) {
	d, _, err := s.access(ctx, p, postID)
	if err != nil {
		return Target{}, err
	}
	return Target{StreetID: d.StreetID, PostID: postID, AuthorID: d.AuthorID, AuthorName: d.AuthorName, Title: d.Title,
		Removed: d.Status == StatusRemoved}, nil
}

// ReplyTarget describes a reply the caller can see, for a report.
func (s *Service) ReplyTarget(ctx context.Context, p auth.Principal, replyID string) (Target, error) {
	r, err := s.loadReply(ctx, replyID)
	if err != nil {
		return Target{}, err
	}
	d, m, err := s.access(ctx, p, r.PostID)
	if err != nil {
		return Target{}, ErrReplyNotFound
	}
	if r.Removed && r.AuthorID != m.UserID && m.Role != streets.RoleAdmin {
		return Target{}, ErrReplyNotFound
	}
	return Target{StreetID: d.StreetID, PostID: r.PostID, ReplyID: replyID, AuthorID: r.AuthorID, AuthorName: r.AuthorName,
		Title: d.Title, Removed: r.Removed}, nil
}

// RemoveReply takes a reply down (admins, with a reason); the audit log
// records it and members see only that a reply was removed.
func (s *Service) RemoveReply(ctx context.Context, p auth.Principal, replyID, reason string) (Reply, error) {
	reason = strings.TrimSpace(reason)
	f := fault.Fields{}
	checkLen(f, "reason", reason, true, MaxReasonLen)
	if err := f.Err(); err != nil {
		return Reply{}, err
	}
	r, err := s.loadReply(ctx, replyID)
	if err != nil {
		return Reply{}, err
	}
	admin, err := s.streets.RequireAdmin(ctx, r.StreetID, p.UserID)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return Reply{}, ErrReplyNotFound
		}
		return Reply{}, err
	}
	if r.Removed {
		return Reply{}, ErrReplyRemoved
	}
	now := s.now()
	res, err := s.replies.UpdateOne(ctx, bson.M{"_id": r.ID, "removed": bson.M{"$ne": true}},
		bson.M{"$set": bson.M{"removed": true, "removed_at": now, "removed_by": p.UserID, "removal_reason": reason}})
	if err != nil {
		return Reply{}, err
	}
	if res.MatchedCount == 0 {
		if _, err := s.loadReply(ctx, replyID); err != nil {
			return Reply{}, err
		}
		return Reply{}, ErrReplyRemoved
	}
	r.Removed, r.RemovedAt, r.RemovedBy, r.RemovalReason = true, &now, p.UserID, reason
	if r.Photo != nil {
		s.deletePhotos(ctx, []photoRef{*r.Photo})
	}
	title := ""
	if oid, ok := store.ID(r.PostID); ok {
		var post postDoc
		err := s.posts.FindOneAndUpdate(ctx, bson.M{"_id": oid}, bson.M{"$inc": bson.M{"reply_count": -1}, "$set": bson.M{"updated_at": now}},
			&post, options.FindOneAndUpdate().SetReturnDocument(options.After))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return Reply{}, err
		default:
			s.touch(ctx, post.StreetID)
			title = post.Title
			if post.ReplyCount < 0 { // a count from before replies were removed this way
				_, _ = s.posts.UpdateOne(ctx, bson.M{"_id": oid, "reply_count": bson.M{"$lt": 0}}, bson.M{"$set": bson.M{"reply_count": 0}})
			}
		}
	}
	m := admin
	s.audit(ctx, r.StreetID, m, streets.ActionReplyRemove, "reply", replyID, title, reason)
	s.publish(ctx, events.ReplyRemoved, r.StreetID, p.UserID, r.AuthorID, events.ReplyData{ID: replyID, PostID: r.PostID,
		PostTitle: title, AuthorID: r.AuthorID, AuthorName: r.AuthorName, CreatedAt: r.CreatedAt.UTC()})
	return r.view(m), nil
}
