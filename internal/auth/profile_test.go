package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"civico/internal/auth"
	"civico/internal/fault"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The profile is part of the account: PATCH /me sets what it names and
// leaves the rest, bad input changes nothing and names its field, and
// deleting the account takes the profile (and the consent) with it.
func TestProfileUpdateAndErase(t *testing.T) {
	s, _, st := newService(t, auth.Options{})
	ctx := context.Background()
	sess := register(t, s, "anna@example.org")
	p := auth.Principal{UserID: sess.Account.ID}
	if a := sess.Account; a.Bio != "" || a.Skills == nil || len(a.Skills) != 0 || a.ShareSkills {
		t.Fatalf("a new account's profile: %+v", a)
	}
	str := func(s string) *string { return &s }
	list := func(s ...string) *[]string { return &s }
	yes := true
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = strings.Repeat("x", i+1)
	}

	for _, c := range []struct {
		name    string
		ch      auth.Changes
		field   string // the refused field, or ""
		problem string
		bio     string
		skills  []string
		share   bool
	}{
		{name: "profile", ch: auth.Changes{Bio: str("  Maestra in pensione.\nAmo l'orto. "), Skills: list(" Giardinaggio ", "ripetizioni  di latino"), ShareSkills: &yes},
			bio: "Maestra in pensione.\nAmo l'orto.", skills: []string{"Giardinaggio", "ripetizioni di latino"}, share: true},
		{name: "only the name leaves the profile", ch: auth.Changes{Name: str("Anna R.")},
			bio: "Maestra in pensione.\nAmo l'orto.", skills: []string{"Giardinaggio", "ripetizioni di latino"}, share: true},
		{name: "bio too long", ch: auth.Changes{Bio: str(strings.Repeat("a", auth.MaxBio+1))}, field: "bio", problem: "too_long"},
		{name: "bio hiding text", ch: auth.Changes{Bio: str("ciao\u202e")}, field: "bio", problem: "invisible_characters"},
		{name: "too many skills", ch: auth.Changes{Skills: &eleven}, field: "skills", problem: "too_many"},
		{name: "skill too long", ch: auth.Changes{Skills: list(strings.Repeat("è", auth.MaxSkillLen+1))}, field: "skills", problem: "too_long"},
		{name: "empty skill", ch: auth.Changes{Skills: list("cucito", "  ")}, field: "skills", problem: "required"},
		{name: "same skill twice", ch: auth.Changes{Skills: list("Cucito", "cucito")}, field: "skills", problem: "duplicate"},
		{name: "bad skill, good bio: nothing changes", ch: auth.Changes{Bio: str("Nuova"), Skills: list("\u200bcucito")}, field: "skills", problem: "invisible_characters"},
		{name: "consent withdrawn, list emptied", ch: auth.Changes{Skills: list(), ShareSkills: new(bool), Bio: str("")},
			bio: "", skills: []string{}, share: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, err := s.Me(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Update(ctx, p, c.ch)
			if c.field != "" {
				e, ok := fault.As(err)
				if !ok || e.Kind != fault.Invalid || e.Fields[c.field] != c.problem {
					t.Fatalf("err = %v, want %s: %s", err, c.field, c.problem)
				}
				after, _ := s.Me(ctx, p)
				if after.Bio != before.Bio || !slices.Equal(after.Skills, before.Skills) || after.ShareSkills != before.ShareSkills {
					t.Fatalf("a refused change changed the profile: %+v → %+v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bio != c.bio || !slices.Equal(got.Skills, c.skills) || got.Skills == nil || got.ShareSkills != c.share {
				t.Fatalf("profile %q %q %v, want %q %q %v", got.Bio, got.Skills, got.ShareSkills, c.bio, c.skills, c.share)
			}
			// What Users hands other services is the same.
			all, err := s.Users(ctx, []string{p.UserID})
			if err != nil || all[p.UserID].Bio != c.bio || !slices.Equal(all[p.UserID].Skills, c.skills) || all[p.UserID].ShareSkills != c.share {
				t.Fatalf("Users: %+v %v", all[p.UserID], err)
			}
		})
	}

	if _, err := s.Update(ctx, p, auth.Changes{Bio: str("Ciao"), Skills: list("cucito"), ShareSkills: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, p.UserID); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("deleted account: %v", err)
	}
	oid, _ := bson.ObjectIDFromHex(p.UserID)
	var doc bson.M
	if err := st.Collection("users").FindOne(ctx, bson.M{"_id": oid}, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bio", "skills", "share_skills"} {
		if v, ok := doc[k]; ok {
			t.Fatalf("the deleted account keeps %s: %v", k, v)
		}
	}
}
