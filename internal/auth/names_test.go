package auth_test

import (
	"context"
	"fmt"
	"testing"

	"civico/internal/auth"
	"civico/internal/testutil"
)

// TestDisplayNamesShowWhatTheyAre: a name that hides characters could pass
// for someone else's, on registration and on a later change alike.
func TestDisplayNamesShowWhatTheyAre(t *testing.T) {
	s, _, _ := newService(t, auth.Options{RegisterPerIP: 1000})
	ctx := context.Background()
	anna := register(t, s, "anna@example.org")
	p := auth.Principal{UserID: anna.Account.ID}
	cases := []struct {
		name, in, reason string
	}{
		{"right-to-left override", "\u202Enimda", "invisible_characters"},
		{"zero-width space", "User\u200B A1", "invisible_characters"},
		{"bidi isolate", "\u2066Anna\u2069", "invisible_characters"},
		{"byte order mark", "\uFEFFAnna", "invisible_characters"},
		{"soft hyphen", "An\u00ADna", "invisible_characters"},
		{"hangul filler", "User\u3164A1", "invisible_characters"},
		{"NUL", "Anna\x00", "invisible_characters"},
		{"only combining marks", "\u0301\u0301", "nothing_visible"},
		{"only braille blanks", "\u2800", "nothing_visible"},
		{"not UTF-8", "Anna\xff", "invalid"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Register(ctx, auth.Registration{Email: fmt.Sprintf("u%d@example.org", i), Password: "password 123", Name: c.in}, "1.2.3.4")
			testutil.WantField(t, err, "name", c.reason)
			_, err = s.Update(ctx, p, auth.Changes{Name: &c.in})
			testutil.WantField(t, err, "name", c.reason)
		})
	}
	if me, err := s.Me(ctx, p); err != nil || me.Name != "Anna" {
		t.Fatalf("after refused changes: %+v, %v", me, err)
	}
}

// TestDisplayNamesAreNormalised: the same name typed composed or
// decomposed, or with spaces a page would not show, is one name.
func TestDisplayNamesAreNormalised(t *testing.T) {
	s, _, _ := newService(t, auth.Options{RegisterPerIP: 1000})
	ctx := context.Background()
	cases := []struct {
		name, in, want string
	}{
		{"decomposed accent", "Zoe\u0301", "Zoé"},
		{"inner runs of spaces", " Anna \u00A0 Maria\tRossi ", "Anna Maria Rossi"},
		{"emoji joined into one", "Anna 👩‍💻", "Anna 👩‍💻"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sess, err := s.Register(ctx, auth.Registration{Email: fmt.Sprintf("n%d@example.org", i), Password: "password 123", Name: c.in}, "1.2.3.4")
			if err != nil || sess.Account.Name != c.want {
				t.Fatalf("register: %+q, %v; want %+q", sess.Account.Name, err, c.want)
			}
			acc, err := s.Update(ctx, auth.Principal{UserID: sess.Account.ID}, auth.Changes{Name: &c.in})
			if err != nil || acc.Name != c.want {
				t.Fatalf("update: %+q, %v; want %+q", acc.Name, err, c.want)
			}
		})
	}
}
