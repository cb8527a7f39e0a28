package auth_test

import (
	"context"
	"testing"

	"civico/internal/auth"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Users answers the same for a few ids and for many (a street-wide push
// asks for thousands, read in one pass on the embedded engine): the
// accounts asked for, without deleted ones and unknown ids.
func TestUsersFewAndMany(t *testing.T) {
	s, _, _ := newService(t, auth.Options{})
	ctx := context.Background()
	anna, bruno, carla := register(t, s, "anna@example.org"), register(t, s, "bruno@example.org"), register(t, s, "carla@example.org")
	if err := s.Delete(ctx, auth.Principal{UserID: carla.Account.ID}); err != nil {
		t.Fatal(err)
	}
	few := []string{anna.Account.ID, carla.Account.ID, "not-an-id"}
	many := append([]string{bruno.Account.ID}, few...)
	for range 150 {
		many = append(many, bson.NewObjectID().Hex())
	}
	for _, c := range []struct {
		name string
		ids  []string
		want []string
	}{{"few", few, []string{anna.Account.ID}}, {"many", many, []string{anna.Account.ID, bruno.Account.ID}}} {
		got, err := s.Users(ctx, c.ids)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d accounts %v, want %v", c.name, len(got), got, c.want)
		}
		for _, id := range c.want {
			if got[id].ID != id || got[id].Name != "Anna" {
				t.Fatalf("%s: account %s is %+v", c.name, id, got[id])
			}
		}
	}
}

// Deleting an account ends its access at once: the access token it still
// holds is refused though its signature and expiry are valid — by this
// service, by another process's on the same database and after a restart
// — and nobody else's token is affected.
func TestDeletedAccountsAccessTokenIsRefusedAtOnce(t *testing.T) {
	s, c, st := newService(t, auth.Options{})
	ctx := context.Background()
	other, err := auth.New(ctx, st, c, nil, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	anna, bruno := register(t, s, "anna@example.org"), register(t, s, "bruno@example.org")
	if _, err := s.Verify(ctx, anna.AccessToken); err != nil {
		t.Fatalf("before deletion: %v", err)
	}
	if err := s.Delete(ctx, auth.Principal{UserID: anna.Account.ID}); err != nil {
		t.Fatal(err)
	}
	for name, svc := range map[string]*auth.Service{"this process": s, "another process or a restart": other} {
		if _, err := svc.Verify(ctx, anna.AccessToken); err != auth.ErrBadToken {
			t.Fatalf("%s: deleted account's token: %v, want ErrBadToken", name, err)
		}
	}
	if p, err := s.Verify(ctx, bruno.AccessToken); err != nil || p.UserID != bruno.Account.ID {
		t.Fatalf("another account's token: %v %v", p, err)
	}
	if _, err := s.Refresh(ctx, anna.RefreshToken); err == nil {
		t.Fatal("deleted account's refresh token still works")
	}
}

// A street-wide lookup keeps a copy of the accounts on the embedded engine:
// registrations, changes and deletions made afterwards still show in the
// next one.
func TestManyUsersFollowWritesAfterTheFirstLookup(t *testing.T) {
	s, _, _ := newService(t, auth.Options{})
	ctx := context.Background()
	anna, bruno, carla := register(t, s, "anna@example.org"), register(t, s, "bruno@example.org"), register(t, s, "carla@example.org")
	many := func(ids ...string) []string {
		for range 150 {
			ids = append(ids, bson.NewObjectID().Hex())
		}
		return ids
	}
	if got, err := s.Users(ctx, many(anna.Account.ID, bruno.Account.ID, carla.Account.ID)); err != nil || len(got) != 3 {
		t.Fatalf("first lookup: %v %v", got, err)
	}
	name, zone := "Bruno Bianchi", "Europe/Rome"
	if _, err := s.Update(ctx, auth.Principal{UserID: bruno.Account.ID}, auth.Changes{Name: &name, TimeZone: &zone}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, auth.Principal{UserID: carla.Account.ID}); err != nil {
		t.Fatal(err)
	}
	dario := register(t, s, "dario@example.org")
	for _, ids := range [][]string{
		many(anna.Account.ID, bruno.Account.ID, carla.Account.ID, dario.Account.ID),
		{anna.Account.ID, bruno.Account.ID, carla.Account.ID, dario.Account.ID}, // few: the same answer
	} {
		got, err := s.Users(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[bruno.Account.ID].Name != name || got[bruno.Account.ID].TimeZone != zone || got[dario.Account.ID].ID == "" {
			t.Fatalf("after the writes: %+v", got)
		}
		if _, ok := got[carla.Account.ID]; ok {
			t.Fatalf("a deleted account is still looked up: %+v", got[carla.Account.ID])
		}
	}
}

// A new account may appear on printed boards; its owner may say never,
// and every lookup (one or many accounts) then says so.
func TestOnPaperIsTheOwnersChoice(t *testing.T) {
	s, _, _ := newService(t, auth.Options{})
	ctx := context.Background()
	anna := register(t, s, "anna.paper@example.org")
	if !anna.Account.OnPaper {
		t.Fatal("a new account is off paper")
	}
	off := false
	acc, err := s.Update(ctx, auth.Principal{UserID: anna.Account.ID}, auth.Changes{OnPaper: &off})
	if err != nil || acc.OnPaper {
		t.Fatalf("after saying never: %+v, %v", acc, err)
	}
	got, err := s.Users(ctx, []string{anna.Account.ID})
	if err != nil || got[anna.Account.ID].OnPaper {
		t.Fatalf("Users: %+v, %v", got, err)
	}
	on := true
	if acc, err := s.Update(ctx, auth.Principal{UserID: anna.Account.ID}, auth.Changes{OnPaper: &on}); err != nil || !acc.OnPaper {
		t.Fatalf("back on paper: %+v, %v", acc, err)
	}
}
