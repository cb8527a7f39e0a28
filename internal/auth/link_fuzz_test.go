package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The token of a reset or verification link is outside data: it comes
// back from a link anyone can edit. Whatever the text, parsing never
// panics, and:
//   - a token it refuses is refused by ResetPassword as an invalid reset
//     link and by VerifyEmail as an invalid verification link, before any
//     lookup (the service here has no database: a lookup would panic);
//   - a token it accepts has the one form links are made in (68 bytes: the
//     account's id in lower-case hex, a dot, 32 bytes in canonical
//     base64url), so one token has one spelling, and names that account.
func FuzzResetToken(f *testing.F) {
	id := bson.NewObjectID()
	good := newLinkToken(id)
	for _, s := range []string{
		good, "", ".", good + "=", good[:len(good)-1], good + "A", strings.ToUpper(good[:24]) + good[24:],
		good[:24] + ":" + good[25:], good[:24] + "." + strings.ReplaceAll(good[25:], "-", "+"),
		good[:24] + ".." + good[26:], strings.Repeat("a", 68), strings.Repeat("0", 24) + "." + strings.Repeat("A", 43),
		strings.Repeat("0", 24) + "." + strings.Repeat("A", 42) + "B", "zzzzzzzzzzzzzzzzzzzzzzzz." + good[25:],
		good[:24] + "." + good[25:67] + "\x00", "é" + good[2:], good + good,
	} {
		f.Add(s)
	}
	s := &Service{}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := parseLinkToken(in)
		if !ok {
			ctx := context.Background()
			if err := s.ResetPassword(ctx, in, "password 123"); !errors.Is(err, ErrResetTokenInvalid) {
				t.Fatalf("ResetPassword(%q) = %v, want ErrResetTokenInvalid", in, err)
			}
			if _, err := s.VerifyEmail(ctx, in); !errors.Is(err, ErrVerifyTokenInvalid) {
				t.Fatalf("VerifyEmail(%q) = %v, want ErrVerifyTokenInvalid", in, err)
			}
			return
		}
		if len(in) != linkTokenLen || in[:24] != got.Hex() || in[24] != '.' {
			t.Fatalf("accepted %q, naming %s", in, got.Hex())
		}
		raw, err := base64.RawURLEncoding.DecodeString(in[25:])
		if err != nil || len(raw) != linkSecretLen || base64.RawURLEncoding.EncodeToString(raw) != in[25:] {
			t.Fatalf("accepted %q, whose secret is not 32 bytes in canonical base64url (%d bytes, %v)", in, len(raw), err)
		}
	})
}

// Links are made in the form they are read in, each with its own secret.
func TestLinkTokensRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := bson.NewObjectID()
		tok := newLinkToken(id)
		got, ok := parseLinkToken(tok)
		if !ok || got != id || seen[tok] {
			t.Fatalf("newLinkToken(%s) = %q: parsed %v %v, seen %v", id.Hex(), tok, got.Hex(), ok, seen[tok])
		}
		seen[tok] = true
	}
}
