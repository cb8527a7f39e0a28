package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Asking to reset the password of an unknown address, of a deleted
// account's or of a known one answers alike; only the known one is mailed.
func TestForgotPasswordAnswersAlikeWhetherTheAccountExists(t *testing.T) {
	s, _, _, pb := mailService(t, auth.Options{})
	ctx := context.Background()
	register(t, s, "anna@example.org")
	gone := register(t, s, "bruno@example.org")
	if err := s.Delete(ctx, auth.Principal{UserID: gone.Account.ID}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"anna@example.org", "nobody@example.org", "bruno@example.org", " ANNA@Example.org "} {
		if err := s.ForgotPassword(ctx, email, "1.2.3.4"); err != nil {
			t.Fatalf("forgot %q: %v, want nil", email, err)
		}
	}
	if got := len(pb.sent("reset", "anna@example.org")); got != 2 {
		t.Fatalf("%d reset mails to anna, want 2", got)
	}
	for _, email := range []string{"nobody@example.org", "bruno@example.org"} {
		if got := pb.sent("reset", email); len(got) != 0 {
			t.Fatalf("reset mails to %s: %+v", email, got)
		}
	}
	for _, bad := range []struct{ email, problem string }{{"", "required"}, {"anna", "invalid"}, {"anna@example.org\r\nBcc: x@example.org", "invalid"}} {
		testutil.WantField(t, s.ForgotPassword(ctx, bad.email, "1.2.3.4"), "email", bad.problem)
	}
}

// A reset link sets a new password once: the old password stops working,
// the new one signs in, and the link is spent. It proves the address too.
func TestResetLinkWorksOnce(t *testing.T) {
	s, _, _, pb := mailService(t, auth.Options{})
	ctx := context.Background()
	sess := register(t, s, "anna@example.org")
	if err := s.ForgotPassword(ctx, "anna@example.org", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	token := pb.token(t, "reset", "anna@example.org")
	if !strings.HasPrefix(token, sess.Account.ID+".") {
		t.Fatalf("token %q does not name the account %s", token, sess.Account.ID)
	}
	testutil.WantField(t, s.ResetPassword(ctx, token, "short"), "password", "too_short")
	if err := s.ResetPassword(ctx, token, "new password 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "anna@example.org", "password 123", "1.2.3.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("the old password: %v, want ErrInvalidCredentials", err)
	}
	if _, err := s.Login(ctx, "anna@example.org", "new password 1", "1.2.3.4"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if err := s.ResetPassword(ctx, token, "new password 2"); !errors.Is(err, auth.ErrResetTokenInvalid) {
		t.Fatalf("second use: %v, want ErrResetTokenInvalid", err)
	}
	me, err := s.Me(ctx, auth.Principal{UserID: sess.Account.ID})
	if err != nil || !me.EmailVerified {
		t.Fatalf("after a reset the address is proven: %+v %v", me, err)
	}
	if got := pb.sent("verified", "anna@example.org"); len(got) != 1 {
		t.Fatalf("AddressVerified calls: %+v, want one", got)
	}
}

// Only the latest link works: asking again voids the one mailed before.
func TestNewerResetLinkVoidsOlder(t *testing.T) {
	s, _, _, pb := mailService(t, auth.Options{})
	ctx := context.Background()
	register(t, s, "anna@example.org")
	var tokens []string
	for range 2 {
		if err := s.ForgotPassword(ctx, "anna@example.org", "1.2.3.4"); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, pb.token(t, "reset", "anna@example.org"))
	}
	if err := s.ResetPassword(ctx, tokens[0], "new password 1"); !errors.Is(err, auth.ErrResetTokenInvalid) {
		t.Fatalf("the older link: %v, want ErrResetTokenInvalid", err)
	}
	if err := s.ResetPassword(ctx, tokens[1], "new password 1"); err != nil {
		t.Fatalf("the newer link: %v", err)
	}
}

// A reset link lasts an hour.
func TestResetLinkExpiresAfterAnHour(t *testing.T) {
	for _, c := range []struct {
		after time.Duration
		want  error
	}{{59 * time.Minute, nil}, {time.Hour, auth.ErrResetTokenExpired}, {3 * time.Hour, auth.ErrResetTokenExpired}} {
		t.Run(c.after.String(), func(t *testing.T) {
			s, clk, _, pb := mailService(t, auth.Options{})
			ctx := context.Background()
			register(t, s, "anna@example.org")
			if err := s.ForgotPassword(ctx, "anna@example.org", "1.2.3.4"); err != nil {
				t.Fatal(err)
			}
			clk.Advance(c.after)
			err := s.ResetPassword(ctx, pb.token(t, "reset", "anna@example.org"), "new password 1")
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("reset after %v: %v, want %v", c.after, err, c.want)
			}
			if fe, ok := fault.As(err); ok && fe.Kind != fault.BadRequest {
				t.Fatalf("kind %v, want BadRequest", fe.Kind)
			}
		})
	}
}

// Tokens that are malformed, name no account, or are the wrong kind of
// link are refused as invalid.
func TestResetRefusesWhatIsNotItsLink(t *testing.T) {
	s, _, _, pb := mailService(t, auth.Options{})
	ctx := context.Background()
	sess := register(t, s, "anna@example.org")
	if err := s.ForgotPassword(ctx, "anna@example.org", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	good := pb.token(t, "reset", "anna@example.org")
	secret := good[len(sess.Account.ID)+1:]
	for name, token := range map[string]string{
		"empty":             "",
		"no dot":            strings.Replace(good, ".", "", 1),
		"cut":               good[:len(good)-1],
		"longer":            good + "A",
		"upper-case id":     strings.ToUpper(sess.Account.ID) + "." + secret,
		"other account":     bson.NewObjectID().Hex() + "." + secret,
		"other secret":      sess.Account.ID + "." + strings.Repeat("A", len(secret)),
		"verification link": pb.token(t, "verify", "anna@example.org"),
		"refresh token":     sess.RefreshToken,
		"access token":      sess.AccessToken,
		"padded":            good + "=",
		"standard base64":   sess.Account.ID + "." + "+" + secret[1:],
		"with a line break": good[:30] + "\n" + good[31:],
		"not hex":           strings.Repeat("z", 24) + "." + secret,
		"second dot":        sess.Account.ID + ".." + secret[1:],
	} {
		if err := s.ResetPassword(ctx, token, "new password 1"); !errors.Is(err, auth.ErrResetTokenInvalid) {
			t.Fatalf("%s: %v, want ErrResetTokenInvalid", name, err)
		}
	}
	if err := s.Delete(ctx, auth.Principal{UserID: sess.Account.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetPassword(ctx, good, "new password 1"); !errors.Is(err, auth.ErrResetTokenInvalid) {
		t.Fatalf("a deleted account's link: %v, want ErrResetTokenInvalid", err)
	}
}

// A reset ends every session and refuses the access tokens made before it,
// on every process at once; signing in again works.
func TestResetEndsEverySessionAndAccessToken(t *testing.T) {
	a, b, _, pb := twoProcesses(t, auth.Options{})
	ctx := context.Background()
	phone := register(t, a, "anna@example.org")
	laptop, err := b.Login(ctx, "anna@example.org", "password 123", "1.2.3.4")
	if err != nil {
		t.Fatal(err)
	}
	bruno := register(t, a, "bruno@example.org")
	if err := b.ForgotPassword(ctx, "anna@example.org", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	if err := b.ResetPassword(ctx, pb.token(t, "reset", "anna@example.org"), "new password 1"); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*auth.Service{a, b} {
		for _, sess := range []auth.Session{phone, laptop} {
			if _, err := svc.Verify(ctx, sess.AccessToken); !errors.Is(err, auth.ErrBadToken) {
				t.Fatalf("an access token from before the reset: %v, want ErrBadToken", err)
			}
		}
		if _, err := svc.Verify(ctx, bruno.AccessToken); err != nil {
			t.Fatalf("another account's token: %v", err)
		}
	}
	for _, sess := range []auth.Session{phone, laptop} {
		if _, err := a.Refresh(ctx, sess.RefreshToken); !errors.Is(err, auth.ErrBadRefresh) {
			t.Fatalf("a session from before the reset: %v, want ErrBadRefresh", err)
		}
	}
	again, err := a.Login(ctx, "anna@example.org", "new password 1", "1.2.3.4")
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*auth.Service{a, b} {
		if p, err := svc.Verify(ctx, again.AccessToken); err != nil || p.UserID != phone.Account.ID {
			t.Fatalf("the new session's token: %+v %v", p, err)
		}
	}
	next, err := b.Refresh(ctx, again.RefreshToken)
	if err != nil {
		t.Fatalf("the new session refreshes: %v", err)
	}
	if _, err := a.Verify(ctx, next.AccessToken); err != nil {
		t.Fatalf("its refreshed token: %v", err)
	}
}

// Two uses of one link at once, on two processes: exactly one sets its
// password, the other hears the link is no longer valid.
func TestConcurrentResetsWithOneLinkOneWins(t *testing.T) {
	a, b, _, pb := twoProcesses(t, auth.Options{LoginPerAccount: 100, LoginPerIP: 100, ForgotPerAddress: 100})
	ctx := context.Background()
	register(t, a, "anna@example.org")
	for round := range 3 {
		if err := a.ForgotPassword(ctx, "anna@example.org", "1.2.3.4"); err != nil {
			t.Fatal(err)
		}
		token := pb.token(t, "reset", "anna@example.org")
		news := []string{"new password A" + string(rune('0'+round)), "new password B" + string(rune('0'+round))}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, svc := range []*auth.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = svc.ResetPassword(ctx, token, news[i])
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: resets: %v, %v: exactly one should win", round, errs[0], errs[1])
		}
		winner, loser := 0, 1
		if errs[0] != nil {
			winner, loser = 1, 0
		}
		if !errors.Is(errs[loser], auth.ErrResetTokenInvalid) {
			t.Fatalf("round %d: the loser got %v, want ErrResetTokenInvalid", round, errs[loser])
		}
		if _, err := b.Login(ctx, "anna@example.org", news[winner], "1.2.3.4"); err != nil {
			t.Fatalf("round %d: the winner's password: %v", round, err)
		}
		if _, err := a.Login(ctx, "anna@example.org", news[loser], "1.2.3.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("round %d: the loser's password: %v, want ErrInvalidCredentials", round, err)
		}
	}
}

// Reset requests are limited per address and per IP (before any lookup),
// for unknown addresses as for known ones, and released after an hour.
func TestForgotPasswordLimits(t *testing.T) {
	s, clk, _, pb := mailService(t, auth.Options{ForgotPerAddress: 2, ForgotPerIP: 3})
	ctx := context.Background()
	register(t, s, "anna@example.org")
	steps := []struct {
		email, ip string
		limited   bool
	}{
		{"anna@example.org", "1.1.1.1", false},
		{"anna@example.org", "2.2.2.2", false},
		{"anna@example.org", "3.3.3.3", true}, // the address's third in the hour
		{"nobody@example.org", "4.4.4.4", false},
		{"nobody@example.org", "4.4.4.4", false},
		{"nobody@example.org", "5.5.5.5", true},
		{"carla@example.org", "4.4.4.4", false},
		{"dario@example.org", "4.4.4.4", true}, // the IP's fourth
	}
	for i, st := range steps {
		err := s.ForgotPassword(ctx, st.email, st.ip)
		if st.limited != errors.Is(err, auth.ErrRateLimited) || !st.limited && err != nil {
			t.Fatalf("step %d (%s from %s): %v, limited: %v", i, st.email, st.ip, err, st.limited)
		}
		if fe, ok := fault.As(err); st.limited && (!ok || fe.RetryAfter <= 0) {
			t.Fatalf("step %d: no retry time: %+v", i, fe)
		}
	}
	if got := len(pb.sent("reset", "anna@example.org")); got != 2 {
		t.Fatalf("%d mails to anna, want 2", got)
	}
	clk.Advance(time.Hour + time.Minute)
	if err := s.ForgotPassword(ctx, "anna@example.org", "4.4.4.4"); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
}
