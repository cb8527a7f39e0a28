package streets

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/url"
	"sort"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Invite limits.
const (
	DefaultInviteUses = 25
	MaxInviteUses     = 1000
	DefaultInviteTTL  = 7 * 24 * time.Hour
	MaxInviteTTL      = 30 * 24 * time.Hour
	// A member who is not an admin, where the admins let members invite,
	// makes smaller invites that end sooner: at most MemberInviteUses
	// uses (the default too) and MemberInviteTTL (the default too).
	MemberInviteUses = 10
	MemberInviteTTL  = 3 * 24 * time.Hour
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
	// CreatedBy is the user who made it: an admin, or a member where
	// members may invite.
	CreatedBy string `json:"created_by"`
}

// InviteOptions say how long and how many times an invite works; zero
// values take the defaults.
type InviteOptions struct {
	MaxUses   int
	ExpiresIn time.Duration
}

type inviteDoc struct {
	ID        string    `bson:"_id"`
	StreetID  string    `bson:"street_id"`
	CreatedBy string    `bson:"created_by"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	MaxUses   int       `bson:"max_uses"`
	Uses      int       `bson:"uses"`
	// Remaining is MaxUses-Uses, so that one conditional update
	// ({remaining: {$gt: 0}}, $inc -1) both checks and counts a use on both
	// engines: the embedded one compares no two fields ($expr). Invites
	// made before it have none until their first use (useInvite).
	Remaining *int       `bson:"remaining,omitempty"`
	RevokedAt *time.Time `bson:"revoked_at,omitempty"`
	// ByMember marks an invite made by a member who is not an admin: it
	// works only while the street lets members invite (useInvite).
	ByMember bool `bson:"by_member,omitempty"`
}

func (d *inviteDoc) view() Invite {
	return Invite{Code: d.ID, StreetID: d.StreetID, CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), MaxUses: d.MaxUses, Uses: d.Uses,
		CreatedBy: d.CreatedBy}
}

func (d *inviteDoc) remaining() int {
	if d.Remaining != nil {
		return *d.Remaining
	}
	return d.MaxUses - d.Uses
}

func (d *inviteDoc) usable(now time.Time) bool {
	return d.RevokedAt == nil && now.Before(d.ExpiresAt) && d.remaining() > 0
}

// inviteListDoc is a street's open invites: what the admins' list reads
// (one document by _id, then each invite by _id), and what bounds them:
// the update adding a code requires open < MaxInvites, so the bound holds
// across processes. A code leaves the list when its invite is revoked,
// used up, or found expired or gone.
type inviteListDoc struct {
	ID    string   `bson:"_id"` // the street's id
	Codes []string `bson:"codes"`
	Open  int      `bson:"open"` // len(Codes)
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

// CreateInvite makes an invite code: admins always, any active member
// where the admins let members invite (Street.MembersInvite), within
// smaller bounds (MemberInviteUses, MemberInviteTTL) and at most
// Options.MemberInvitesPerDay a day each.
func (s *Service) CreateInvite(ctx context.Context, p auth.Principal, streetID string, o InviteOptions) (Invite, error) {
	me, err := s.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return Invite{}, err
	}
	admin := me.Role == RoleAdmin
	maxUses, maxTTL := MaxInviteUses, MaxInviteTTL
	if !admin {
		if err := s.requireMembersInvite(ctx, streetID); err != nil {
			return Invite{}, err
		}
		maxUses, maxTTL = MemberInviteUses, MemberInviteTTL
	}
	if o.MaxUses == 0 {
		o.MaxUses = min(DefaultInviteUses, maxUses)
	}
	if o.ExpiresIn == 0 {
		o.ExpiresIn = min(DefaultInviteTTL, maxTTL)
	}
	f := fault.Fields{}
	f.Check(o.MaxUses < 1 || o.MaxUses > maxUses, "max_uses", "out_of_range")
	f.Check(o.ExpiresIn < time.Hour || o.ExpiresIn > maxTTL, "expires_in_hours", "out_of_range")
	if err := f.Err(); err != nil {
		return Invite{}, err
	}
	if !admin {
		if ok, wait := s.allowed(s.memberInvites.Allow(ctx, memberKey(streetID, p.UserID))); !ok {
			return Invite{}, ErrInviteRateLimited.WithRetry(wait)
		}
	}
	now := s.now()
	remaining := o.MaxUses
	inv := inviteDoc{ID: newCode(), StreetID: streetID, CreatedBy: p.UserID, CreatedAt: now,
		ExpiresAt: now.Add(o.ExpiresIn), MaxUses: o.MaxUses, Remaining: &remaining, ByMember: !admin}
	// The list exists before the invite (else its first reading would take
	// the invite in, and listInvite add it again). Then the invite, then
	// its place in the list: a listed code always has its invite, and
	// nobody knows the code before it is returned.
	if _, err := s.inviteList(ctx, streetID, now); err != nil {
		return Invite{}, err
	}
	if _, err := s.invites.InsertOne(ctx, inv); err != nil {
		return Invite{}, err
	}
	if err := s.listInvite(ctx, streetID, inv.ID, now); err != nil {
		if _, derr := s.invites.DeleteOne(ctx, bson.M{"_id": inv.ID}); derr != nil {
			s.log.Warn("streets: drop unlisted invite", "street", streetID, "err", derr)
		}
		return Invite{}, err
	}
	s.record(ctx, streetID, me, auditRecord{Action: ActionInviteCreate, TargetType: "invite", TargetID: inv.ID})
	return inv.view(), nil
}

// inviteList reads the street's list of open invites. A street without
// one (its invites were made before lists existed) gets one holding its
// usable invites: one scan of the invites, once per street.
func (s *Service) inviteList(ctx context.Context, streetID string, now time.Time) (inviteListDoc, error) {
	var l inviteListDoc
	err := s.lists.FindOne(ctx, bson.M{"_id": streetID}, &l)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return l, err
	}
	var old []inviteDoc
	if err := s.invites.FindAll(ctx, bson.M{"street_id": streetID}, &old); err != nil {
		return l, err
	}
	sort.Slice(old, func(i, j int) bool { return old[i].CreatedAt.Before(old[j].CreatedAt) })
	codes := []string{}
	for _, d := range old {
		if d.usable(now) {
			codes = append(codes, d.ID)
		}
	}
	_, err = s.lists.UpdateOne(ctx, bson.M{"_id": streetID}, bson.M{"$setOnInsert": bson.M{"codes": codes, "open": len(codes)}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !store.IsDuplicate(err) {
		return l, err
	}
	err = s.lists.FindOne(ctx, bson.M{"_id": streetID}, &l)
	return l, err
}

// listInvite gives code a place in the street's list, or returns
// ErrTooManyInvites when the street has MaxInvites open ones: one
// conditional update decides, whichever process makes the invite. The
// street's list exists (inviteList).
func (s *Service) listInvite(ctx context.Context, streetID, code string, now time.Time) error {
	for attempt := 0; ; attempt++ {
		r, err := s.lists.UpdateOne(ctx, bson.M{"_id": streetID, "open": bson.M{"$lt": s.opts.MaxInvites}},
			bson.M{"$push": bson.M{"codes": code}, "$inc": bson.M{"open": 1}})
		if err != nil {
			return err
		}
		if r.MatchedCount == 1 {
			return nil
		}
		if attempt > 0 {
			return ErrTooManyInvites
		}
		// Full: drop the invites that expired or were used up, once.
		if _, err := s.openInvites(ctx, streetID, now); err != nil {
			return err
		}
	}
}

// unlistInvite takes code out of the street's list, if it is there.
func (s *Service) unlistInvite(ctx context.Context, streetID, code string) {
	_, err := s.lists.UpdateOne(ctx, bson.M{"_id": streetID, "codes": code},
		bson.M{"$pull": bson.M{"codes": code}, "$inc": bson.M{"open": -1}})
	if err != nil {
		// Left listed, it is dropped when next listed.
		s.log.Warn("streets: unlist invite", "street", streetID, "err", err)
	}
}

// openInvites lists the street's usable invites, newest first, read from
// the database, and drops from the list those no longer usable.
func (s *Service) openInvites(ctx context.Context, streetID string, now time.Time) ([]Invite, error) {
	l, err := s.inviteList(ctx, streetID, now)
	if err != nil {
		return nil, err
	}
	out := []Invite{}
	for _, code := range l.Codes {
		var d inviteDoc
		err := s.invites.FindOne(ctx, bson.M{"_id": code}, &d)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && d.StreetID == streetID && d.usable(now) {
			out = append(out, d.view())
			continue
		}
		s.unlistInvite(ctx, streetID, code)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// requireMembersInvite refuses a member who is not an admin unless the
// street lets members invite, read from the database (ErrNotAdmin: the
// admins' own way to invite is what is left).
func (s *Service) requireMembersInvite(ctx context.Context, streetID string) error {
	d, err := s.streetDoc(ctx, streetID)
	if err != nil {
		return err
	}
	if !d.MembersInvite {
		return ErrNotAdmin
	}
	return nil
}

// Invites lists the street's open invites (admins); at most MaxInvites.
func (s *Service) Invites(ctx context.Context, p auth.Principal, streetID string) ([]Invite, error) {
	if _, err := s.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return nil, err
	}
	return s.openInvites(ctx, streetID, s.now())
}

// VisibleInvites lists the open invites the caller may see: every one
// for an admin; for a member, where members may invite, their own.
func (s *Service) VisibleInvites(ctx context.Context, p auth.Principal, streetID string) ([]Invite, error) {
	me, err := s.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return nil, err
	}
	if me.Role != RoleAdmin {
		if err := s.requireMembersInvite(ctx, streetID); err != nil {
			return nil, err
		}
	}
	all, err := s.openInvites(ctx, streetID, s.now())
	if err != nil || me.Role == RoleAdmin {
		return all, err
	}
	mine := []Invite{}
	for _, inv := range all {
		if inv.CreatedBy == p.UserID {
			mine = append(mine, inv)
		}
	}
	return mine, nil
}

// RevokeInvite ends an invite before it expires: admins any of the
// street's, a member their own (anyone else's is not found to them). The
// update's filter decides: from then on no process admits anyone with it.
func (s *Service) RevokeInvite(ctx context.Context, p auth.Principal, streetID, code string) error {
	me, err := s.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return err
	}
	now := s.now()
	filter := bson.M{"_id": code, "street_id": streetID, "revoked_at": nil, "expires_at": bson.M{"$gt": now}}
	if me.Role != RoleAdmin {
		filter["created_by"] = p.UserID
	}
	r, err := s.invites.UpdateOne(ctx, filter, bson.M{"$set": bson.M{"revoked_at": now}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrInviteNotFound
	}
	s.unlistInvite(ctx, streetID, code)
	s.record(ctx, streetID, me, auditRecord{Action: ActionInviteRevoke, TargetType: "invite", TargetID: code})
	return nil
}

// useInvite counts one use of code for streetID. One conditional update
// decides, on every process: the invite is the street's, not revoked, not
// expired and not used up, and it counts the use in the same write. A
// member's invite works only while the street lets members invite
// (membersInvite, as the street was just read).
func (s *Service) useInvite(ctx context.Context, streetID, code string, membersInvite bool) error {
	if membersInvite {
		// A member's link stands for that member: it stops when they leave
		// or are banned (an admin's stands for the street).
		var cur inviteDoc
		err := s.invites.FindOne(ctx, bson.M{"_id": code}, &cur)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && cur.ByMember {
			m, ok, err := s.lookup(ctx, streetID, cur.CreatedBy)
			if err != nil {
				return err
			}
			if !ok || m.Status != StatusActive {
				return errInviteInvalid
			}
		}
	}
	for attempt := 0; ; attempt++ {
		now := s.now()
		var d inviteDoc
		filter := bson.M{"_id": code, "street_id": streetID, "revoked_at": nil, "expires_at": bson.M{"$gt": now}, "remaining": bson.M{"$gt": 0}}
		if !membersInvite {
			filter["by_member"] = bson.M{"$ne": true}
		}
		err := s.invites.FindOneAndUpdate(ctx, filter,
			bson.M{"$inc": bson.M{"uses": 1, "remaining": -1}}, &d, options.FindOneAndUpdate().SetReturnDocument(options.After))
		if err == nil {
			if d.remaining() <= 0 {
				s.unlistInvite(ctx, streetID, code)
			}
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// Refused. What follows only says why, or gives an invite made
		// before the remaining count its count and tries once more.
		var cur inviteDoc
		err = s.invites.FindOne(ctx, bson.M{"_id": code}, &cur)
		if errors.Is(err, store.ErrNotFound) {
			return errInviteInvalid
		}
		if err != nil {
			return err
		}
		if cur.StreetID != streetID || cur.RevokedAt != nil || (cur.ByMember && !membersInvite) {
			return errInviteInvalid
		}
		if cur.Remaining != nil || attempt > 0 {
			return errInviteExpired
		}
		if _, err := s.invites.UpdateOne(ctx, bson.M{"_id": code, "remaining": bson.M{"$exists": false}, "uses": cur.Uses},
			bson.M{"$set": bson.M{"remaining": cur.MaxUses - cur.Uses}}); err != nil {
			return err
		}
	}
}

// JoinPath is the PWA's join screen of a street, and InvitePath the same
// with an invite's code: the one form of every such link, whether the API
// answers it or a printed QR code carries it.
func JoinPath(streetID string) string { return "/streets/" + url.PathEscape(streetID) + "/join" }

// InvitePath is the join screen with the invite's code filled in.
func InvitePath(streetID, code string) string {
	return JoinPath(streetID) + "?code=" + url.QueryEscape(code)
}
