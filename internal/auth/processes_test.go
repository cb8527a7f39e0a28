package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"civico/internal/auth"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// otherProcess is a second auth service over s's database, as another
// process would build it.
func otherProcess(t *testing.T, opts auth.Options) (a, b *auth.Service, st *store.Store) {
	t.Helper()
	a, c, st := newService(t, opts)
	b, err := auth.New(context.Background(), st, c, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, st
}

func ptr(s string) *string { return &s }

// Two password changes at once on two processes, both giving the right
// current password: one wins, the other hears that its current password is
// wrong (it no longer is current), and only the winner's new password
// signs in.
func TestConcurrentPasswordChangesOneWins(t *testing.T) {
	a, b, _ := otherProcess(t, auth.Options{LoginPerAccount: 100, LoginPerIP: 100})
	ctx := context.Background()
	sess := register(t, a, "anna@example.org")
	me := auth.Principal{UserID: sess.Account.ID}
	news := []string{"new password A", "new password B"}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, svc := range []*auth.Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.Update(ctx, me, auth.Changes{Password: ptr(news[i]), CurrentPassword: ptr("password 123")})
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("changes: %v, %v: exactly one should win", errs[0], errs[1])
	}
	winner, loser := 0, 1
	if errs[0] != nil {
		winner, loser = 1, 0
	}
	if !errors.Is(errs[loser], auth.ErrWrongPassword) {
		t.Fatalf("the loser got %v, want ErrWrongPassword", errs[loser])
	}
	if _, err := b.Login(ctx, "anna@example.org", news[winner], "1.2.3.4"); err != nil {
		t.Fatalf("the winner's password: %v", err)
	}
	if _, err := a.Login(ctx, "anna@example.org", news[loser], "1.2.3.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("the loser's password: %v, want ErrInvalidCredentials", err)
	}
}

// A change of name and password racing the account's deletion on another
// process never brings them back: the deleted account keeps no name and no
// password (the change checks the current password first, so the deletion
// lands in between).
func TestChangeRacingDeletionOnAnotherProcessKeepsNothing(t *testing.T) {
	a, b, st := otherProcess(t, auth.Options{})
	ctx := context.Background()
	users := st.Collection("users")
	for round := range 3 {
		sess := register(t, a, "anna@example.org")
		me := auth.Principal{UserID: sess.Account.ID}
		var wg sync.WaitGroup
		wg.Add(2)
		var upErr, delErr error
		go func() {
			defer wg.Done()
			_, upErr = a.Update(ctx, me, auth.Changes{Name: ptr("Anna Bianchi"), Password: ptr("new password A"), CurrentPassword: ptr("password 123")})
		}()
		go func() {
			defer wg.Done()
			delErr = b.Delete(ctx, me)
		}()
		wg.Wait()
		if delErr != nil {
			t.Fatalf("round %d: delete: %v", round, delErr)
		}
		if upErr != nil && !errors.Is(upErr, auth.ErrUserNotFound) {
			t.Fatalf("round %d: update: %v, want success or ErrUserNotFound", round, upErr)
		}
		oid, _ := store.ID(me.UserID)
		var raw struct {
			Name         string `bson:"name"`
			PasswordHash string `bson:"password_hash"`
			Deleted      bool   `bson:"deleted"`
		}
		if err := users.FindOne(ctx, bson.M{"_id": oid}, &raw); err != nil {
			t.Fatal(err)
		}
		if !raw.Deleted || raw.Name != "" || raw.PasswordHash != "" {
			t.Fatalf("round %d: the deleted account holds name %q, a password: %v", round, raw.Name, raw.PasswordHash != "")
		}
	}
}

// A sign-in with the old password racing a password change on another
// process leaves no session that outlives the change: a sign-in that
// succeeded was before the change, and the change ended it.
func TestLoginRacingPasswordChangeLeavesNoOldSession(t *testing.T) {
	a, b, _ := otherProcess(t, auth.Options{LoginPerAccount: 100, LoginPerIP: 100})
	ctx := context.Background()
	sess := register(t, a, "anna@example.org")
	me := auth.Principal{UserID: sess.Account.ID}
	current := "password 123"
	for round := range 4 {
		next := "new password " + string(rune('A'+round))
		var wg sync.WaitGroup
		wg.Add(2)
		var login auth.Session
		var loginErr, changeErr error
		go func() {
			defer wg.Done()
			login, loginErr = a.Login(ctx, "anna@example.org", current, "1.2.3.4")
		}()
		go func() {
			defer wg.Done()
			_, changeErr = b.Update(ctx, me, auth.Changes{Password: ptr(next), CurrentPassword: ptr(current)})
		}()
		wg.Wait()
		if changeErr != nil {
			t.Fatalf("round %d: change: %v", round, changeErr)
		}
		if loginErr != nil {
			if !errors.Is(loginErr, auth.ErrInvalidCredentials) {
				t.Fatalf("round %d: login: %v", round, loginErr)
			}
			current = next
			continue
		}
		if _, err := b.Refresh(ctx, login.RefreshToken); !errors.Is(err, auth.ErrBadRefresh) {
			t.Fatalf("round %d: the old password's session after the change: %v, want ErrBadRefresh", round, err)
		}
		current = next
	}
}
