package push

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"strings"

	webpush "github.com/SherClockHolmes/webpush-go"
)

const settingVAPID = "vapid_keys"

// loadKeys takes the VAPID pair from the options, or the one kept in the
// database (generated on first start), and checks that the halves match.
func (s *Service) loadKeys(ctx context.Context) error {
	pub, priv := s.opts.VAPIDPublicKey, s.opts.VAPIDPrivateKey
	if pub == "" && priv == "" {
		v, err := s.st.Setting(ctx, settingVAPID, func() (string, error) {
			priv, pub, err := webpush.GenerateVAPIDKeys()
			if err != nil {
				return "", err
			}
			return priv + "." + pub, nil
		})
		if err != nil {
			return errf("vapid keys: %w", err)
		}
		var ok bool
		if priv, pub, ok = strings.Cut(v, "."); !ok {
			return errf("vapid keys: stored value is malformed")
		}
	}
	pubRaw, err := decodeKey(pub)
	if err != nil {
		return errf("vapid public key: %w", err)
	}
	privRaw, err := decodeKey(priv)
	if err != nil {
		return errf("vapid private key: %w", err)
	}
	key, err := ecdh.P256().NewPrivateKey(privRaw)
	if err != nil {
		return errf("vapid private key is not a P-256 scalar: %w", err)
	}
	if !bytes.Equal(key.PublicKey().Bytes(), pubRaw) {
		return errf("the VAPID public key does not belong to the private key")
	}
	// webpush-go decodes either form; keep the unpadded base64url browsers use.
	s.vapidPublic = base64.RawURLEncoding.EncodeToString(pubRaw)
	s.vapidPrivate = base64.RawURLEncoding.EncodeToString(privRaw)
	return nil
}

// PublicKey is the application server key browsers subscribe with
// (base64url, uncompressed P-256 point).
func (s *Service) PublicKey() string { return s.vapidPublic }

// decodeKey accepts base64url or standard base64, padded or not.
func decodeKey(k string) ([]byte, error) {
	k = strings.TrimRight(strings.TrimSpace(k), "=")
	if b, err := base64.RawURLEncoding.DecodeString(k); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(k)
}
