package handoff

import (
	"context"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/posts"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// View is what the author's post screen shows of the hand-off: the state
// the request is in, the answers that fit it, and the reminder if one was
// sent.
type View struct {
	PostID     string     `json:"post_id"`
	State      string     `json:"state"`
	Answers    []string   `json:"answers"`
	RemindedAt *time.Time `json:"reminded_at,omitempty"`
	Answer     string     `json:"answer,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	// Desk is set when a Portinaio desk took the request on.
	Desk *posts.DeskNote `json:"desk,omitempty"`
}

// authorsRequest loads a request for its author: NotFound for anyone who
// may not see it, Forbidden for another member.
func (s *Service) authorsRequest(ctx context.Context, p auth.Principal, postID string) (posts.Post, error) {
	t, err := s.posts.Get(ctx, p, postID)
	if err != nil {
		return posts.Post{}, err
	}
	if t.AuthorID != p.UserID {
		return posts.Post{}, posts.ErrNotAuthor
	}
	return t.Post, nil
}

func stateOf(status string) string {
	switch status {
	case posts.StatusOpen:
		return StateOpen
	case posts.StatusMatched:
		return StateMatched
	}
	return ""
}

// Status tells the author of a post where its hand-off stands.
func (s *Service) Status(ctx context.Context, p auth.Principal, postID string) (View, error) {
	post, err := s.authorsRequest(ctx, p, postID)
	if err != nil {
		return View{}, err
	}
	v := View{PostID: post.ID, State: stateOf(post.Status), Answers: []string{}, Desk: post.Desk}
	if post.Kind != posts.KindRequest || v.State == "" {
		v.State = ""
		return v, nil
	}
	v.Answers = answersFor(v.State)
	r, err := s.reminderOf(ctx, post.ID, v.State)
	if err != nil {
		return View{}, err
	}
	if r != nil {
		sent := r.SentAt.UTC()
		v.RemindedAt, v.Answer, v.AnsweredAt = &sent, r.Answer, r.AnsweredAt
	}
	return v, nil
}

// Answer is the author's answer to a reminder (or to the same question on
// the post), carried out by the posts service's own rules: done marks a
// matched request done (with the thanks; the exchange is recorded), still
// needed renews an open request for 30 days (a matched one stays matched:
// the helper is on it), no longer needed closes it. The answer is kept
// with the reminder.
func (s *Service) Answer(ctx context.Context, p auth.Principal, postID, answer, thanks string) (posts.Post, error) {
	thanks = strings.TrimSpace(thanks)
	f := fault.Fields{}
	switch answer {
	case AnswerDone, AnswerStillNeeded, AnswerNotNeeded:
	case "":
		f.Add("answer", "required")
	default:
		f.Add("answer", "invalid")
	}
	f.Check(thanks != "" && answer != AnswerDone, "thanks", "invalid")
	if err := f.Err(); err != nil {
		return posts.Post{}, err
	}
	post, err := s.authorsRequest(ctx, p, postID)
	if err != nil {
		return posts.Post{}, err
	}
	state := stateOf(post.Status)
	switch answer {
	case AnswerDone:
		post, err = s.posts.Done(ctx, p, postID, thanks)
	case AnswerStillNeeded:
		if post.Status != posts.StatusMatched {
			post, err = s.posts.Renew(ctx, p, postID)
		}
	case AnswerNotNeeded:
		post, err = s.posts.Close(ctx, p, postID)
	}
	if err != nil {
		return posts.Post{}, err
	}
	if state != "" {
		now := s.clock.Now().UTC().Truncate(time.Millisecond)
		if _, err := s.reminders.UpdateOne(ctx, bson.M{"_id": dueKey(postID, state)},
			bson.M{"$set": bson.M{"answer": answer, "answered_at": now}}); err != nil {
			s.log.Warn("handoff: answer not recorded", "post", postID, "err", err)
		}
	}
	return post, nil
}
