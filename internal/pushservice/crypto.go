package pushservice

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// checkVAPID verifies an RFC 8292 Authorization header:
// `vapid t=<JWT>, k=<public key>`. The JWT must be ES256-signed by k, k must
// be the trusted key (when one is set), aud must be the push service's
// origin, exp in the future and no more than 24 hours away, sub a mailto: or
// https: contact. It returns sub.
func checkVAPID(header, origin string, trusted []byte, now time.Time) (string, error) {
	scheme, params, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "vapid") {
		return "", fmt.Errorf("authorization scheme is not vapid: %q", trunc(header))
	}
	var t, k string
	for _, p := range strings.Split(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch name {
		case "t":
			t = value
		case "k":
			k = value
		}
	}
	if t == "" || k == "" {
		return "", errors.New("vapid authorization without t= or k=")
	}
	key, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil {
		return "", fmt.Errorf("vapid k= is not base64url: %w", err)
	}
	if trusted != nil && !bytes.Equal(key, trusted) {
		return "", errors.New("vapid k= is not the application server key the subscription was made with")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
	if err != nil {
		return "", fmt.Errorf("vapid k= is not a P-256 point: %w", err)
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return "", errors.New("vapid t= is not a JWS")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return "", fmt.Errorf("vapid JWT header: %w", err)
	}
	if hdr.Alg != "ES256" {
		return "", fmt.Errorf("vapid JWT alg %q, want ES256", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", errors.New("vapid JWT signature is not 64 bytes of base64url")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return "", errors.New("vapid JWT signature does not verify against k=")
	}
	var claims struct {
		Aud any    `json:"aud"`
		Exp *int64 `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", fmt.Errorf("vapid JWT claims: %w", err)
	}
	if aud, _ := claims.Aud.(string); aud != origin {
		return "", fmt.Errorf("vapid aud %v, want %s", claims.Aud, origin)
	}
	if claims.Exp == nil {
		return "", errors.New("vapid JWT without exp")
	}
	exp := time.Unix(*claims.Exp, 0)
	if !exp.After(now) {
		return "", fmt.Errorf("vapid JWT expired at %s", exp.UTC())
	}
	if exp.After(now.Add(24 * time.Hour)) {
		return "", fmt.Errorf("vapid JWT exp %s is more than 24 h away", exp.UTC())
	}
	switch {
	case strings.HasPrefix(claims.Sub, "mailto:mailto:"):
		// Apple answers 403 BadJwtToken to a doubled prefix.
		return "", fmt.Errorf("vapid sub %q has a doubled mailto:", claims.Sub)
	case strings.HasPrefix(claims.Sub, "mailto:") && strings.Contains(claims.Sub[7:], "@"):
	case strings.HasPrefix(claims.Sub, "https://") && len(claims.Sub) > 8:
	default:
		return "", fmt.Errorf("vapid sub %q is not a mailto: or https: contact", claims.Sub)
	}
	return claims.Sub, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// decrypt opens an aes128gcm body (RFC 8188) encrypted for a Web Push
// subscription (RFC 8291).
func decrypt(body []byte, priv *ecdh.PrivateKey, authSecret []byte) ([]byte, error) {
	// Header: salt(16) | rs(4) | idlen(1) | keyid(idlen); for Web Push the
	// key id is the sender's ephemeral public key.
	if len(body) < 21 {
		return nil, errors.New("aes128gcm body shorter than its header")
	}
	salt := body[:16]
	rs := int(binary.BigEndian.Uint32(body[16:20]))
	idlen := int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("aes128gcm key id of %d bytes, want the sender's 65-byte public key", idlen)
	}
	if rs < 18 {
		return nil, fmt.Errorf("aes128gcm record size %d below 18", rs)
	}
	asPublic := body[21 : 21+idlen]
	ciphertext := body[21+idlen:]
	if len(ciphertext) == 0 {
		return nil, errors.New("aes128gcm body without records")
	}
	as, err := ecdh.P256().NewPublicKey(asPublic)
	if err != nil {
		return nil, fmt.Errorf("sender key is not a P-256 point: %w", err)
	}
	secret, err := priv.ECDH(as)
	if err != nil {
		return nil, err
	}
	// RFC 8291 §3.4.
	prkKey, err := hkdf.Extract(sha256.New, secret, authSecret)
	if err != nil {
		return nil, err
	}
	info := "WebPush: info\x00" + string(priv.PublicKey().Bytes()) + string(asPublic)
	ikm, err := hkdf.Expand(sha256.New, prkKey, info, 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	baseNonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	var out []byte
	for seq := uint64(0); len(ciphertext) > 0; seq++ {
		n := min(rs, len(ciphertext))
		record := ciphertext[:n]
		ciphertext = ciphertext[n:]
		last := len(ciphertext) == 0
		nonce := append([]byte(nil), baseNonce...)
		for i := 0; i < 8; i++ {
			nonce[11-i] ^= byte(seq >> (8 * i))
		}
		plain, err := gcm.Open(nil, nonce, record, nil)
		if err != nil {
			return nil, fmt.Errorf("aes128gcm record %d does not decrypt: %w", seq, err)
		}
		// Strip the padding: data, a delimiter (2 in the last record, 1
		// before), then zeros.
		end := len(plain) - 1
		for end >= 0 && plain[end] == 0 {
			end--
		}
		if end < 0 {
			return nil, fmt.Errorf("aes128gcm record %d has no padding delimiter", seq)
		}
		want := byte(1)
		if last {
			want = 2
		}
		if plain[end] != want {
			return nil, fmt.Errorf("aes128gcm record %d delimiter %d, want %d", seq, plain[end], want)
		}
		out = append(out, plain[:end]...)
	}
	return out, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
