// Package locator is the neighbourhood's map of services and organisations
// (health and social services, support for older people, libraries, parks…):
// places kept by the associations' volunteers, searched by anyone, kept true
// by residents' suggestions that a volunteer accepts or declines.
//
// Storage. The embedded FerretDB answers only an `_id` equality without
// reading the whole collection, and several processes share one database,
// so nothing here filters a collection by any other field and nothing is
// kept in memory between requests:
//
//   - a place is one document by `_id` (collection places); every change is
//     a `$set` of the changed fields conditional on the stored version
//     (`{_id, version}` → MatchedCount), re-applied to the fresh document
//     and retried when another writer got there first, so two concurrent
//     changes both apply (or the caller gets place_busy after a few tries);
//   - search reads a compact record of each place (folded words, kind,
//     area, targets, coordinates, hours, time zone, verified_at) from a few
//     shard documents addressed by `_id` (collection place_search): one
//     shard per kind and hash bucket of the place id, holding a map id →
//     record. A search reads the shards its filter needs (2 for a kind, all
//     28 without), filters and sorts in Go, and reads only the page's places
//     by `_id`. Its cost grows with the places of the kinds asked for, never
//     with the rest of the database; a single sub-document `$set` per change
//     keeps several writers apart, and each record carries the place's
//     version, written only over an older one, so writes arriving out of
//     order never bring back an old record. A place that leaves a shard
//     (deleted, or moved to another kind) leaves a tombstone there with its
//     version, for the same reason; tombstones are a few bytes each.
//   - the history of each place is an ordered journal keyed by the place id
//     (internal/journal), read newest first by position. It keeps user ids;
//     names are resolved at read time. So that erasing an account can find
//     the histories it appears in without a scan, each author's changes are
//     also listed in a journal keyed by the user; Erase blanks the user's id
//     in those histories and removes that list.
package locator

import (
	"context"
	"log/slog"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/fault"
	"civico/internal/hours"
	"civico/internal/journal"
	"civico/internal/portineria"
	"civico/internal/store"
)

// Kinds are the kinds of place, one list for the whole map.
var Kinds = []string{"health", "social_services", "elderly", "families", "youth", "culture", "sport",
	"library", "school", "worship", "shop", "public_service", "green_space", "other"}

// Targets are the people a place is for.
var Targets = []string{"everyone", "elderly", "families", "children", "youth", "adults", "women",
	"migrants", "disabled", "carers"}

// Errors of this package.
var (
	// ErrPlaceNotFound is the answer for an unknown place, and for a place
	// the caller may not keep.
	ErrPlaceNotFound = fault.New(fault.NotFound, "place_not_found", "place not found")
	// ErrPlaceBusy: others kept changing the place while this change was
	// being applied; trying again works.
	ErrPlaceBusy = fault.New(fault.Conflict, "place_busy", "the place is being changed by someone else, try again")
	// ErrCSVTooLarge: an import over MaxCSVBytes or MaxCSVRows.
	ErrCSVTooLarge = fault.New(fault.TooLarge, "csv_too_large", "the file is too large: at most 2 MB and 5000 places")
)

// Limits of the inputs.
const (
	MaxNameLen          = 120
	MaxDescriptionLen   = 1000
	MaxAddressLen       = 200
	MaxAreaLen          = 120
	MaxAccessibilityLen = 500
	MaxPhoneLen         = 30
	MaxEmailLen         = 254
	MaxWebLen           = 300
	MaxLanguages        = 12
	MaxQueryLen         = 100
	MinRadiusM          = 50
	MaxRadiusM          = 50_000
	DefaultRadiusM      = 5_000
	MaxCSVBytes         = 2 << 20
	MaxCSVRows          = 5000
	DefaultTimeZone     = portineria.DefaultTimeZone
	// StaleAfter is how long a verification holds: older entries are
	// shown as stale.
	StaleAfter = 365 * 24 * time.Hour
)

// Collections of this package.
const (
	collPlaces      = "places"
	collSearch      = "place_search"
	collHistory     = "place_history"
	collUserHistory = "place_history_users"
)

// Contacts are the organisation's public contacts.
type Contacts struct {
	Phone string `json:"phone" bson:"phone"`
	Email string `json:"email" bson:"email"`
	Web   string `json:"web" bson:"web"`
}

// Place is a place as anyone sees it.
type Place struct {
	ID            string     `json:"id"`
	AssociationID string     `json:"association_id"`
	Name          string     `json:"name"`
	Kind          string     `json:"kind"`
	Description   string     `json:"description"`
	Address       string     `json:"address"`
	Area          string     `json:"area"`
	Lat           *float64   `json:"lat,omitempty"`
	Lng           *float64   `json:"lng,omitempty"`
	Targets       []string   `json:"targets"`
	Hours         hours.Week `json:"hours"`
	TimeZone      string     `json:"time_zone"`
	Contacts      Contacts   `json:"contacts"`
	Languages     []string   `json:"languages"`
	Accessibility string     `json:"accessibility"`
	VerifiedAt    time.Time  `json:"verified_at"`
	// Stale: verified more than a year ago.
	Stale     bool      `json:"stale"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
	// DistanceM is set in the results of a search near a point.
	DistanceM *float64 `json:"distance_m,omitempty"`
	// OpenNow is set in the results of a search asking open_now or open_at.
	OpenNow *bool `json:"open,omitempty"`
}

// Input is what creating or changing a place takes; nil leaves a field
// unchanged (PATCH). Create requires Name and Kind.
type Input struct {
	Name          *string     `json:"name"`
	Kind          *string     `json:"kind"`
	Description   *string     `json:"description"`
	Address       *string     `json:"address"`
	Area          *string     `json:"area"`
	TimeZone      *string     `json:"time_zone"`
	Accessibility *string     `json:"accessibility"`
	Lat           *float64    `json:"lat"`
	Lng           *float64    `json:"lng"`
	Targets       *[]string   `json:"targets"`
	Languages     *[]string   `json:"languages"`
	Hours         *hours.Week `json:"hours"`
	Contacts      *Contacts   `json:"contacts"`
}

// Associations is what the locator needs of portineria: who keeps an
// association's places, and its time zone.
type Associations interface {
	RoleOf(ctx context.Context, aid, userID string) (portineria.Role, error)
	Lookup(ctx context.Context, aid string) (portineria.Association, error)
}

// Accounts resolves the names shown in a place's history.
type Accounts interface {
	Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
}

// Options tune the service.
type Options struct {
	// Buckets is how many shards each kind's search records are spread
	// over (0: DefaultBuckets). Changing it orphans the existing shards:
	// it is for tests and benchmarks.
	Buckets int
}

// DefaultBuckets is the number of search shards per kind.
const DefaultBuckets = 2

// Service keeps the places.
type Service struct {
	places   *store.Collection
	search   *store.Collection
	history  *journal.Journal[change]
	byUser   *journal.Journal[string]
	assocs   Associations
	accounts Accounts
	cursors  *cursor.Signer
	clock    clock.Clock
	log      *slog.Logger
	buckets  int
}

// New returns the service over st.
func New(ctx context.Context, st *store.Store, assocs Associations, accounts Accounts, c clock.Clock, log *slog.Logger, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	b := opts.Buckets
	if b <= 0 {
		b = DefaultBuckets
	}
	return &Service{
		places: st.Collection(collPlaces), search: st.Collection(collSearch),
		history: journal.New[change](st, collHistory, 64), byUser: journal.New[string](st, collUserHistory, 256),
		assocs: assocs, accounts: accounts, cursors: cs, clock: c, log: log, buckets: b,
	}, nil
}

// Indexes are this package's indexes: none, every read is by _id.
func Indexes() []store.Index { return nil }

// now is the clock's time at the precision the database keeps.
func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Millisecond).UTC() }

// stale tells whether a verification at t no longer holds.
func (s *Service) stale(t time.Time) bool { return s.clock.Now().Sub(t) > StaleAfter }
