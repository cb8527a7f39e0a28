// Package portineria is the Portinaio di rione: volunteer-run neighbourhood
// desks (associations) with their staff (joined by invitation only), the member roster with sequential
// membership numbers, the immutable fee ledger, the year reports and CSV
// exports, the residents' skills directory, and posting on a member's behalf.
//
// The embedded FerretDB answers only `_id` equality without scanning and
// applies no update atomically by itself, so the package leans on three
// things both engines do: `_id` lookups for every hot path (the association
// carries its staff; idempotency keys and account links are claims whose
// `_id` is the natural key), writes the store serialises per `_id`
// (the membership counter, compare-and-swap of the staff list), and values
// derived from immutable entries (totals and card status are never stored).
package portineria

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/ratelimit"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Collection names of this package.
const (
	collAssociations = "associations"
	collMembers      = "association_members"
	collLinks        = "association_member_links"
	collLedger       = "association_ledger"
	collClaims       = "association_ledger_keys"
	collAudit        = "association_audit"
	collInvites      = "association_invitations"
)

// Errors of this package.
var (
	ErrAssociationNotFound = fault.New(fault.NotFound, "association_not_found", "association not found")
	ErrMemberNotFound      = fault.New(fault.NotFound, "member_not_found", "member not found")
	ErrEntryNotFound       = fault.New(fault.NotFound, "entry_not_found", "ledger entry not found")
	ErrVolunteerNotFound   = fault.New(fault.NotFound, "volunteer_not_found", "this person is not a volunteer of the association")
	ErrCoordinatorOnly     = fault.New(fault.Forbidden, "coordinator_only", "only a coordinator of the association may do this")
	ErrLastCoordinator     = fault.New(fault.Conflict, "last_coordinator", "an association needs at least one coordinator")
	ErrIdempotencyConflict = fault.New(fault.Conflict, "idempotency_conflict", "this idempotency key was already used for a different entry")
	ErrAlreadyReversed     = fault.New(fault.Conflict, "already_reversed", "this entry has already been reversed")
	ErrReverseReversal     = fault.New(fault.Conflict, "cannot_reverse_reversal", "a reversal cannot be reversed; record a new entry instead")
	ErrAccountLinked       = fault.New(fault.Conflict, "account_already_linked", "this account is already linked to another member of the association")
	ErrMemberErased        = fault.New(fault.Conflict, "member_erased", "this member's data was erased")
	ErrRosterFull          = fault.New(fault.Conflict, "roster_full", "the roster has reached its maximum size")
	ErrBusy                = fault.New(fault.Conflict, "busy_try_again", "the association is being changed by someone else, try again")
	ErrBadCursor           = fault.New(fault.BadRequest, "bad_cursor", "the cursor is not valid")
	ErrPostingUnavailable  = fault.New(fault.NotFound, "posting_unavailable", "posting on behalf of a member is not available")
	ErrStaffFull           = fault.New(fault.Conflict, "staff_full", "the association's staff has reached its maximum size")
	ErrRateLimited         = fault.New(fault.RateLimited, "rate_limited", "too many associations created, try again later")
	ErrInviteRateLimited   = fault.New(fault.RateLimited, "rate_limited", "too many invitations sent, try again later")
	ErrInvitationNotFound  = fault.New(fault.NotFound, "invitation_not_found", "invitation not found")
	ErrInvitationExpired   = fault.New(fault.Conflict, "invitation_expired", "this invitation has expired: ask for a new one")
	ErrInvitationAnswered  = fault.New(fault.Conflict, "invitation_answered", "this invitation has already been answered")
)

// Limits of the inputs.
const (
	MaxAmountCents  = 1_000_000 // 10 000 €: more is a typo, not a card
	MaxFeeCents     = 1_000_000
	MaxMembers      = 20_000
	MaxNameLen      = 120
	MaxAreaLen      = 120
	MaxAddressLen   = 200
	MaxPhoneLen     = 30
	MaxNotesLen     = 2000
	MaxNoteLen      = 500
	MaxReasonLen    = 500
	MaxSkills       = 12
	MaxSkillLen     = 40
	MaxKeyLen       = 128
	MinKeyLen       = 8
	MaxQueryLen     = 100
	MinYear         = 2000
	MaxStaff        = 200
	DefaultTimeZone = "Europe/Rome"
)

// Role is a person's role in an association's staff.
type Role string

// The staff roles. Members of the roster have no role: they are data the
// staff keeps, with or without an account.
const (
	Coordinator Role = "coordinator"
	Volunteer   Role = "volunteer"
)

// Accounts is what the package needs from accounts (auth.Service). There
// is deliberately no lookup by email: staff and account links are
// invitations addressed to an email, answered by whoever signs in with it,
// so nothing here can tell a caller whether an address has an account.
type Accounts interface {
	User(ctx context.Context, id string) (auth.Account, error)
	Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
}

// Defaults of Options.
const (
	DefaultCreatePerDay   = 10
	DefaultInvitesPerHour = 60
	DefaultInvitationTTL  = 14 * 24 * time.Hour
)

// Options tune the service.
type Options struct {
	// Poster publishes posts on a member's behalf; nil disables assisted posting.
	Poster Poster
	// CreatePerDay bounds the associations one user creates in 24 hours
	// (0: DefaultCreatePerDay, negative: no limit).
	CreatePerDay int
	// InvitesPerHour bounds the invitations one user sends in an hour, to
	// the staff and to link roster cards (0: DefaultInvitesPerHour, negative: no limit).
	InvitesPerHour int
	// InvitationTTL is how long an invitation waits for its answer (0: DefaultInvitationTTL).
	InvitationTTL time.Duration
	// Mailer tells invitees about new invitations; nil sends nothing (the
	// invitee finds them in the app under their pending invitations).
	Mailer InvitationMailer
}

// limit turns an option into a limiter size: 0 takes def, negative none.
func limit(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// Service is the Portinaio di rione.
type Service struct {
	assocs   *store.Collection
	members  *store.Collection
	links    *store.Collection
	ledger   *store.Collection
	claims   *store.Collection
	audit    *store.Collection
	invites  *store.Collection
	accounts Accounts
	clock    clock.Clock
	log      *slog.Logger
	poster   Poster
	mailer   InvitationMailer
	ttl      time.Duration
	// The limiters count per user, in the database (internal/ratelimit), so
	// that N processes allow what one does.
	createLimit *ratelimit.Limiter
	inviteLimit *ratelimit.Limiter
}

// New returns the service over st.
func New(st *store.Store, accounts Accounts, c clock.Clock, log *slog.Logger, opts Options) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ttl := opts.InvitationTTL
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	return &Service{
		assocs: st.Collection(collAssociations), members: st.Collection(collMembers),
		links: st.Collection(collLinks), ledger: st.Collection(collLedger), claims: st.Collection(collClaims),
		audit: st.Collection(collAudit), invites: st.Collection(collInvites), accounts: accounts, clock: c, log: log,
		poster: opts.Poster, mailer: opts.Mailer, ttl: ttl,
		createLimit: ratelimit.New(st, "association_create", limit(opts.CreatePerDay, DefaultCreatePerDay), 24*time.Hour, c),
		inviteLimit: ratelimit.New(st, "association_invite", limit(opts.InvitesPerHour, DefaultInvitesPerHour), time.Hour, c),
	}
}

// allow counts one event of userID against l, refusing with refused (and
// the wait) over the limit. A counter that fails does not refuse anyone
// (ratelimit then decides per process); its error is logged.
func (s *Service) allow(ctx context.Context, l *ratelimit.Limiter, userID string, refused *fault.Error) error {
	ok, wait, err := l.Allow(ctx, userID)
	if err != nil {
		s.log.Warn("portineria: rate limit counter", "err", err)
	}
	if !ok {
		return refused.WithRetry(wait)
	}
	return nil
}

// SetPoster wires assisted posting once the posts service exists.
func (s *Service) SetPoster(p Poster) { s.poster = p }

// Indexes are this package's indexes. The unique (association, number)
// index backs the counter: a number can never be given twice.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: collAssociations, Name: "staff_user", Keys: bson.D{{Key: "staff.user_id", Value: 1}}},
		{Collection: collMembers, Name: "association_number", Keys: bson.D{{Key: "association_id", Value: 1}, {Key: "number", Value: 1}}, Unique: true},
		{Collection: collLinks, Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
		{Collection: collLedger, Name: "association_year", Keys: bson.D{{Key: "association_id", Value: 1}, {Key: "year", Value: 1}}},
		{Collection: collLedger, Name: "association_member", Keys: bson.D{{Key: "association_id", Value: 1}, {Key: "member_id", Value: 1}}},
		{Collection: collAudit, Name: "association", Keys: bson.D{{Key: "association_id", Value: 1}, {Key: "_id", Value: -1}}},
		// An open invitation holds its key (association, kind, addressee);
		// answering or withdrawing it frees the key for a new one.
		{Collection: collInvites, Name: "key", Keys: bson.D{{Key: "key", Value: 1}}, Unique: true},
		{Collection: collInvites, Name: "email", Keys: bson.D{{Key: "email", Value: 1}, {Key: "_id", Value: -1}}},
		{Collection: collInvites, Name: "invitee", Keys: bson.D{{Key: "invitee_id", Value: 1}, {Key: "_id", Value: -1}}},
		{Collection: collInvites, Name: "association", Keys: bson.D{{Key: "association_id", Value: 1}, {Key: "_id", Value: -1}}},
		{Collection: collInvites, Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
	}
}

// now is the clock's time at the precision the database keeps.
func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Millisecond).UTC() }

// staffer is one person of an association's staff.
type staffer struct {
	UserID  string    `bson:"user_id"`
	Role    Role      `bson:"role"`
	AddedBy string    `bson:"added_by"`
	AddedAt time.Time `bson:"added_at"`
}

// feeRule says the yearly fee from a year on; the fee for a year is the
// last rule starting at or before it, so changing the fee never turns last
// year's paid cards into lapsed ones.
type feeRule struct {
	FromYear int   `bson:"from_year"`
	Cents    int64 `bson:"cents"`
}

type association struct {
	ID           bson.ObjectID `bson:"_id"`
	Name         string        `bson:"name"`
	Search       string        `bson:"search"`
	Area         string        `bson:"area"`
	TimeZone     string        `bson:"time_zone"`
	Desk         Desk          `bson:"desk"`
	Fees         []feeRule     `bson:"fees"`
	Staff        []staffer     `bson:"staff"`
	StaffVersion int64         `bson:"staff_version"`
	NextNumber   int64         `bson:"next_number"`
	CreatedBy    string        `bson:"created_by"`
	CreatedAt    time.Time     `bson:"created_at"`
	UpdatedAt    time.Time     `bson:"updated_at"`
}

func (a *association) roleOf(userID string) Role {
	if userID == "" {
		return ""
	}
	for _, st := range a.Staff {
		if st.UserID == userID {
			return st.Role
		}
	}
	return ""
}

func (a *association) coordinators() int {
	n := 0
	for _, st := range a.Staff {
		if st.Role == Coordinator {
			n++
		}
	}
	return n
}

func (a *association) location() *time.Location {
	if loc, err := time.LoadLocation(a.TimeZone); err == nil {
		return loc
	}
	loc, _ := time.LoadLocation(DefaultTimeZone)
	if loc == nil {
		return time.UTC
	}
	return loc
}

// feeFor is the yearly fee of year y.
func (a *association) feeFor(y int) int64 {
	var fee int64
	for _, r := range a.Fees {
		if r.FromYear <= y {
			fee = r.Cents
		}
	}
	return fee
}

// year is the calendar year of t in the association's time zone.
func (a *association) year(t time.Time) int { return t.In(a.location()).Year() }

// load reads an association by its hex id; a malformed id is not found.
func (s *Service) load(ctx context.Context, aid string) (association, error) {
	oid, ok := store.ID(aid)
	if !ok {
		return association{}, ErrAssociationNotFound
	}
	var a association
	if err := s.assocs.FindOne(ctx, bson.M{"_id": oid}, &a); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return association{}, ErrAssociationNotFound
		}
		return association{}, err
	}
	return a, nil
}

// staff loads the association for a member of its staff. To anyone else
// the roster and ledger do not exist: 404, as for an unknown association.
// With need == Coordinator a volunteer is refused with 403 (they know it exists).
func (s *Service) staff(ctx context.Context, p auth.Principal, aid string, need Role) (association, Role, error) {
	a, err := s.load(ctx, aid)
	if err != nil {
		return association{}, "", err
	}
	role := a.roleOf(p.UserID)
	if role == "" {
		return association{}, "", ErrAssociationNotFound
	}
	if need == Coordinator && role != Coordinator {
		return association{}, "", ErrCoordinatorOnly
	}
	return a, role, nil
}
