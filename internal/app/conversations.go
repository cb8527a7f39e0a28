package app

import (
	"context"
	"time"

	"civico/internal/conversations"
	"civico/internal/events"
)

// presenceSubject asks every process whether a user has their own live
// channel open there; the last token is the user's id.
const presenceSubject = "civico.presence."

// presenceWait bounds the question: a process that holds the socket
// answers within milliseconds.
const presenceWait = 200 * time.Millisecond

// buildConversations makes the private conversations. Call it once the
// streets, posts, push, mail and the hub exist: messages go out on the
// users' own channels, and by push (or mail) to whoever is not connected.
func (a *App) buildConversations(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, conversations.Indexes()...); err != nil {
		return err
	}
	deps := conversations.Deps{Streets: a.Streets, Accounts: a.Auth, Posts: a.Posts, Channels: a.Events, Presence: presence{a}}
	// Typed nils would pass for services: leave the interfaces nil instead.
	if a.Push != nil {
		deps.Notifier, deps.Devices = a.Push, a.Push
	}
	if a.Mail != nil {
		deps.Mail = a.Mail
	}
	var err error
	a.Conversations, err = conversations.New(ctx, a.store, a.clock, deps, a.log.With("component", "conversations"),
		conversations.Options{NewPerDay: a.cfg.ConversationsPerDay, PublicURL: a.publicURL()})
	if err != nil {
		return err
	}
	a.Moderation.UseMessages(a.Conversations)
	// Answer the other processes' question for the sockets held here.
	_, err = a.Bus.Answer(presenceSubject+"*", func(subject string, _ []byte) bool {
		return a.Hub.Watching(events.Personal(subject[len(presenceSubject):]))
	})
	return err
}

// presence tells the conversations whether a user is connected: here,
// or on another process (asked over NATS).
type presence struct{ a *App }

// Online implements conversations.Presence.
func (p presence) Online(ctx context.Context, userID string) bool {
	if p.a.Hub.Watching(events.Personal(userID)) {
		return true
	}
	return p.a.Bus.Ask(ctx, presenceSubject+userID, nil, presenceWait)
}
