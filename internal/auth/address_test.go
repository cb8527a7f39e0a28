package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Sign-up mails a link to the new address; following it proves the
// address, once; the link lasts a day.
func TestVerifyOwnAddress(t *testing.T) {
	s, clk, _, pb := mailService(t, auth.Options{})
	ctx := context.Background()
	sess := register(t, s, "anna@example.org")
	if sess.Account.EmailVerified {
		t.Fatal("a new account's address is verified")
	}
	token := pb.token(t, "verify", "anna@example.org")
	clk.Advance(23 * time.Hour)
	acc, err := s.VerifyEmail(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if acc.ID != sess.Account.ID || acc.Email != "anna@example.org" || !acc.EmailVerified || acc.PendingEmail != "" {
		t.Fatalf("after verification: %+v", acc)
	}
	if got := pb.sent("verified", "anna@example.org"); len(got) != 1 {
		t.Fatalf("AddressVerified calls: %+v", got)
	}
	if _, err := s.VerifyEmail(ctx, token); !errors.Is(err, auth.ErrVerifyTokenInvalid) {
		t.Fatalf("second use: %v, want ErrVerifyTokenInvalid", err)
	}
	if err := s.ResetPassword(ctx, token, "new password 1"); !errors.Is(err, auth.ErrResetTokenInvalid) {
		t.Fatalf("a verification link as a reset link: %v", err)
	}

	register(t, s, "bruno@example.org")
	clk.Advance(24 * time.Hour)
	if _, err := s.VerifyEmail(ctx, pb.token(t, "verify", "bruno@example.org")); !errors.Is(err, auth.ErrVerifyTokenExpired) {
		t.Fatalf("after a day: %v, want ErrVerifyTokenExpired", err)
	}
	if _, err := s.VerifyEmail(ctx, "not a token"); !errors.Is(err, auth.ErrVerifyTokenInvalid) {
		t.Fatalf("garbage: %v", err)
	}
}

// Resending mails a new link (voiding the old) while the address is
// unverified, nothing once it is; it is limited per account.
func TestResendVerification(t *testing.T) {
	s, clk, _, pb := mailService(t, auth.Options{VerifyPerAccount: 2})
	ctx := context.Background()
	sess := register(t, s, "anna@example.org")
	me := auth.Principal{UserID: sess.Account.ID}
	first := pb.token(t, "verify", "anna@example.org")
	for range 2 {
		if err := s.ResendVerification(ctx, me); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ResendVerification(ctx, me); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("third resend in the hour: %v, want ErrRateLimited", err)
	}
	if got := len(pb.sent("verify", "anna@example.org")); got != 3 {
		t.Fatalf("%d verification mails, want 3 (sign-up and two resends)", got)
	}
	if _, err := s.VerifyEmail(ctx, first); !errors.Is(err, auth.ErrVerifyTokenInvalid) {
		t.Fatalf("the sign-up link after a resend: %v, want ErrVerifyTokenInvalid", err)
	}
	if _, err := s.VerifyEmail(ctx, pb.token(t, "verify", "anna@example.org")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour + time.Minute)
	if err := s.ResendVerification(ctx, me); err != nil {
		t.Fatal(err)
	}
	if got := len(pb.sent("verify", "anna@example.org")); got != 3 {
		t.Fatalf("a resend for a verified address mailed: %d mails", got)
	}
}

// Changing the address: the account keeps the old one until the link
// mailed to the new one is followed (the old one hears of it); then it
// moves, the old address is free for anyone and the new one is held.
func TestChangeEmail(t *testing.T) {
	s, _, _, pb := mailService(t, auth.Options{RegisterPerIP: 100})
	ctx := context.Background()
	sess := register(t, s, "anna@example.org")
	me := auth.Principal{UserID: sess.Account.ID}
	if _, err := s.ChangeEmail(ctx, me, "anna@new.example.org", "wrong password"); !errors.Is(err, auth.ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	_, err := s.ChangeEmail(ctx, me, " Anna@Example.org", "password 123")
	testutil.WantField(t, err, "email", "unchanged")
	_, err = s.ChangeEmail(ctx, me, "anna@", "password 123")
	testutil.WantField(t, err, "email", "invalid")
	_, err = s.ChangeEmail(ctx, me, "anna@new.example.org", "")
	testutil.WantField(t, err, "current_password", "required")

	acc, err := s.ChangeEmail(ctx, me, "Anna@New.example.org", "password 123")
	if err != nil {
		t.Fatal(err)
	}
	if acc.Email != "anna@example.org" || acc.PendingEmail != "anna@new.example.org" {
		t.Fatalf("pending change: %+v", acc)
	}
	if got := pb.sent("changing", "anna@new.example.org"); len(got) != 1 || got[0].to != "anna@example.org" {
		t.Fatalf("notices to the old address: %+v", got)
	}
	if _, err := s.Login(ctx, "anna@example.org", "password 123", "1.2.3.4"); err != nil {
		t.Fatalf("the old address before verification: %v", err)
	}
	if _, err := s.Login(ctx, "anna@new.example.org", "password 123", "1.2.3.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("the new address before verification: %v", err)
	}

	acc, err = s.VerifyEmail(ctx, pb.token(t, "verify", "anna@new.example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if acc.Email != "anna@new.example.org" || !acc.EmailVerified || acc.PendingEmail != "" {
		t.Fatalf("after verification: %+v", acc)
	}
	if len(pb.sent("verified", "anna@new.example.org")) != 1 {
		t.Fatalf("AddressVerified not called: %+v", pb.all())
	}
	if _, err := s.Login(ctx, "anna@new.example.org", "password 123", "1.2.3.4"); err != nil {
		t.Fatalf("the new address: %v", err)
	}
	if _, err := s.Login(ctx, "anna@example.org", "password 123", "1.2.3.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("the old address: %v", err)
	}
	if got, err := s.UserByEmail(ctx, "anna@new.example.org"); err != nil || got.ID != me.UserID {
		t.Fatalf("by the new address: %+v %v", got, err)
	}
	register(t, s, "anna@example.org") // the old address is free
	if _, err := s.Register(ctx, auth.Registration{Email: "anna@new.example.org", Password: "password 123", Name: "X"}, "1.2.3.4"); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("registering the new address: %v, want ErrEmailTaken", err)
	}
	// Many ids take the account copy's path on the embedded engine: it
	// is in step with the move.
	ids := []string{me.UserID}
	for range 150 {
		ids = append(ids, bson.NewObjectID().Hex())
	}
	for _, lookup := range [][]string{ids[:1], ids} {
		got, err := s.Users(ctx, lookup)
		if a := got[me.UserID]; err != nil || a.Email != "anna@new.example.org" || !a.EmailVerified {
			t.Fatalf("Users(%d ids): %+v %v", len(lookup), a, err)
		}
	}
}

// An address taken by another account is refused when the change is asked
// for and, if taken meanwhile, when its link is followed: then nothing
// changes and the other account keeps it.
func TestChangeToATakenAddress(t *testing.T) {
	s, _, _, pb := mailService(t, auth.Options{RegisterPerIP: 100})
	ctx := context.Background()
	anna := register(t, s, "anna@example.org")
	me := auth.Principal{UserID: anna.Account.ID}
	register(t, s, "bruno@example.org")
	if _, err := s.ChangeEmail(ctx, me, "bruno@example.org", "password 123"); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("a taken address: %v, want ErrEmailTaken", err)
	}
	if _, err := s.ChangeEmail(ctx, me, "carla@example.org", "password 123"); err != nil {
		t.Fatal(err)
	}
	token := pb.token(t, "verify", "carla@example.org")
	carla := register(t, s, "carla@example.org")
	if _, err := s.VerifyEmail(ctx, token); !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("verifying a taken address: %v, want ErrEmailTaken", err)
	}
	acc, err := s.Me(ctx, me)
	if err != nil || acc.Email != "anna@example.org" {
		t.Fatalf("anna after the refusal: %+v %v", acc, err)
	}
	if got, err := s.UserByEmail(ctx, "carla@example.org"); err != nil || got.ID != carla.Account.ID {
		t.Fatalf("carla's address: %+v %v", got, err)
	}
	if _, err := s.Login(ctx, "anna@example.org", "password 123", "1.2.3.4"); err != nil {
		t.Fatalf("anna signs in as before: %v", err)
	}
}

// Two uses of one change link at once, on two processes: one moves the
// account, the other hears the link is spent, and the new address stays
// held by the account.
func TestConcurrentVerificationsOfAChangeOneWins(t *testing.T) {
	a, b, _, pb := twoProcesses(t, auth.Options{RegisterPerIP: 100, VerifyPerAccount: 100})
	ctx := context.Background()
	sess := register(t, a, "anna@example.org")
	me := auth.Principal{UserID: sess.Account.ID}
	current := "anna@example.org"
	for round := range 3 {
		next := "anna" + string(rune('a'+round)) + "@new.example.org"
		if _, err := a.ChangeEmail(ctx, me, next, "password 123"); err != nil {
			t.Fatal(err)
		}
		token := pb.token(t, "verify", next)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, svc := range []*auth.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = svc.VerifyEmail(ctx, token)
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: verifications: %v, %v: exactly one should win", round, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, auth.ErrVerifyTokenInvalid) {
				t.Fatalf("round %d: the loser got %v, want ErrVerifyTokenInvalid", round, err)
			}
		}
		if got, err := b.UserByEmail(ctx, next); err != nil || got.ID != me.UserID {
			t.Fatalf("round %d: by the new address: %+v %v", round, got, err)
		}
		if _, err := a.Register(ctx, auth.Registration{Email: next, Password: "password 123", Name: "X"}, "1.2.3.4"); !errors.Is(err, auth.ErrEmailTaken) {
			t.Fatalf("round %d: the new address is not held: %v", round, err)
		}
		register(t, b, current) // the old one is free
		current = next
	}
}

// A change also takes effect only through a link of the latest change:
// changing again voids the earlier link, and a reset link mailed to the
// old address stops working once the account moved.
func TestNewerChangeAndMoveVoidOlderLinks(t *testing.T) {
	s, _, _, pb := mailService(t, auth.Options{})
	ctx := context.Background()
	sess := register(t, s, "anna@example.org")
	me := auth.Principal{UserID: sess.Account.ID}
	for _, next := range []string{"one@example.org", "two@example.org"} {
		if _, err := s.ChangeEmail(ctx, me, next, "password 123"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.VerifyEmail(ctx, pb.token(t, "verify", "one@example.org")); !errors.Is(err, auth.ErrVerifyTokenInvalid) {
		t.Fatalf("the earlier change's link: %v, want ErrVerifyTokenInvalid", err)
	}
	if err := s.ResendVerification(ctx, me); err != nil {
		t.Fatal(err)
	}
	if got := len(pb.sent("verify", "two@example.org")); got != 2 {
		t.Fatalf("a resend goes to the pending address: %d mails", got)
	}
	if err := s.ForgotPassword(ctx, "anna@example.org", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyEmail(ctx, pb.token(t, "verify", "two@example.org")); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetPassword(ctx, pb.token(t, "reset", "anna@example.org"), "new password 1"); !errors.Is(err, auth.ErrResetTokenInvalid) {
		t.Fatalf("a reset link to the old address after the move: %v, want ErrResetTokenInvalid", err)
	}
	if _, err := s.Login(ctx, "two@example.org", "password 123", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
}
