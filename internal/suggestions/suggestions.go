// Package suggestions keeps the Locator true: a signed-in resident suggests
// a new place or reports an inaccuracy on an entry; the suggestion waits in
// the queue of the association that keeps the place (or the one named for
// a new place); one of its volunteers accepts it (the change goes through
// the locator, which records who, when and which suggestion in the place's
// history) or declines it with a reason; the author sees the decision.
//
// Storage follows the embedded engine's one rule, that only an `_id`
// equality is answered without reading the whole collection: a suggestion
// is one document read by _id; the association's queue and the author's
// list are append-only lists of suggestion ids (internal/journal), read
// newest first by position, the status filter applied in Go. An id is
// appended to both lists before its document is inserted, so an
// acknowledged suggestion is always in its queue; a list entry whose
// document never came (a failed insert) is skipped by readers.
//
// A decision is one conditional update of the suggestion on its status, so
// two volunteers deciding at once cannot both win. Accepting also changes a
// place, in another collection: the accept first claims the suggestion
// (status "accepting" with a claim that runs out after claimFor), then
// changes the place, then records the decision under that claim. If the
// change is refused (the place is gone, the changes are not valid) the
// claim is given back and the suggestion is pending again. A process that
// dies between the two leaves a claim that runs out; until then the
// suggestion shows as pending and deciding it answers suggestion_decided.
// If it died after changing the place, a later accept makes the change
// again: an update sets the same values once more (one more line in the
// history), a new place would be created twice, which a volunteer then
// deletes. The locator offers no write this could be made one with.
package suggestions

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/journal"
	"civico/internal/locator"
	"civico/internal/portineria"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Kinds of suggestion.
const (
	KindNewPlace = "new_place" // a place the map does not have
	KindReport   = "report"    // something wrong or missing in an entry
)

// Statuses of a suggestion, as clients see them.
const (
	StatusPending  = "pending"
	StatusAccepted = "accepted"
	StatusDeclined = "declined"
	// StatusWithdrawn: the author's account was deleted while it waited;
	// its words went with the account, nothing is left to decide.
	StatusWithdrawn = "withdrawn"
	// statusAccepting is a pending suggestion a volunteer's accept has
	// claimed; clients see it as pending.
	statusAccepting = "accepting"
)

// Statuses lists the statuses a list may be filtered by.
var Statuses = []string{StatusPending, StatusAccepted, StatusDeclined, StatusWithdrawn}

// Limits of the inputs.
const (
	MaxTextLen   = 2000
	MaxReasonLen = 500
	// MaxChangesBytes bounds the proposed changes, as JSON.
	MaxChangesBytes = 16 << 10
	// DefaultPerDay bounds the suggestions one user makes in 24 hours.
	DefaultPerDay = 20
)

// Errors of this package.
var (
	ErrSuggestionNotFound = fault.New(fault.NotFound, "suggestion_not_found", "suggestion not found")
	ErrDecided            = fault.New(fault.Conflict, "suggestion_decided", "this suggestion has already been decided")
	ErrRateLimited        = fault.New(fault.RateLimited, "rate_limited", "too many suggestions today, try again later")
	ErrBadCursor          = cursor.ErrInvalid
)

const (
	collSuggestions = "suggestions"
	collLists       = "suggestion_lists"
	// listChunk is how many ids one list document holds.
	listChunk = 128
	// claimFor is how long an accept holds the suggestion while it
	// changes the place (one locator write); past it, a claim left by a
	// process that died falls back to pending.
	claimFor = 2 * time.Minute
	// examineBudget bounds the suggestions one page reads: a filter that
	// matches little ends the page early, with a cursor to go on.
	examineBudget = 300
)

// Places is what the package needs of the locator (locator.Service).
type Places interface {
	Create(ctx context.Context, p auth.Principal, aid string, in locator.Input, via string) (locator.Place, error)
	Update(ctx context.Context, p auth.Principal, id string, in locator.Input, via string) (locator.Place, error)
	Get(ctx context.Context, id string) (locator.Place, error)
	// CanKeep is nil for a volunteer of the association, else
	// portineria.ErrAssociationNotFound.
	CanKeep(ctx context.Context, p auth.Principal, aid string) error
}

// Desks finds an association's public face (portineria.Service).
type Desks interface {
	Lookup(ctx context.Context, aid string) (portineria.Association, error)
}

// Accounts gives the authors' names (auth.Service).
type Accounts interface {
	User(ctx context.Context, id string) (auth.Account, error)
}

// Options tune the service.
type Options struct {
	// PerDay bounds the suggestions one user makes in 24 hours, counted
	// across every process (0: DefaultPerDay, negative: no limit).
	PerDay int
}

// Service keeps the suggestions.
type Service struct {
	coll     *store.Collection
	lists    *journal.Journal[string]
	places   Places
	desks    Desks
	accounts Accounts
	cursors  *cursor.Signer
	limit    *ratelimit.Limiter
	clock    clock.Clock
	log      *slog.Logger
}

// New returns the service over st.
func New(ctx context.Context, st *store.Store, places Places, desks Desks, accounts Accounts, c clock.Clock, log *slog.Logger, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	perDay := opts.PerDay
	switch {
	case perDay == 0:
		perDay = DefaultPerDay
	case perDay < 0:
		perDay = 0 // ratelimit: no limit
	}
	return &Service{
		coll: st.Collection(collSuggestions), lists: journal.New[string](st, collLists, listChunk),
		places: places, desks: desks, accounts: accounts, cursors: cs,
		limit: ratelimit.New(st, "suggestion", perDay, 24*time.Hour, c), clock: c, log: log,
	}, nil
}

// Indexes are this package's indexes: none, as every read is by _id.
func Indexes() []store.Index { return nil }

// doc is a suggestion as stored. Changes and Applied are locator.Input as
// compact JSON (only the fields given): the API's form, which stays
// readable whatever becomes of the Go types.
type doc struct {
	ID              bson.ObjectID `bson:"_id"`
	Kind            string        `bson:"kind"`
	AssociationID   string        `bson:"association_id"`
	AssociationName string        `bson:"association_name"`
	PlaceID         string        `bson:"place_id,omitempty"`
	PlaceName       string        `bson:"place_name,omitempty"`
	AuthorID        string        `bson:"author_id,omitempty"`
	AuthorName      string        `bson:"author_name,omitempty"`
	Text            string        `bson:"text"`
	Changes         string        `bson:"changes,omitempty"`
	Status          string        `bson:"status"`
	CreatedAt       time.Time     `bson:"created_at"`
	Claim           string        `bson:"claim,omitempty"`
	ClaimUntil      *time.Time    `bson:"claim_until,omitempty"`
	DecidedAt       *time.Time    `bson:"decided_at,omitempty"`
	DecidedBy       string        `bson:"decided_by,omitempty"`
	Reason          string        `bson:"reason,omitempty"`
	Applied         string        `bson:"applied,omitempty"`
	Erased          bool          `bson:"erased,omitempty"`
}

// Suggestion is a suggestion as its author or the association's
// volunteers see it.
type Suggestion struct {
	ID              string `json:"id"`
	Kind            string `json:"kind"`
	AssociationID   string `json:"association_id"`
	AssociationName string `json:"association_name"`
	// PlaceID is the place reported on, or the place an accepted new-place
	// suggestion created.
	PlaceID   string `json:"place_id,omitempty"`
	PlaceName string `json:"place_name,omitempty"`
	// Author is shown to volunteers only: first name and initial, never
	// an email; empty once the author's account was deleted.
	Author string `json:"author,omitempty"`
	Text   string `json:"text"`
	// Changes are the fields the author proposes (locator.Input's JSON).
	Changes   json.RawMessage `json:"changes,omitempty"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
	DecidedAt *time.Time      `json:"decided_at,omitempty"`
	// Reason is the volunteer's word on the decision (required to decline).
	Reason string `json:"reason,omitempty"`
	// Applied are the changes made to the place on accepting (the
	// volunteer's, else the author's); absent when nothing was changed.
	Applied json.RawMessage `json:"applied,omitempty"`
}

func (d *doc) view(volunteer bool) Suggestion {
	v := Suggestion{ID: d.ID.Hex(), Kind: d.Kind, AssociationID: d.AssociationID, AssociationName: d.AssociationName,
		PlaceID: d.PlaceID, PlaceName: d.PlaceName, Text: d.Text, Status: d.Status, CreatedAt: d.CreatedAt,
		DecidedAt: d.DecidedAt, Reason: d.Reason}
	if v.Status == statusAccepting {
		v.Status = StatusPending
	}
	if volunteer {
		v.Author = d.AuthorName
	}
	if d.Changes != "" {
		v.Changes = json.RawMessage(d.Changes)
	}
	if d.Applied != "" {
		v.Applied = json.RawMessage(d.Applied)
	}
	return v
}

// now is the clock's time at the precision the database keeps.
func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Millisecond).UTC() }

// NewSuggestion is what a resident sends: PlaceID for a report on an
// entry, else AssociationID for a new place; Changes optionally proposes
// the entry's new fields.
type NewSuggestion struct {
	PlaceID       string
	AssociationID string
	Text          string
	Changes       *locator.Input
}

func queueKey(aid string) string     { return "a:" + aid }
func authorKey(userID string) string { return "u:" + userID }

// Suggest files a suggestion in the association's queue. Anyone signed in
// may; bad input is refused before it counts against the daily limit.
func (s *Service) Suggest(ctx context.Context, p auth.Principal, in NewSuggestion) (Suggestion, error) {
	if p.UserID == "" {
		return Suggestion{}, fault.New(fault.Unauthorized, "unauthorized", "sign in to suggest a change")
	}
	text := wording.Text(in.Text)
	placeID, aid := strings.TrimSpace(in.PlaceID), strings.TrimSpace(in.AssociationID)
	f := fault.Fields{}
	checkText(f, "text", text, true, MaxTextLen)
	f.Check(placeID == "" && aid == "", "association_id", "required")
	changes := checkChanges(f, in.Changes)
	if err := f.Err(); err != nil {
		return Suggestion{}, err
	}

	d := doc{Kind: KindNewPlace, Text: text, Changes: changes, Status: StatusPending, AuthorID: p.UserID}
	if placeID != "" {
		pl, err := s.places.Get(ctx, placeID)
		if err != nil {
			return Suggestion{}, err
		}
		if aid != "" && !sameID(aid, pl.AssociationID) {
			return Suggestion{}, fault.Validation("association_id", "mismatch")
		}
		d.Kind, d.PlaceID, d.PlaceName, aid = KindReport, pl.ID, pl.Name, pl.AssociationID
	}
	a, err := s.desks.Lookup(ctx, aid)
	if err != nil {
		return Suggestion{}, err
	}
	d.AssociationID, d.AssociationName = a.ID, a.Name
	acc, err := s.accounts.User(ctx, p.UserID)
	if err != nil {
		return Suggestion{}, err
	}
	d.AuthorName = shortName(acc.Name)

	ok, wait, err := s.limit.Allow(ctx, p.UserID)
	if err != nil {
		s.log.Warn("suggestions: rate limit counter", "err", err)
	}
	if !ok {
		return Suggestion{}, ErrRateLimited.WithRetry(wait)
	}

	d.ID, d.CreatedAt = bson.NewObjectID(), s.now()
	// Lists first, then the document: an acknowledged suggestion is
	// always in its queue (see the package comment).
	if _, err := s.lists.Append(ctx, queueKey(d.AssociationID), d.ID.Hex()); err != nil {
		return Suggestion{}, err
	}
	if _, err := s.lists.Append(ctx, authorKey(p.UserID), d.ID.Hex()); err != nil {
		return Suggestion{}, err
	}
	if _, err := s.coll.InsertOne(ctx, d); err != nil {
		return Suggestion{}, err
	}
	return d.view(false), nil
}

// load reads a suggestion by its hex id; a malformed id is not found.
func (s *Service) load(ctx context.Context, id string) (*doc, error) {
	oid, ok := store.ID(id)
	if !ok {
		return nil, ErrSuggestionNotFound
	}
	var d doc
	if err := s.coll.FindOne(ctx, bson.M{"_id": oid}, &d); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrSuggestionNotFound
		}
		return nil, err
	}
	return &d, nil
}

// sameID compares two hex ids whatever their letter case.
func sameID(a, b string) bool { return strings.EqualFold(a, b) }

// checkText validates free text that may hold line breaks, shown to
// others as someone's words (see wording).
func checkText(f fault.Fields, field, v string, required bool, maxLen int) {
	switch {
	case required && v == "":
		f.Add(field, "required")
	case utf8.RuneCountInString(v) > maxLen:
		f.Add(field, "too_long")
	default:
		if problem := wording.Problem(v); problem != "" {
			f.Add(field, problem)
		}
	}
}

// checkChanges looks at what a resident proposes as far as a volunteer
// will read it in the queue: kinds and targets from the locator's lists,
// hours that parse, coordinates on the Earth, text without hidden
// characters, a bounded size. The locator validates the rest (lengths,
// formats) when a volunteer applies them. It returns the changes as
// compact JSON, "" for none.
func checkChanges(f fault.Fields, in *locator.Input) string {
	if in == nil {
		return ""
	}
	if in.Kind != nil && !slices.Contains(locator.Kinds, *in.Kind) {
		f.Add("changes.kind", "invalid")
	}
	if in.Targets != nil {
		for _, t := range *in.Targets {
			if !slices.Contains(locator.Targets, t) {
				f.Add("changes.targets", "invalid")
			}
		}
	}
	if in.Hours != nil {
		if err := in.Hours.Validate(); err != nil {
			f.Add("changes.hours", "invalid")
		}
	}
	f.Check(in.Lat != nil && !(*in.Lat >= -90 && *in.Lat <= 90), "changes.lat", "out_of_range")
	f.Check(in.Lng != nil && !(*in.Lng >= -180 && *in.Lng <= 180), "changes.lng", "out_of_range")
	texts := map[string]*string{"changes.name": in.Name, "changes.description": in.Description, "changes.address": in.Address,
		"changes.area": in.Area, "changes.time_zone": in.TimeZone, "changes.accessibility": in.Accessibility}
	if in.Contacts != nil {
		texts["changes.contacts.phone"], texts["changes.contacts.email"], texts["changes.contacts.web"] = &in.Contacts.Phone, &in.Contacts.Email, &in.Contacts.Web
	}
	for field, v := range texts {
		if v != nil {
			if problem := wording.Problem(*v); problem != "" {
				f.Add(field, problem)
			}
		}
	}
	if len(f) > 0 {
		return ""
	}
	out, err := encodeInput(in)
	if err != nil {
		f.Add("changes", "invalid")
		return ""
	}
	f.Check(len(out) > MaxChangesBytes, "changes", "too_large")
	return out
}

// encodeInput is in's JSON with only the fields given (keys sorted), ""
// when none is.
func encodeInput(in *locator.Input) (string, error) {
	if in == nil {
		return "", nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	for k, v := range m {
		if string(v) == "null" {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return "", nil
	}
	b, err = json.Marshal(m)
	return string(b), err
}

// decodeInput reads back what encodeInput wrote.
func decodeInput(s string) (locator.Input, error) {
	var in locator.Input
	if s == "" {
		return in, nil
	}
	err := json.Unmarshal([]byte(s), &in)
	return in, err
}

// maxNameRunes bounds a first name as volunteers see it.
const maxNameRunes = 24

// shortName is how volunteers see an author: first name and the initial
// of the last word ("Anna Verdi" → "Anna V."), never a surname or email.
func shortName(full string) string {
	fs := strings.Fields(full)
	if len(fs) == 0 {
		return ""
	}
	first := fs[0]
	if utf8.RuneCountInString(first) > maxNameRunes {
		first = string([]rune(first)[:maxNameRunes-1]) + "…"
	}
	if len(fs) == 1 {
		return first
	}
	r, _ := utf8.DecodeRuneInString(fs[len(fs)-1])
	if !unicode.IsLetter(r) {
		return first
	}
	return first + " " + string(unicode.ToUpper(r)) + "."
}
