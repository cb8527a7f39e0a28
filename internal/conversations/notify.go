package conversations

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/mail"
	"civico/internal/push"
)

// notify pushes a message to its recipient when they have no live channel
// open anywhere. One push per conversation is shown at a time (the tag):
// a phone does not fill up with one chat.
func (s *Service) notify(ctx context.Context, to, from string, d convDoc, m Message) {
	if s.deps.Presence != nil && s.deps.Presence.Online(ctx, to) {
		return
	}
	accs, err := s.deps.Accounts.Users(ctx, []string{from, to})
	if err != nil {
		s.log.Warn("conversations: names for a push", "err", err)
		return
	}
	name := accs[from].Name
	s.mail(ctx, accs[to], name, d, m)
	if s.deps.Notifier == nil {
		return
	}
	body := previewOf(m.Body)
	n := push.Note{Key: "message:" + m.ID, UserID: to, URL: s.opts.PublicURL + "/conversations/" + url.PathEscape(d.ID.Hex()),
		Tag: "conversation-" + d.ID.Hex(), TTL: 24 * time.Hour,
		Texts: map[string]push.NoteText{
			"it": {Title: "Messaggio da " + name, Body: body},
			"en": {Title: "Message from " + name, Body: body},
		}}
	if err := s.deps.Notifier.Notify(ctx, n); err != nil {
		s.log.Warn("conversations: push not queued", "err", err)
	}
}

// mail tells a recipient whom no push reaches (no device) by email, with a
// verified address: one mail per conversation until they read it (the
// mail's id names how much they had read), held by their quiet hours.
func (s *Service) mail(ctx context.Context, to auth.Account, from string, d convDoc, m Message) {
	if s.deps.Mail == nil || s.deps.Devices == nil || !to.EmailVerified || to.Email == "" {
		return
	}
	has, err := s.deps.Devices.HasDevices(ctx, to.ID)
	if err != nil || has {
		return
	}
	until, err := s.deps.Devices.QuietUntil(ctx, to.ID, s.now())
	if err != nil {
		return
	}
	lang, subject, intro, open := "it", "Messaggio da %s", "%s ti ha scritto su Civico:", "Rispondi: %s"
	if l, _, _ := strings.Cut(strings.ToLower(to.Locale), "-"); l == "en" {
		lang, subject, intro, open = "en", "Message from %s", "%s wrote to you on Civico:", "Answer: %s"
	}
	link := strings.TrimRight(s.opts.PublicURL, "/") + "/conversations/" + d.ID.Hex()
	text := fmt.Sprintf(intro, from) + "\n\n" + m.Body + "\n\n" + fmt.Sprintf(open, link) + "\n"
	msg := mail.Message{ID: "conversation:" + d.ID.Hex() + ":" + to.ID + ":" + strconv.FormatInt(d.View[to.ID].Read, 10),
		Kind: mail.KindNotice, To: to.Email, ToName: to.Name, Locale: lang, Subject: fmt.Sprintf(subject, from), Text: text, NotBefore: until}
	if err := s.deps.Mail.Queue(ctx, msg); err != nil {
		s.log.Warn("conversations: mail not queued", "err", err)
	}
}
