package notices

import (
	"errors"
	"strings"
	"testing"
)

// FuzzUnsubscribeToken: no input makes the parser panic, and the only
// tokens it accepts are the ones the service made, byte for byte.
func FuzzUnsubscribeToken(f *testing.F) {
	s := &Service{secret: []byte("fuzzing secret, 32 bytes long..."), public: "https://civico.example.org"}
	user := "65f0c0ffee0000000000beef"
	good := s.UnsubscribeToken(user, SettingDigest)
	f.Add(good)
	f.Add(s.UnsubscribeToken(user, SettingReplies))
	f.Add(s.UnsubscribeToken(user, "off"))
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(good + "\n")
	f.Add("")
	f.Add(".")
	f.Add("fA.")
	f.Add(strings.Repeat("A", 400))
	f.Fuzz(func(t *testing.T, token string) {
		uid, setting, err := s.parseUnsubscribe(token)
		if err != nil {
			if !errors.Is(err, ErrBadUnsubscribe) || uid != "" || setting != "" {
				t.Fatalf("parse(%q) = %q, %q, %v", token, uid, setting, err)
			}
			return
		}
		if token != s.UnsubscribeToken(uid, setting) {
			t.Fatalf("accepted %q, which the service never made (%s, %s)", token, uid, setting)
		}
		if setting != SettingDigest && setting != SettingReplies {
			t.Fatalf("accepted setting %q", setting)
		}
	})
}
