// Package auth owns accounts and sessions: registration, login with
// argon2id, short-lived JWT access tokens, and opaque refresh tokens that
// rotate on every use and whose reuse revokes their whole family; and the
// account's mail: password recovery and verified addresses (recovery.go,
// address.go), sent through a Postman.
package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Errors of this package.
var (
	ErrBadToken           = fault.New(fault.Unauthorized, "invalid_token", "the access token is not valid")
	ErrTokenExpired       = fault.New(fault.Unauthorized, "token_expired", "the access token has expired")
	ErrInvalidCredentials = fault.New(fault.Unauthorized, "invalid_credentials", "wrong email or password")
	ErrBadRefresh         = fault.New(fault.Unauthorized, "invalid_refresh_token", "the session has ended, sign in again")
	ErrRefreshReused      = fault.New(fault.Unauthorized, "refresh_token_reused", "this session was used elsewhere and has been closed, sign in again")
	ErrEmailTaken         = fault.New(fault.Conflict, "email_taken", "an account with this email already exists")
	ErrRateLimited        = fault.New(fault.RateLimited, "rate_limited", "too many attempts, try again later")
	ErrUserNotFound       = fault.New(fault.NotFound, "user_not_found", "user not found")
	ErrWrongPassword      = fault.New(fault.Forbidden, "wrong_password", "the current password is wrong")

	// The links of the account's mails. A bad link is a malformed request
	// (400), like a bad cursor: nothing the user typed is wrong.
	ErrResetTokenInvalid  = fault.New(fault.BadRequest, "invalid_reset_token", "this password reset link is not valid: it was used already, a newer one replaced it, or it is incomplete")
	ErrResetTokenExpired  = fault.New(fault.BadRequest, "reset_token_expired", "this password reset link has expired, ask for a new one")
	ErrVerifyTokenInvalid = fault.New(fault.BadRequest, "invalid_verification_token", "this confirmation link is not valid: it was used already, a newer one replaced it, or it is incomplete")
	ErrVerifyTokenExpired = fault.New(fault.BadRequest, "verification_token_expired", "this confirmation link has expired, ask for a new one")
)

// Options tune the service.
type Options struct {
	// Secret signs access tokens; empty means generated once and kept in the database.
	Secret []byte
	// AccessTTL is an access token's life (default 15 min).
	AccessTTL time.Duration
	// RefreshTTL is a refresh token's life (default 30 days).
	RefreshTTL time.Duration
	// LoginPerAccount, LoginPerIP per minute; RegisterPerIP per hour.
	LoginPerAccount, LoginPerIP, RegisterPerIP int
	// Postman sends the account's mails; nil sends none (tests of other packages).
	Postman Postman
	// ForgotPerAddress, ForgotPerIP bound password reset requests per hour
	// (defaults 3 and 20; negative: no limit).
	ForgotPerAddress, ForgotPerIP int
	// VerifyPerAccount bounds the verification mails a signed-in user asks
	// for (a resend, an address change) per hour (default 5; negative: no limit).
	VerifyPerAccount int
}

// Principal is who a request acts for.
type Principal struct {
	UserID string
}

// Account is a user as the user themself sees it.
type Account struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Locale    string    `json:"locale"`
	TimeZone  string    `json:"time_zone"`
	CreatedAt time.Time `json:"created_at"`
	// EmailVerified: the owner of Email followed a link mailed to it.
	// Notification mails go only to verified addresses.
	EmailVerified bool `json:"email_verified"`
	// PendingEmail is the address the account is changing to, until a link
	// mailed to it is followed (also once that link expired: a resend
	// mails a new one); Email stays in use until then.
	PendingEmail string `json:"pending_email,omitempty"`
	// OnPaper: the account's posts may appear on the street's printed
	// board (first name and initial); the owner may say never.
	OnPaper bool `json:"on_paper"`
	// Bio, Skills and ShareSkills are the profile the street's members
	// see (profile.go); the skills feed the street's skills directory
	// only with ShareSkills, the owner's explicit consent.
	Bio         string   `json:"bio"`
	Skills      []string `json:"skills"`
	ShareSkills bool     `json:"share_skills"`
}

// Session is what register, login and refresh hand out.
type Session struct {
	Account        Account
	AccessToken    string
	ExpiresIn      int
	RefreshToken   string
	RefreshExpires time.Time
}

// Service is accounts and sessions.
type Service struct {
	users  *store.Collection
	emails *store.Collection
	tokens *store.Collection
	clock  clock.Clock
	log    *slog.Logger
	opts   Options
	secret []byte

	postman Postman

	loginAccount, loginIP, registerIP      *ratelimit.Limiter
	forgotAddress, forgotIP, verifyAccount *ratelimit.Limiter
	// dummyHash is checked for unknown emails so both answers take as long.
	dummyHash string
	// embedded: the engine evaluates $in document by document (see Users).
	embedded bool
	// accounts is the embedded engine's copy of every account (accounts.go).
	accounts accountCopy

	// sweepMu runs one Sweep at a time; nextExpiry, under it, is when the
	// first refresh token still kept expires (zero: unknown).
	sweepMu    sync.Mutex
	nextExpiry time.Time
}

type user struct {
	ID           bson.ObjectID `bson:"_id"`
	Email        string        `bson:"email"`
	Name         string        `bson:"name"`
	Locale       string        `bson:"locale"`
	TimeZone     string        `bson:"time_zone"`
	PasswordHash string        `bson:"password_hash"`
	CreatedAt    time.Time     `bson:"created_at"`
	UpdatedAt    time.Time     `bson:"updated_at"`
	Deleted      bool          `bson:"deleted,omitempty"`

	EmailVerified bool `bson:"email_verified"`
	// TokenVersion is carried by every access token (claim "ver"); a
	// password reset bumps it, so the tokens made before stop working on
	// every process at once. Missing (accounts from before) counts as 0.
	TokenVersion int `bson:"token_version,omitempty"`
	// Reset is the latest password reset link; a newer one replaces it.
	Reset *resetLink `bson:"reset,omitempty"`
	// Verify is the latest verification link, for Email or for the
	// address the account is changing to.
	Verify *verifyLink `bson:"verify,omitempty"`
	// NoPaper keeps the account off printed sheets; missing means on.
	NoPaper bool `bson:"no_paper,omitempty"`
	// The profile (profile.go); missing: none, and no consent.
	Bio         string   `bson:"bio,omitempty"`
	Skills      []string `bson:"skills,omitempty"`
	ShareSkills bool     `bson:"share_skills,omitempty"`
}

func (u user) account() Account {
	a := Account{ID: u.ID.Hex(), Email: u.Email, Name: u.Name, Locale: u.Locale, TimeZone: u.TimeZone, CreatedAt: u.CreatedAt,
		EmailVerified: u.EmailVerified, OnPaper: !u.NoPaper, Bio: u.Bio, Skills: u.Skills, ShareSkills: u.ShareSkills}
	if a.Skills == nil {
		a.Skills = []string{}
	}
	if u.Verify != nil && u.Verify.Email != u.Email {
		a.PendingEmail = u.Verify.Email
	}
	return a
}

// emailClaim makes emails unique with a lookup by _id, the one filter the
// embedded engine does not answer by scanning.
type emailClaim struct {
	Email  string        `bson:"_id"`
	UserID bson.ObjectID `bson:"user_id"`
}

type refreshToken struct {
	Hash      string     `bson:"_id"`
	FamilyID  string     `bson:"family_id"`
	UserID    string     `bson:"user_id"`
	CreatedAt time.Time  `bson:"created_at"`
	ExpiresAt time.Time  `bson:"expires_at"`
	UsedAt    *time.Time `bson:"used_at"`
	RevokedAt *time.Time `bson:"revoked_at"`
	// Next is the hash of the token this one was traded for.
	Next string `bson:"next,omitempty"`
}

// refreshRaceGrace is how long after a token was spent a second use may
// still be the same client racing itself (two tabs waking together).
const refreshRaceGrace = 30 * time.Second

// Indexes are this package's indexes.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: "users", Name: "email", Keys: bson.D{{Key: "email", Value: 1}}, Unique: true},
		{Collection: "refresh_tokens", Name: "family", Keys: bson.D{{Key: "family_id", Value: 1}}},
		{Collection: "refresh_tokens", Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
		{Collection: "refresh_tokens", Name: "expires", Keys: bson.D{{Key: "expires_at", Value: 1}}},
	}
}

// New returns the service; it loads or creates the signing secret.
func New(ctx context.Context, st *store.Store, c clock.Clock, log *slog.Logger, opts Options) (*Service, error) {
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = 15 * time.Minute
	}
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = 30 * 24 * time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	orDefault := func(n *int, def int) {
		if *n == 0 {
			*n = def
		}
	}
	orDefault(&opts.ForgotPerAddress, 3)
	orDefault(&opts.ForgotPerIP, 20)
	orDefault(&opts.VerifyPerAccount, 5)
	s := &Service{
		users: st.Remembered("users"), emails: st.Collection("emails"), tokens: st.Collection("refresh_tokens"),
		clock: c, log: log, opts: opts, embedded: st.Embedded(), postman: opts.Postman,
		loginAccount:  ratelimit.New(st, "login_account", opts.LoginPerAccount, time.Minute, c),
		loginIP:       ratelimit.New(st, "login_ip", opts.LoginPerIP, time.Minute, c),
		registerIP:    ratelimit.New(st, "register_ip", opts.RegisterPerIP, time.Hour, c),
		forgotAddress: ratelimit.New(st, "forgot_address", opts.ForgotPerAddress, time.Hour, c),
		forgotIP:      ratelimit.New(st, "forgot_ip", opts.ForgotPerIP, time.Hour, c),
		verifyAccount: ratelimit.New(st, "verify_account", opts.VerifyPerAccount, time.Hour, c),
	}
	if len(opts.Secret) > 0 {
		if len(opts.Secret) < 32 {
			return nil, errors.New("auth: the JWT secret must be at least 32 bytes")
		}
		s.secret = opts.Secret
	} else {
		v, err := st.Setting(ctx, "jwt_secret", func() (string, error) { return randomToken(48), nil })
		if err != nil {
			return nil, err
		}
		if s.secret, err = base64.RawURLEncoding.DecodeString(v); err != nil {
			return nil, fmt.Errorf("auth: stored secret: %w", err)
		}
	}
	h, err := hashPassword(randomToken(16))
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	return s, nil
}

// Registration is what a new user gives.
type Registration struct {
	Email    string
	Password string
	Name     string
	Locale   string
	TimeZone string
}

// Register creates an account and signs it in, and mails a link to
// verify its address. The account is usable before that, so a mail that
// cannot be queued is logged and the registration still succeeds: the
// user can ask for the link again.
func (s *Service) Register(ctx context.Context, r Registration, ip string) (Session, error) {
	r.Email = normalizeEmail(r.Email)
	r.Name = wording.Line(r.Name)
	f := fault.Fields{}
	checkEmail(f, r.Email)
	validatePassword(f, "password", r.Password)
	checkName(f, r.Name)
	r.Locale = checkLocale(f, r.Locale)
	r.TimeZone = checkTimeZone(f, r.TimeZone)
	if err := f.Err(); err != nil {
		return Session{}, err
	}
	if ok, wait := s.allowed(s.registerIP.Allow(ctx, ip)); !ok {
		return Session{}, ErrRateLimited.WithRetry(wait)
	}
	hash, err := hashPassword(r.Password)
	if err != nil {
		return Session{}, err
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	u := user{ID: bson.NewObjectID(), Email: r.Email, Name: r.Name, Locale: r.Locale, TimeZone: r.TimeZone,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	// The link is part of the new account's document: no second write.
	verifyToken := newLinkToken(u.ID)
	u.Verify = &verifyLink{Hash: tokenHash(verifyToken), Email: r.Email, ExpiresAt: now.Add(verifyTTL)}
	if _, err := s.emails.InsertOne(ctx, emailClaim{Email: r.Email, UserID: u.ID}); err != nil {
		if store.IsDuplicate(err) {
			return Session{}, ErrEmailTaken
		}
		return Session{}, err
	}
	if _, err := s.users.InsertOne(ctx, u); err != nil {
		_, _ = s.emails.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": r.Email})
		if store.IsDuplicate(err) {
			return Session{}, ErrEmailTaken
		}
		return Session{}, err
	}
	acc := u.account()
	s.accounts.changed(acc.ID, &acc)
	if s.postman != nil {
		if err := s.postman.VerifyAddress(ctx, acc, acc.Email, verifyToken); err != nil {
			s.log.Error("auth: the verification mail of a new account was not queued", "user", acc.ID, "err", err)
		}
	}
	return s.newSession(ctx, u, randomToken(12))
}

// Login checks the password and signs the user in. A wrong password and an
// unknown email answer the same, after the same work.
func (s *Service) Login(ctx context.Context, email, password, ip string) (Session, error) {
	email = normalizeEmail(email)
	if len(email) > 254 || len(password) > 1024 {
		return Session{}, ErrInvalidCredentials
	}
	if ok, wait := s.allowed(s.loginIP.Peek(ctx, ip)); !ok {
		return Session{}, ErrRateLimited.WithRetry(wait)
	}
	if ok, wait := s.allowed(s.loginAccount.Allow(ctx, email)); !ok {
		return Session{}, ErrRateLimited.WithRetry(wait)
	}
	if ok, wait := s.allowed(s.loginIP.Allow(ctx, ip)); !ok {
		return Session{}, ErrRateLimited.WithRetry(wait)
	}
	u, err := s.userByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = checkPassword(s.dummyHash, password)
		return Session{}, ErrInvalidCredentials
	}
	if err != nil {
		return Session{}, err
	}
	ok, err := checkPassword(u.PasswordHash, password)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		return Session{}, ErrInvalidCredentials
	}
	family := randomToken(12)
	sess, err := s.newSession(ctx, u, family)
	if err != nil {
		return Session{}, err
	}
	// A password change (on any process) sets the new hash, then ends every
	// session. A session made after that end with the old password would
	// survive it, so the account is read again once the session exists: if
	// the hash changed, this session ends; if it did not, any change comes
	// later and its end takes this session too.
	now, err := s.userByID(ctx, u.ID.Hex())
	if err == nil && sameCredentials(now, u) {
		return sess, nil
	}
	if rerr := s.revokeFamily(context.WithoutCancel(ctx), family); rerr != nil {
		return Session{}, errors.Join(err, rerr)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, err
	}
	return Session{}, ErrInvalidCredentials
}

// allowed follows a limiter's decision; a database failure, which never
// refuses (see internal/ratelimit), is logged.
func (s *Service) allowed(ok bool, wait time.Duration, err error) (bool, time.Duration) {
	if err != nil {
		s.log.Warn("auth: rate limit", "err", err)
	}
	return ok, wait
}

func (s *Service) userByEmail(ctx context.Context, email string) (user, error) {
	var claim emailClaim
	if err := s.emails.FindOne(ctx, bson.M{"_id": email}, &claim); err != nil {
		return user{}, err
	}
	var u user
	if err := s.users.FindOne(ctx, bson.M{"_id": claim.UserID}, &u); err != nil {
		return user{}, err
	}
	if u.Deleted {
		return user{}, store.ErrNotFound
	}
	return u, nil
}

func (s *Service) newSession(ctx context.Context, u user, family string) (Session, error) {
	now := s.clock.Now().Truncate(time.Millisecond)
	access, err := s.signAccess(u.ID.Hex(), u.TokenVersion, now)
	if err != nil {
		return Session{}, err
	}
	refresh := randomToken(32)
	rt := refreshToken{Hash: tokenHash(refresh), FamilyID: family, UserID: u.ID.Hex(), CreatedAt: now, ExpiresAt: now.Add(s.opts.RefreshTTL)}
	if _, err := s.tokens.InsertOne(ctx, rt); err != nil {
		return Session{}, err
	}
	return Session{Account: u.account(), AccessToken: access, ExpiresIn: int(s.opts.AccessTTL.Seconds()),
		RefreshToken: refresh, RefreshExpires: rt.ExpiresAt}, nil
}

// Refresh trades a refresh token for a new pair. The old token is spent; a
// spent token presented again means it leaked, so its family is revoked.
// Of two concurrent refreshes of one token exactly one wins; the loser is
// refused without revoking, as the race is no evidence of theft.
func (s *Service) Refresh(ctx context.Context, token string) (Session, error) {
	if token == "" || len(token) > 256 {
		return Session{}, ErrBadRefresh
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	var rt refreshToken
	if err := s.tokens.FindOne(ctx, bson.M{"_id": tokenHash(token)}, &rt); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Session{}, ErrBadRefresh
		}
		return Session{}, err
	}
	if rt.RevokedAt != nil || !now.Before(rt.ExpiresAt) {
		return Session{}, ErrBadRefresh
	}
	if rt.UsedAt != nil {
		if s.racing(ctx, &rt, now) {
			return Session{}, ErrBadRefresh
		}
		if err := s.revokeFamily(ctx, rt.FamilyID); err != nil {
			return Session{}, err
		}
		s.log.Warn("refresh token reused; family revoked", "user", rt.UserID)
		return Session{}, ErrRefreshReused
	}
	res, err := s.tokens.UpdateOne(ctx, bson.D{{Key: "_id", Value: rt.Hash}, {Key: "used_at", Value: nil}, {Key: "revoked_at", Value: nil}},
		bson.M{"$set": bson.M{"used_at": now}})
	if err != nil {
		return Session{}, err
	}
	if res.ModifiedCount != 1 {
		return Session{}, ErrBadRefresh
	}
	u, err := s.userByID(ctx, rt.UserID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Session{}, ErrBadRefresh
		}
		return Session{}, err
	}
	sess, err := s.newSession(ctx, u, rt.FamilyID)
	if err != nil {
		return Session{}, err
	}
	if _, err := s.tokens.UpdateOne(ctx, bson.M{"_id": rt.Hash}, bson.M{"$set": bson.M{"next": tokenHash(sess.RefreshToken)}}); err != nil {
		return Session{}, err
	}
	// As in Login: a password change or reset that ended every session
	// after the account was read above, but before the new token was
	// stored, missed it. Read again: unchanged, and the end comes later
	// and takes this token too; changed, and this family ends here.
	again, err := s.userByID(ctx, rt.UserID)
	if err == nil && sameCredentials(again, u) {
		return sess, nil
	}
	if rerr := s.revokeFamily(context.WithoutCancel(ctx), rt.FamilyID); rerr != nil {
		return Session{}, errors.Join(err, rerr)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, err
	}
	return Session{}, ErrBadRefresh
}

// sameCredentials tells whether nothing that ends every session (a new
// password, a reset) happened between two reads of one account.
func sameCredentials(now, before user) bool {
	return now.PasswordHash == before.PasswordHash && now.TokenVersion == before.TokenVersion
}

// racing tells a spent token presented again by the client that spent it,
// racing itself, from a replay: the race happens within seconds and before
// the token it was traded for has been used. A thief who replays the token
// later, or after the rightful client refreshed again, ends the family.
func (s *Service) racing(ctx context.Context, rt *refreshToken, now time.Time) bool {
	if now.Sub(*rt.UsedAt) >= refreshRaceGrace {
		return false
	}
	if rt.Next == "" {
		return true // the winner is still being answered
	}
	var next refreshToken
	if err := s.tokens.FindOne(ctx, bson.M{"_id": rt.Next}, &next); err != nil {
		return false
	}
	return next.UsedAt == nil && next.RevokedAt == nil
}

// Logout ends the session the refresh token belongs to. Unknown tokens are
// fine: the user is signed out either way.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" || len(token) > 256 {
		return nil
	}
	var rt refreshToken
	if err := s.tokens.FindOne(ctx, bson.M{"_id": tokenHash(token)}, &rt); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	return s.revokeFamily(ctx, rt.FamilyID)
}

// SessionUser tells whose session a refresh token belongs to ("" if none),
// so logout can also drop that device's push subscription.
func (s *Service) SessionUser(ctx context.Context, token string) string {
	if token == "" || len(token) > 256 {
		return ""
	}
	var rt refreshToken
	if err := s.tokens.FindOne(ctx, bson.M{"_id": tokenHash(token)}, &rt); err != nil {
		return ""
	}
	return rt.UserID
}

func (s *Service) revokeFamily(ctx context.Context, family string) error {
	now := s.clock.Now()
	_, err := s.tokens.UpdateMany(ctx, bson.M{"family_id": family, "revoked_at": nil}, bson.M{"$set": bson.M{"revoked_at": now}})
	return err
}

// RevokeAll ends every session of a user (password change, account deletion).
func (s *Service) RevokeAll(ctx context.Context, userID string) error {
	_, err := s.tokens.UpdateMany(ctx, bson.M{"user_id": userID, "revoked_at": nil}, bson.M{"$set": bson.M{"revoked_at": s.clock.Now()}})
	return err
}

// Sweep deletes expired refresh tokens: the embedded engine has no TTL
// indexes, so this is the expiry. Run it periodically.
//
// That engine learns which tokens expired only by reading them all, so
// Sweep remembers when the first token it left expires and reads nothing
// before then: every token issued later expires later still (one TTL).
func (s *Service) Sweep(ctx context.Context) error {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	now := s.clock.Now()
	if now.Before(s.nextExpiry) {
		return nil
	}
	if _, err := s.tokens.DeleteMany(ctx, bson.M{"expires_at": bson.M{"$lt": now}}); err != nil {
		return err
	}
	var first refreshToken
	err := s.tokens.FindOne(ctx, bson.M{}, &first,
		options.FindOne().SetSort(bson.D{{Key: "expires_at", Value: 1}}).SetProjection(bson.M{"expires_at": 1}))
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.nextExpiry = now.Add(s.opts.RefreshTTL)
	case err != nil:
		return err
	default:
		s.nextExpiry = first.ExpiresAt
	}
	return nil
}

func (s *Service) userByID(ctx context.Context, id string) (user, error) {
	oid, ok := store.ID(id)
	if !ok {
		return user{}, store.ErrNotFound
	}
	var u user
	if err := s.users.FindOne(ctx, bson.M{"_id": oid}, &u); err != nil {
		return user{}, err
	}
	if u.Deleted {
		return user{}, store.ErrNotFound
	}
	return u, nil
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context, p Principal) (Account, error) {
	u, err := s.userByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, ErrUserNotFound
	}
	return u.account(), err
}

// User returns any user's account, for other services (names, locales).
func (s *Service) User(ctx context.Context, id string) (Account, error) {
	return s.Me(ctx, Principal{UserID: id})
}

// Users returns the accounts of ids that exist, by id. Lookups go by _id,
// which the embedded engine answers without scanning.
func (s *Service) Users(ctx context.Context, ids []string) (map[string]Account, error) {
	out := make(map[string]Account, len(ids))
	oids := make([]bson.ObjectID, 0, len(ids))
	for _, id := range ids {
		if oid, ok := store.ID(id); ok {
			oids = append(oids, oid)
		}
	}
	if len(oids) == 0 {
		return out, nil
	}
	if s.embedded {
		if s.accounts.lookup(ids, out) {
			return out, nil
		}
		if len(oids) > bigLookup {
			if err := s.accounts.load(ctx, s, ids, out); err != nil {
				return nil, err
			}
			return out, nil
		}
	}
	var us []user
	if err := s.users.FindAll(ctx, bson.M{"_id": bson.M{"$in": oids}}, &us); err != nil {
		return nil, err
	}
	for _, u := range us {
		if !u.Deleted {
			out[u.ID.Hex()] = u.account()
		}
	}
	return out, nil
}

// bigLookup is the number of ids above which Users reads the embedded
// engine's users collection once, and keeps it (accountCopy), instead of
// asking for $in: that engine compares every document with every id (a push
// to a street of 2 000 took 0.4-1 s in $in alone).
const bigLookup = 100

// accountChanged brings the account copy in step with a write to id (even
// a failed one: it may have been applied), reading the account back.
func (s *Service) accountChanged(ctx context.Context, id bson.ObjectID) {
	u, err := s.userByID(ctx, id.Hex())
	switch {
	case err != nil:
		s.accounts.invalidate() // unknown now: the next big lookup reads again
	case u.Deleted:
		s.accounts.changed(id.Hex(), nil)
	default:
		acc := u.account()
		s.accounts.changed(acc.ID, &acc)
	}
}

// UserByEmail finds an account by email, for volunteers added by email.
func (s *Service) UserByEmail(ctx context.Context, email string) (Account, error) {
	u, err := s.userByEmail(ctx, normalizeEmail(email))
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, ErrUserNotFound
	}
	return u.account(), err
}

// Changes is what PATCH /me may change; nil fields stay.
type Changes struct {
	Name            *string
	Locale          *string
	TimeZone        *string
	Password        *string
	CurrentPassword *string
	// OnPaper false keeps the account's posts off printed boards.
	OnPaper *bool
	// Bio, Skills and ShareSkills change the profile (profile.go); Skills
	// replaces the whole list.
	Bio         *string
	Skills      *[]string
	ShareSkills *bool
}

// Update changes the caller's account. A new password needs the current
// one and ends every session.
func (s *Service) Update(ctx context.Context, p Principal, ch Changes) (Account, error) {
	u, err := s.userByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, ErrUserNotFound
	}
	if err != nil {
		return Account{}, err
	}
	f := fault.Fields{}
	set := bson.M{}
	if ch.Name != nil {
		name := wording.Line(*ch.Name)
		checkName(f, name)
		set["name"] = name
	}
	if ch.Locale != nil {
		if *ch.Locale == "" {
			f.Add("locale", "required")
		}
		set["locale"] = checkLocale(f, *ch.Locale)
	}
	if ch.TimeZone != nil {
		if *ch.TimeZone == "" {
			f.Add("time_zone", "required")
		}
		set["time_zone"] = checkTimeZone(f, *ch.TimeZone)
	}
	if ch.OnPaper != nil {
		set["no_paper"] = !*ch.OnPaper
	}
	profileChanges(f, ch, set)
	if ch.Password != nil {
		validatePassword(f, "password", *ch.Password)
		if ch.CurrentPassword == nil {
			f.Add("current_password", "required")
		}
	}
	if err := f.Err(); err != nil {
		return Account{}, err
	}
	if ch.Password != nil {
		ok, err := checkPassword(u.PasswordHash, *ch.CurrentPassword)
		if err != nil {
			return Account{}, err
		}
		if !ok {
			return Account{}, ErrWrongPassword
		}
		h, err := hashPassword(*ch.Password)
		if err != nil {
			return Account{}, err
		}
		set["password_hash"] = h
	}
	if len(set) == 0 {
		return u.account(), nil
	}
	set["updated_at"] = s.clock.Now().Truncate(time.Millisecond)
	// The account as it was read: a deletion meanwhile (on any process)
	// must not get its name back, and of two password changes at once
	// only the first counts; the other's current password is no longer
	// current.
	if err := s.setAccount(ctx, u, ch.Password != nil, set); err != nil {
		return Account{}, err
	}
	if ch.Password != nil {
		if err := s.RevokeAll(ctx, p.UserID); err != nil {
			return Account{}, err
		}
	}
	return s.Me(ctx, p)
}

// setAccount writes set to the account as it was read (u): not once it is
// deleted (on any process), and, when the change was allowed by its
// password, not once that password changed (ErrWrongPassword).
func (s *Service) setAccount(ctx context.Context, u user, byPassword bool, set bson.M) error {
	filter := bson.D{{Key: "_id", Value: u.ID}, {Key: "deleted", Value: bson.M{"$ne": true}}}
	if byPassword {
		filter = append(filter, bson.E{Key: "password_hash", Value: u.PasswordHash})
	}
	r, err := s.users.UpdateOne(ctx, filter, bson.M{"$set": set})
	s.accountChanged(context.WithoutCancel(ctx), u.ID)
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		if _, err := s.userByID(ctx, u.ID.Hex()); errors.Is(err, store.ErrNotFound) {
			return ErrUserNotFound
		} else if err != nil {
			return err
		}
		return ErrWrongPassword
	}
	return nil
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func checkEmail(f fault.Fields, email string) {
	switch {
	case email == "":
		f.Add("email", "required")
	case len(email) > 254:
		f.Add("email", "too_long")
	default:
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") ||
			wording.Problem(email) != "" {
			f.Add("email", "invalid")
		}
	}
}

func validatePassword(f fault.Fields, field, pw string) {
	n := utf8.RuneCountInString(pw)
	switch {
	case pw == "":
		f.Add(field, "required")
	case n < 8:
		f.Add(field, "too_short")
	case len(pw) > 1024:
		f.Add(field, "too_long")
	}
}

// Neighbours read a name beside everything its user writes, so it must show
// what it is: wording.Problem.
func checkName(f fault.Fields, name string) {
	switch {
	case name == "":
		f.Add("name", "required")
	case utf8.RuneCountInString(name) > 80:
		f.Add("name", "too_long")
	default:
		if problem := wording.Problem(name); problem != "" {
			f.Add("name", problem)
		}
	}
}

func checkLocale(f fault.Fields, locale string) string {
	switch locale {
	case "":
		return "it"
	case "it", "en":
		return locale
	}
	f.Add("locale", "unsupported")
	return locale
}

func checkTimeZone(f fault.Fields, tz string) string {
	if tz == "" {
		return "Europe/Rome"
	}
	if len(tz) > 64 {
		f.Add("time_zone", "invalid")
		return tz
	}
	if _, err := time.LoadLocation(tz); err != nil {
		f.Add("time_zone", "invalid")
	}
	return tz
}

// CheckPassword confirms a sensitive action with the caller's password.
func (s *Service) CheckPassword(ctx context.Context, p Principal, password string) error {
	u, err := s.userByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUserNotFound
	}
	if err != nil {
		return err
	}
	if len(password) > 1024 {
		return ErrWrongPassword
	}
	ok, err := checkPassword(u.PasswordHash, password)
	if err != nil {
		return err
	}
	if !ok {
		return ErrWrongPassword
	}
	return nil
}

// Delete closes an account: its sessions end, its email is freed, and what
// stays (the id other records point at) keeps no personal data (nor the
// links of its mails: a pending address is personal data too).
func (s *Service) Delete(ctx context.Context, p Principal) error {
	u, err := s.userByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUserNotFound
	}
	if err != nil {
		return err
	}
	if err := s.RevokeAll(ctx, p.UserID); err != nil {
		return err
	}
	_, err = s.users.UpdateOne(ctx, bson.M{"_id": u.ID}, bson.M{"$set": bson.M{
		"deleted": true, "email": "deleted:" + u.ID.Hex(), "name": "", "password_hash": "",
		"updated_at": s.clock.Now().Truncate(time.Millisecond),
	}, "$unset": bson.M{"reset": "", "verify": "", "bio": "", "skills": "", "share_skills": ""}})
	if err != nil {
		s.accounts.invalidate() // it may have been applied
		return err
	}
	s.accounts.changed(u.ID.Hex(), nil)
	_, err = s.emails.DeleteOne(ctx, bson.M{"_id": u.Email})
	return err
}
