package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"civico/internal/fault"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// VerifyEmail follows a verification link: the address it was mailed to is
// proven. For the account's own address that is all; for the address it is
// changing to, the account moves there (and the old address is freed),
// unless another account took that address meanwhile (ErrEmailTaken,
// nothing changes). The link is single use. No session is needed: the link
// may open on another device.
func (s *Service) VerifyEmail(ctx context.Context, token string) (Account, error) {
	u, ok, err := s.linkedUser(ctx, token)
	if err != nil {
		return Account{}, err
	}
	if !ok || u.Verify == nil || !sameHash(u.Verify.Hash, token) {
		return Account{}, ErrVerifyTokenInvalid
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	if !now.Before(u.Verify.ExpiresAt) {
		return Account{}, ErrVerifyTokenExpired
	}
	address := u.Verify.Email
	if address == u.Email {
		err = s.confirmAddress(ctx, u, now)
	} else {
		err = s.moveAddress(ctx, u, now)
	}
	if err != nil {
		return Account{}, err
	}
	if s.postman != nil {
		if err := s.postman.AddressVerified(ctx, address); err != nil {
			s.log.Error("auth: a verified address was not cleared", "user", u.ID.Hex(), "err", err)
		}
	}
	return s.Me(ctx, Principal{UserID: u.ID.Hex()})
}

// confirmAddress marks the account's own address verified. The write is
// conditional on the link (single use: of two uses at once, one wins) and
// on the address it proves still being the account's.
func (s *Service) confirmAddress(ctx context.Context, u user, now time.Time) error {
	filter := bson.D{{Key: "_id", Value: u.ID}, {Key: "verify.hash", Value: u.Verify.Hash}, {Key: "email", Value: u.Email},
		{Key: "deleted", Value: bson.M{"$ne": true}}}
	r, err := s.users.UpdateOne(ctx, filter, bson.M{
		"$set":   bson.M{"email_verified": true, "updated_at": now},
		"$unset": bson.M{"verify": ""},
	})
	s.accountChanged(context.WithoutCancel(ctx), u.ID)
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		return ErrVerifyTokenInvalid
	}
	return nil
}

// moveAddress moves the account to the address its link proves. Emails are
// unique through their claims (emailClaim), so the new address is claimed
// first; then one conditional write (the link, and the old address still
// the account's) moves the account; then the old claim goes. A move that
// does not happen gives its claim back.
func (s *Service) moveAddress(ctx context.Context, u user, now time.Time) error {
	old, next := u.Email, u.Verify.Email
	if err := s.claimEmail(ctx, next, u.ID); err != nil {
		return err
	}
	filter := bson.D{{Key: "_id", Value: u.ID}, {Key: "verify.hash", Value: u.Verify.Hash}, {Key: "email", Value: old},
		{Key: "deleted", Value: bson.M{"$ne": true}}}
	// A reset link went to the old address: it no longer speaks for the
	// account.
	r, err := s.users.UpdateOne(ctx, filter, bson.M{
		"$set":   bson.M{"email": next, "email_verified": true, "updated_at": now},
		"$unset": bson.M{"verify": "", "reset": ""},
	})
	s.accountChanged(context.WithoutCancel(ctx), u.ID)
	switch {
	case store.IsDuplicate(err):
		// The users' unique email index: an account has the address
		// without its claim (none should; the index is the last guard).
		s.releaseClaim(ctx, next, u.ID)
		return ErrEmailTaken
	case err != nil:
		return err // it may have been applied: the claim stays
	case r.MatchedCount == 0:
		// The link was used meanwhile, or replaced, or the account
		// deleted. A use of the same link that won holds the claim now,
		// on the account's new address: that claim stays.
		again, err := s.userByID(ctx, u.ID.Hex())
		switch {
		case err == nil && again.Email == next:
		case err == nil || errors.Is(err, store.ErrNotFound):
			s.releaseClaim(ctx, next, u.ID)
		default:
			s.log.Error("auth: an address claim may be left over", "user", u.ID.Hex(), "err", err)
		}
		return ErrVerifyTokenInvalid
	}
	s.releaseClaim(ctx, old, u.ID)
	return nil
}

// claimEmail claims email for the account id, or finds it claimed by id
// already (a move that stopped half way, or its twin racing it).
func (s *Service) claimEmail(ctx context.Context, email string, id bson.ObjectID) error {
	_, err := s.emails.InsertOne(ctx, emailClaim{Email: email, UserID: id})
	if err == nil || !store.IsDuplicate(err) {
		return err
	}
	var c emailClaim
	if err := s.emails.FindOne(ctx, bson.M{"_id": email}, &c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrEmailTaken // freed just now; the user may try again
		}
		return err
	}
	if c.UserID != id {
		return ErrEmailTaken
	}
	return nil
}

// releaseClaim gives back email if the account id holds it. A failure
// leaves the address blocked for others, which is logged.
func (s *Service) releaseClaim(ctx context.Context, email string, id bson.ObjectID) {
	filter := bson.D{{Key: "_id", Value: email}, {Key: "user_id", Value: id}}
	if _, err := s.emails.DeleteOne(context.WithoutCancel(ctx), filter); err != nil {
		s.log.Error("auth: an address claim was not released", "user", id.Hex(), "err", err)
	}
}

// ChangeEmail starts moving the caller's account to newEmail: it needs the
// current password, mails a link to the new address and a notice to the
// current one. The account keeps its address until the link is followed
// (Account.PendingEmail shows the new one meanwhile), so a mistyped or
// foreign address never takes the account away from its owner. A newer
// change replaces the pending one. A mail that cannot be queued is an
// error; the change stays pending, and a resend mails its link again.
func (s *Service) ChangeEmail(ctx context.Context, p Principal, newEmail, currentPassword string) (Account, error) {
	u, err := s.userByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, ErrUserNotFound
	}
	if err != nil {
		return Account{}, err
	}
	newEmail = normalizeEmail(newEmail)
	f := fault.Fields{}
	checkEmail(f, newEmail)
	f.Check(newEmail == u.Email, "email", "unchanged")
	f.Check(currentPassword == "", "current_password", "required")
	if err := f.Err(); err != nil {
		return Account{}, err
	}
	// Counted before the password check: it also bounds guessing the
	// password here, and each change mails two addresses.
	if ok, wait := s.allowed(s.verifyAccount.Allow(ctx, p.UserID)); !ok {
		return Account{}, ErrRateLimited.WithRetry(wait)
	}
	if len(currentPassword) > 1024 {
		return Account{}, ErrWrongPassword
	}
	ok, err := checkPassword(u.PasswordHash, currentPassword)
	if err != nil {
		return Account{}, err
	}
	if !ok {
		return Account{}, ErrWrongPassword
	}
	// Taken now is said now; taken by the time the link is followed is
	// said then (moveAddress).
	var c emailClaim
	switch err := s.emails.FindOne(ctx, bson.M{"_id": newEmail}, &c); {
	case err == nil && c.UserID != u.ID:
		return Account{}, ErrEmailTaken
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return Account{}, err
	}
	token := newLinkToken(u.ID)
	now := s.clock.Now().Truncate(time.Millisecond)
	// Conditional on the password as checked, as Update: a password
	// changed meanwhile is no longer current.
	if err := s.setAccount(ctx, u, true, bson.M{
		"verify":     verifyLink{Hash: tokenHash(token), Email: newEmail, ExpiresAt: now.Add(verifyTTL)},
		"updated_at": now,
	}); err != nil {
		return Account{}, err
	}
	acc, err := s.Me(ctx, p)
	if err != nil {
		return Account{}, err
	}
	if s.postman != nil {
		if err := errors.Join(s.postman.VerifyAddress(ctx, acc, newEmail, token), s.postman.AddressChanging(ctx, acc, newEmail)); err != nil {
			return Account{}, fmt.Errorf("auth: the mails of an address change: %w", err)
		}
	}
	return acc, nil
}

// ResendVerification mails a new verification link: to the address the
// account is changing to, if any, else to its own address while that is
// unverified. With nothing to verify it sends nothing. The new link
// replaces the old one.
func (s *Service) ResendVerification(ctx context.Context, p Principal) error {
	u, err := s.userByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUserNotFound
	}
	if err != nil {
		return err
	}
	var address string
	switch {
	case u.Verify != nil && u.Verify.Email != u.Email:
		address = u.Verify.Email
	case !u.EmailVerified:
		address = u.Email
	default:
		return nil
	}
	if ok, wait := s.allowed(s.verifyAccount.Allow(ctx, p.UserID)); !ok {
		return ErrRateLimited.WithRetry(wait)
	}
	token := newLinkToken(u.ID)
	now := s.clock.Now().Truncate(time.Millisecond)
	// Conditional on the account's address and link as read.
	filter := bson.D{{Key: "_id", Value: u.ID}, {Key: "deleted", Value: bson.M{"$ne": true}}, {Key: "email", Value: u.Email}}
	if u.Verify != nil {
		filter = append(filter, bson.E{Key: "verify.hash", Value: u.Verify.Hash})
	} else {
		filter = append(filter, bson.E{Key: "verify", Value: nil})
	}
	r, err := s.users.UpdateOne(ctx, filter, bson.M{"$set": bson.M{
		"verify":     verifyLink{Hash: tokenHash(token), Email: address, ExpiresAt: now.Add(verifyTTL)},
		"updated_at": now,
	}})
	s.accountChanged(context.WithoutCancel(ctx), u.ID)
	if err != nil {
		return err
	}
	if r.MatchedCount == 0 {
		// What changed the account meanwhile (a verification, an address
		// change, another resend) sent its own mail or made this one
		// needless; only a deletion is worth saying.
		if _, err := s.userByID(ctx, p.UserID); errors.Is(err, store.ErrNotFound) {
			return ErrUserNotFound
		} else if err != nil {
			return err
		}
		return nil
	}
	if s.postman == nil {
		return nil
	}
	if err := s.postman.VerifyAddress(ctx, u.account(), address, token); err != nil {
		return fmt.Errorf("auth: a verification mail: %w", err)
	}
	return nil
}
