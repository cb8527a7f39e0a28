// Package cursor makes opaque pagination cursors: a few fields signed with a
// server secret, so a client can hand one back but not forge or alter it.
// It also holds what every paginated list shares: the page size bounds and
// the error for a cursor that is not ours.
package cursor

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"civico/internal/fault"
	"civico/internal/store"
)

// ErrInvalid is the answer to a cursor that was altered, forged, or made for
// another list.
var ErrInvalid = fault.New(fault.BadRequest, "bad_cursor", "the cursor is not valid")

// MaxLimit bounds every page.
const MaxLimit = 100

// Limit is the page size for a requested n: def when n is not positive, at
// most MaxLimit.
func Limit(n, def int) int {
	if n <= 0 {
		n = def
	}
	return min(n, MaxLimit)
}

// sep cannot occur in the fields we sign (ids, numbers, lower-cased names
// have it escaped by the caller's choice of fields).
const sep = "\x1f"

// macLen is how many bytes of the HMAC a cursor carries.
const macLen = 12

// Signer signs and checks cursors.
type Signer struct {
	key []byte
}

// New returns a signer with a key kept in the database, the same for every
// server on it and across restarts (cursors in a client survive a restart).
func New(ctx context.Context, st *store.Store) (*Signer, error) {
	v, err := st.Setting(ctx, "cursor_key", func() (string, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return base64.RawURLEncoding.EncodeToString(b), nil
	})
	if err != nil {
		return nil, err
	}
	key, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(key) < 16 {
		return nil, errors.New("cursor: stored key is not valid")
	}
	return &Signer{key: key}, nil
}

// NewWithKey returns a signer with key, for tests and tools.
func NewWithKey(key []byte) *Signer { return &Signer{key: append([]byte(nil), key...)} }

// Encode signs fields into a cursor.
func (s *Signer) Encode(fields ...string) string {
	payload := strings.Join(fields, sep)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "~" + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// Decode checks c and returns its fields; ok is false when it was altered,
// forged or is not a cursor, or does not have n fields.
func (s *Signer) Decode(c string, n int) ([]string, bool) {
	if len(c) > 1024 {
		return nil, false
	}
	p, m, found := strings.Cut(c, "~")
	if !found {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || !hmac.Equal(mac, s.mac(string(payload))) {
		return nil, false
	}
	fields := strings.Split(string(payload), sep)
	if len(fields) != n {
		return nil, false
	}
	return fields, true
}

func (s *Signer) mac(payload string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(payload))
	return h.Sum(nil)[:macLen]
}
