package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

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
	jwt.RegisteredClaims
}

func (s *Service) signAccess(userID string, now time.Time) (string, error) {
	claims := accessClaims{
		Kind: accessKind,
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
// issue time required, and the access kind.
func (s *Service) Verify(token string) (Principal, error) {
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
	if s.accessClosed(claims.Subject) {
		return Principal{}, ErrBadToken
	}
	return Principal{UserID: claims.Subject}, nil
}

// closeAccess refuses the user's access tokens from now on. An entry is
// kept as long as a token issued before it could live; a deleted account
// gets no new tokens, so nothing later needs telling apart. It is kept in
// memory (one process per database): after a restart the deleted
// account's leftover token reaches nothing, since the account has no
// memberships and no profile left.
func (s *Service) closeAccess(userID string) {
	now := s.clock.Now()
	s.closedMu.Lock()
	defer s.closedMu.Unlock()
	if s.closed == nil {
		s.closed = map[string]time.Time{}
	}
	for id, at := range s.closed {
		if now.Sub(at) > s.opts.AccessTTL+time.Minute {
			delete(s.closed, id)
		}
	}
	s.closed[userID] = now
}

func (s *Service) accessClosed(userID string) bool {
	s.closedMu.RLock()
	defer s.closedMu.RUnlock()
	_, ok := s.closed[userID]
	return ok
}

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is how refresh tokens are stored: a leaked database holds no
// usable token.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
