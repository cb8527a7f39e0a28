package posts

import (
	"context"
	"errors"
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
}

func (r *replyDoc) view(viewer streets.Member) Reply {
	out := Reply{ID: r.ID.Hex(), PostID: r.PostID, AuthorID: r.AuthorID, AuthorName: r.AuthorName, Body: r.Body,
		CreatedAt: r.CreatedAt.UTC(), Removed: r.Removed, AuthorDeleted: pseudonym.Is(r.AuthorID)}
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
	r, _, err := s.reply(ctx, p, postID, strings.TrimSpace(body), "")
	return r, err
}

// reply is Reply with a trimmed body and an idempotency key (may be empty).
func (s *Service) reply(ctx context.Context, p auth.Principal, postID, body, key string) (Reply, bool, error) {
	if err := CheckKey(key); err != nil {
		return Reply{}, false, err
	}
	f := fault.Fields{}
	checkLen(f, "body", body, true, MaxReplyLen)
	if err := f.Err(); err != nil {
		return Reply{}, false, err
	}
	first, _, err := s.access(ctx, p, postID)
	if err != nil {
		return Reply{}, false, err
	}
	if key == "" { // keyed: charged under the lock, once per key
		if ok, wait := s.allowed(s.replyLim.Allow(ctx, p.UserID)); !ok {
			return Reply{}, false, ErrReplyRateLimited.WithRetry(wait)
		}
	}
	fd, unlock, err := s.writing(ctx, first.StreetID)
	if err != nil {
		return Reply{}, false, err
	}
	defer unlock()
	cur, err := s.get(ctx, fd, postID)
	if err != nil {
		return Reply{}, false, err
	}
	if cur == nil {
		return Reply{}, false, ErrPostNotFound
	}
	m, err := s.streets.RequireActive(ctx, cur.StreetID, p.UserID)
	if err != nil || !visible(cur, m) {
		return Reply{}, false, ErrPostNotFound
	}
	id := bson.NewObjectID()
	var claim *claimDoc // to take once the post is known to take the reply
	if key != "" {
		c, done, fresh, err := s.replayReply(ctx, cur, replyClaim(p, postID, body, key))
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
	if cur.Status != StatusOpen && cur.Status != StatusMatched {
		return Reply{}, false, ErrPostClosed
	}
	if len(cur.ReplyIDs) >= MaxReplies {
		return Reply{}, false, ErrTooManyReplies
	}
	if claim != nil {
		if ok, wait := s.allowed(s.replyLim.Allow(ctx, p.UserID)); !ok {
			return Reply{}, false, ErrReplyRateLimited.WithRetry(wait)
		}
		if err := s.takeClaim(ctx, claim); err != nil {
			return Reply{}, false, err
		}
	}
	now := s.now()
	r := &replyDoc{ID: id, PostID: postID, StreetID: cur.StreetID, AuthorID: p.UserID, AuthorName: m.Name, Body: body, CreatedAt: now}
	if _, err := s.replies.InsertOne(ctx, r); err != nil {
		if !store.IsDuplicate(err) || key == "" {
			return Reply{}, false, err
		}
		// A claim taken over: its reply was written but never listed on
		// the post. Write it again as of now.
		if _, err := s.replies.ReplaceOne(ctx, bson.M{"_id": r.ID}, r); err != nil {
			return Reply{}, false, err
		}
	}
	next := cur.clone()
	next.ReplyIDs = append(next.ReplyIDs, r.ID.Hex())
	next.ReplyCount++
	if next.FirstReplyAt == nil && r.AuthorID != next.AuthorID {
		next.FirstReplyAt = &now
	}
	next.UpdatedAt = now
	if _, err := s.posts.ReplaceOne(ctx, bson.M{"_id": next.ID}, next); err != nil {
		fd.invalidate()
		return Reply{}, false, err
	}
	fd.put(next)
	s.publish(ctx, events.ReplyCreated, next.StreetID, p.UserID, next.AuthorID, events.ReplyData{ID: r.ID.Hex(), PostID: postID,
		PostTitle: next.Title, PostAuthorID: next.AuthorID, AuthorID: r.AuthorID, AuthorName: r.AuthorName, Body: r.Body, CreatedAt: now})
	return r.view(m), true, nil
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
	if _, err := s.streets.RequireAdmin(ctx, r.StreetID, p.UserID); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return Reply{}, ErrReplyNotFound
		}
		return Reply{}, err
	}
	fd, unlock, err := s.writing(ctx, r.StreetID)
	if err != nil {
		return Reply{}, err
	}
	defer unlock()
	m, err := s.streets.RequireAdmin(ctx, r.StreetID, p.UserID)
	if err != nil {
		return Reply{}, err
	}
	if r, err = s.loadReply(ctx, replyID); err != nil {
		return Reply{}, err
	}
	if r.Removed {
		return Reply{}, ErrReplyRemoved
	}
	now := s.now()
	r.Removed, r.RemovedAt, r.RemovedBy, r.RemovalReason = true, &now, p.UserID, reason
	if _, err := s.replies.ReplaceOne(ctx, bson.M{"_id": r.ID}, r); err != nil {
		return Reply{}, err
	}
	cur, err := s.get(ctx, fd, r.PostID)
	if err != nil {
		return Reply{}, err
	}
	title := ""
	if cur != nil {
		title = cur.Title
		next := cur.clone()
		next.ReplyCount = max(next.ReplyCount-1, 0)
		next.UpdatedAt = now
		if _, err := s.posts.ReplaceOne(ctx, bson.M{"_id": next.ID}, next); err != nil {
			fd.invalidate()
			return Reply{}, err
		}
		fd.put(next)
	}
	s.audit(ctx, r.StreetID, m, streets.ActionReplyRemove, "reply", replyID, title, reason)
	s.publish(ctx, events.ReplyRemoved, r.StreetID, p.UserID, r.AuthorID, events.ReplyData{ID: replyID, PostID: r.PostID,
		PostTitle: title, AuthorID: r.AuthorID, AuthorName: r.AuthorName, CreatedAt: r.CreatedAt.UTC()})
	return r.view(m), nil
}
