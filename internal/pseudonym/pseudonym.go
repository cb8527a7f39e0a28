// Package pseudonym gives the id of a deleted account a stable stand-in.
//
// When an account is deleted, what the street keeps of it (done posts,
// replies, exchanges, moderation records) no longer names the person, but
// must still count them as one person: the impact figures count people,
// reciprocity and new pairs by id. So every stored user id of the deleted
// account is replaced by the same pseudonym, a keyed hash of the id: the
// same on every retry of a deletion and in every street, and impossible to
// compute from the old id without the key, which stays in the database.
package pseudonym

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"civico/internal/store"
)

// Prefix starts every pseudonym, so that readers (and the PWA) can tell a
// deleted neighbour from an account: no account id has it.
const Prefix = "deleted-"

// settingName is where the key is kept.
const settingName = "pseudonym_key"

// Is tells whether id is a pseudonym of a deleted account.
func Is(id string) bool { return strings.HasPrefix(id, Prefix) }

// Of returns the pseudonym of userID: Prefix and 24 hex digits of
// HMAC-SHA256 under the database's key (created on first use).
func Of(ctx context.Context, st *store.Store, userID string) (string, error) {
	key, err := st.Setting(ctx, settingName, func() (string, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	})
	if err != nil {
		return "", fmt.Errorf("pseudonym: key: %w", err)
	}
	return With(key, userID), nil
}

// With returns the pseudonym of userID under key (tests and Of).
func With(key, userID string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(userID))
	return Prefix + hex.EncodeToString(m.Sum(nil))[:24]
}
