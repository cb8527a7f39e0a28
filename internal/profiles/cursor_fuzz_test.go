package profiles_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"civico/internal/auth"
	"civico/internal/profiles"
)

// The skills directory's cursor comes back from the client (?cursor=):
// whatever it holds, the page is either refused as a bad cursor or is a
// part of the directory that follows a skill, in order, and never a
// skill of another street.
func FuzzSkillsCursor(f *testing.F) {
	s, signer := fixture()
	for _, c := range []string{"", "x", "~", signer.Encode("skills", streetA, "cucito"), signer.Encode("skills", streetA, ""),
		signer.Encode("skills", streetB, "a"), signer.Encode("mem", streetA, "a"), signer.Encode("skills", streetA, "cucito", "x"),
		signer.Encode("skills", streetA, "\x1f"), strings.Repeat("A", 2000)} {
		f.Add(c)
	}
	ctx := context.Background()
	all, _, err := s.Skills(ctx, auth.Principal{UserID: anna}, streetA, "", 100)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, after string) {
		items, next, err := s.Skills(ctx, auth.Principal{UserID: anna}, streetA, after, 1)
		if err != nil {
			if !errors.Is(err, profiles.ErrBadCursor) {
				t.Fatalf("cursor %q: %v", after, err)
			}
			return
		}
		if len(items) > 1 {
			t.Fatalf("cursor %q: %d items on a page of 1", after, len(items))
		}
		if len(items) == 1 {
			found := -1
			for i, it := range all {
				if it.Skill == items[0].Skill {
					found = i
				}
			}
			if found < 0 || (next != "") != (found < len(all)-1) {
				t.Fatalf("cursor %q: page %+v, next %q", after, items, next)
			}
		}
	})
}
