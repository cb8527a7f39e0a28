package notices

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// An unsubscribe token names a user and one setting, signed with the
// service's secret: base64url("<user id>|<setting>") "." base64url(mac).
// It works without signing in (RFC 8058: the mail client posts it) and
// does not expire: a link in an old mail still stops the mails.

// unsubscribeMacLen is how many bytes of the HMAC a token carries (128 bits).
const unsubscribeMacLen = 16

// b64 is strict: one token per user and setting, no other spelling of it.
var b64 = base64.RawURLEncoding.Strict()

// maxTokenLen bounds what is looked at before anything is decoded.
const maxTokenLen = 256

func (s *Service) unsubscribeMAC(userID, setting string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("civico unsubscribe\x00" + userID + "\x00" + setting))
	return m.Sum(nil)[:unsubscribeMacLen]
}

// UnsubscribeToken is the signed token that turns setting ("replies" or
// "digest") off for userID.
func (s *Service) UnsubscribeToken(userID, setting string) string {
	return b64.EncodeToString([]byte(userID+"|"+setting)) + "." + b64.EncodeToString(s.unsubscribeMAC(userID, setting))
}

// UnsubscribeURL is the one-click link that turns setting off for userID.
func (s *Service) UnsubscribeURL(userID, setting string) string {
	return s.public + "/api/v1/mail/unsubscribe?t=" + url.QueryEscape(s.UnsubscribeToken(userID, setting))
}

// parseUnsubscribe checks token and returns the user and setting it names.
func (s *Service) parseUnsubscribe(token string) (userID, setting string, err error) {
	if len(token) > maxTokenLen || !tokenChars(token) {
		return "", "", ErrBadUnsubscribe
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", ErrBadUnsubscribe
	}
	raw, err1 := b64.DecodeString(payload)
	mac, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil || len(mac) != unsubscribeMacLen {
		return "", "", ErrBadUnsubscribe
	}
	userID, setting, ok = strings.Cut(string(raw), "|")
	if !ok {
		return "", "", ErrBadUnsubscribe
	}
	// The MAC first, in constant time: nothing about a forged token's
	// contents is told apart from any other bad token.
	if !hmac.Equal(mac, s.unsubscribeMAC(userID, setting)) {
		return "", "", ErrBadUnsubscribe
	}
	if _, ok := store.ID(userID); !ok || (setting != SettingReplies && setting != SettingDigest) {
		return "", "", ErrBadUnsubscribe
	}
	return userID, setting, nil
}

// CheckUnsubscribe tells which setting a token would turn off, changing
// nothing (the page a person sees before confirming).
func (s *Service) CheckUnsubscribe(token string) (setting string, err error) {
	_, setting, err = s.parseUnsubscribe(token)
	return setting, err
}

// Unsubscribe turns off the setting the token names and returns it; a bad
// token changes nothing (ErrBadUnsubscribe). Doing it twice is harmless.
// For an account that no longer exists nothing is written.
func (s *Service) Unsubscribe(ctx context.Context, token string) (setting string, err error) {
	userID, setting, err := s.parseUnsubscribe(token)
	if err != nil {
		return "", err
	}
	accs, err := s.acc.Users(ctx, []string{userID})
	if err != nil {
		return "", err
	}
	if _, ok := accs[userID]; !ok {
		return setting, nil
	}
	off := RepliesOff
	if setting == SettingDigest {
		off = DigestOff
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	if err := s.upsert(ctx, userID, bson.M{"$set": bson.M{setting: off, "updated_at": now}}); err != nil {
		return "", err
	}
	s.log.Info("notices: unsubscribed", "user", userID, "setting", setting)
	return setting, nil
}

// tokenChars tells whether t holds only base64url characters and dots (the
// decoder would skip line breaks).
func tokenChars(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
