// Package posts owns requests and offers in a street: their lifecycle
// (open → matched → done, or closed/removed), replies, pins, expiry and the
// exchanges recorded when a post is done.
//
// Several server processes may share one database, so no process keeps a
// copy of a post or of a street's feed: every read goes to the database,
// and every write is one conditional update of one document, settled by
// the database. Replies are $push/$inc under a state filter; transitions
// (accept, done, close, renew, edit, remove, pin, desk) are decided on the
// post as read and written with a filter on its version, retried on the
// fresh post when another write got there first; the pinned list is
// changed with $addToSet/$pull under a size guard.
//
// The feed is the hot path, and the embedded FerretDB scans a whole
// collection for any filter but a plain _id. So a street's posts are kept
// in order in a journal (chunk documents addressed by _id: a position names
// its document), and a page reads the journal and the posts by _id, so its
// cost follows the page, never the database. On MongoDB a page is one
// query on the street_pos index (see span).
package posts

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/journal"
	"civico/internal/pseudonym"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Kinds of post.
const (
	KindRequest = "request"
	KindOffer   = "offer"
)

// Statuses of a post.
const (
	StatusOpen    = "open"
	StatusMatched = "matched"
	StatusDone    = "done"
	StatusClosed  = "closed"
	StatusRemoved = "removed"
)

// Why a post was closed.
const (
	CloseExpired        = "expired"
	CloseNoLongerNeeded = "no_longer_needed"
)

// Categories are the kinds of help a post may be about.
var Categories = []string{"babysitting", "repairs", "dog_walking", "lending", "errands", "company", "lessons", "gardening", "transport", "other"}

var categorySet = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range Categories {
		m[c] = true
	}
	return m
}()

// Limits.
const (
	MaxTitleLen   = 120
	MaxBodyLen    = 4000
	MaxReplyLen   = 2000
	MaxThanksLen  = 500
	MaxReasonLen  = 500
	MaxQueryLen   = 100
	MaxNameLen    = 120
	MaxPinned     = 10
	MaxReplies    = 500
	ExpiresAfter  = 30 * 24 * time.Hour
	MaxWhenSpan   = 31 * 24 * time.Hour
	MaxWhenAhead  = 366 * 24 * time.Hour
	defaultWindow = 200
)

// Errors of this package.
var (
	ErrPostNotFound     = fault.New(fault.NotFound, "post_not_found", "post not found")
	ErrReplyNotFound    = fault.New(fault.NotFound, "reply_not_found", "reply not found")
	ErrNotAuthor        = fault.New(fault.Forbidden, "not_author", "only the post's author may do this")
	ErrNotAllowed       = fault.New(fault.Forbidden, "not_allowed", "only the author or an admin may do this")
	ErrPostClosed       = fault.New(fault.Conflict, "post_closed", "this post no longer takes replies")
	ErrNotOpen          = fault.New(fault.Conflict, "post_not_open", "this post is not open")
	ErrNotMatched       = fault.New(fault.Conflict, "post_not_matched", "accept a reply before marking the post done")
	ErrNotEditable      = fault.New(fault.Conflict, "post_not_editable", "this post can no longer be changed")
	ErrPhotosChanged    = fault.New(fault.Conflict, "post_photos_changed", "the post's photos changed meanwhile: reload and try again")
	ErrAlreadyRemoved   = fault.New(fault.Conflict, "post_removed", "this post was removed")
	ErrNotRenewable     = fault.New(fault.Conflict, "post_not_renewable", "only open or expired posts can be renewed")
	ErrTooManyPinned    = fault.New(fault.Conflict, "too_many_pinned", "too many pinned posts: unpin one first")
	ErrTooManyReplies   = fault.New(fault.Conflict, "too_many_replies", "this post has too many replies")
	ErrReplyRemoved     = fault.New(fault.Conflict, "reply_removed", "this reply was removed")
	ErrBadCursor        = cursor.ErrInvalid
	ErrPostRateLimited  = fault.New(fault.RateLimited, "rate_limited", "too many posts, try again later")
	ErrReplyRateLimited = fault.New(fault.RateLimited, "rate_limited", "too many replies, try again later")
)

// TimeWindow is when the help is needed or offered.
type TimeWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// OnBehalf says a post was written by a Portinaio desk volunteer for a
// member of its roster (who may have no smartphone). The volunteer is the
// author and gets the replies.
type OnBehalf struct {
	AssociationID string `json:"association_id" bson:"association_id"`
	MemberID      string `json:"member_id" bson:"member_id"`
	MemberName    string `json:"member_name" bson:"member_name"`
}

// NewPost is what an author sends.
type NewPost struct {
	Kind, Category, Title, Body string
	When                        *TimeWindow
	OnBehalf                    *OnBehalf
	// Photos are the author's uploads in the street (at most
	// MaxPostPhotos), each with its alt text.
	Photos []PhotoIn
	// IdempotencyKey, when set, makes the post once per key (idempotency.go).
	IdempotencyKey string
}

// Post is a request or an offer as members see it: display names only.
type Post struct {
	ID              string      `json:"id"`
	StreetID        string      `json:"street_id"`
	Kind            string      `json:"kind"`
	Category        string      `json:"category"`
	Title           string      `json:"title"`
	Body            string      `json:"body"`
	When            *TimeWindow `json:"when,omitempty"`
	Status          string      `json:"status"`
	Pinned          bool        `json:"pinned"`
	AuthorID        string      `json:"author_id"`
	AuthorName      string      `json:"author_name"`
	AuthorDeleted   bool        `json:"author_deleted,omitempty"` // AuthorName empty, AuthorID a pseudonym (see account.go)
	OnBehalf        *OnBehalf   `json:"on_behalf,omitempty"`
	ReplyCount      int         `json:"reply_count"`
	AcceptedReplyID string      `json:"accepted_reply_id,omitempty"`
	Thanks          string      `json:"thanks,omitempty"`
	CloseReason     string      `json:"close_reason,omitempty"`
	// RemovalReason is shown to the author and the admins only.
	RemovalReason string     `json:"removal_reason,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	FirstReplyAt  *time.Time `json:"first_reply_at,omitempty"`
	MatchedAt     *time.Time `json:"matched_at,omitempty"`
	DoneAt        *time.Time `json:"done_at,omitempty"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	RemovedAt     *time.Time `json:"removed_at,omitempty"`
	// Desk says a Portinaio desk took this unanswered request on; shown to
	// the author and the admins.
	Desk *DeskNote `json:"desk,omitempty"`
	// Photos are the post's images (photos.go).
	Photos []Photo `json:"photos,omitempty"`
}

// Thread is a post with a first page of its replies.
type Thread struct {
	Post
	Replies           []Reply `json:"replies"`
	RepliesNextCursor string  `json:"replies_next_cursor,omitempty"`
}

// Options tune the service.
type Options struct {
	// PostsPerHour bounds the posts one member writes per hour (default 30).
	PostsPerHour int
	// RepliesPerHour bounds the replies one member writes per hour (default 120).
	RepliesPerHour int
	// Window and ExamineBudget together bound how many posts one feed
	// request examines; past them the page ends early with a cursor
	// (default 200 each).
	Window        int
	ExamineBudget int
	// Photos keeps the images of posts and replies; nil refuses photos.
	Photos Photos
}

// Service is posts, replies and exchanges.
type Service struct {
	posts     *store.Collection
	replies   *store.Collection
	exchanges *store.Collection
	state     *store.Collection
	claims    *store.Collection // idempotency keys (idempotency.go)
	feedJ     *journal.Journal[string]
	expiryJ   *journal.Journal[string]
	exchangeJ *journal.Journal[Exchange]
	streets   *streets.Service
	bus       events.Bus
	clock     clock.Clock
	cursors   *cursor.Signer
	log       *slog.Logger
	opts      Options
	postLimit *ratelimit.Limiter
	replyLim  *ratelimit.Limiter

	embedded bool // the embedded engine: one process by construction

	// keyed orders this process's requests with one idempotency key, so
	// that a duplicate waits for the first and replays it; across
	// processes the claim's unique _id settles it (ErrIdempotencyBusy).
	// Keys share a fixed set of locks: keys are countless.
	keyed [64]sync.Mutex

	cmu    sync.Mutex
	caches map[string]*feedCache // embedded engine only (feedcache.go)

	sweep      sweepState
	claimSweep claimSweep
}

// postDoc is a post as stored. Version grows with every change but
// replies: a change decided on one version is written only onto it.
type postDoc struct {
	ID              bson.ObjectID `bson:"_id"`
	StreetID        string        `bson:"street_id"`
	Pos             int64         `bson:"pos"`
	Kind            string        `bson:"kind"`
	Category        string        `bson:"category"`
	Title           string        `bson:"title"`
	Body            string        `bson:"body"`
	When            *TimeWindow   `bson:"when,omitempty"`
	Status          string        `bson:"status"`
	Pinned          bool          `bson:"pinned"`
	PinnedAt        *time.Time    `bson:"pinned_at,omitempty"`
	AuthorID        string        `bson:"author_id"`
	AuthorName      string        `bson:"author_name"`
	OnBehalf        *OnBehalf     `bson:"on_behalf,omitempty"`
	ReplyIDs        []string      `bson:"reply_ids"`
	ReplyCount      int           `bson:"reply_count"`
	AcceptedReplyID string        `bson:"accepted_reply_id,omitempty"`
	MatchedUserID   string        `bson:"matched_user_id,omitempty"`
	Thanks          string        `bson:"thanks,omitempty"`
	CloseReason     string        `bson:"close_reason,omitempty"`
	RemovalReason   string        `bson:"removal_reason,omitempty"`
	RemovedBy       string        `bson:"removed_by,omitempty"`
	CreatedAt       time.Time     `bson:"created_at"`
	UpdatedAt       time.Time     `bson:"updated_at"`
	ExpiresAt       time.Time     `bson:"expires_at"`
	FirstReplyAt    *time.Time    `bson:"first_reply_at,omitempty"`
	MatchedAt       *time.Time    `bson:"matched_at,omitempty"`
	DoneAt          *time.Time    `bson:"done_at,omitempty"`
	ClosedAt        *time.Time    `bson:"closed_at,omitempty"`
	RemovedAt       *time.Time    `bson:"removed_at,omitempty"`
	Desk            *DeskNote     `bson:"desk,omitempty"`
	Photos          []photoRef    `bson:"photos,omitempty"`
	Version         int64         `bson:"version"`
}

// clone returns a copy safe to change.
func (d *postDoc) clone() *postDoc {
	c := *d
	c.ReplyIDs = append([]string(nil), d.ReplyIDs...)
	return &c
}

// view is the post as viewer sees it.
func (d *postDoc) view(viewer streets.Member) Post {
	p := Post{ID: d.ID.Hex(), StreetID: d.StreetID, Kind: d.Kind, Category: d.Category, Title: d.Title, Body: d.Body,
		When: d.When, Status: d.Status, Pinned: d.Pinned, AuthorID: d.AuthorID, AuthorName: d.AuthorName, OnBehalf: d.OnBehalf,
		ReplyCount: d.ReplyCount, AcceptedReplyID: d.AcceptedReplyID, Thanks: d.Thanks, CloseReason: d.CloseReason,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), FirstReplyAt: utc(d.FirstReplyAt),
		MatchedAt: utc(d.MatchedAt), DoneAt: utc(d.DoneAt), ClosedAt: utc(d.ClosedAt), RemovedAt: utc(d.RemovedAt),
		AuthorDeleted: pseudonym.Is(d.AuthorID), Photos: photoViews(d.Photos)}
	if d.AuthorID == viewer.UserID || viewer.Role == streets.RoleAdmin {
		p.RemovalReason = d.RemovalReason
		p.Desk = d.Desk
	}
	if p.When != nil {
		w := TimeWindow{From: p.When.From.UTC(), To: p.When.To.UTC()}
		p.When = &w
	}
	return p
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// data is the post as events carry it.
func (d *postDoc) data() events.PostData {
	pd := events.PostData{ID: d.ID.Hex(), Kind: d.Kind, Category: d.Category, Title: d.Title, Body: d.Body, Status: d.Status,
		Pinned: d.Pinned, AuthorID: d.AuthorID, AuthorName: d.AuthorName, CreatedAt: d.CreatedAt.UTC(), AuthorDeleted: pseudonym.Is(d.AuthorID)}
	if d.OnBehalf != nil {
		pd.OnBehalfOf = d.OnBehalf.MemberName
	}
	if d.Status == StatusRemoved {
		pd.Body = ""
	} else {
		pd.Photos = photoViews(d.Photos)
	}
	return pd
}

// Indexes are this package's indexes: every hot read goes by _id; these
// serve MongoDB deployments' ad-hoc queries and tools.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: "posts", Name: "street_pos", Keys: bson.D{{Key: "street_id", Value: 1}, {Key: "pos", Value: 1}}},
		{Collection: "replies", Name: "post", Keys: bson.D{{Key: "post_id", Value: 1}}},
		{Collection: "exchanges", Name: "street_at", Keys: bson.D{{Key: "street_id", Value: 1}, {Key: "at", Value: 1}}},
		{Collection: "post_claims", Name: "created_at", Keys: bson.D{{Key: "created_at", Value: 1}}},
	}
}

// New returns the service.
func New(ctx context.Context, st *store.Store, bus events.Bus, c clock.Clock, sts *streets.Service, log *slog.Logger, opts Options) (*Service, error) {
	if opts.PostsPerHour == 0 {
		opts.PostsPerHour = 30
	}
	if opts.RepliesPerHour == 0 {
		opts.RepliesPerHour = 120
	}
	if opts.Window <= 0 {
		opts.Window = defaultWindow
	}
	if opts.ExamineBudget <= 0 {
		opts.ExamineBudget = 200
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	return &Service{
		posts: st.Collection("posts"), replies: st.Collection("replies"), exchanges: st.Collection("exchanges"),
		state:     st.Collection("post_state"),
		claims:    st.Collection("post_claims"),
		feedJ:     journal.New[string](st, "post_journals", 256),
		expiryJ:   journal.New[string](st, "post_journals", 256),
		exchangeJ: journal.New[Exchange](st, "post_journals", 128),
		streets:   sts, bus: bus, clock: c, cursors: cs, log: log, opts: opts, embedded: st.Embedded(), caches: map[string]*feedCache{},
		postLimit: ratelimit.New(st, "post", opts.PostsPerHour, time.Hour, c),
		replyLim:  ratelimit.New(st, "reply", opts.RepliesPerHour, time.Hour, c),
	}, nil
}

// lockKey takes the lock of an idempotency claim's id and returns its release.
func (s *Service) lockKey(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	l := &s.keyed[h.Sum32()%uint32(len(s.keyed))]
	l.Lock()
	return l.Unlock
}

// allowed follows a limiter's decision; a database failure, which never
// refuses (see internal/ratelimit), is logged.
func (s *Service) allowed(ok bool, wait time.Duration, err error) (bool, time.Duration) {
	if err != nil {
		s.log.Warn("posts: rate limit", "err", err)
	}
	return ok, wait
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// load reads a post by id from the database.
func (s *Service) load(ctx context.Context, id string) (*postDoc, error) {
	oid, ok := store.ID(id)
	if !ok {
		return nil, ErrPostNotFound
	}
	var d postDoc
	err := s.posts.FindOne(ctx, bson.M{"_id": oid}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrPostNotFound
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// visible tells whether viewer may see d at all: a removed post only its
// author and the admins.
func visible(d *postDoc, viewer streets.Member) bool {
	return d.Status != StatusRemoved || d.AuthorID == viewer.UserID || viewer.Role == streets.RoleAdmin
}

// access loads a post for the caller: NotFound unless they are an active
// member of its street and may see it.
func (s *Service) access(ctx context.Context, p auth.Principal, postID string) (*postDoc, streets.Member, error) {
	d, err := s.load(ctx, postID)
	if err != nil {
		return nil, streets.Member{}, err
	}
	m, err := s.streets.RequireActive(ctx, d.StreetID, p.UserID)
	if err != nil {
		return nil, streets.Member{}, ErrPostNotFound
	}
	if !visible(d, m) {
		return nil, streets.Member{}, ErrPostNotFound
	}
	return d, m, nil
}

// Get returns a post with the first page of its replies.
func (s *Service) Get(ctx context.Context, p auth.Principal, postID string) (Thread, error) {
	d, m, err := s.access(ctx, p, postID)
	if err != nil {
		return Thread{}, err
	}
	replies, next, err := s.replyPage(ctx, d, m, "", 50)
	if err != nil {
		return Thread{}, err
	}
	return Thread{Post: d.view(m), Replies: replies, RepliesNextCursor: next}, nil
}

func (s *Service) publish(ctx context.Context, typ events.Type, streetID, actorID, subjectID string, data any) {
	_, err := s.bus.Publish(ctx, events.Event{Type: typ, StreetID: streetID, ActorID: actorID, SubjectID: subjectID, Data: data})
	if err != nil {
		s.log.Warn("publish failed", "type", typ, "street", streetID, "err", err)
	}
}
