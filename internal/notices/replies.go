package notices

import (
	"context"
	"encoding/json"
	"time"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/mail"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// eventTimeout bounds what OnEvent does on the publisher's goroutine.
const eventTimeout = 3 * time.Second

// Lengths in mails: a reply body is at most 2 000 characters (posts), a
// subject line stays short, a reply kept for a digest is a glimpse.
const (
	maxSubjectTitle = 60
	maxBodyInMail   = 2000
	maxPendingBody  = 300
	maxTitle        = 120
)

// OnEvent is a durable subscriber of the event log: it runs once per event,
// in the publishing process, after the event is stored. A reply to a post
// reaches the post's author by mail when they want it immediately, have a
// verified address and no push device (never both); when they want it in
// the digest it is kept for their next one. Each step stops at the first
// reason not to go on, so a reply to someone with push costs two lookups;
// the mail itself is one insert into the outbox, which sends it once.
func (s *Service) OnEvent(e events.Event) {
	switch e.Type {
	case events.ReplyCreated:
		if e.SubjectID == "" || e.SubjectID == e.ActorID {
			return // no mail for answering oneself
		}
	case events.ReplyRemoved:
		s.replyRemoved(e)
		return
	default:
		return
	}
	var d events.ReplyData
	if err := json.Unmarshal(e.Payload, &d); err != nil || d.PostID == "" {
		return
	}
	if _, ok := store.ID(d.ID); !ok {
		return // the reply's id keys its mail and its place in a digest
	}
	if d.AuthorID != "" && d.AuthorID == e.SubjectID {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := s.reply(ctx, e, d); err != nil {
		s.log.Error("notices: reply mail not queued", "reply", d.ID, "user", e.SubjectID, "err", err)
	}
}

func (s *Service) reply(ctx context.Context, e events.Event, d events.ReplyData) error {
	userID := e.SubjectID
	doc, err := s.doc(ctx, userID)
	if err != nil {
		return err
	}
	switch doc.public().Replies {
	case RepliesDigest:
		return s.keepForDigest(ctx, userID, e.StreetID, d, len(doc.Pending))
	case RepliesImmediately:
	default:
		return nil
	}
	if s.dev != nil {
		has, err := s.dev.HasDevices(ctx, userID)
		if err != nil || has {
			return err
		}
	}
	accs, err := s.acc.Users(ctx, []string{userID})
	if err != nil {
		return err
	}
	acc, ok := accs[userID]
	if !ok || !acc.EmailVerified || acc.Email == "" {
		return nil
	}
	now := s.clock.Now().UTC()
	var notBefore time.Time
	if s.quiet != nil {
		until, err := s.quiet.QuietUntil(ctx, userID, now)
		if err != nil {
			return err
		}
		if until.After(now) {
			notBefore = until
		}
	}
	street, err := s.dir.StreetName(ctx, e.StreetID)
	if err != nil {
		s.log.Warn("notices: street name", "street", e.StreetID, "err", err)
		street = ""
	}
	m, err := s.replyMail(acc, street, d)
	if err != nil {
		return err
	}
	m.NotBefore = notBefore
	return s.out.Queue(ctx, m)
}

// replyMail composes the mail telling acc of reply d in street.
func (s *Service) replyMail(acc auth.Account, street string, d events.ReplyData) (Mail, error) {
	t := textsFor(acc.Locale)
	if street == "" {
		street = t.Street
	}
	author := oneLine(d.AuthorName, maxTitle)
	if author == "" {
		author = t.Someone
	}
	v := replyView{T: t, Name: oneLine(acc.Name, maxTitle), Author: author, Title: oneLine(d.PostTitle, maxTitle),
		Street: oneLine(street, maxTitle), Body: cut(d.Body, maxBodyInMail), PostURL: s.link("/posts/" + d.PostID),
		StopURL: s.UnsubscribeURL(acc.ID, SettingReplies), SettingsURL: s.link("/settings")}
	v.Subject = fill(t.ReplySubject, "title", oneLine(d.PostTitle, maxSubjectTitle))
	text, html, err := render(replyText, replyHTML, v)
	if err != nil {
		return Mail{}, err
	}
	// One mail per reply and reader, however often the event is handled.
	return Mail{ID: "reply:" + d.ID + ":" + acc.ID, Kind: mail.KindReply, To: acc.Email, ToName: acc.Name, Locale: t.Lang,
		Subject: v.Subject, Text: text, HTML: html, Unsubscribe: v.StopURL}, nil
}

// keepForDigest adds reply d to the user's next digest, unless that list
// is full (had entries already; a race may pass the bound by a few).
func (s *Service) keepForDigest(ctx context.Context, userID, streetID string, d events.ReplyData, had int) error {
	if had >= maxPending {
		return nil
	}
	p := pendingReply{StreetID: streetID, PostID: d.PostID, PostTitle: oneLine(d.PostTitle, maxTitle),
		AuthorName: oneLine(d.AuthorName, maxTitle), Body: cut(d.Body, maxPendingBody), At: d.CreatedAt.UTC()}
	if p.At.IsZero() {
		p.At = s.clock.Now().UTC().Truncate(time.Millisecond)
	}
	return s.upsert(ctx, userID, bson.M{"$set": bson.M{"pending." + d.ID: p}})
}

// replyRemoved drops a reply a moderator took down from the digest it was
// kept for. The event names the post's author only when posts puts
// PostAuthorID in its data; without it the reply stays listed.
func (s *Service) replyRemoved(e events.Event) {
	var d events.ReplyData
	if err := json.Unmarshal(e.Payload, &d); err != nil || d.PostAuthorID == "" {
		return
	}
	if _, ok := store.ID(d.ID); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	// No upsert: a user with nothing kept has no document to change.
	if _, err := s.settings.UpdateOne(ctx, bson.M{"_id": d.PostAuthorID}, bson.M{"$unset": bson.M{"pending." + d.ID: ""}}); err != nil {
		s.log.Error("notices: removed reply still in a digest", "reply", d.ID, "user", d.PostAuthorID, "err", err)
	}
}
