package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"civico/internal/store"

	"github.com/golang-jwt/jwt/v5"
)

const (
	issuer   = "civico"
	audience = "civico-api"
	// accessKind tells access tokens apart from anything else signed with
	// the same key.
	accessKind = "access"
)

type accessClaims struct {
	Kind string `json:"typ"`
	// Version is the account's token_version when the token was made
	// (missing: 0).
	Version int `json:"ver"`
	jwt.RegisteredClaims
}

func (s *Service) signAccess(userID string, version int, now time.Time) (string, error) {
	claims := accessClaims{
		Kind:    accessKind,
		Version: version,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.AccessTTL)),
			ID:        randomToken(9),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
}

// maxTokenLen bounds what is parsed at all: a real token is a few hundred bytes.
const maxTokenLen = 2048

// Verify checks an access token: HS256 only, issuer, audience, expiry and
// issue time required, and the access kind; then that its account still
// exists and was not reset since (the token's version is the account's).
// That last check reads the database (one lookup by _id) on every
// request: a deletion or password reset made by any process, before or
// after a restart, refuses the token at once, which no copy kept in one
// process's memory could promise.
func (s *Service) Verify(ctx context.Context, token string) (Principal, error) {
	if len(token) > maxTokenLen {
		return Principal{}, ErrBadToken
	}
	var claims accessClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.clock.Now),
		jwt.WithLeeway(5*time.Second),
	)
	_, err := parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Principal{}, ErrTokenExpired
		}
		return Principal{}, ErrBadToken
	}
	if claims.Kind != accessKind || claims.Subject == "" || claims.IssuedAt == nil {
		return Principal{}, ErrBadToken
	}
	u, err := s.userByID(ctx, claims.Subject)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, ErrBadToken
		}
		return Principal{}, err
	}
	if claims.Version != u.TokenVersion {
		return Principal{}, ErrBadToken
	}
	return Principal{UserID: claims.Subject}, nil
}

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is how refresh tokens and mailed links are stored: a leaked
// database holds no usable token.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
