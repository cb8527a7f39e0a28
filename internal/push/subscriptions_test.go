package push_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/push"

	webpush "github.com/SherClockHolmes/webpush-go"
)

func fieldsOf(err error) map[string]string {
	if e, ok := fault.As(err); ok {
		return e.Fields
	}
	return nil
}

// Bad subscriptions are refused field by field and change nothing.
func TestSubscribeValidates(t *testing.T) {
	e := newEnv(t, withOptions(func(o *push.Options) { o.AllowInsecure = false }))
	u := &user{ID: "64b7f0c2a1b2c3d4e5f60718"}
	priv, _ := ecdh.P256().GenerateKey(rand.Reader)
	good := base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes())
	auth16 := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	notOnCurve := make([]byte, 65)
	notOnCurve[0] = 4
	cases := []struct {
		name  string
		in    push.NewSubscription
		field string
		code  string
	}{
		{"no endpoint", push.NewSubscription{P256dh: good, Auth: auth16}, "endpoint", "required"},
		{"http", push.NewSubscription{Endpoint: "http://127.0.0.1:9/push/x", P256dh: good, Auth: auth16}, "endpoint", "insecure"},
		{"not a url", push.NewSubscription{Endpoint: "https//fcm", P256dh: good, Auth: auth16}, "endpoint", "invalid"},
		{"javascript", push.NewSubscription{Endpoint: "javascript:alert(1)", P256dh: good, Auth: auth16}, "endpoint", "invalid"},
		{"credentials", push.NewSubscription{Endpoint: "https://u:p@push.example/x", P256dh: good, Auth: auth16}, "endpoint", "invalid"},
		{"too long", push.NewSubscription{Endpoint: "https://push.example/" + strings.Repeat("a", 2100), P256dh: good, Auth: auth16}, "endpoint", "too_long"},
		{"short key", push.NewSubscription{Endpoint: "https://push.example/x", P256dh: good[:40], Auth: auth16}, "keys.p256dh", "invalid"},
		{"compressed key", push.NewSubscription{Endpoint: "https://push.example/x", P256dh: base64.RawURLEncoding.EncodeToString(append([]byte{2}, make([]byte, 32)...)), Auth: auth16}, "keys.p256dh", "invalid"},
		{"not on the curve", push.NewSubscription{Endpoint: "https://push.example/x", P256dh: base64.RawURLEncoding.EncodeToString(notOnCurve), Auth: auth16}, "keys.p256dh", "invalid"},
		{"not base64", push.NewSubscription{Endpoint: "https://push.example/x", P256dh: "!!" + good[2:], Auth: auth16}, "keys.p256dh", "invalid"},
		{"no auth", push.NewSubscription{Endpoint: "https://push.example/x", P256dh: good}, "keys.auth", "required"},
		{"auth of 12 bytes", push.NewSubscription{Endpoint: "https://push.example/x", P256dh: good, Auth: base64.RawURLEncoding.EncodeToString(make([]byte, 12))}, "keys.auth", "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := e.svc.Subscribe(context.Background(), u.ID, c.in)
			if got := fieldsOf(err)[c.field]; got != c.code {
				t.Fatalf("fields %v (err %v), want %s=%s", fieldsOf(err), err, c.field, c.code)
			}
		})
	}
	if subs, _ := e.svc.Subscriptions(context.Background(), u.ID); len(subs) != 0 {
		t.Fatalf("bad input saved %d subscriptions", len(subs))
	}
	// Standard base64 with padding, as some clients send, is fine over https.
	_, created, err := e.svc.Subscribe(context.Background(), u.ID, push.NewSubscription{Endpoint: "https://push.example/ok",
		P256dh: base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()), Auth: base64.StdEncoding.EncodeToString(make([]byte, 16))})
	if err != nil || !created {
		t.Fatalf("created %v, %v", created, err)
	}
}

// The same endpoint subscribed by another user moves to them: the first
// user's pushes stop reaching that device, the second's arrive.
func TestSameDeviceMovesToTheNewUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	author, first, second := e.user("it", ""), e.user("it", ""), e.user("en", "")
	second.sub = first.sub // one browser, two accounts in turn
	if _, created, err := e.svc.Subscribe(ctx, second.ID, push.NewSubscription{Endpoint: first.sub.Endpoint, P256dh: first.sub.P256dh, Auth: first.sub.Auth}); err != nil || created {
		t.Fatalf("created %v, %v: want the existing subscription moved", created, err)
	}
	if subs, _ := e.svc.Subscriptions(ctx, first.ID); len(subs) != 0 {
		t.Fatalf("the first user still has %d subscriptions", len(subs))
	}
	onlyFirst := e.table.street("Via Indipendenza", author, first)
	e.post(onlyFirst, author, "offer", "lending", "Per il primo")
	both := e.table.street("Via Rizzoli", author, second)
	e.post(both, author, "offer", "lending", "Per il secondo")
	p, _ := e.received(second, 1)
	if !strings.Contains(p.Body, "Per il secondo") || p.Title != "New offer · Via Rizzoli" {
		t.Fatalf("payload %+v", p)
	}
	waitStats(t, e.svc, func(s push.Stats) bool { return s.Jobs == 2 })
	if n := len(e.ps.Messages(first.sub.Token)); n != 1 {
		t.Fatalf("the device got %d pushes, want only the second user's", n)
	}
}

// Unsubscribing and logging out of a device stop its pushes; another
// user cannot remove someone else's device.
func TestUnsubscribeAndLogout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.user("it", ""), e.user("it", "")
	if err := e.svc.Unsubscribe(ctx, b.ID, a.sub.Endpoint); err != nil {
		t.Fatal(err)
	}
	if subs, _ := e.svc.Subscriptions(ctx, a.ID); len(subs) != 1 {
		t.Fatal("another user removed a's device")
	}
	e.svc.Logout(ctx, a.ID, a.sub.Endpoint)
	if subs, _ := e.svc.Subscriptions(ctx, a.ID); len(subs) != 0 {
		t.Fatal("logout left the device subscribed")
	}
	if err := e.svc.Unsubscribe(ctx, b.ID, b.sub.Endpoint); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Unsubscribe(ctx, b.ID, b.sub.Endpoint); err != nil {
		t.Fatalf("unsubscribing twice: %v", err)
	}
	if got := fieldsOf(e.svc.Unsubscribe(ctx, b.ID, ""))["endpoint"]; got != "required" {
		t.Fatalf("empty endpoint: %q", got)
	}
}

// A user keeps at most MaxDevices subscriptions: the stalest goes.
func TestDevicesAreBounded(t *testing.T) {
	fake := clock.NewFake(clock.System{}.Now())
	e := newEnv(t, withClock(fake))
	u := e.user("it", "")
	first := u.sub.Endpoint
	for range push.MaxDevices {
		fake.Advance(1e9)
		e.subscribe(u)
	}
	subs, err := e.svc.Subscriptions(context.Background(), u.ID)
	if err != nil || len(subs) != push.MaxDevices {
		t.Fatalf("%d subscriptions, %v", len(subs), err)
	}
	for _, s := range subs {
		if s.Endpoint == first {
			t.Fatal("the stalest device was kept")
		}
	}
}

// The VAPID pair is generated once and survives restarts; configured keys
// are used as given and must match.
func TestVAPIDKeys(t *testing.T) {
	e := newEnv(t)
	generated := e.svc.PublicKey()
	if raw, err := base64.RawURLEncoding.DecodeString(generated); err != nil || len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("public key %q is not a base64url P-256 point", generated)
	}
	e.svc.Close()
	e.startPush()
	if e.svc.PublicKey() != generated {
		t.Fatal("a restart changed the VAPID key: every subscription would break")
	}
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	s, err := push.New(context.Background(), e.st, e.clock, e.auth, nil, push.Options{VAPIDPublicKey: pub, VAPIDPrivateKey: priv})
	if err != nil || s.PublicKey() != strings.TrimRight(pub, "=") {
		t.Fatalf("configured key: %q, %v", s.PublicKey(), err)
	}
	_, otherPub, _ := webpush.GenerateVAPIDKeys()
	if _, err := push.New(context.Background(), e.st, e.clock, e.auth, nil, push.Options{VAPIDPublicKey: otherPub, VAPIDPrivateKey: priv}); err == nil {
		t.Fatal("mismatched VAPID halves accepted")
	}
}

// An endpoint naming a non-public address is refused when subscribing,
// not first when a push is sent; insecure mode lets loopback through.
func TestSubscribeRefusesNonPublicAddresses(t *testing.T) {
	priv, _ := ecdh.P256().GenerateKey(rand.Reader)
	key := base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes())
	auth16 := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	e := newEnv(t, withOptions(func(o *push.Options) { o.AllowInsecure = false }))
	u := &user{ID: "64b7f0c2a1b2c3d4e5f60718"}
	for _, endpoint := range []string{
		"https://100.64.0.1/x",
		"https://[64:ff9b::a00:1]/x",
		"https://100.100.100.200/latest/meta-data",
		"https://198.18.0.1:8443/x",
		"https://192.0.2.1/x",
		"https://255.255.255.255/x",
		"https://[::ffff:10.0.0.1]/x",
		"https://[2002:a00:1::1]/x",
		"https://[2001::1]/x",
		"https://[2001:db8::1]/x",
		"https://[fe80::1%25eth0]/x",
		"https://127.0.0.1/x",
		"https://[::1]/x",
	} {
		_, _, err := e.svc.Subscribe(context.Background(), u.ID, push.NewSubscription{Endpoint: endpoint, P256dh: key, Auth: auth16})
		if got := fieldsOf(err)["endpoint"]; got != "forbidden_address" {
			t.Errorf("%s: fields %v (err %v), want endpoint=forbidden_address", endpoint, fieldsOf(err), err)
		}
	}
	if subs, _ := e.svc.Subscriptions(context.Background(), u.ID); len(subs) != 0 {
		t.Fatalf("refused endpoints saved %d subscriptions", len(subs))
	}
	for _, endpoint := range []string{"https://142.250.0.1/x", "https://[2a00:1450::1]/x"} {
		if _, _, err := e.svc.Subscribe(context.Background(), u.ID, push.NewSubscription{Endpoint: endpoint, P256dh: key, Auth: auth16}); err != nil {
			t.Errorf("%s: %v", endpoint, err)
		}
	}

	insecure := newEnv(t)
	for _, endpoint := range []string{"https://127.0.0.1/x", "http://127.0.0.1:9/x", "http://[::1]:9/x"} {
		if _, _, err := insecure.svc.Subscribe(context.Background(), u.ID, push.NewSubscription{Endpoint: endpoint, P256dh: key, Auth: auth16}); err != nil {
			t.Errorf("insecure mode, %s: %v", endpoint, err)
		}
	}
	_, _, err := insecure.svc.Subscribe(context.Background(), u.ID, push.NewSubscription{Endpoint: "https://100.64.0.1/x", P256dh: key, Auth: auth16})
	if got := fieldsOf(err)["endpoint"]; got != "forbidden_address" {
		t.Errorf("insecure mode, CGNAT: fields %v (err %v)", fieldsOf(err), err)
	}
}
