package notices_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"civico/internal/notices"
	"civico/internal/testutil"
)

func TestSettingsDefaultsAndChanges(t *testing.T) {
	e, _ := newEnv(t, nil)
	anna := e.named("Anna")
	got, err := e.n.Settings(e.ctx, anna.UserID)
	if err != nil || got != notices.Defaults || got != (notices.Settings{Replies: "immediately", Digest: "weekly"}) {
		t.Fatalf("defaults %+v, %v", got, err)
	}
	steps := []struct {
		in, want notices.Settings
	}{
		{notices.Settings{Digest: "daily"}, notices.Settings{Replies: "immediately", Digest: "daily"}},
		{notices.Settings{Replies: "digest"}, notices.Settings{Replies: "digest", Digest: "daily"}},
		{notices.Settings{}, notices.Settings{Replies: "digest", Digest: "daily"}},
		{notices.Settings{Replies: "off", Digest: "off"}, notices.Settings{Replies: "off", Digest: "off"}},
		{notices.Settings{Replies: "immediately", Digest: "weekly"}, notices.Defaults},
	}
	for _, s := range steps {
		got, err := e.n.SetSettings(e.ctx, anna.UserID, s.in)
		if err != nil || got != s.want {
			t.Fatalf("SetSettings(%+v) = %+v, %v; want %+v", s.in, got, err, s.want)
		}
		if again, _ := e.n.Settings(e.ctx, anna.UserID); again != s.want {
			t.Fatalf("read back %+v, want %+v", again, s.want)
		}
	}
}

func TestSettingsRefuseUnknownChoicesAndChangeNothing(t *testing.T) {
	e, _ := newEnv(t, nil)
	anna := e.named("Anna")
	e.set(anna, notices.Settings{Digest: "daily"})
	cases := []struct {
		in    notices.Settings
		field string
	}{
		{notices.Settings{Replies: "sometimes"}, "email.replies"},
		{notices.Settings{Replies: "OFF", Digest: "weekly"}, "email.replies"},
		{notices.Settings{Digest: "monthly", Replies: "off"}, "email.digest"},
		{notices.Settings{Digest: " daily"}, "email.digest"},
	}
	for _, c := range cases {
		_, err := e.n.SetSettings(e.ctx, anna.UserID, c.in)
		testutil.WantField(t, err, c.field, "invalid")
	}
	if got, _ := e.n.Settings(e.ctx, anna.UserID); got != (notices.Settings{Replies: "immediately", Digest: "daily"}) {
		t.Fatalf("refused changes changed %+v", got)
	}
}

func TestUnsubscribeTurnsExactlyThatSettingOff(t *testing.T) {
	e, _ := newEnv(t, nil)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	e.set(anna, notices.Settings{Digest: "daily"})

	digest := tokenOf(t, e.n.UnsubscribeURL(anna.UserID, notices.SettingDigest))
	if s, err := e.n.CheckUnsubscribe(digest); err != nil || s != notices.SettingDigest {
		t.Fatalf("check = %q, %v", s, err)
	}
	if got, _ := e.n.Settings(e.ctx, anna.UserID); got.Digest != "daily" {
		t.Fatal("checking a token changed the setting")
	}
	for range 2 { // a second click is harmless
		if s, err := e.n.Unsubscribe(e.ctx, digest); err != nil || s != notices.SettingDigest {
			t.Fatalf("unsubscribe = %q, %v", s, err)
		}
		if got, _ := e.n.Settings(e.ctx, anna.UserID); got != (notices.Settings{Replies: "immediately", Digest: "off"}) {
			t.Fatalf("after the digest link: %+v", got)
		}
	}
	if got, _ := e.n.Settings(e.ctx, bruno.UserID); got != notices.Defaults {
		t.Fatalf("Bruno's settings changed: %+v", got)
	}
	replies := tokenOf(t, e.n.UnsubscribeURL(anna.UserID, notices.SettingReplies))
	if _, err := e.n.Unsubscribe(e.ctx, replies); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.n.Settings(e.ctx, anna.UserID); got != (notices.Settings{Replies: "off", Digest: "off"}) {
		t.Fatalf("after the replies link: %+v", got)
	}
}

func TestUnsubscribeRefusesTamperedTokens(t *testing.T) {
	e, _ := newEnv(t, nil)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	good := e.n.UnsubscribeToken(anna.UserID, notices.SettingDigest)
	payload, mac, _ := strings.Cut(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	other, _, _ := strings.Cut(e.n.UnsubscribeToken(bruno.UserID, notices.SettingDigest), ".")
	flip := []byte(mac)
	flip[3] ^= 1
	// A service with another secret (the one kept in the database, as
	// when none is configured) signs tokens that are not ours.
	stranger, err := notices.New(e.ctx, e.st, e.clock, &recorder{ids: map[string]bool{}}, e.auth, nil, nil, e.streets, e.posts, notices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"empty":                  "",
		"no signature":           payload,
		"empty signature":        payload + ".",
		"altered signature":      payload + "." + string(flip),
		"short signature":        payload + "." + mac[:10],
		"another user":           other + "." + mac,
		"another setting":        b64([]byte(anna.UserID+"|replies")) + "." + mac,
		"unknown setting signed": e.n.UnsubscribeToken(anna.UserID, "everything"),
		"not a user id, signed":  e.n.UnsubscribeToken("../../admin", notices.SettingDigest),
		"another secret":         stranger.UnsubscribeToken(anna.UserID, notices.SettingDigest),
		"line break":             payload + ".\n" + mac,
		"padding":                payload + "." + mac + "==",
		"two dots":               payload + ".." + mac,
		"long":                   strings.Repeat("a", 300) + "." + mac,
		"no separator":           b64([]byte(anna.UserID+"digest")) + "." + mac,
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := e.n.Unsubscribe(e.ctx, token); !errors.Is(err, notices.ErrBadUnsubscribe) {
				t.Fatalf("Unsubscribe(%q) = %v", token, err)
			}
			if _, err := e.n.CheckUnsubscribe(token); !errors.Is(err, notices.ErrBadUnsubscribe) {
				t.Fatalf("CheckUnsubscribe(%q) = %v", token, err)
			}
		})
	}
	testutil.WantCode(t, notices.ErrBadUnsubscribe, "invalid_unsubscribe_token")
	for _, u := range []person{anna, bruno} {
		if got, _ := e.n.Settings(e.ctx, u.UserID); got != notices.Defaults {
			t.Fatalf("%s's settings changed: %+v", u.Name, got)
		}
	}
}

func TestExportAndErase(t *testing.T) {
	e, _ := newEnv(t, nil)
	anna, bruno := e.named("Anna"), e.named("Bruno")
	e.set(anna, notices.Settings{Replies: "digest"})
	sid := e.street("Via Oberdan", anna, bruno)
	p := e.post(anna, sid, "request", "Cerco una bici")
	e.reply(bruno, p.ID, "Ho una bici da prestare")
	exp, err := e.n.Export(e.ctx, anna.UserID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(exp)
	for _, want := range []string{`"settings":{"replies":"digest","digest":"weekly"}`, `"post_id":"` + p.ID + `"`, "Ho una bici da prestare"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("export lacks %s: %s", want, b)
		}
	}
	if err := e.n.Erase(e.ctx, anna.UserID); err != nil {
		t.Fatal(err)
	}
	exp, _ = e.n.Export(e.ctx, anna.UserID)
	if b, _ := json.Marshal(exp); string(b) != `{"replies_for_digest":[],"settings":{"replies":"immediately","digest":"weekly"}}` {
		t.Fatalf("after erase: %s", b)
	}
}
