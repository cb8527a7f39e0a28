package auth

import (
	"context"
	"errors"
	"time"

	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Postman sends the account mails; nil sends none (tests of other packages).
// Each call returns once the mail is durably queued.
type Postman interface {
	// PasswordReset mails to.Email the link to reset the password.
	PasswordReset(ctx context.Context, to Account, token string) error
	// VerifyAddress mails address the link proving it: to.Email at
	// sign-up, the new address when the account changes it.
	VerifyAddress(ctx context.Context, to Account, address, token string) error
	// AddressChanging tells the old address, to.Email, that the account
	// is moving to newAddress.
	AddressChanging(ctx context.Context, to Account, newAddress string) error
	// AddressVerified says address is proven: mail may go to it again
	// (its bounce mark is cleared).
	AddressVerified(ctx context.Context, address string) error
}

// ForgotPassword mails a link to reset the password of the account with
// this address. Its answer never tells whether there is one: an unknown
// address, or a deleted account's, gets nil after the same lookups and a
// write that changes nothing. (The mail queued for a known address stays a
// difference of one insert; the per-address limit leaves too few tries to
// measure it, and registration says whether an address is taken anyway.)
// A malformed address is a validation error on "email"; too many requests
// from the IP (counted before any lookup) or for the address are refused.
func (s *Service) ForgotPassword(ctx context.Context, email, ip string) error {
	email = normalizeEmail(email)
	f := fault.Fields{}
	checkEmail(f, email)
	if err := f.Err(); err != nil {
		return err
	}
	if ok, wait := s.allowed(s.forgotIP.Allow(ctx, ip)); !ok {
		return ErrRateLimited.WithRetry(wait)
	}
	if ok, wait := s.allowed(s.forgotAddress.Allow(ctx, email)); !ok {
		return ErrRateLimited.WithRetry(wait)
	}
	u, err := s.userByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return s.resetNobody(ctx)
	}
	if err != nil {
		return err
	}
	token := newLinkToken(u.ID)
	now := s.clock.Now().Truncate(time.Millisecond)
	// The latest link only: replacing the hash voids every older link.
	// Account shows nothing of it, so the account copy stays as it is.
	r, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: u.ID}, {Key: "deleted", Value: bson.M{"$ne": true}}},
		bson.M{"$set": bson.M{"reset": resetLink{Hash: tokenHash(token), ExpiresAt: now.Add(resetTTL)}}})
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 || s.postman == nil {
		return nil // deleted meanwhile: as unknown
	}
	// A mail that cannot be queued is logged, not answered: an error only
	// known addresses could get would tell them apart.
	if err := s.postman.PasswordReset(ctx, u.account(), token); err != nil {
		s.log.Error("auth: a password reset mail was not queued", "user", u.ID.Hex(), "err", err)
	}
	return nil
}

// resetNobody does for an unknown address what a known one costs: a
// lookup of an account by _id and a conditional update of it (of an id no
// account has, so nothing changes).
func (s *Service) resetNobody(ctx context.Context) error {
	nobody := bson.NewObjectID()
	var u user
	if err := s.users.FindOne(ctx, bson.M{"_id": nobody}, &u); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: nobody}, {Key: "deleted", Value: bson.M{"$ne": true}}},
		bson.M{"$set": bson.M{"reset": resetLink{Hash: tokenHash(randomToken(linkSecretLen))}}})
	return err
}

// ResetPassword sets a new password with the token of a reset link. The
// link is single use, and so proves the address it went to; every session
// of the account ends, and the access tokens it holds stop working on
// every process (token_version). Of two uses of one link at once exactly
// one wins: the write is conditional on the link's hash.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	f := fault.Fields{}
	validatePassword(f, "password", password)
	if err := f.Err(); err != nil {
		return err
	}
	u, ok, err := s.linkedUser(ctx, token)
	if err != nil {
		return err
	}
	if !ok || u.Reset == nil || !sameHash(u.Reset.Hash, token) {
		return ErrResetTokenInvalid
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	if !now.Before(u.Reset.ExpiresAt) {
		return ErrResetTokenExpired
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	filter := bson.D{{Key: "_id", Value: u.ID}, {Key: "reset.hash", Value: u.Reset.Hash}, {Key: "deleted", Value: bson.M{"$ne": true}}}
	r, err := s.users.UpdateOne(ctx, filter, bson.M{
		"$set":   bson.M{"password_hash": hash, "email_verified": true, "updated_at": now},
		"$unset": bson.M{"reset": ""},
		"$inc":   bson.M{"token_version": 1},
	})
	s.accountChanged(context.WithoutCancel(ctx), u.ID)
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrResetTokenInvalid // used meanwhile, replaced, or the account deleted
	}
	if err := s.RevokeAll(ctx, u.ID.Hex()); err != nil {
		return err
	}
	if s.postman != nil {
		if err := s.postman.AddressVerified(ctx, u.Email); err != nil {
			s.log.Error("auth: an address proven by a password reset was not cleared", "user", u.ID.Hex(), "err", err)
		}
	}
	return nil
}

// linkedUser reads the live account a link token names; ok is false when
// the token is malformed or names none.
func (s *Service) linkedUser(ctx context.Context, token string) (user, bool, error) {
	id, ok := parseLinkToken(token)
	if !ok {
		return user{}, false, nil
	}
	u, err := s.userByID(ctx, id.Hex())
	if errors.Is(err, store.ErrNotFound) {
		return user{}, false, nil
	}
	return u, err == nil, err
}
