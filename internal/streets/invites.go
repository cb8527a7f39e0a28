package streets

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"sort"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Invite limits.
const (
	DefaultInviteUses = 25
	MaxInviteUses     = 1000
	DefaultInviteTTL  = 7 * 24 * time.Hour
	MaxInviteTTL      = 30 * 24 * time.Hour
)

// Invite is a code that lets whoever holds it join a street at once, a
// bounded number of times until it expires or is revoked.
type Invite struct {
	Code      string    `json:"code"`
	StreetID  string    `json:"street_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxUses   int       `json:"max_uses"`
	Uses      int       `json:"uses"`
}

// InviteOptions say how long and how many times an invite works; zero
// values take the defaults.
type InviteOptions struct {
	MaxUses   int
	ExpiresIn time.Duration
}

type inviteDoc struct {
	ID        string     `bson:"_id"`
	StreetID  string     `bson:"street_id"`
	CreatedBy string     `bson:"created_by"`
	CreatedAt time.Time  `bson:"created_at"`
	ExpiresAt time.Time  `bson:"expires_at"`
	MaxUses   int        `bson:"max_uses"`
	Uses      int        `bson:"uses"`
	RevokedAt *time.Time `bson:"revoked_at,omitempty"`
}

type invite struct {
	inviteDoc
}

func (i *invite) view() Invite {
	return Invite{Code: i.ID, StreetID: i.StreetID, CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, MaxUses: i.MaxUses, Uses: i.Uses}
}

func (i *invite) usable(now time.Time) bool {
	return i.RevokedAt == nil && now.Before(i.ExpiresAt) && i.Uses < i.MaxUses
}

// Invite errors, as field problems of invite_code.
var (
	errInviteInvalid = fault.Validation("invite_code", "invalid")
	errInviteExpired = fault.Validation("invite_code", "expired")
)

var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newCode() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(codeEncoding.EncodeToString(b))
}

// CreateInvite makes an invite code (admins).
func (s *Service) CreateInvite(ctx context.Context, p auth.Principal, streetID string, o InviteOptions) (Invite, error) {
	if o.MaxUses == 0 {
		o.MaxUses = DefaultInviteUses
	}
	if o.ExpiresIn == 0 {
		o.ExpiresIn = DefaultInviteTTL
	}
	f := fault.Fields{}
	f.Check(o.MaxUses < 1 || o.MaxUses > MaxInviteUses, "max_uses", "out_of_range")
	f.Check(o.ExpiresIn < time.Hour || o.ExpiresIn > MaxInviteTTL, "expires_in_hours", "out_of_range")
	if err := f.Err(); err != nil {
		return Invite{}, err
	}
	if _, err := s.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return Invite{}, err
	}
	unlock := s.lock(streetID)
	defer unlock()
	admin, err := s.RequireAdmin(ctx, streetID, p.UserID)
	if err != nil {
		return Invite{}, err
	}
	now := s.now()
	if len(s.openInvites(streetID, now)) >= s.opts.MaxInvites {
		return Invite{}, ErrTooManyInvites
	}
	inv := &invite{inviteDoc{ID: newCode(), StreetID: streetID, CreatedBy: p.UserID, CreatedAt: now,
		ExpiresAt: now.Add(o.ExpiresIn), MaxUses: o.MaxUses}}
	if _, err := s.invites.InsertOne(ctx, inv.inviteDoc); err != nil {
		return Invite{}, err
	}
	s.mu.Lock()
	s.inviteOf[inv.ID] = inv
	s.mu.Unlock()
	s.record(ctx, streetID, admin, auditRecord{Action: ActionInviteCreate, TargetType: "invite", TargetID: inv.ID})
	return inv.view(), nil
}

// openInvites lists the street's usable invites, newest first, and forgets
// those no longer usable.
func (s *Service) openInvites(streetID string, now time.Time) []Invite {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Invite{}
	for code, inv := range s.inviteOf {
		if !inv.usable(now) {
			delete(s.inviteOf, code)
			continue
		}
		if inv.StreetID == streetID {
			out = append(out, inv.view())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// Invites lists the street's open invites (admins); at most MaxInvites.
func (s *Service) Invites(ctx context.Context, p auth.Principal, streetID string) ([]Invite, error) {
	if _, err := s.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return nil, err
	}
	return s.openInvites(streetID, s.now()), nil
}

// RevokeInvite ends an invite before it expires (admins).
func (s *Service) RevokeInvite(ctx context.Context, p auth.Principal, streetID, code string) error {
	if _, err := s.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return err
	}
	unlock := s.lock(streetID)
	defer unlock()
	admin, err := s.RequireAdmin(ctx, streetID, p.UserID)
	if err != nil {
		return err
	}
	s.mu.RLock()
	inv := s.inviteOf[code]
	s.mu.RUnlock()
	now := s.now()
	if inv == nil || inv.StreetID != streetID || !inv.usable(now) {
		return ErrInviteNotFound
	}
	if _, err := s.invites.UpdateOne(ctx, bson.M{"_id": code}, bson.M{"$set": bson.M{"revoked_at": now}}); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.inviteOf, code)
	s.mu.Unlock()
	s.record(ctx, streetID, admin, auditRecord{Action: ActionInviteRevoke, TargetType: "invite", TargetID: code})
	return nil
}

// useInvite counts one use of code for streetID; the street's lock is held.
func (s *Service) useInvite(ctx context.Context, streetID, code string) error {
	s.mu.RLock()
	inv := s.inviteOf[code]
	s.mu.RUnlock()
	if inv == nil || inv.StreetID != streetID {
		return errInviteInvalid
	}
	if !inv.usable(s.now()) {
		return errInviteExpired
	}
	if _, err := s.invites.UpdateOne(ctx, bson.M{"_id": code}, bson.M{"$inc": bson.M{"uses": 1}}); err != nil {
		return err
	}
	s.mu.Lock()
	next := *inv
	next.Uses++
	s.inviteOf[code] = &next
	s.mu.Unlock()
	return nil
}
