package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The tokens of mailed links (password reset, address verification) are
// "<account id>.<32 random bytes, base64url>": the account is then found
// by _id, the one lookup the embedded engine does not answer by scanning,
// and no index of token hashes is needed. Only the hash is stored, on the
// account, and only the latest link of each kind: a newer one replaces it.

const (
	resetTTL  = time.Hour
	verifyTTL = 24 * time.Hour

	linkSecretLen = 32
	// linkTokenLen is the one length a link token has: a 24-digit hex id,
	// a dot, and 43 base64url characters.
	linkTokenLen = 24 + 1 + 43
)

// resetLink is the account's latest password reset link.
type resetLink struct {
	Hash      string    `bson:"hash"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// verifyLink is the account's latest verification link and the address it
// proves: the account's own, or the one it is changing to.
type verifyLink struct {
	Hash      string    `bson:"hash"`
	Email     string    `bson:"email"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func newLinkToken(id bson.ObjectID) string {
	return id.Hex() + "." + randomToken(linkSecretLen)
}

// parseLinkToken returns the account a link token names. It accepts only
// the form newLinkToken makes (lower-case hex, canonical base64url), so
// one token has one spelling.
func parseLinkToken(token string) (bson.ObjectID, bool) {
	if len(token) != linkTokenLen {
		return bson.ObjectID{}, false
	}
	hexID, secret, ok := strings.Cut(token, ".")
	if !ok || len(hexID) != 24 {
		return bson.ObjectID{}, false
	}
	id, err := bson.ObjectIDFromHex(hexID)
	if err != nil || id.Hex() != hexID {
		return bson.ObjectID{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(secret)
	if err != nil || len(raw) != linkSecretLen {
		return bson.ObjectID{}, false
	}
	return id, true
}

// sameHash compares a stored hash with a token's in constant time.
func sameHash(stored, token string) bool {
	return subtle.ConstantTimeCompare([]byte(stored), []byte(tokenHash(token))) == 1
}
