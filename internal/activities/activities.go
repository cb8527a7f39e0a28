// Package activities is the street's own events: a dinner in the street,
// the monthly apéro, a morning caring for a shared place. The API calls
// them /events; the Go name differs from internal/events, the bus.
//
// A member proposes an event (title, description, start and end in the
// street's time zone, place, optional capacity, optional photo:
// photo.go); members answer "yes" (with up to MaxGuests guests) or
// "no"; the author or a street admin may change it (with a reason when
// its time or place moves) or cancel it with a reason, and everyone who
// answered is told (push notes, and a
// mail to those no push device can reach). The day before, those who
// said yes get a reminder. Each event has an .ics download, and each user
// a private calendar feed (calendar.go) with the events of all their
// streets.
//
// Storage. An event is one document read by _id, which also holds every
// answer (a map keyed by user id) and the seats taken: an answer is one
// conditional single-document update whose filter carries the caller's
// previous answer and, when it takes seats, "taken ≤ capacity − seats",
// so that concurrent answers never overfill an event (MongoDB applies it
// atomically; the embedded engine, one process by construction, has the
// store serialise writes per _id), and no second document can disagree
// with the event's counts. The street's list is a set of journals
// (internal/journal) of event ids, one per street and month of the start
// (list.go), and each user's answered events a journal of their own
// (account.go): no read scans a collection on the embedded engine.
package activities

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/journal"
	"civico/internal/push"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Statuses of an event.
const (
	StatusScheduled = "scheduled"
	StatusCancelled = "cancelled"
)

// Answers.
const (
	AnswerYes = "yes"
	AnswerNo  = "no"
)

// Bounds of the input.
const (
	MaxTitle       = 120
	MinTitle       = 3
	MaxDescription = 4000
	MaxPlace       = 200
	MaxReason      = 500
	MaxCapacity    = 10000
	MaxGuests      = 10
	// MaxDuration bounds an event's length (a weekend festival fits); the
	// list relies on it to find events that began before its start.
	MaxDuration = 14 * 24 * time.Hour
	// MaxAhead bounds how far ahead an event may be planned.
	MaxAhead = 366 * 24 * time.Hour
	// RemindBefore is when the reminder goes out: the day before.
	RemindBefore = 24 * time.Hour
	// DefaultTimeZone is the streets' time zone: streets have none of
	// their own yet (every street so far is Italian).
	DefaultTimeZone = "Europe/Rome"
)

// The live street events of this package (internal/events lists them).
const (
	TypeCreated   = events.EventCreated
	TypeUpdated   = events.EventUpdated
	TypeCancelled = events.EventCancelled
)

const (
	collEvents   = "activities"
	collDue      = "activity_reminders"
	collJournals = "activity_journals"
	collFeeds    = "calendar_feeds"
	collTokens   = "calendar_tokens"
)

// Errors of this package.
var (
	ErrEventNotFound = fault.New(fault.NotFound, "event_not_found", "event not found")
	ErrFull          = fault.New(fault.Conflict, "event_full", "the event has no places left")
	ErrCancelled     = fault.New(fault.Conflict, "event_cancelled", "the event was cancelled")
	ErrOver          = fault.New(fault.Conflict, "event_over", "the event is over")
	ErrChanged       = fault.New(fault.Conflict, "event_changed", "the event changed meanwhile: reload and try again")
	ErrNotAllowed    = fault.New(fault.Forbidden, "event_not_allowed", "only the author or a street admin may do this")
	ErrBadCursor     = cursor.ErrInvalid
	ErrFeedNotFound  = fault.New(fault.NotFound, "calendar_not_found", "calendar not found")
)

// Streets is what the events ask of the streets (streets.Service):
// membership read from the database on each request.
type Streets interface {
	RequireActive(ctx context.Context, streetID, userID string) (streets.Member, error)
	UserStreets(ctx context.Context, userID string) ([]streets.MyStreet, error)
}

// Notifier queues a push to one user (push.Service).
type Notifier interface {
	Notify(ctx context.Context, n push.Note) error
}

// Deps are the services the events rely on. Bus, Notifier, Mailer and
// Photos may be nil: no live events, no pushes, no mails, no photos.
type Deps struct {
	Streets  Streets
	Bus      events.Bus
	Notifier Notifier
	Mailer   *Mailer
	Photos   Photos
}

// Options tune the service.
type Options struct {
	// PublicURL is where the calendar feed's URL points (no trailing
	// slash needed) and the host of the events' UIDs.
	PublicURL string
	// Secret derives the calendar tokens; empty takes a key kept in the
	// database (the same for every process and across restarts).
	Secret []byte
	// TimeZone of the streets (DefaultTimeZone when empty).
	TimeZone string
}

// Service keeps the events.
type Service struct {
	st      *store.Store
	events  *store.Collection
	due     *store.Collection
	feeds   *store.Collection
	tokens  *store.Collection
	lists   *journal.Journal[string]
	cursors *cursor.Signer
	deps    Deps
	clock   clock.Clock
	log     *slog.Logger
	public  string
	secret  []byte
	zone    string
}

// rsvpEntry is one member's answer.
type rsvpEntry struct {
	Answer string    `bson:"answer"`
	Guests int       `bson:"guests"`
	At     time.Time `bson:"at"`
}

// seats is what an answer holds of the capacity.
func (r rsvpEntry) seats() int {
	if r.Answer != AnswerYes {
		return 0
	}
	return 1 + r.Guests
}

// eventDoc is one event.
type eventDoc struct {
	ID            bson.ObjectID `bson:"_id"`
	StreetID      string        `bson:"street_id"`
	AuthorID      string        `bson:"author_id"` // a pseudonym once the account is gone
	AuthorName    string        `bson:"author_name"`
	AuthorDeleted bool          `bson:"author_deleted,omitempty"`
	Title         string        `bson:"title"`
	Description   string        `bson:"description"`
	Place         string        `bson:"place"`
	StartsAt      time.Time     `bson:"starts_at"`
	EndsAt        time.Time     `bson:"ends_at"`
	TZ            string        `bson:"tz"`
	Photo         *photoRef     `bson:"photo,omitempty"`
	// Capacity 0 is no limit. Taken counts the seats of the yes answers
	// (each person and their guests); Yes and No the people.
	Capacity int                  `bson:"capacity"`
	Taken    int                  `bson:"taken"`
	Yes      int                  `bson:"yes"`
	No       int                  `bson:"no"`
	RSVPs    map[string]rsvpEntry `bson:"rsvps"`
	Status   string               `bson:"status"`
	// Seq grows with every change and the cancellation: the edit's
	// version, and the calendars' SEQUENCE.
	Seq int `bson:"seq"`
	// Reason is why it last changed, or why it was cancelled.
	Reason      string     `bson:"reason,omitempty"`
	RemindedFor *time.Time `bson:"reminded_for,omitempty"` // the start a reminder went out for
	CreatedAt   time.Time  `bson:"created_at"`
	UpdatedAt   time.Time  `bson:"updated_at"`
	CancelledAt *time.Time `bson:"cancelled_at,omitempty"`
	CancelledBy string     `bson:"cancelled_by,omitempty"`
}

// dueDoc is an event's reminder (internal/followups).
type dueDoc struct {
	ID    string    `bson:"_id"` // the event's id
	At    time.Time `bson:"at"`
	Tries int       `bson:"tries,omitempty"`
}

// Event is an event as a member sees it. Times are in the street's time
// zone (RFC 3339 with its offset).
type Event struct {
	ID            string    `json:"id"`
	StreetID      string    `json:"street_id"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Place         string    `json:"place"`
	StartsAt      time.Time `json:"starts_at"`
	EndsAt        time.Time `json:"ends_at"`
	TimeZone      string    `json:"time_zone"`
	Capacity      *int      `json:"capacity"`
	Photo         *Photo    `json:"photo"`
	SeatsTaken    int       `json:"seats_taken"`
	SeatsLeft     *int      `json:"seats_left"`
	Yes           int       `json:"yes"`
	No            int       `json:"no"`
	AuthorID      string    `json:"author_id,omitempty"`
	AuthorName    string    `json:"author_name"`
	AuthorDeleted bool      `json:"author_deleted,omitempty"`
	Status        string    `json:"status"`
	Reason        string    `json:"reason,omitempty"`
	Sequence      int       `json:"sequence"`
	MyAnswer      *MyAnswer `json:"my_answer"`
	// CanEdit: the caller may change or cancel it.
	CanEdit   bool      `json:"can_edit"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MyAnswer is the caller's answer to an event.
type MyAnswer struct {
	Answer string `json:"answer"`
	Guests int    `json:"guests"`
}

// EventData is an event in the street's live channel (event.*): what any
// member may see, no answers.
type EventData struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Place      string    `json:"place"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	Status     string    `json:"status"`
	Capacity   int       `json:"capacity,omitempty"`
	AuthorName string    `json:"author_name"`
	Reason     string    `json:"reason,omitempty"`
	Sequence   int       `json:"sequence"`
}

// New returns the service.
func New(ctx context.Context, st *store.Store, c clock.Clock, deps Deps, log *slog.Logger, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.TimeZone == "" {
		opts.TimeZone = DefaultTimeZone
	}
	if _, err := time.LoadLocation(opts.TimeZone); err != nil {
		return nil, err
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	secret := opts.Secret
	if len(secret) == 0 {
		if secret, err = storedSecret(ctx, st); err != nil {
			return nil, err
		}
	}
	return &Service{st: st, events: st.Collection(collEvents), due: st.Collection(collDue), feeds: st.Collection(collFeeds),
		tokens: st.Collection(collTokens), lists: journal.New[string](st, collJournals, 256), cursors: cs, deps: deps,
		clock: c, log: log, public: strings.TrimRight(opts.PublicURL, "/"), secret: secret, zone: opts.TimeZone}, nil
}

// Indexes are this package's indexes: every hot read is by _id; these
// serve MongoDB deployments' reminder sweep and account queries.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: collDue, Name: "at", Keys: bson.D{{Key: "at", Value: 1}}},
		{Collection: collEvents, Name: "author", Keys: bson.D{{Key: "author_id", Value: 1}}},
		{Collection: collTokens, Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
	}
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// location is the time zone an event is shown in.
func location(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	loc, err := time.LoadLocation(DefaultTimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// NewEvent is what a member proposes.
type NewEvent struct {
	Title, Description, Place string
	StartsAt, EndsAt          string // RFC 3339
	Capacity                  *int   // nil or 0: no limit
	Photo                     *PhotoIn
}

// cleanText trims v and checks its length; "" when required is reported.
func cleanText(f fault.Fields, field, v string, minLen, maxLen int) string {
	v = strings.TrimSpace(v)
	switch {
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		f.Add(field, "invalid")
	case v == "" && minLen > 0:
		f.Add(field, "required")
	case utf8.RuneCountInString(v) < minLen:
		f.Add(field, "too_short")
	case utf8.RuneCountInString(v) > maxLen:
		f.Add(field, "too_long")
	}
	return v
}

// parseTime reads an RFC 3339 time, or reports field.
func parseTime(f fault.Fields, field, v string) time.Time {
	if v == "" {
		f.Add(field, "required")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || len(v) > 40 {
		f.Add(field, "invalid")
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

// checkTimes checks an event's start and end against now.
func checkTimes(f fault.Fields, starts, ends, now time.Time) {
	if starts.IsZero() || ends.IsZero() {
		return
	}
	switch {
	case starts.Before(now):
		f.Add("starts_at", "in_the_past")
	case starts.After(now.Add(MaxAhead)):
		f.Add("starts_at", "too_far")
	}
	switch {
	case !ends.After(starts):
		f.Add("ends_at", "before_start")
	case ends.Sub(starts) > MaxDuration:
		f.Add("ends_at", "too_long")
	}
}

func checkCapacity(f fault.Fields, c *int) int {
	if c == nil {
		return 0
	}
	if *c < 0 || *c > MaxCapacity {
		f.Add("capacity", "out_of_range")
		return 0
	}
	return *c
}

// Create is an active member of the street proposing an event.
func (s *Service) Create(ctx context.Context, p auth.Principal, streetID string, in NewEvent) (Event, error) {
	oid, ok := store.ID(streetID)
	if !ok || p.UserID == "" {
		return Event{}, streets.ErrStreetNotFound
	}
	streetID = oid.Hex()
	m, err := s.deps.Streets.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return Event{}, err
	}
	now := s.now()
	f := fault.Fields{}
	d := eventDoc{ID: bson.NewObjectID(), StreetID: streetID, AuthorID: p.UserID, AuthorName: m.Name,
		Title: cleanText(f, "title", in.Title, MinTitle, MaxTitle), Description: cleanText(f, "description", in.Description, 0, MaxDescription),
		Place: cleanText(f, "place", in.Place, 1, MaxPlace), StartsAt: parseTime(f, "starts_at", in.StartsAt),
		EndsAt: parseTime(f, "ends_at", in.EndsAt), TZ: s.zone, Capacity: checkCapacity(f, in.Capacity),
		RSVPs: map[string]rsvpEntry{}, Status: StatusScheduled, CreatedAt: now, UpdatedAt: now}
	checkTimes(f, d.StartsAt, d.EndsAt, now)
	photo := s.checkPhoto(f, in.Photo)
	if err := f.Err(); err != nil {
		return Event{}, err
	}
	// The photo before the event: an event never names a photo that is
	// not its own. The lists next: an entry pointing at nothing is
	// skipped when read, an event missing from its lists would be lost.
	id := d.ID.Hex()
	if d.Photo, err = s.attachPhoto(ctx, streetID, p.UserID, id, photo, true); err != nil {
		return Event{}, err
	}
	if _, err := s.lists.Append(ctx, monthKey(streetID, d.StartsAt), id); err != nil {
		s.releasePhoto(ctx, id, d.Photo)
		return Event{}, err
	}
	if _, err := s.lists.Append(ctx, streetKey(streetID), id); err != nil {
		s.releasePhoto(ctx, id, d.Photo)
		return Event{}, err
	}
	if _, err := s.events.InsertOne(ctx, d); err != nil {
		s.releasePhoto(ctx, id, d.Photo)
		return Event{}, err
	}
	if at := d.StartsAt.Add(-RemindBefore); at.After(now) {
		if _, err := s.due.InsertOne(ctx, dueDoc{ID: id, At: at}); err != nil {
			s.log.Error("activities: reminder not planned", "event", id, "err", err)
		}
	}
	s.publish(ctx, TypeCreated, d, p.UserID)
	return s.view(d, p.UserID, m), nil
}

// load reads an event by id; ErrEventNotFound when there is none.
func (s *Service) load(ctx context.Context, id string) (eventDoc, error) {
	oid, ok := store.ID(id)
	if !ok {
		return eventDoc{}, ErrEventNotFound
	}
	var d eventDoc
	err := s.events.FindOne(ctx, bson.M{"_id": oid}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return eventDoc{}, ErrEventNotFound
	}
	return d, err
}

// access loads an event for an active member of its street; anyone else
// is told it does not exist. The membership is read once, here.
func (s *Service) access(ctx context.Context, p auth.Principal, id string) (eventDoc, streets.Member, error) {
	if p.UserID == "" {
		return eventDoc{}, streets.Member{}, ErrEventNotFound
	}
	d, err := s.load(ctx, id)
	if err != nil {
		return eventDoc{}, streets.Member{}, err
	}
	m, err := s.deps.Streets.RequireActive(ctx, d.StreetID, p.UserID)
	if errors.Is(err, streets.ErrStreetNotFound) {
		return eventDoc{}, streets.Member{}, ErrEventNotFound
	}
	if err != nil {
		return eventDoc{}, streets.Member{}, err
	}
	return d, m, nil
}

// Get returns one event to a member of its street.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Event, error) {
	d, m, err := s.access(ctx, p, id)
	if err != nil {
		return Event{}, err
	}
	return s.view(d, p.UserID, m), nil
}

// mayEdit says whether member m may change or cancel d.
func mayEdit(d eventDoc, m streets.Member) bool {
	return m.UserID != "" && (d.AuthorID == m.UserID || m.Role == streets.RoleAdmin)
}

// view is d as viewer (membership m) sees it.
func (s *Service) view(d eventDoc, viewer string, m streets.Member) Event {
	loc := location(d.TZ)
	e := Event{ID: d.ID.Hex(), StreetID: d.StreetID, Title: d.Title, Description: d.Description, Place: d.Place,
		StartsAt: d.StartsAt.In(loc), EndsAt: d.EndsAt.In(loc), TimeZone: loc.String(), SeatsTaken: d.Taken, Yes: d.Yes, No: d.No,
		AuthorName: d.AuthorName, AuthorDeleted: d.AuthorDeleted, Status: d.Status, Reason: d.Reason, Sequence: d.Seq,
		Photo: d.Photo.view(), CanEdit: d.Status == StatusScheduled && mayEdit(d, m), CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
	if !d.AuthorDeleted {
		e.AuthorID = d.AuthorID
	}
	if d.Capacity > 0 {
		c, left := d.Capacity, max(d.Capacity-d.Taken, 0)
		e.Capacity, e.SeatsLeft = &c, &left
	}
	if r, ok := d.RSVPs[viewer]; ok && viewer != "" {
		e.MyAnswer = &MyAnswer{Answer: r.Answer, Guests: r.Guests}
	}
	return e
}

// data is d in the street's live channel.
func (d eventDoc) data() EventData {
	loc := location(d.TZ)
	name := d.AuthorName
	if d.AuthorDeleted {
		name = ""
	}
	return EventData{ID: d.ID.Hex(), Title: d.Title, Place: d.Place, StartsAt: d.StartsAt.In(loc), EndsAt: d.EndsAt.In(loc),
		Status: d.Status, Capacity: d.Capacity, AuthorName: name, Reason: d.Reason, Sequence: d.Seq}
}

func (s *Service) publish(ctx context.Context, typ events.Type, d eventDoc, actorID string) {
	if s.deps.Bus == nil {
		return
	}
	if _, err := s.deps.Bus.Publish(ctx, events.Event{Type: typ, StreetID: d.StreetID, ActorID: actorID, SubjectID: d.AuthorID,
		Data: d.data()}); err != nil {
		s.log.Warn("activities: publish failed", "type", typ, "street", d.StreetID, "err", err)
	}
}
