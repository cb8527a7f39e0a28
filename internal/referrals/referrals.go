// Package referrals is the desk sending a person to a place of the Locator,
// with a note, and asking some days later whether it helped.
//
// A volunteer of a Portinaio association refers either the author of a
// request the desk took on ("no wrong door": nobody answered it, a
// volunteer took it) or a roster member met at the desk. After the
// follow-up delay (Options.FollowUp, 7 days, or the days the volunteer
// chose) one push asks how it went: the resident when the request came
// from them, else the volunteer who made the referral (a roster member may
// have no smartphone; the volunteer calls them). The answer (helped, not
// helped, no answer) may also be recorded earlier, once, by the one asked
// or any volunteer of the association; the association's impact figures
// count referrals made, followed up and helped (Facts).
//
// Storage follows the hand-off: each referral is one document read by
// _id; the association's list and each user's "asked of me" list are
// journals (internal/journal) of referral ids, so no list scans a
// collection on the embedded engine. The follow-up falls due as one small
// document of referral_due (by the referral's _id), which the sweep claims
// by moving its time forward in a conditional update and deletes once
// acted on; the referral's own status moves open → asked in a second
// conditional update, so that of two sweeps (two processes, or a sweep
// after a restart) exactly one sends the push.
package referrals

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
	"civico/internal/fault"
	"civico/internal/journal"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/pseudonym"
	"civico/internal/push"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Statuses of a referral.
const (
	StatusOpen     = "open"     // made; the follow-up is not due yet
	StatusAsked    = "asked"    // the follow-up was sent, no answer yet
	StatusAnswered = "answered" // an outcome was recorded
)

// Outcomes of a referral.
const (
	OutcomeHelped    = "helped"
	OutcomeNotHelped = "not_helped"
	// OutcomeNoAnswer: the desk tried to follow up and got no answer.
	OutcomeNoAnswer = "no_answer"
)

// Who the follow-up asks.
const (
	AskResident  = "resident"  // the request's author
	AskVolunteer = "volunteer" // the volunteer who made the referral
)

// Bounds of the input.
const (
	MaxNote         = 1000
	MinFollowUpDays = 1
	MaxFollowUpDays = 60
	// DefaultFollowUp is Options.FollowUp when unset.
	DefaultFollowUp = 7 * 24 * time.Hour
)

const (
	collReferrals = "referrals"
	collDue       = "referral_due"
	collJournals  = "referral_journals"
)

// Errors of this package.
var (
	ErrReferralNotFound = fault.New(fault.NotFound, "referral_not_found", "referral not found")
	ErrAnswered         = fault.New(fault.Conflict, "referral_answered", "this referral's outcome was recorded already")
	ErrBadCursor        = fault.New(fault.BadRequest, "bad_cursor", "the cursor is not valid")
)

// Places names a place of the Locator: its name, or ErrUnknownPlace.
// internal/app adapts locator.Service's Get to it, so that this package
// does not depend on the Locator's insides.
type Places interface {
	PlaceName(ctx context.Context, id string) (string, error)
}

// ErrUnknownPlace is what Places answers for a place that does not exist.
var ErrUnknownPlace = errors.New("referrals: no such place")

// Posts reads a request as the desk sees it (posts.Service).
type Posts interface {
	Record(ctx context.Context, postID string) (posts.PostRecord, error)
}

// Desks tells who is on an association's staff and reads its roster
// (portineria.Service).
type Desks interface {
	RoleOf(ctx context.Context, aid, userID string) (portineria.Role, error)
	GetMember(ctx context.Context, p auth.Principal, aid, mid string, year int) (portineria.Member, error)
}

// Links tells which associations a street is linked to (handoff.Service).
type Links interface {
	LinkedAssociations(ctx context.Context, streetID string) ([]string, error)
}

// Notifier queues a push to one user (push.Service).
type Notifier interface {
	Notify(ctx context.Context, n push.Note) error
}

// Deps are the services referrals rely on. Links and Notifier may be nil:
// without Links a request the desk did not take is "unknown" rather than
// "not_taken"; without Notifier follow-ups are only recorded (the one asked
// finds them under GET /me/referrals).
type Deps struct {
	Places   Places
	Posts    Posts
	Desks    Desks
	Links    Links
	Notifier Notifier
}

// Options tune the service.
type Options struct {
	// FollowUp is how long after a referral the follow-up is asked, when
	// the volunteer did not choose a number of days (0: DefaultFollowUp).
	FollowUp time.Duration
}

// Service keeps the referrals.
type Service struct {
	st       *store.Store
	refs     *store.Collection
	due      *store.Collection
	lists    *journal.Journal[string]
	cursors  *cursor.Signer
	deps     Deps
	clock    clock.Clock
	log      *slog.Logger
	followUp time.Duration
}

// referralDoc is one referral.
type referralDoc struct {
	ID            bson.ObjectID `bson:"_id"`
	AssociationID string        `bson:"association_id"`
	PlaceID       string        `bson:"place_id"`
	PlaceName     string        `bson:"place_name"` // as it was when referred
	PostID        string        `bson:"post_id,omitempty"`
	StreetID      string        `bson:"street_id,omitempty"`
	MemberID      string        `bson:"member_id,omitempty"`
	// UserID is the resident referred (the request's author); "" for a
	// roster member, and once the resident deleted their account.
	UserID string `bson:"user_id,omitempty"`
	// Person is who the figures count: "user:<id>" or "member:<id>"; a
	// deleted account's becomes "user:<pseudonym>".
	Person string `bson:"person"`
	By     string `bson:"by"` // the volunteer; "" once their account is gone
	Note   string `bson:"note,omitempty"`
	// Ask is AskResident or AskVolunteer; AskUserID the account asked
	// ("" once it was deleted: nobody to push to).
	Ask        string     `bson:"ask"`
	AskUserID  string     `bson:"ask_user_id"`
	FollowUpAt time.Time  `bson:"follow_up_at"`
	Status     string     `bson:"status"`
	AskedAt    *time.Time `bson:"asked_at,omitempty"`
	Outcome    string     `bson:"outcome,omitempty"`
	AnsweredBy string     `bson:"answered_by,omitempty"`
	AnsweredAt *time.Time `bson:"answered_at,omitempty"`
	CreatedAt  time.Time  `bson:"created_at"`
}

// dueDoc is a follow-up to ask at a time.
type dueDoc struct {
	ID    string    `bson:"_id"` // the referral's id
	At    time.Time `bson:"at"`  // when due; a claim moves it (followups.ClaimFor)
	Tries int       `bson:"tries,omitempty"`
}

// Referral is a referral as the association's volunteers, the one asked
// and the resident concerned see it.
type Referral struct {
	ID            string `json:"id"`
	AssociationID string `json:"association_id"`
	PlaceID       string `json:"place_id"`
	PlaceName     string `json:"place_name"`
	PostID        string `json:"post_id,omitempty"`
	StreetID      string `json:"street_id,omitempty"`
	MemberID      string `json:"member_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	// ByUserID is the volunteer who made it; shown to the staff only.
	ByUserID   string     `json:"by_user_id,omitempty"`
	Note       string     `json:"note"`
	FollowUpTo string     `json:"follow_up_to"`
	FollowUpAt time.Time  `json:"follow_up_at"`
	Status     string     `json:"status"`
	AskedAt    *time.Time `json:"asked_at,omitempty"`
	Outcome    string     `json:"outcome,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	// Outcomes are the answers the caller may give now: none once answered.
	Outcomes  []string  `json:"outcomes"`
	CreatedAt time.Time `json:"created_at"`
}

// New returns the service.
func New(ctx context.Context, st *store.Store, c clock.Clock, deps Deps, log *slog.Logger, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.FollowUp <= 0 {
		opts.FollowUp = DefaultFollowUp
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, refs: st.Collection(collReferrals), due: st.Collection(collDue),
		lists: journal.New[string](st, collJournals, 256), cursors: cs, deps: deps, clock: c, log: log,
		followUp: opts.FollowUp}, nil
}

// Indexes are this package's indexes: every hot read is by _id; these
// serve MongoDB deployments' sweep and account queries.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: collDue, Name: "at", Keys: bson.D{{Key: "at", Value: 1}}},
		{Collection: collReferrals, Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
		{Collection: collReferrals, Name: "by", Keys: bson.D{{Key: "by", Value: 1}}},
		{Collection: collReferrals, Name: "ask_user", Keys: bson.D{{Key: "ask_user_id", Value: 1}}},
	}
}

// Journal keys: an association's referrals, and those whose follow-up
// asks a user.
func assocKey(aid string) string  { return "assoc:" + aid }
func askKey(userID string) string { return "ask:" + userID }

// NewReferral is what a volunteer sends: the place, and exactly one of the
// request taken by the desk or the roster member met at the desk.
type NewReferral struct {
	PlaceID  string
	PostID   string
	MemberID string
	Note     string
	// FollowUpDays, when set, replaces Options.FollowUp.
	FollowUpDays *int
}

// check validates the input on its own, before anything is read. It
// returns the cleaned note.
func (in NewReferral) check() (string, error) {
	note := strings.TrimSpace(in.Note)
	f := fault.Fields{}
	idField(f, "place_id", in.PlaceID, true)
	switch {
	case in.PostID != "" && in.MemberID != "":
		f.Add("member_id", "conflict") // one person per referral
	case in.PostID == "" && in.MemberID == "":
		f.Add("post_id", "required")
	default:
		idField(f, "post_id", in.PostID, false)
		idField(f, "member_id", in.MemberID, false)
	}
	switch {
	case note == "":
		f.Add("note", "required")
	case !utf8.ValidString(note):
		f.Add("note", "invalid")
	case utf8.RuneCountInString(note) > MaxNote:
		f.Add("note", "too_long")
	}
	if d := in.FollowUpDays; d != nil && (*d < MinFollowUpDays || *d > MaxFollowUpDays) {
		f.Add("follow_up_days", "out_of_range")
	}
	return note, f.Err()
}

func idField(f fault.Fields, field, v string, required bool) {
	if v == "" {
		f.Check(required, field, "required")
		return
	}
	_, ok := store.ID(v)
	f.Check(!ok, field, "invalid")
}

// staff checks that p is on the association's staff (any role) and
// returns the association's id in its one spelling, which keys its list;
// the association's NotFound for anyone else.
func (s *Service) staff(ctx context.Context, p auth.Principal, aid string) (string, error) {
	oid, ok := store.ID(aid)
	if !ok || p.UserID == "" {
		return "", portineria.ErrAssociationNotFound
	}
	aid = oid.Hex()
	role, err := s.deps.Desks.RoleOf(ctx, aid, p.UserID)
	if err != nil {
		return "", err
	}
	if role == "" {
		return "", portineria.ErrAssociationNotFound
	}
	return aid, nil
}

// Create is a volunteer of the association referring a person to a place.
//
// A request qualifies when this association's desk took it on (the post
// carries the desk's note, written by handoff.Take): that is "the desk
// takes a request nobody answered", and Take already checked that the
// street is linked to the association and that the volunteer is on its
// staff, so the referral needs no second look at the link, and still
// stands if the link is later undone. A request of a linked street the
// desk has not taken is refused as "not_taken" (take it first); any other
// is "unknown", as the volunteer may not see it. The resident referred is
// the request's author, unless a volunteer wrote it for a roster member
// (posts.OnBehalf): then the member is referred and the volunteer asked.
func (s *Service) Create(ctx context.Context, p auth.Principal, aid string, in NewReferral) (Referral, error) {
	aid, err := s.staff(ctx, p, aid)
	if err != nil {
		return Referral{}, err
	}
	note, err := in.check()
	if err != nil {
		return Referral{}, err
	}
	placeID, _ := store.ID(in.PlaceID) // checked: one spelling of the id
	placeName, err := s.deps.Places.PlaceName(ctx, placeID.Hex())
	if errors.Is(err, ErrUnknownPlace) {
		return Referral{}, fault.Validation("place_id", "unknown")
	}
	if err != nil {
		return Referral{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	d := referralDoc{ID: bson.NewObjectID(), AssociationID: aid, PlaceID: placeID.Hex(), PlaceName: placeName, By: p.UserID,
		Note: note, Status: StatusOpen, CreatedAt: now}
	if in.PostID != "" {
		if err := s.fromRequest(ctx, aid, in.PostID, &d); err != nil {
			return Referral{}, err
		}
	} else {
		m, err := s.deps.Desks.GetMember(ctx, p, aid, in.MemberID, 0)
		if errors.Is(err, portineria.ErrMemberNotFound) || err == nil && m.Erased {
			return Referral{}, fault.Validation("member_id", "unknown")
		}
		if err != nil {
			return Referral{}, err
		}
		d.MemberID, d.Person = m.ID, "member:"+m.ID
	}
	if d.Ask == "" {
		d.Ask, d.AskUserID = AskVolunteer, p.UserID
	}
	after := s.followUp
	if in.FollowUpDays != nil {
		after = time.Duration(*in.FollowUpDays) * 24 * time.Hour
	}
	d.FollowUpAt = now.Add(after)
	if err := s.store(ctx, d); err != nil {
		return Referral{}, err
	}
	return view(d, true, p.UserID), nil
}

// fromRequest fills in the person of a referral made from a request.
func (s *Service) fromRequest(ctx context.Context, aid, postID string, d *referralDoc) error {
	rec, err := s.deps.Posts.Record(ctx, postID)
	if posts.IsNotFound(err) {
		return fault.Validation("post_id", "unknown")
	}
	if err != nil {
		return err
	}
	if rec.Kind != posts.KindRequest || rec.Status == posts.StatusRemoved {
		return fault.Validation("post_id", "unknown")
	}
	if rec.Desk == nil || rec.Desk.AssociationID != aid {
		if s.deps.Links != nil {
			aids, err := s.deps.Links.LinkedAssociations(ctx, rec.StreetID)
			if err != nil {
				return err
			}
			for _, a := range aids {
				if a == aid {
					return fault.Validation("post_id", "not_taken")
				}
			}
		}
		return fault.Validation("post_id", "unknown")
	}
	d.PostID, d.StreetID = rec.ID, rec.StreetID
	switch {
	case rec.OnBehalf != nil && rec.OnBehalf.MemberID != "":
		d.MemberID, d.Person = rec.OnBehalf.MemberID, "member:"+rec.OnBehalf.MemberID
	case rec.AuthorID == "" || pseudonym.Is(rec.AuthorID):
		return fault.Validation("post_id", "unknown") // the author's account is gone
	default:
		d.UserID, d.Person = rec.AuthorID, "user:"+rec.AuthorID
		d.Ask, d.AskUserID = AskResident, rec.AuthorID
	}
	return nil
}

// store writes a new referral: the document, its follow-up, then the
// lists. A failure part way removes what it wrote (a list entry, which
// cannot be removed, points at nothing and is skipped when read).
func (s *Service) store(ctx context.Context, d referralDoc) error {
	if _, err := s.refs.InsertOne(ctx, d); err != nil {
		return err
	}
	id := d.ID.Hex()
	undo := func(err error, due bool) error {
		ctx := context.WithoutCancel(ctx)
		if due {
			if _, derr := s.due.DeleteOne(ctx, bson.M{"_id": id}); derr != nil {
				s.log.Error("referrals: follow-up left after a failed referral", "referral", id, "err", derr)
			}
		}
		if _, derr := s.refs.DeleteOne(ctx, bson.M{"_id": d.ID}); derr != nil {
			s.log.Error("referrals: referral left after a failure", "referral", id, "err", derr)
		}
		return err
	}
	if _, err := s.due.InsertOne(ctx, dueDoc{ID: id, At: d.FollowUpAt}); err != nil {
		return undo(err, false)
	}
	if _, err := s.lists.Append(ctx, assocKey(d.AssociationID), id); err != nil {
		return undo(err, true)
	}
	if _, err := s.lists.Append(ctx, askKey(d.AskUserID), id); err != nil {
		return undo(err, true)
	}
	return nil
}

// load reads a referral by id; ErrReferralNotFound when there is none.
func (s *Service) load(ctx context.Context, id string) (referralDoc, error) {
	oid, ok := store.ID(id)
	if !ok {
		return referralDoc{}, ErrReferralNotFound
	}
	var d referralDoc
	err := s.refs.FindOne(ctx, bson.M{"_id": oid}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return referralDoc{}, ErrReferralNotFound
	}
	return d, err
}

// access loads a referral for p: the association's staff, the one asked
// and the resident referred see it; anyone else is told it does not exist.
// staff says whether p is on the association's staff.
func (s *Service) access(ctx context.Context, p auth.Principal, id string) (d referralDoc, staff bool, err error) {
	if p.UserID == "" {
		return referralDoc{}, false, ErrReferralNotFound
	}
	if d, err = s.load(ctx, id); err != nil {
		return referralDoc{}, false, err
	}
	role, err := s.deps.Desks.RoleOf(ctx, d.AssociationID, p.UserID)
	if err != nil && !errors.Is(err, portineria.ErrAssociationNotFound) {
		return referralDoc{}, false, err
	}
	staff = role != ""
	if !staff && d.AskUserID != p.UserID && d.UserID != p.UserID {
		return referralDoc{}, false, ErrReferralNotFound
	}
	return d, staff, nil
}

// Get returns one referral to the association's staff, the one asked, or
// the resident referred.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Referral, error) {
	d, staff, err := s.access(ctx, p, id)
	if err != nil {
		return Referral{}, err
	}
	return view(d, staff, p.UserID), nil
}

// Outcome records how the referral went, once: by the one asked or any
// volunteer of the association, before the follow-up as well (the person
// may tell the desk first). A second answer, even at the same moment on
// another process, gets ErrAnswered: the conditional update on the status
// lets one through.
func (s *Service) Outcome(ctx context.Context, p auth.Principal, id, outcome string) (Referral, error) {
	switch outcome {
	case OutcomeHelped, OutcomeNotHelped, OutcomeNoAnswer:
	case "":
		return Referral{}, fault.Validation("outcome", "required")
	default:
		return Referral{}, fault.Validation("outcome", "invalid")
	}
	d, staff, err := s.access(ctx, p, id)
	if err != nil {
		return Referral{}, err
	}
	if d.Status == StatusAnswered {
		return Referral{}, ErrAnswered
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	r, err := s.refs.UpdateOne(ctx, bson.M{"_id": d.ID, "status": bson.M{"$in": bson.A{StatusOpen, StatusAsked}}},
		bson.M{"$set": bson.M{"status": StatusAnswered, "outcome": outcome, "answered_by": p.UserID, "answered_at": now}})
	if err != nil {
		return Referral{}, err
	}
	if r.MatchedCount == 0 {
		return Referral{}, ErrAnswered
	}
	// Answered before the follow-up: it need not be asked. Should this
	// fail, the sweep finds the referral answered and drops the check.
	if d.Status == StatusOpen {
		if _, err := s.due.DeleteOne(ctx, bson.M{"_id": d.ID.Hex()}); err != nil {
			s.log.Warn("referrals: follow-up of an answered referral kept", "referral", d.ID.Hex(), "err", err)
		}
	}
	d.Status, d.Outcome, d.AnsweredBy, d.AnsweredAt = StatusAnswered, outcome, p.UserID, &now
	return view(d, staff, p.UserID), nil
}

// outcomes are the answers a referral takes while unanswered.
func outcomes(status string) []string {
	if status == StatusAnswered {
		return []string{}
	}
	return []string{OutcomeHelped, OutcomeNotHelped, OutcomeNoAnswer}
}

// view is the referral as viewer sees it; staff says viewer is on the
// association's staff.
func view(d referralDoc, staff bool, viewer string) Referral {
	r := Referral{ID: d.ID.Hex(), AssociationID: d.AssociationID, PlaceID: d.PlaceID, PlaceName: d.PlaceName,
		PostID: d.PostID, StreetID: d.StreetID, MemberID: d.MemberID, UserID: d.UserID, Note: d.Note,
		FollowUpTo: d.Ask, FollowUpAt: d.FollowUpAt.UTC(), Status: d.Status, AskedAt: utcPtr(d.AskedAt),
		Outcome: d.Outcome, AnsweredAt: utcPtr(d.AnsweredAt), Outcomes: []string{}, CreatedAt: d.CreatedAt.UTC()}
	if staff {
		r.ByUserID = d.By
	}
	if staff || viewer != "" && (d.AskUserID == viewer || d.UserID == viewer) {
		r.Outcomes = outcomes(d.Status)
	}
	return r
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
