// Package streets owns social streets as closed groups: the public
// directory, membership (join requests, invites, approval), roles, bans and
// the street's moderation audit log.
//
// Streets and memberships are small next to posts, so the service
// reads them all into memory once (two or three collection scans, at the
// first use) and keeps that copy current on every write: every membership
// check, roster, directory page and fan-out list is then answered without
// touching the database. A membership's document has the natural key
// streetID+":"+userID as _id, so a check before the load is one _id lookup.
// Writes to a street are serialised by a per-street lock held across the
// database write, the in-memory update and the event, so events come out in
// the order the changes were made. One server process per database is
// assumed, as with the embedded engine.
package streets

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/journal"
	"civico/internal/keylock"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
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
)

// Street is a street's public card.
type Street struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	City        string    `json:"city"`
	Description string    `json:"description"`
	MemberCount int       `json:"member_count"`
	CreatedAt   time.Time `json:"created_at"`
}

// Listing is a street as the public directory shows it: nothing else.
type Listing struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	City        string `json:"city"`
	MemberCount int    `json:"member_count"`
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
}

// Service is streets and their membership.
type Service struct {
	streets *store.Collection
	members *store.Collection
	invites *store.Collection
	lists   *store.Collection // each street's open invites (invites.go)
	audit   *journal.Journal[auditRecord]
	bus     events.Bus
	clock   clock.Clock
	users   *auth.Service
	cursors *cursor.Signer
	log     *slog.Logger
	opts    Options
	create  *ratelimit.Limiter

	loadMu sync.Mutex
	loaded atomic.Bool

	mu     sync.RWMutex
	byID   map[string]*Street
	dir    []*Street // sorted by (nameKey, id)
	keys   map[string]string
	roster map[string]map[string]Member // street → user → membership
	byUser map[string]map[string]bool   // user → streets with a membership
	locks  keylock.Map
}

type streetDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	Name        string        `bson:"name"`
	City        string        `bson:"city"`
	Description string        `bson:"description"`
	CreatedBy   string        `bson:"created_by"`
	CreatedAt   time.Time     `bson:"created_at"`
	ArchivedAt  *time.Time    `bson:"archived_at,omitempty"` // see account.go
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

// Indexes are this package's indexes. Memberships and invites are reached
// by _id; the street_id index serves MongoDB deployments' ad-hoc queries.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: "memberships", Name: "street", Keys: bson.D{{Key: "street_id", Value: 1}}},
	}
}

// New returns the service.
func New(ctx context.Context, st *store.Store, bus events.Bus, c clock.Clock, users *auth.Service, log *slog.Logger, opts Options) (*Service, error) {
	if opts.CreatePerDay <= 0 {
		opts.CreatePerDay = 10
	}
	if opts.MaxInvites <= 0 {
		opts.MaxInvites = 50
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	return &Service{
		streets: st.Collection("streets"), members: st.Collection("memberships"), invites: st.Collection("invites"),
		lists: st.Collection("invite_lists"),
		audit: journal.New[auditRecord](st, "street_journals", 128),
		bus:   bus, clock: c, users: users, cursors: cs, log: log, opts: opts,
		create: ratelimit.New(st, "street_create", opts.CreatePerDay, 24*time.Hour, c),
	}, nil
}

// allowed follows a limiter's decision; a database failure, which never
// refuses (see internal/ratelimit), is logged.
func (s *Service) allowed(ok bool, wait time.Duration, err error) (bool, time.Duration) {
	if err != nil {
		s.log.Warn("streets: rate limit", "err", err)
	}
	return ok, wait
}

// ensure reads streets and memberships into memory once. Invites are read
// from the database (invites.go).
func (s *Service) ensure(ctx context.Context) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	byID := map[string]*Street{}
	keys := map[string]string{}
	err := s.streets.Each(ctx, bson.M{}, func(raw bson.Raw) error {
		var d streetDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if d.ArchivedAt != nil {
			return nil
		}
		id := d.ID.Hex()
		byID[id] = &Street{ID: id, Name: d.Name, City: d.City, Description: d.Description, CreatedAt: d.CreatedAt.UTC()}
		keys[id] = foldKey(d.Name)
		return nil
	})
	if err != nil {
		return err
	}
	roster := map[string]map[string]Member{}
	byUser := map[string]map[string]bool{}
	err = s.members.Each(ctx, bson.M{}, func(raw bson.Raw) error {
		var d memberDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if byID[d.StreetID] == nil {
			return nil
		}
		m := d.member()
		if roster[m.StreetID] == nil {
			roster[m.StreetID] = map[string]Member{}
		}
		roster[m.StreetID][m.UserID] = m
		if byUser[m.UserID] == nil {
			byUser[m.UserID] = map[string]bool{}
		}
		byUser[m.UserID][m.StreetID] = true
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID, s.keys, s.roster, s.byUser = byID, keys, roster, byUser
	s.dir = make([]*Street, 0, len(byID))
	for id, st := range byID {
		st.MemberCount = countActive(roster[id])
		s.dir = append(s.dir, st)
	}
	sort.Slice(s.dir, func(i, j int) bool { return s.less(s.dir[i], s.dir[j]) })
	s.loaded.Store(true)
	return nil
}

// Warm loads the streets into memory, so the first request does not wait.
func (s *Service) Warm(ctx context.Context) error { return s.ensure(ctx) }

func countActive(r map[string]Member) int {
	n := 0
	for _, m := range r {
		if m.Status == StatusActive {
			n++
		}
	}
	return n
}

// less orders the directory by folded name, then id; s.mu is held.
func (s *Service) less(a, b *Street) bool {
	ka, kb := s.keys[a.ID], s.keys[b.ID]
	if ka != kb {
		return ka < kb
	}
	return a.ID < b.ID
}

// lock serialises writes to one street.
func (s *Service) lock(streetID string) func() { return s.locks.Lock(streetID) }

// street returns a copy of the street, or ErrStreetNotFound.
func (s *Service) street(ctx context.Context, id string) (Street, error) {
	if err := s.ensure(ctx); err != nil {
		return Street{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.byID[id]
	if st == nil {
		return Street{}, ErrStreetNotFound
	}
	return *st, nil
}

func (s *Service) member(streetID, userID string) (Member, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.roster[streetID][userID]
	return m, ok
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
	if err := s.ensure(ctx); err != nil {
		return Street{}, err
	}
	if ok, wait := s.allowed(s.create.Allow(ctx, p.UserID)); !ok {
		return Street{}, ErrRateLimited.WithRetry(wait)
	}
	now := s.now()
	d := streetDoc{ID: bson.NewObjectID(), Name: in.Name, City: in.City, Description: in.Description, CreatedBy: p.UserID, CreatedAt: now}
	if _, err := s.streets.InsertOne(ctx, d); err != nil {
		return Street{}, err
	}
	id := d.ID.Hex()
	unlock := s.lock(id)
	defer unlock()
	m := Member{StreetID: id, UserID: p.UserID, Name: acc.Name, Role: RoleAdmin, Status: StatusActive, JoinedAt: &now, UpdatedAt: now}
	if _, err := s.members.InsertOne(ctx, toDoc(m, p.UserID)); err != nil {
		return Street{}, err
	}
	st := &Street{ID: id, Name: d.Name, City: d.City, Description: d.Description, CreatedAt: now}
	s.mu.Lock()
	s.byID[id] = st
	s.keys[id] = foldKey(st.Name)
	i := sort.Search(len(s.dir), func(i int) bool { return !s.less(s.dir[i], st) })
	s.dir = append(s.dir, nil)
	copy(s.dir[i+1:], s.dir[i:])
	s.dir[i] = st
	s.putLocked(m)
	out := *st
	s.mu.Unlock()
	s.record(ctx, id, m, auditRecord{Action: ActionStreetCreate, TargetType: "street", TargetID: id, TargetName: st.Name})
	return out, nil
}

// putLocked stores m in memory and refreshes the street's member count; s.mu is held.
func (s *Service) putLocked(m Member) {
	r := s.roster[m.StreetID]
	if r == nil {
		r = map[string]Member{}
		s.roster[m.StreetID] = r
	}
	prev, had := r[m.UserID]
	r[m.UserID] = m
	if st := s.byID[m.StreetID]; st != nil {
		if had && prev.Status == StatusActive {
			st.MemberCount--
		}
		if m.Status == StatusActive {
			st.MemberCount++
		}
	}
	u := s.byUser[m.UserID]
	if u == nil {
		u = map[string]bool{}
		s.byUser[m.UserID] = u
	}
	u[m.StreetID] = true
}

// Get returns a street's public card and the caller's membership.
func (s *Service) Get(ctx context.Context, p auth.Principal, streetID string) (View, error) {
	st, err := s.street(ctx, streetID)
	if err != nil {
		return View{}, err
	}
	v := View{Street: st}
	if m, ok := s.member(streetID, p.UserID); ok {
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
// websocket handshake: an in-memory lookup, or one _id lookup before the
// streets are loaded.
func (s *Service) Membership(ctx context.Context, streetID, userID string) (Member, error) {
	if _, ok := store.ID(streetID); !ok {
		return Member{}, ErrMemberNotFound
	}
	if _, ok := store.ID(userID); !ok {
		return Member{}, ErrMemberNotFound
	}
	if s.loaded.Load() {
		if m, ok := s.member(streetID, userID); ok {
			return m, nil
		}
		return Member{}, ErrMemberNotFound
	}
	var d memberDoc
	err := s.members.FindOne(ctx, bson.M{"_id": memberKey(streetID, userID)}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return Member{}, ErrMemberNotFound
	}
	if err != nil {
		return Member{}, err
	}
	return d.member(), nil
}

// RequireActive returns the caller's active membership; anyone else learns
// nothing about the street's inside (NotFound).
func (s *Service) RequireActive(ctx context.Context, streetID, userID string) (Member, error) {
	if err := s.ensure(ctx); err != nil {
		return Member{}, err
	}
	m, ok := s.member(streetID, userID)
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
	if _, err := s.street(ctx, streetID); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{}
	for id, m := range s.roster[streetID] {
		if keep(m) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

// UserStreets lists the streets userID belongs to or asked to join (not
// those left), for GET /me.
func (s *Service) UserStreets(ctx context.Context, userID string) ([]MyStreet, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []MyStreet{}
	for sid := range s.byUser[userID] {
		m, ok := s.roster[sid][userID]
		st := s.byID[sid]
		if !ok || st == nil || m.Status == StatusLeft {
			continue
		}
		out = append(out, MyStreet{StreetID: sid, Name: st.Name, City: st.City, Role: m.Role, Status: m.Status})
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := foldKey(out[i].Name), foldKey(out[j].Name); a != b {
			return a < b
		}
		return out[i].StreetID < out[j].StreetID
	})
	return out, nil
}

// Directory lists streets by name, filtered by a text in the name and a
// city. It shows name, city and member count only.
func (s *Service) Directory(ctx context.Context, q, city, after string, limit int) ([]Listing, string, error) {
	q, city = foldKey(q), foldKey(city)
	f := fault.Fields{}
	f.Check(utf8.RuneCountInString(q) > MaxQueryLen, "q", "too_long")
	f.Check(utf8.RuneCountInString(city) > MaxCityLen, "city", "too_long")
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	if err := s.ensure(ctx); err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, 20)
	var fromKey, fromID string
	if after != "" {
		c, ok := s.cursors.Decode(after, 3)
		if !ok || c[0] != "dir" {
			return nil, "", ErrBadCursor
		}
		fromKey, fromID = c[1], c[2]
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := 0
	if after != "" {
		i = sort.Search(len(s.dir), func(i int) bool {
			k := s.keys[s.dir[i].ID]
			return k > fromKey || (k == fromKey && s.dir[i].ID > fromID)
		})
	}
	out := []Listing{}
	next := ""
	for ; i < len(s.dir); i++ {
		st := s.dir[i]
		if q != "" && !strings.Contains(s.keys[st.ID], q) {
			continue
		}
		if city != "" && foldKey(st.City) != city {
			continue
		}
		if len(out) == limit {
			last := out[len(out)-1]
			next = s.cursors.Encode("dir", s.keys[last.ID], last.ID)
			break
		}
		out = append(out, Listing{ID: st.ID, Name: st.Name, City: st.City, MemberCount: st.MemberCount})
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
	s.mu.RLock()
	all := make([]Member, 0, len(s.roster[streetID]))
	for _, m := range s.roster[streetID] {
		if m.Status == status {
			all = append(all, m)
		}
	}
	s.mu.RUnlock()
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
