package posts

import (
	"context"
	"errors"
	"strings"
	"time"

	"civico/internal/events"
	"civico/internal/fault"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// What the warm hand-off and "no wrong door" (package handoff) and the
// impact figures need of posts beyond what members see.

// DeskNote says that a Portinaio desk took an unanswered request on ("the
// desk is on it"): which association, and the volunteer's display name.
type DeskNote struct {
	AssociationID   string    `bson:"association_id" json:"association_id"`
	AssociationName string    `bson:"association_name" json:"association_name"`
	VolunteerName   string    `bson:"volunteer_name" json:"volunteer_name"`
	At              time.Time `bson:"at" json:"at"`
}

// ErrDeskTaken says another desk already took the request on.
var ErrDeskTaken = fault.New(fault.Conflict, "already_taken", "another desk already took this request on")

// Record returns a post as an admin sees it, with who was matched with it,
// by _id; ErrPostNotFound when there is none. The caller checks access.
func (s *Service) Record(ctx context.Context, postID string) (PostRecord, error) {
	d, err := s.load(ctx, postID)
	if err != nil {
		return PostRecord{}, err
	}
	return PostRecord{Post: d.view(adminView), MatchedUserID: d.MatchedUserID}, nil
}

// MarkDesk notes on an open or matched post that a desk took it on; the
// author sees it on the post (post.updated tells their devices). Marking it
// again for the same association only refreshes the volunteer's name. The
// caller (package handoff) checks that the desk may act in the street.
func (s *Service) MarkDesk(ctx context.Context, postID string, note DeskNote) (Post, error) {
	note.VolunteerName = strings.TrimSpace(note.VolunteerName)
	next, changed, err := s.change(ctx, postID, func(d *postDoc, now time.Time) error {
		if d.Status != StatusOpen && d.Status != StatusMatched {
			return ErrNotEditable
		}
		if d.Desk != nil && d.Desk.AssociationID != note.AssociationID {
			return ErrDeskTaken
		}
		n := note
		n.At = now
		d.Desk = &n
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	if changed {
		s.publish(ctx, events.PostUpdated, next.StreetID, "", next.AuthorID, next.data())
	}
	return next.view(adminView), nil
}

// EachReplyAuthor calls fn with the post and author of every reply in the
// street that was not removed. Replies carry no journal, so this is one
// scan of the replies collection: fine for an admin's report, never for a
// hot path.
func (s *Service) EachReplyAuthor(ctx context.Context, streetID string, fn func(postID, authorID string) error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return s.replies.Each(ctx, bson.M{"street_id": streetID}, func(raw bson.Raw) error {
		var r replyDoc
		if err := bson.Unmarshal(raw, &r); err != nil {
			return err
		}
		if r.Removed {
			return nil
		}
		return fn(r.PostID, r.AuthorID)
	})
}

// ForgetDeskVolunteer clears the volunteer's name from the desk note
// association aid left on a post, when that volunteer's account is
// deleted; the note stays (the desk is still on it). No event: nothing a
// member sees in the feed changed.
func (s *Service) ForgetDeskVolunteer(ctx context.Context, postID, aid string) error {
	_, _, err := s.change(ctx, postID, func(d *postDoc, _ time.Time) error {
		if d.Desk == nil || d.Desk.AssociationID != aid || d.Desk.VolunteerName == "" {
			return errUnchanged
		}
		note := *d.Desk
		note.VolunteerName = ""
		d.Desk = &note
		return nil
	})
	return err
}

// EachLiveRequest calls fn with every request still open or matched, in
// every street: one scan of the posts collection (the embedded engine
// cannot narrow it), for the hand-off's pass when a process starts, never
// a hot path. The requests are read first and fn called after, so fn may
// use the store freely.
func (s *Service) EachLiveRequest(ctx context.Context, fn func(PostRecord) error) error {
	scan, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var live []PostRecord
	err := s.posts.Each(scan, bson.M{"kind": KindRequest, "status": bson.M{"$in": bson.A{StatusOpen, StatusMatched}}}, func(raw bson.Raw) error {
		var d postDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		live = append(live, PostRecord{Post: d.view(adminView), MatchedUserID: d.MatchedUserID})
		return nil
	})
	if err != nil {
		return err
	}
	for _, rec := range live {
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// IsNotFound tells whether err says a post does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrPostNotFound) }
