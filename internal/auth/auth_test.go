package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/store"
	"civico/internal/testutil"
)

func newService(t *testing.T, opts auth.Options) (*auth.Service, *clock.Fake, *store.Store) {
	t.Helper()
	st := testutil.Store(t)
	c := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	if err := st.EnsureIndexes(context.Background(), auth.Indexes()...); err != nil {
		t.Fatal(err)
	}
	s, err := auth.New(context.Background(), st, c, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, st
}

func register(t *testing.T, s *auth.Service, email string) auth.Session {
	t.Helper()
	sess, err := s.Register(context.Background(), auth.Registration{Email: email, Password: "password 123", Name: "Anna"}, "1.2.3.4")
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func TestAccessTokenExpiresAfterFifteenMinutes(t *testing.T) {
	s, c, _ := newService(t, auth.Options{})
	sess := register(t, s, "anna@example.org")
	ctx := context.Background()
	p, err := s.Verify(ctx, sess.AccessToken)
	if err != nil || p.UserID != sess.Account.ID {
		t.Fatalf("verify: %+v %v", p, err)
	}
	c.Advance(14 * time.Minute)
	if _, err := s.Verify(ctx, sess.AccessToken); err != nil {
		t.Fatalf("still valid at 14 min: %v", err)
	}
	c.Advance(2 * time.Minute)
	if _, err := s.Verify(ctx, sess.AccessToken); !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("at 16 min: %v", err)
	}
}

func TestRefreshTokenExpiresAndIsSwept(t *testing.T) {
	s, c, st := newService(t, auth.Options{RefreshTTL: time.Hour})
	sess := register(t, s, "anna@example.org")
	c.Advance(2 * time.Hour)
	if _, err := s.Refresh(context.Background(), sess.RefreshToken); !errors.Is(err, auth.ErrBadRefresh) {
		t.Fatalf("expired refresh: %v", err)
	}
	if err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := st.Collection("refresh_tokens").Count(context.Background(), map[string]any{})
	if err != nil || n != 0 {
		t.Fatalf("after sweep %d tokens, %v", n, err)
	}
}

func TestSecretIsKeptAcrossRestarts(t *testing.T) {
	st := testutil.Store(t)
	c := clock.System{}
	a, err := auth.New(context.Background(), st, c, nil, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sess := register(t, a, "anna@example.org")
	b, err := auth.New(context.Background(), st, c, nil, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), sess.AccessToken); err != nil {
		t.Fatalf("a token signed before the restart is refused: %v", err)
	}
	if _, err := auth.New(context.Background(), st, c, nil, auth.Options{Secret: []byte("short")}); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

func TestEmailsAreUniqueCaseInsensitively(t *testing.T) {
	s, _, _ := newService(t, auth.Options{})
	register(t, s, "Anna@Example.org")
	_, err := s.Register(context.Background(), auth.Registration{Email: "anna@EXAMPLE.org", Password: "password 123", Name: "B"}, "1.2.3.4")
	if !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("want ErrEmailTaken, got %v", err)
	}
	if _, err := s.Login(context.Background(), "ANNA@example.org", "password 123", "1.2.3.4"); err != nil {
		t.Fatalf("login with other case: %v", err)
	}
}

func TestLoginLimitPerAccountReleasesAfterAMinute(t *testing.T) {
	s, c, _ := newService(t, auth.Options{LoginPerAccount: 2})
	register(t, s, "anna@example.org")
	ctx := context.Background()
	for range 2 {
		if _, err := s.Login(ctx, "anna@example.org", "wrong wrong", "1.2.3.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := s.Login(ctx, "anna@example.org", "password 123", "1.2.3.4"); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("third attempt: %v", err)
	}
	c.Advance(61 * time.Second)
	if _, err := s.Login(ctx, "anna@example.org", "password 123", "1.2.3.4"); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
}
