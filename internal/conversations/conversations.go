// Package conversations is private conversations between two members of a
// street: started from a post, a reply or a member's name, read only by the
// two of them, live on each one's own channel (/me/ws), pushed to the one
// who is not connected.
//
// Storage keeps every hot read on _id, as the embedded engine wants:
//   - a conversation is one document (conversations, by a fresh ObjectID);
//     what each of the two sees of it (last message, unread count) sits
//     under view.<user id> and moves by $inc, $max and conditional $set,
//     never by reading the document and writing it back;
//   - the pair of users names its conversation in conversation_pairs (by
//     the pair's _id): the unique insert decides which of two concurrent
//     first messages creates it, on any process;
//   - the messages are a journal (internal/journal) per conversation, and
//     each user's inbox a journal of conversation ids; a message's id maps
//     to its place in message_refs (reports name a message by its id).
//
// Blocking is silent: a blocked member's messages are kept for their author
// but never reach the one who blocked them, who is not told either way.
package conversations

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/journal"
	"civico/internal/mail"
	"civico/internal/posts"
	"civico/internal/push"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Bounds of the input.
const (
	MaxBody = 2000
	// Preview is how much of the last message the inbox shows.
	Preview = 140
	// DefaultNewPerDay is Options.NewPerDay when unset.
	DefaultNewPerDay = 5
	// DefaultLimit and the cursor package's MaxLimit bound a page.
	DefaultLimit = 30
	// maxInbox bounds the conversations an inbox reads (the most recent
	// ones by creation): a page costs one _id lookup per conversation.
	maxInbox = 500
)

const (
	collConversations = "conversations"
	collPairs         = "conversation_pairs"
	collRefs          = "message_refs"
	collBlocks        = "blocks"
	collStarts        = "conversation_starts"
	collJournals      = "conversation_journals"
)

// Errors of this package.
var (
	ErrNotFound = fault.New(fault.NotFound, "conversation_not_found", "conversation not found")
	// ErrMessageNotFound: no such message, or not one of the caller's.
	ErrMessageNotFound = fault.New(fault.NotFound, "message_not_found", "message not found")
	// ErrUserNotFound: nobody the caller may write to (not a member of the
	// street, or no such account).
	ErrUserNotFound = fault.New(fault.NotFound, "user_not_found", "no member of this street by that id")
	// ErrClosed: the two no longer share a street.
	ErrClosed = fault.New(fault.Forbidden, "conversation_closed", "you no longer share a street: this conversation is closed")
	// ErrYouBlocked: the caller blocked the other one (unblock to write).
	ErrYouBlocked = fault.New(fault.Conflict, "you_blocked", "you blocked this neighbour: unblock them to write")
	// ErrTooMany: too many new conversations today with people who did not answer.
	ErrTooMany   = fault.New(fault.RateLimited, "too_many_conversations", "you started many conversations today that are not answered yet: try again tomorrow")
	ErrBadCursor = cursor.ErrInvalid
)

// Streets tells who shares a street (streets.Service).
type Streets interface {
	Membership(ctx context.Context, streetID, userID string) (streets.Member, error)
	UserStreets(ctx context.Context, userID string) ([]streets.MyStreet, error)
}

// Accounts reads display names and locales (auth.Service).
type Accounts interface {
	Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
}

// Posts reads the post a conversation starts from (posts.Service).
type Posts interface {
	Record(ctx context.Context, postID string) (posts.PostRecord, error)
}

// Channels publishes on a user's own live channel (events.Log).
type Channels interface {
	Publish(ctx context.Context, e events.Event) (events.Event, error)
}

// Notifier queues a push to one user (push.Service).
type Notifier interface {
	Notify(ctx context.Context, n push.Note) error
}

// Mail queues a mail once per id (mail.Service).
type Mail interface {
	Queue(ctx context.Context, m mail.Message) error
}

// Devices tells whether a user has a push device and when their quiet
// hours end (push.Service).
type Devices interface {
	HasDevices(ctx context.Context, userID string) (bool, error)
	QuietUntil(ctx context.Context, userID string, now time.Time) (time.Time, error)
}

// Presence tells whether a user has their own live channel open on any
// process (internal/app asks the hubs over NATS).
type Presence interface {
	Online(ctx context.Context, userID string) bool
}

// Deps are what the service relies on. Notifier and Presence may be nil:
// without a notifier nothing is pushed; without presence everyone counts
// as away (every message is pushed).
type Deps struct {
	Streets  Streets
	Accounts Accounts
	Posts    Posts
	Channels Channels
	Notifier Notifier
	Presence Presence
	// Mail and Devices, both set, mail a message to whom no push reaches.
	Mail    Mail
	Devices Devices
}

// Options tune the service.
type Options struct {
	// NewPerDay is how many conversations a member may start in 24 hours
	// with people who have not answered them yet (0: DefaultNewPerDay).
	NewPerDay int
	// PublicURL prefixes the links pushes open ("" keeps them relative).
	PublicURL string
}

// Service keeps the conversations.
type Service struct {
	store    *store.Store
	convs    *store.Collection
	pairs    *store.Collection
	refs     *store.Collection
	blocks   *store.Collection
	starts   *store.Collection // start slots (starts.go)
	messages *journal.Journal[messageItem]
	inboxes  *journal.Journal[string]
	cursors  *cursor.Signer
	deps     Deps
	clock    clock.Clock
	log      *slog.Logger
	opts     Options
}

// New returns the service.
func New(ctx context.Context, st *store.Store, c clock.Clock, deps Deps, log *slog.Logger, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.NewPerDay <= 0 {
		opts.NewPerDay = DefaultNewPerDay
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	return &Service{store: st, convs: st.Collection(collConversations), pairs: st.Collection(collPairs), refs: st.Collection(collRefs),
		blocks: st.Collection(collBlocks), starts: st.Collection(collStarts),
		messages: journal.New[messageItem](st, collJournals, 64), inboxes: journal.New[string](st, collJournals, 128),
		cursors: cs, deps: deps, clock: c, log: log, opts: opts}, nil
}

// Indexes are this package's indexes: every read is by _id.
func Indexes() []store.Index { return nil }

// Journal keys.
func messagesKey(cid string) string { return "msg:" + cid }
func inboxKey(userID string) string { return "inbox:" + userID }

// pairID names the conversation of two users, whoever wrote first.
func pairID(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + ":" + b
}

// convDoc is one conversation.
type convDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	Users     []string      `bson:"users"` // the two, sorted
	StreetID  string        `bson:"street_id"`
	PostID    string        `bson:"post_id,omitempty"`
	PostTitle string        `bson:"post_title,omitempty"`
	StartedBy string        `bson:"started_by"`
	CreatedAt time.Time     `bson:"created_at"`
	// Answered: the one who did not start it wrote at least once.
	Answered bool `bson:"answered,omitempty"`
	// View is what each user sees, by user id.
	View map[string]viewDoc `bson:"view"`
}

// viewDoc is one user's side of a conversation.
type viewDoc struct {
	// Pos is the position of the last message this user sees (-1: none).
	Pos      int64     `bson:"pos"`
	LastAt   time.Time `bson:"last_at"`
	LastBody string    `bson:"last_body,omitempty"`
	LastMine bool      `bson:"last_mine,omitempty"`
	// In counts the messages this user received; Read how many of them
	// they had when they last read the conversation. Both only grow.
	In   int64 `bson:"in"`
	Read int64 `bson:"read"`
	// Listed: the conversation is in this user's inbox journal.
	Listed bool `bson:"listed,omitempty"`
}

// messageItem is a message as its conversation's journal keeps it.
type messageItem struct {
	ID       string    `bson:"id"`
	AuthorID string    `bson:"author"`
	Body     string    `bson:"body"`
	At       time.Time `bson:"at"`
	// HiddenFrom is the user who does not see it (they blocked the author).
	HiddenFrom string `bson:"hidden,omitempty"`
}

// refDoc maps a message id to its conversation and position.
type refDoc struct {
	ID  string `bson:"_id"`
	CID string `bson:"cid"`
	Pos int64  `bson:"pos"`
}

// Peer is the other person of a conversation.
type Peer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Deleted: they deleted their account (ID is a pseudonym, Name empty).
	Deleted bool `json:"deleted,omitempty"`
}

// Last is the inbox's preview of the last message.
type Last struct {
	Body string `json:"body"`
	Mine bool   `json:"mine"`
}

// Conversation is a conversation as one of its two people sees it.
type Conversation struct {
	ID          string    `json:"id"`
	StreetID    string    `json:"street_id"`
	PostID      string    `json:"post_id,omitempty"`
	PostTitle   string    `json:"post_title,omitempty"`
	With        Peer      `json:"with"`
	LastAt      time.Time `json:"last_at"`
	LastMessage *Last     `json:"last_message,omitempty"`
	Unread      int64     `json:"unread"`
	// Open: new messages are accepted (the two share a street).
	Open bool `json:"open"`
	// Blocked: the caller blocked the other one.
	Blocked bool `json:"blocked"`
}

// Message is a message as one of the two sees it.
type Message struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	AuthorID       string    `json:"author_id"`
	Mine           bool      `json:"mine"`
	Body           string    `json:"body"`
	At             time.Time `json:"at"`
}

func (s *Service) st() *store.Store { return s.store }

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// other is the one of the two who is not userID.
func (d convDoc) other(userID string) string {
	for _, u := range d.Users {
		if u != userID {
			return u
		}
	}
	return ""
}

func (d convDoc) has(userID string) bool {
	for _, u := range d.Users {
		if u == userID {
			return true
		}
	}
	return false
}

// load reads a conversation the caller is one of; anyone else gets
// ErrNotFound, as for a conversation that does not exist.
func (s *Service) load(ctx context.Context, userID, cid string) (convDoc, error) {
	oid, ok := store.ID(cid)
	if !ok || userID == "" {
		return convDoc{}, ErrNotFound
	}
	var d convDoc
	err := s.convs.FindOne(ctx, bson.M{"_id": oid}, &d)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !d.has(userID)) {
		return convDoc{}, ErrNotFound
	}
	return d, err
}

// shared tells whether a and b are both active members of one street; it
// prefers first (the conversation's own street) and returns the street.
func (s *Service) shared(ctx context.Context, a, b, first string) (string, error) {
	if first != "" && s.active(ctx, first, a) && s.active(ctx, first, b) {
		return first, nil
	}
	mine, err := s.deps.Streets.UserStreets(ctx, a)
	if err != nil {
		return "", err
	}
	for _, st := range mine {
		if st.Status == streets.StatusActive && st.StreetID != first && s.active(ctx, st.StreetID, b) {
			return st.StreetID, nil
		}
	}
	return "", nil
}

func (s *Service) active(ctx context.Context, streetID, userID string) bool {
	m, err := s.deps.Streets.Membership(ctx, streetID, userID)
	return err == nil && m.Status == streets.StatusActive
}
