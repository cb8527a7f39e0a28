// Package streets owns social streets as closed groups: the public
// directory, membership (join requests, invites, approval), roles, bans and
// the street's moderation audit log.
//
// Several server processes share the database, so no process keeps its
// own copy of who belongs where: every access check reads the membership
// by _id (streetID+":"+userID), a street is read by _id, and every change
// is one conditional single-document update whose filter is the state the
// decision was made on (the database settles races; an event goes out
// only when the update matched). The street document counts its admins
// (admin_count), changed with $inc under {admin_count: {$gt: 1}}, so a
// street keeps one admin whatever the processes do at once. Lists of a
// street's members are answered from a copy that is checked against the
// street's roster_gen, read by _id on every use (roster.go); a user's
// streets are listed from their user_streets document.
package streets

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/journal"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Roles of a member.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Statuses of a membership.
const (
	StatusActive   = "active"
	StatusPending  = "pending"
	StatusBanned   = "banned"
	StatusLeft     = "left"
	StatusRejected = "rejected"
)

// Limits on what users send.
const (
	MaxNameLen        = 80
	MaxCityLen        = 80
	MaxDescriptionLen = 1000
	MaxMessageLen     = 500
	MaxReasonLen      = 500
	MaxQueryLen       = 100
)

// Errors of this package.
var (
	ErrStreetNotFound = fault.New(fault.NotFound, "street_not_found", "street not found")
	ErrMemberNotFound = fault.New(fault.NotFound, "member_not_found", "member not found")
	ErrNotAdmin       = fault.New(fault.Forbidden, "not_admin", "only the street's admins may do this")
	ErrBanned         = fault.New(fault.Forbidden, "banned", "you were banned from this street")
	ErrAlreadyMember  = fault.New(fault.Conflict, "already_member", "you are already a member of this street")
	ErrLastAdmin      = fault.New(fault.Conflict, "last_admin", "a street needs at least one admin: name another admin first")
	ErrNotPending     = fault.New(fault.Conflict, "not_pending", "there is no pending request to decide")
	ErrNotBanned      = fault.New(fault.Conflict, "not_banned", "this user is not banned")
	ErrAlreadyBanned  = fault.New(fault.Conflict, "already_banned", "this user is already banned")
	ErrBanAdmin       = fault.New(fault.Conflict, "cannot_ban_admin", "an admin cannot be banned: demote them first")
	ErrNotActive      = fault.New(fault.Conflict, "not_active", "this user is not an active member")
	ErrSelf           = fault.New(fault.Conflict, "cannot_act_on_self", "you cannot do this to yourself")
	ErrInviteNotFound = fault.New(fault.NotFound, "invite_not_found", "invite not found")
	ErrTooManyInvites = fault.New(fault.Conflict, "too_many_invites", "this street has too many open invites: revoke some first")
	ErrBadCursor      = cursor.ErrInvalid
	ErrRateLimited    = fault.New(fault.RateLimited, "rate_limited", "too many streets created, try again later")
	// ErrInviteRateLimited bounds the invites a member (not an admin) makes.
	ErrInviteRateLimited = fault.New(fault.RateLimited, "rate_limited", "too many invites made today, try again later")
	// ErrMemberChanged refuses a decision made on a membership that another
	// decision changed meanwhile (two admins at once): the second sees the
	// new state and decides again.
	ErrMemberChanged = fault.New(fault.Conflict, "member_changed", "this membership changed meanwhile: reload and decide again")
)

// Street is a street's card.
type Street struct {
	ID string `json:"id"`
	// Slug is the street's public address, /s/<slug> (slug.go).
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	City        string    `json:"city"`
	Description string    `json:"description"`
	MemberCount int       `json:"member_count"`
	CreatedAt   time.Time `json:"created_at"`
	// Listed is false when an admin took the street out of the public
	// directory and search engines (it stays reachable by link).
	Listed bool `json:"listed"`
	// MembersInvite is true when an admin let every member make invite
	// links (bounded: invites.go), not only the admins.
	MembersInvite bool `json:"members_invite"`
}

// Listing is a street as the public directory and the public page show
// it, signed out: nothing else (no members' names, no posts).
type Listing struct {
	ID          string `json:"id"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	City        string `json:"city"`
	Description string `json:"description"`
	MemberCount int    `json:"member_count"`
	// Listed says whether search engines may index the street's page.
	Listed bool `json:"-"`
}

// View is a street's card with the caller's own membership, if any.
type View struct {
	Street
	Membership *Member `json:"membership"`
}

// Member is a user's membership of a street. Only display names: never an
// email or another contact.
type Member struct {
	StreetID string `json:"street_id"`
	UserID   string `json:"user_id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Status   string `json:"status"`
	// Message is the join request's message; Reason why it was rejected or
	// banned. Admins and the member themself only.
	Message     string     `json:"message,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	RequestedAt *time.Time `json:"requested_at,omitempty"`
	JoinedAt    *time.Time `json:"joined_at,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// MyStreet is one of a user's streets, for GET /me.
type MyStreet struct {
	StreetID string `json:"street_id"`
	Name     string `json:"name"`
	City     string `json:"city"`
	Role     string `json:"role"`
	Status   string `json:"status"`
}

// Options tune the service.
type Options struct {
	// CreatePerDay bounds the streets one user creates per day (default 10).
	CreatePerDay int
	// MaxInvites bounds a street's open invites (default 50).
	MaxInvites int
	// MemberInvitesPerDay bounds the invites one member who is not an
	// admin makes in a street per day, where members may (default 5).
	MemberInvitesPerDay int
}

// Service is streets and their membership.
type Service struct {
	streets   *store.Collection
	members   *store.Collection
	userIndex *store.Collection // user_streets: the streets each user has a membership in
	meta      *store.Collection // streets_migrations: which one-off migrations ran
	invites   *store.Collection
	lists     *store.Collection // each street's open invites (invites.go)
	slugs     *store.Collection // street_slugs: one claim per slug, _id the slug (slug.go)
	audit     *journal.Journal[auditRecord]
	bus       events.Bus
	clock     clock.Clock
	users     *auth.Service
	cursors   *cursor.Signer
	log       *slog.Logger
	opts      Options
	create    *ratelimit.Limiter
	// memberInvites counts the invites members (not admins) make, per
	// street and member (invites.go).
	memberInvites *ratelimit.Limiter
	rosters       rosterCache // roster.go

	// decided, when set (tests only, export_test.go), runs between an
	// admin's decision and its write: two of them can then be made to
	// decide on the same state, which a scheduler does only now and then.
	decided func()
}

type streetDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	Name        string        `bson:"name"`
	NameKey     string        `bson:"name_key"` // foldKey(Name): the directory's order and search
	City        string        `bson:"city"`
	CityKey     string        `bson:"city_key"` // foldKey(City)
	Description string        `bson:"description"`
	Slug        string        `bson:"slug,omitempty"`     // never changes (slug.go)
	Unlisted    bool          `bson:"unlisted,omitempty"` // out of the directory, page noindex
	// MembersInvite: every active member may make invite links (invites.go).
	MembersInvite bool       `bson:"members_invite,omitempty"`
	CreatedBy     string     `bson:"created_by"`
	CreatedAt     time.Time  `bson:"created_at"`
	ArchivedAt    *time.Time `bson:"archived_at,omitempty"` // see account.go
	// Active members and active admins, kept with $inc after each change
	// (admins before a change that takes one away: members.go).
	MemberCount int `bson:"member_count"`
	AdminCount  int `bson:"admin_count"`
	// RosterGen grows with every change to the street's memberships: what
	// a process's copy of the roster is checked against (roster.go).
	RosterGen int64 `bson:"roster_gen"`
}

func (d streetDoc) card() Street {
	return Street{ID: d.ID.Hex(), Slug: d.Slug, Name: d.Name, City: d.City, Description: d.Description, MemberCount: d.MemberCount,
		CreatedAt: d.CreatedAt.UTC(), Listed: !d.Unlisted, MembersInvite: d.MembersInvite}
}

func (d streetDoc) listing() Listing {
	return Listing{ID: d.ID.Hex(), Slug: d.Slug, Name: d.Name, City: d.City, Description: d.Description, MemberCount: d.MemberCount,
		Listed: !d.Unlisted}
}

type memberDoc struct {
	ID          string     `bson:"_id"`
	StreetID    string     `bson:"street_id"`
	UserID      string     `bson:"user_id"`
	Name        string     `bson:"name"`
	Role        string     `bson:"role"`
	Status      string     `bson:"status"`
	Message     string     `bson:"message,omitempty"`
	Reason      string     `bson:"reason,omitempty"`
	RequestedAt *time.Time `bson:"requested_at,omitempty"`
	JoinedAt    *time.Time `bson:"joined_at,omitempty"`
	UpdatedAt   time.Time  `bson:"updated_at"`
	UpdatedBy   string     `bson:"updated_by,omitempty"`
}

func (d memberDoc) member() Member {
	return Member{StreetID: d.StreetID, UserID: d.UserID, Name: d.Name, Role: d.Role, Status: d.Status, Message: d.Message,
		Reason: d.Reason, RequestedAt: d.RequestedAt, JoinedAt: d.JoinedAt, UpdatedAt: d.UpdatedAt}
}

func toDoc(m Member, by string) memberDoc {
	return memberDoc{ID: memberKey(m.StreetID, m.UserID), StreetID: m.StreetID, UserID: m.UserID, Name: m.Name, Role: m.Role,
		Status: m.Status, Message: m.Message, Reason: m.Reason, RequestedAt: m.RequestedAt, JoinedAt: m.JoinedAt,
		UpdatedAt: m.UpdatedAt, UpdatedBy: by}
}

func memberKey(streetID, userID string) string { return streetID + ":" + userID }

// userStreetsDoc lists the streets a user has (or had) a membership in.
// A street is added before its membership is written and never taken out
// (but with the account), so the list holds every membership, and perhaps
// a street whose membership was never written: readers skip those.
type userStreetsDoc struct {
	ID      string   `bson:"_id"` // the user's id
	Streets []string `bson:"streets"`
}

// Indexes are this package's indexes. Memberships are reached by _id; the
// street_id index serves the roster (roster.go), the others the directory.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: "memberships", Name: "street", Keys: bson.D{{Key: "street_id", Value: 1}}},
		{Collection: "streets", Name: "directory", Keys: bson.D{{Key: "name_key", Value: 1}, {Key: "_id", Value: 1}}},
		{Collection: "streets", Name: "directory_city", Keys: bson.D{{Key: "city_key", Value: 1}, {Key: "name_key", Value: 1}, {Key: "_id", Value: 1}}},
	}
}

// New returns the service, after completing the street documents written
// before they counted their admins (migrate.go).
func New(ctx context.Context, st *store.Store, bus events.Bus, c clock.Clock, users *auth.Service, log *slog.Logger, opts Options) (*Service, error) {
	if opts.CreatePerDay <= 0 {
		opts.CreatePerDay = 10
	}
	if opts.MaxInvites <= 0 {
		opts.MaxInvites = 50
	}
	if opts.MemberInvitesPerDay <= 0 {
		opts.MemberInvitesPerDay = 5
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	s := &Service{
		streets: st.Collection("streets"), members: st.Remembered("memberships"), userIndex: st.Collection("user_streets"),
		meta: st.Collection("streets_migrations"), invites: st.Collection("invites"), lists: st.Collection("invite_lists"),
		slugs: st.Collection("street_slugs"),
		audit: journal.New[auditRecord](st, "street_journals", 128),
		bus:   bus, clock: c, users: users, cursors: cs, log: log, opts: opts,
		create:        ratelimit.New(st, "street_create", opts.CreatePerDay, 24*time.Hour, c),
		memberInvites: ratelimit.New(st, "member_invite", opts.MemberInvitesPerDay, 24*time.Hour, c),
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// allowed follows a limiter's decision; a database failure, which never
// refuses (see internal/ratelimit), is logged.
func (s *Service) allowed(ok bool, wait time.Duration, err error) (bool, time.Duration) {
	if err != nil {
		s.log.Warn("streets: rate limit", "err", err)
	}
	return ok, wait
}

// Warm has nothing left to load: streets and memberships are read when
// asked for. It stays for callers that warm services at start.
func (s *Service) Warm(context.Context) error { return nil }

// streetDoc reads a street that is not archived, or returns ErrStreetNotFound.
// The filter names only _id: the embedded engine looks up nothing else
// without reading the whole collection.
func (s *Service) streetDoc(ctx context.Context, id string) (streetDoc, error) {
	oid, ok := store.ID(id)
	if !ok {
		return streetDoc{}, ErrStreetNotFound
	}
	var d streetDoc
	err := s.streets.FindOne(ctx, bson.M{"_id": oid}, &d)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.ArchivedAt != nil) {
		return streetDoc{}, ErrStreetNotFound
	}
	return d, err
}

// street returns the street's card, or ErrStreetNotFound.
func (s *Service) street(ctx context.Context, id string) (Street, error) {
	d, err := s.streetDoc(ctx, id)
	if err != nil {
		return Street{}, err
	}
	if err := s.ensureSlug(ctx, &d); err != nil {
		return Street{}, err
	}
	return d.card(), nil
}

// lookup reads userID's membership of streetID by _id; false when there is none.
func (s *Service) lookup(ctx context.Context, streetID, userID string) (Member, bool, error) {
	var d memberDoc
	err := s.members.FindOne(ctx, bson.M{"_id": memberKey(streetID, userID)}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return Member{}, false, nil
	}
	if err != nil {
		return Member{}, false, err
	}
	return d.member(), true, nil
}

// NewStreet is what a user gives to create a street.
type NewStreet struct {
	Name, City, Description string
}

// Create makes a street whose creator is its first admin.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewStreet) (Street, error) {
	in.Name, in.City, in.Description = wording.Line(in.Name), wording.Line(in.City), wording.Text(in.Description)
	f := fault.Fields{}
	checkText(f, "name", in.Name, 2, MaxNameLen)
	checkText(f, "city", in.City, 1, MaxCityLen)
	checkText(f, "description", in.Description, 0, MaxDescriptionLen)
	if err := f.Err(); err != nil {
		return Street{}, err
	}
	acc, err := s.users.User(ctx, p.UserID)
	if err != nil {
		return Street{}, err
	}
	if ok, wait := s.allowed(s.create.Allow(ctx, p.UserID)); !ok {
		return Street{}, ErrRateLimited.WithRetry(wait)
	}
	now := s.now()
	d := streetDoc{ID: bson.NewObjectID(), Name: in.Name, NameKey: foldKey(in.Name), City: in.City, CityKey: foldKey(in.City),
		Description: in.Description, CreatedBy: p.UserID, CreatedAt: now, MemberCount: 1, AdminCount: 1}
	id := d.ID.Hex()
	if d.Slug, err = s.claimSlug(ctx, id, d.Name, d.City); err != nil {
		return Street{}, err
	}
	// The admin's membership first: a street never exists without its
	// admin, and a membership of a street never written is never reached.
	m := Member{StreetID: id, UserID: p.UserID, Name: acc.Name, Role: RoleAdmin, Status: StatusActive, JoinedAt: &now, UpdatedAt: now}
	if err := s.indexUser(ctx, p.UserID, id); err != nil {
		return Street{}, err
	}
	if _, err := s.members.InsertOne(ctx, toDoc(m, p.UserID)); err != nil {
		return Street{}, err
	}
	if _, err := s.streets.InsertOne(ctx, d); err != nil {
		return Street{}, err
	}
	s.record(ctx, id, m, auditRecord{Action: ActionStreetCreate, TargetType: "street", TargetID: id, TargetName: d.Name})
	return d.card(), nil
}

// indexUser adds streetID to the user's list of streets, before a
// membership is first written.
func (s *Service) indexUser(ctx context.Context, userID, streetID string) error {
	add := bson.M{"$addToSet": bson.M{"streets": streetID}}
	_, err := s.userIndex.UpdateOne(ctx, bson.M{"_id": userID}, add, options.UpdateOne().SetUpsert(true))
	if store.IsDuplicate(err) {
		// The user's first two joins at once: the other upsert inserted
		// the document first. MongoDB retries such an upsert itself; a
		// FerretDB shared by several processes does not.
		_, err = s.userIndex.UpdateOne(ctx, bson.M{"_id": userID}, add)
	}
	return err
}

// userStreets lists the streets the user has a membership document in (or
// perhaps had: see userStreetsDoc).
func (s *Service) userStreets(ctx context.Context, userID string) ([]string, error) {
	var d userStreetsDoc
	err := s.userIndex.FindOne(ctx, bson.M{"_id": userID}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return d.Streets, err
}

// userMembership is one of a user's memberships with its street.
type userMembership struct {
	street streetDoc
	member Member
}

// memberships reads the user's memberships of streets that are not
// archived: a few _id lookups.
func (s *Service) memberships(ctx context.Context, userID string) ([]userMembership, error) {
	sids, err := s.userStreets(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]userMembership, 0, len(sids))
	for _, sid := range sids {
		m, ok, err := s.lookup(ctx, sid, userID)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		st, err := s.streetDoc(ctx, sid)
		if errors.Is(err, ErrStreetNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, userMembership{street: st, member: m})
	}
	return out, nil
}

// Get returns a street's public card and the caller's membership.
func (s *Service) Get(ctx context.Context, p auth.Principal, streetID string) (View, error) {
	st, err := s.street(ctx, streetID)
	if err != nil {
		return View{}, err
	}
	v := View{Street: st}
	m, ok, err := s.lookup(ctx, streetID, p.UserID)
	if err != nil {
		return View{}, err
	}
	if ok {
		v.Membership = &m
	}
	return v, nil
}

// StreetName returns the street's name.
func (s *Service) StreetName(ctx context.Context, streetID string) (string, error) {
	st, err := s.street(ctx, streetID)
	return st.Name, err
}

// Membership returns userID's membership of streetID, in whatever status;
// NotFound when there is none or an id is malformed. It is called on every
// websocket handshake: one _id lookup.
func (s *Service) Membership(ctx context.Context, streetID, userID string) (Member, error) {
	if _, ok := store.ID(streetID); !ok {
		return Member{}, ErrMemberNotFound
	}
	if _, ok := store.ID(userID); !ok {
		return Member{}, ErrMemberNotFound
	}
	m, ok, err := s.lookup(ctx, streetID, userID)
	if err != nil {
		return Member{}, err
	}
	if !ok {
		return Member{}, ErrMemberNotFound
	}
	return m, nil
}

// RequireActive returns the caller's active membership, read from the
// database; anyone else learns nothing about the street's inside (NotFound).
func (s *Service) RequireActive(ctx context.Context, streetID, userID string) (Member, error) {
	m, ok, err := s.lookup(ctx, streetID, userID)
	if err != nil {
		return Member{}, err
	}
	if !ok || m.Status != StatusActive {
		return Member{}, ErrStreetNotFound
	}
	return m, nil
}

// RequireAdmin returns the caller's membership when they are an active
// admin; a plain member gets Forbidden, anyone else NotFound.
func (s *Service) RequireAdmin(ctx context.Context, streetID, userID string) (Member, error) {
	m, err := s.RequireActive(ctx, streetID, userID)
	if err != nil {
		return Member{}, err
	}
	if m.Role != RoleAdmin {
		return Member{}, ErrNotAdmin
	}
	return m, nil
}

// ActiveMemberIDs lists the street's active members (push fan-out).
func (s *Service) ActiveMemberIDs(ctx context.Context, streetID string) ([]string, error) {
	return s.ids(ctx, streetID, func(m Member) bool { return m.Status == StatusActive })
}

// AdminIDs lists the street's active admins.
func (s *Service) AdminIDs(ctx context.Context, streetID string) ([]string, error) {
	return s.ids(ctx, streetID, func(m Member) bool { return m.Status == StatusActive && m.Role == RoleAdmin })
}

func (s *Service) ids(ctx context.Context, streetID string, keep func(Member) bool) ([]string, error) {
	r, err := s.roster(ctx, streetID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, m := range r {
		if keep(m) {
			out = append(out, m.UserID)
		}
	}
	sort.Strings(out)
	return out, nil
}

// UserStreets lists the streets userID belongs to or asked to join (not
// those left), for GET /me.
func (s *Service) UserStreets(ctx context.Context, userID string) ([]MyStreet, error) {
	ms, err := s.memberships(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []MyStreet{}
	for _, um := range ms {
		m, st := um.member, um.street
		if m.Status == StatusLeft {
			continue
		}
		out = append(out, MyStreet{StreetID: m.StreetID, Name: st.Name, City: st.City, Role: m.Role, Status: m.Status})
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := foldKey(out[i].Name), foldKey(out[j].Name); a != b {
			return a < b
		}
		return out[i].StreetID < out[j].StreetID
	})
	return out, nil
}

// Directory lists the listed streets by name, filtered by a text in the
// name and a city, for anyone, signed in or not: public fields only (see
// Listing). One query on the folded name (name_key, _id), from the cursor on.
func (s *Service) Directory(ctx context.Context, q, city, after string, limit int) ([]Listing, string, error) {
	q, city = foldKey(q), foldKey(city)
	f := fault.Fields{}
	f.Check(utf8.RuneCountInString(q) > MaxQueryLen, "q", "too_long")
	f.Check(utf8.RuneCountInString(city) > MaxCityLen, "city", "too_long")
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, 20)
	filter := bson.M{"archived_at": nil, "unlisted": bson.M{"$ne": true}}
	if q != "" {
		filter["name_key"] = bson.M{"$regex": regexp.QuoteMeta(q)}
	}
	if city != "" {
		filter["city_key"] = city
	}
	if after != "" {
		c, ok := s.cursors.Decode(after, 3)
		if !ok || c[0] != "dir" {
			return nil, "", ErrBadCursor
		}
		fromID, ok := store.ID(c[2])
		if !ok {
			return nil, "", ErrBadCursor
		}
		filter["$or"] = bson.A{
			bson.M{"name_key": bson.M{"$gt": c[1]}},
			bson.M{"name_key": c[1], "_id": bson.M{"$gt": fromID}},
		}
	}
	var docs []streetDoc
	err := s.streets.FindAll(ctx, filter, &docs, options.Find().
		SetSort(bson.D{{Key: "name_key", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)+1).
		SetProjection(bson.M{"name": 1, "name_key": 1, "city": 1, "description": 1, "slug": 1, "member_count": 1}))
	if err != nil {
		return nil, "", err
	}
	out := make([]Listing, 0, min(len(docs), limit))
	next := ""
	for i, d := range docs {
		if i == limit {
			last := docs[i-1]
			next = s.cursors.Encode("dir", last.NameKey, last.ID.Hex())
			break
		}
		if err := s.ensureSlug(ctx, &d); err != nil {
			return nil, "", err
		}
		out = append(out, d.listing())
	}
	return out, next, nil
}

// Members lists the street's members in a status, by name. Active members
// see the active ones; pending and banned lists are for admins.
func (s *Service) Members(ctx context.Context, p auth.Principal, streetID, status, after string, limit int) ([]Member, string, error) {
	if status == "" {
		status = StatusActive
	}
	if status != StatusActive && status != StatusPending && status != StatusBanned {
		return nil, "", fault.Validation("status", "invalid")
	}
	me, err := s.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return nil, "", err
	}
	admin := me.Role == RoleAdmin
	if status != StatusActive && !admin {
		return nil, "", ErrNotAdmin
	}
	limit = cursor.Limit(limit, 20)
	var fromKey, fromID string
	if after != "" {
		c, ok := s.cursors.Decode(after, 5)
		if !ok || c[0] != "mem" || c[1] != streetID || c[2] != status {
			return nil, "", ErrBadCursor
		}
		fromKey, fromID = c[3], c[4]
	}
	r, err := s.roster(ctx, streetID)
	if err != nil {
		return nil, "", err
	}
	all := make([]Member, 0, len(r))
	for _, m := range r {
		if m.Status == status {
			all = append(all, m)
		}
	}
	key := func(m Member) string { return foldKey(m.Name) }
	sort.Slice(all, func(i, j int) bool {
		if a, b := key(all[i]), key(all[j]); a != b {
			return a < b
		}
		return all[i].UserID < all[j].UserID
	})
	i := 0
	if after != "" {
		i = sort.Search(len(all), func(i int) bool {
			k := key(all[i])
			return k > fromKey || (k == fromKey && all[i].UserID > fromID)
		})
	}
	out := []Member{}
	next := ""
	for ; i < len(all); i++ {
		if len(out) == limit {
			last := out[len(out)-1]
			next = s.cursors.Encode("mem", streetID, status, key(last), last.UserID)
			break
		}
		m := all[i]
		if !admin && m.UserID != p.UserID {
			m.Message, m.Reason = "", ""
		}
		out = append(out, m)
	}
	return out, next, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) publish(ctx context.Context, typ events.Type, m Member, actorID string, audience events.Audience) {
	_, err := s.bus.Publish(ctx, events.Event{Type: typ, StreetID: m.StreetID, Audience: audience, ActorID: actorID, SubjectID: m.UserID,
		Data: events.MemberData{UserID: m.UserID, Name: m.Name, Role: m.Role, Status: m.Status}})
	if err != nil {
		s.log.Warn("publish failed", "type", typ, "street", m.StreetID, "err", err)
	}
}

// foldKey is the case-insensitive form names are sorted and searched by.
func foldKey(s string) string { return strings.ToLower(wording.Line(s)) }

func checkText(f fault.Fields, field, v string, minLen, maxLen int) {
	n := utf8.RuneCountInString(v)
	switch {
	case n == 0 && minLen > 0:
		f.Add(field, "required")
	case n < minLen:
		f.Add(field, "too_short")
	case n > maxLen:
		f.Add(field, "too_long")
	default:
		// Street names and cities are listed in a public directory, and
		// messages and descriptions are read as someone's words: none may
		// hide what it says.
		if problem := wording.Problem(v); problem != "" {
			f.Add(field, problem)
		}
	}
}

// StreetIDs lists every street that is not archived, for work that visits
// them all (the email digests): one read of the ids alone.
func (s *Service) StreetIDs(ctx context.Context) ([]string, error) {
	var out []string
	err := s.streets.Each(ctx, bson.M{"archived_at": nil}, func(raw bson.Raw) error {
		var d struct {
			ID bson.ObjectID `bson:"_id"`
		}
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		out = append(out, d.ID.Hex())
		return nil
	}, options.Find().SetProjection(bson.M{"_id": 1}))
	return out, err
}

// Listing is a street's public face (name, city, description, member
// count), for work that names the street to people who need not be
// members (a printed board, a flyer, the public page).
func (s *Service) Listing(ctx context.Context, streetID string) (Listing, error) {
	d, err := s.streetDoc(ctx, streetID)
	if err != nil {
		return Listing{}, err
	}
	if err := s.ensureSlug(ctx, &d); err != nil {
		return Listing{}, err
	}
	return d.listing(), nil
}
