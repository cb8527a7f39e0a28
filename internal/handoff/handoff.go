// Package handoff makes sure no request falls through the cracks.
//
// The warm hand-off: a request matched for 3 days and not marked done, or
// open for 48 hours without any reply, earns its author one gentle push (in
// their language, held by their quiet hours) asking how it went, with
// one-tap answers: done, still needed, no longer needed. Each reminder goes
// once per post and state: the reminder is claimed by inserting a document
// whose _id is post:state before the push is queued, so a second sweep, a
// second process or a restart cannot send it again.
//
// No wrong door: a request still without replies after 48 hours is listed
// as unanswered to the street's admins and to the volunteers of the
// Portinaio associations the street is linked to, with the roster members
// whose skills fit the request, so that someone can call a neighbour who is
// not online; a volunteer can take it on, and the author sees "the desk is
// on it".
//
// What falls due lives in the database, so that any process may act on
// it: post events schedule each check as one small document of
// handoff_due (by _id post:state, so a check is scheduled once), and the
// sweep reads the ones whose time came (a scan of that collection on the
// embedded engine, which holds only the checks of the last days' requests;
// the "at" index on MongoDB), claiming each before acting on it
// (internal/followups): never lost, and the reminder claim and the
// unanswered entry (both inserts by _id) keep the effects once.
// The first sweep of a process, and one a day after, also reads the live
// requests (one scan of the posts collection) and schedules any that never
// were: made before this code ran, or while the database refused the
// schedule.
package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/followups"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/push"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// States of a request a reminder is about.
const (
	StateOpen    = "open"    // open, no reply yet
	StateMatched = "matched" // matched, not marked done
)

// When reminders fall due, and when a request counts as unanswered.
const (
	OpenAfter    = 48 * time.Hour
	MatchedAfter = 3 * 24 * time.Hour
	// MaxLinks bounds the links of one street or one association.
	MaxLinks = 50
	// MatchesPerDesk bounds the roster members suggested for one request.
	MatchesPerDesk = 5
)

// Answers to a reminder.
const (
	AnswerDone        = "done"
	AnswerStillNeeded = "still_needed"
	AnswerNotNeeded   = "not_needed"
)

const (
	collDue        = "handoff_due"
	collReminders  = "handoff_reminders"
	collUnanswered = "handoff_unanswered"
	collLinks      = "handoff_links"
	collTakes      = "handoff_takes"
)

// Errors of this package.
var (
	ErrLinkNotFound = fault.New(fault.NotFound, "link_not_found", "this street and association are not linked")
	ErrTooManyLinks = fault.New(fault.Conflict, "too_many_links", "too many links: remove one first")
	ErrNoLongerOpen = fault.New(fault.Conflict, "post_not_open", "this request is no longer waiting for help")
)

// Notifier queues a push to one user (push.Service).
type Notifier interface {
	Notify(ctx context.Context, n push.Note) error
}

// Accounts gives display names (auth.Service).
type Accounts interface {
	User(ctx context.Context, id string) (auth.Account, error)
}

// Service is the warm hand-off and "no wrong door".
type Service struct {
	due        *store.Collection
	reminders  *store.Collection
	unanswered *store.Collection
	links      *store.Collection
	takes      *store.Collection
	posts      *posts.Service
	streets    *streets.Service
	desks      *portineria.Service
	accounts   Accounts
	notifier   Notifier
	clock      clock.Clock
	log        *slog.Logger

	// backfillMu guards lastBackfill, when this process last scheduled
	// the live requests that had no check: a pace, not shared state (the
	// backfill inserts by _id and skips requests already reminded, so
	// two processes doing it at once schedule each check once).
	backfillMu   sync.Mutex
	lastBackfill time.Time
}

// backfillEvery is how often a process's sweep schedules the requests
// that have no check (see backfill).
const backfillEvery = 24 * time.Hour

// dueDoc is a check to make on a post at a time.
type dueDoc struct {
	ID       string    `bson:"_id"` // post:state
	PostID   string    `bson:"post_id"`
	StreetID string    `bson:"street_id"`
	State    string    `bson:"state"`
	At       time.Time `bson:"at"` // when due; a claim moves it (followups.ClaimFor)
	Tries    int       `bson:"tries,omitempty"`
}

// reminderDoc is a reminder sent (or being sent), and its answer.
type reminderDoc struct {
	ID         string     `bson:"_id"` // post:state
	PostID     string     `bson:"post_id"`
	StreetID   string     `bson:"street_id"`
	UserID     string     `bson:"user_id"`
	State      string     `bson:"state"`
	SentAt     time.Time  `bson:"sent_at"`
	Answer     string     `bson:"answer,omitempty"`
	AnsweredAt *time.Time `bson:"answered_at,omitempty"`
}

// New returns the service; notifier may be nil (reminders are then only
// recorded).
func New(st *store.Store, c clock.Clock, ps *posts.Service, sts *streets.Service, desks *portineria.Service, accounts Accounts, notifier Notifier, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		due: st.Collection(collDue), reminders: st.Collection(collReminders), unanswered: st.Collection(collUnanswered),
		links: st.Collection(collLinks), takes: st.Collection(collTakes),
		posts: ps, streets: sts, desks: desks, accounts: accounts, notifier: notifier, clock: c, log: log,
	}
}

// Indexes are this package's indexes: every hot read is by _id; these
// serve MongoDB deployments' list queries.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: collDue, Name: "at", Keys: bson.D{{Key: "at", Value: 1}}},
		{Collection: collUnanswered, Name: "street", Keys: bson.D{{Key: "street_id", Value: 1}, {Key: "created_at", Value: 1}}},
		{Collection: collLinks, Name: "street", Keys: bson.D{{Key: "street_id", Value: 1}}},
		{Collection: collLinks, Name: "association", Keys: bson.D{{Key: "association_id", Value: 1}}},
	}
}

func dueKey(postID, state string) string { return postID + ":" + state }

// OnEvent is the event-bus subscriber: a new request schedules its "open"
// check, a request becoming matched its "matched" check. It runs on the
// publisher's goroutine, in the publishing process, so it does one insert
// and returns; any process's sweep then finds the check in the database.
func (s *Service) OnEvent(e events.Event) {
	if e.Type != events.PostCreated && e.Type != events.PostUpdated {
		return
	}
	var d events.PostData
	if err := json.Unmarshal(e.Payload, &d); err != nil || d.ID == "" || d.Kind != posts.KindRequest {
		return
	}
	var it dueDoc
	switch {
	case e.Type == events.PostCreated && d.Status == posts.StatusOpen:
		it = dueDoc{State: StateOpen, At: d.CreatedAt.Add(OpenAfter)}
	case e.Type == events.PostUpdated && d.Status == posts.StatusMatched:
		it = dueDoc{State: StateMatched, At: e.At.Add(MatchedAfter)}
	default:
		return
	}
	it.ID, it.PostID, it.StreetID, it.At = dueKey(d.ID, it.State), d.ID, e.StreetID, it.At.UTC().Truncate(time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// A duplicate is an edit of a matched post: the first match decides.
	if _, err := s.due.InsertOne(ctx, it); err != nil && !store.IsDuplicate(err) {
		s.log.Error("handoff: schedule not persisted; the next backfill schedules it", "post", d.ID, "state", it.State, "err", err)
	}
}

// Sweep handles the checks that fell due: reminders to authors, and
// requests without replies onto the unanswered lists. Run it every minute,
// on one process or several: each check is acted on by the sweep that
// claimed it.
func (s *Service) Sweep(ctx context.Context) error {
	var errs []error
	if err := s.maybeBackfill(ctx); err != nil {
		errs = append(errs, err) // the due checks still go
	}
	if err := followups.Sweep(ctx, s.due, s.clock.Now().UTC(), s.handle); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// maybeBackfill runs the backfill on this process's first sweep and once
// every backfillEvery after.
func (s *Service) maybeBackfill(ctx context.Context) error {
	now := s.clock.Now()
	s.backfillMu.Lock()
	if !s.lastBackfill.IsZero() && now.Sub(s.lastBackfill) < backfillEvery {
		s.backfillMu.Unlock()
		return nil
	}
	prev := s.lastBackfill
	s.lastBackfill = now
	s.backfillMu.Unlock()
	if err := s.backfill(ctx); err != nil {
		s.backfillMu.Lock()
		if s.lastBackfill.Equal(now) {
			s.lastBackfill = prev // the next sweep tries again
		}
		s.backfillMu.Unlock()
		return err
	}
	return nil
}

// backfill gives every request still waiting its check: requests made
// before this code ran, or whose event found the database unwritable,
// were never scheduled. One scan of the live requests; a request whose
// check is done (its reminder claimed) costs one read by _id.
func (s *Service) backfill(ctx context.Context) error {
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := s.due.FindAll(ctx, bson.M{}, &ids, options.Find().SetProjection(bson.M{"_id": 1})); err != nil {
		return err
	}
	scheduled := make(map[string]bool, len(ids))
	for _, d := range ids {
		scheduled[d.ID] = true
	}
	added := 0
	err := s.posts.EachLiveRequest(ctx, func(rec posts.PostRecord) error {
		it := dueDoc{PostID: rec.ID, StreetID: rec.StreetID}
		switch {
		case rec.Status == posts.StatusOpen && rec.ReplyCount == 0:
			it.State, it.At = StateOpen, rec.CreatedAt.Add(OpenAfter)
		case rec.Status == posts.StatusMatched:
			at := rec.UpdatedAt
			if rec.MatchedAt != nil {
				at = *rec.MatchedAt
			}
			it.State, it.At = StateMatched, at.Add(MatchedAfter)
		default:
			return nil
		}
		it.ID, it.At = dueKey(rec.ID, it.State), it.At.UTC().Truncate(time.Millisecond)
		if scheduled[it.ID] {
			return nil
		}
		r, err := s.reminderOf(ctx, rec.ID, it.State)
		if err != nil || r != nil {
			return err
		}
		if _, err := s.due.InsertOne(ctx, it); err != nil {
			if store.IsDuplicate(err) {
				return nil
			}
			return err
		}
		added++
		return nil
	})
	if added > 0 {
		s.log.Info("handoff: unscheduled requests scheduled", "count", added)
	}
	return err
}

// handle makes one check: the post may have moved on meanwhile.
func (s *Service) handle(ctx context.Context, it dueDoc) error {
	rec, err := s.posts.Record(ctx, it.PostID)
	if posts.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Kind != posts.KindRequest {
		return nil
	}
	switch it.State {
	case StateOpen:
		if rec.Status != posts.StatusOpen || rec.ReplyCount > 0 {
			return nil
		}
		if err := s.markUnanswered(ctx, rec); err != nil {
			return err
		}
	case StateMatched:
		if rec.Status != posts.StatusMatched {
			return nil
		}
	default:
		return nil
	}
	return s.remind(ctx, rec, it.State)
}

// remind sends the author one reminder for the post in state: claimed by
// its _id first, released again if the push cannot be queued.
func (s *Service) remind(ctx context.Context, rec posts.PostRecord, state string) error {
	if rec.AuthorID == "" {
		return nil // the author's account is gone
	}
	if s.accounts != nil {
		if _, err := s.accounts.User(ctx, rec.AuthorID); errors.Is(err, auth.ErrUserNotFound) {
			return nil // nobody to ask
		} else if err != nil {
			return err
		}
	}
	key := dueKey(rec.ID, state)
	doc := reminderDoc{ID: key, PostID: rec.ID, StreetID: rec.StreetID, UserID: rec.AuthorID, State: state,
		SentAt: s.clock.Now().UTC().Truncate(time.Millisecond)}
	if _, err := s.reminders.InsertOne(ctx, doc); err != nil {
		if store.IsDuplicate(err) {
			return nil // sent already
		}
		return err
	}
	if s.notifier == nil {
		return nil
	}
	if err := s.notifier.Notify(ctx, note(rec, state)); err != nil {
		if _, derr := s.reminders.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": key}); derr != nil {
			s.log.Error("handoff: reminder claim kept after a failed push", "reminder", key, "err", derr)
		}
		return err
	}
	return nil
}

// reminderOf returns the reminder of a post in a state, if one was sent.
func (s *Service) reminderOf(ctx context.Context, postID, state string) (*reminderDoc, error) {
	var d reminderDoc
	err := s.reminders.FindOne(ctx, bson.M{"_id": dueKey(postID, state)}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}
