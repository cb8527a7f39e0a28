package pushservice_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"civico/internal/pushservice"

	webpush "github.com/SherClockHolmes/webpush-go"
)

func start(t *testing.T) *pushservice.Service {
	t.Helper()
	s, err := pushservice.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newSub(t *testing.T, s *pushservice.Service) *pushservice.Subscription {
	t.Helper()
	sub, err := s.NewSubscription()
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

type keys struct{ priv, pub string }

func vapidKeys(t *testing.T) keys {
	t.Helper()
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	return keys{priv, pub}
}

func send(t *testing.T, sub *pushservice.Subscription, k keys, payload string, mod func(*webpush.Options)) int {
	t.Helper()
	o := &webpush.Options{HTTPClient: &http.Client{Timeout: 5 * time.Second}, Subscriber: "ops@example.org", TTL: 60,
		Urgency: webpush.UrgencyNormal, VAPIDPublicKey: k.pub, VAPIDPrivateKey: k.priv, RecordSize: 2048}
	if mod != nil {
		mod(o)
	}
	res, err := webpush.SendNotification([]byte(payload), &webpush.Subscription{Endpoint: sub.Endpoint,
		Keys: webpush.Keys{P256dh: sub.P256dh, Auth: sub.Auth}}, o)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// A correct sender's message arrives decrypted, with its headers.
func TestDecryptsWhatWebpushGoSends(t *testing.T) {
	s := start(t)
	k := vapidKeys(t)
	if err := s.TrustKey(k.pub); err != nil {
		t.Fatal(err)
	}
	sub := newSub(t, s)
	payload := `{"title":"Ciao","body":"è arrivato"}`
	if got := send(t, sub, k, payload, func(o *webpush.Options) { o.Topic = "post-1" }); got != 201 {
		t.Fatalf("status %d, errors %v", got, s.Errors())
	}
	msgs, err := s.WaitMessages(ctx(t), sub.Token, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if string(m.Payload) != payload || m.TTL != 60 || m.Urgency != "normal" || m.Topic != "post-1" || m.Subject != "mailto:ops@example.org" {
		t.Fatalf("got %+v", m)
	}
	if m.BodyLen != 2048 {
		t.Fatalf("body %d bytes, want the record size 2048", m.BodyLen)
	}
}

// What a real push service refuses, this one refuses too, and says why.
func TestRefusesBadRequests(t *testing.T) {
	s := start(t)
	k := vapidKeys(t)
	other := vapidKeys(t)
	if err := s.TrustKey(k.pub); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		keys   keys
		mod    func(*webpush.Options)
		status int
		err    string
	}{
		{"other key", other, nil, 401, "not the application server key"},
		{"doubled mailto", k, func(o *webpush.Options) { o.Subscriber = "mailto:ops@example.org" }, 401, "doubled mailto"},
		{"no contact", k, func(o *webpush.Options) { o.Subscriber = "" }, 401, "not a mailto"},
		{"too large", k, func(o *webpush.Options) { o.RecordSize = 4096 }, 413, "body of more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := newSub(t, s)
			if got := send(t, sub, c.keys, "x", c.mod); got != c.status {
				t.Fatalf("status %d, want %d", got, c.status)
			}
			errs := s.Errors()
			if len(errs) == 0 || !strings.Contains(errs[len(errs)-1], c.err) {
				t.Fatalf("errors %v, want %q", errs, c.err)
			}
			if len(s.Messages(sub.Token)) != 0 {
				t.Fatal("a refused message was recorded")
			}
		})
	}
	t.Run("wrong subscription keys", func(t *testing.T) {
		sub, other := newSub(t, s), newSub(t, s)
		sub.P256dh = other.P256dh
		if got := send(t, sub, k, "x", nil); got != 400 {
			t.Fatalf("status %d", got)
		}
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		sub := newSub(t, s)
		s.Forget(sub)
		if got := send(t, sub, k, "x", nil); got != 404 {
			t.Fatalf("status %d", got)
		}
	})
}

// Queued answers come first, then the behaviour; a hang lasts until released.
func TestAnswers(t *testing.T) {
	s := start(t)
	k := vapidKeys(t)
	sub := newSub(t, s)
	s.Queue(sub, pushservice.TooMany(2*time.Second), pushservice.Error500, pushservice.Gone)
	for _, want := range []int{429, 500, 410, 201} {
		if got := send(t, sub, k, "x", nil); got != want {
			t.Fatalf("status %d, want %d", got, want)
		}
	}
	if n := len(s.Messages(sub.Token)); n != 1 {
		t.Fatalf("%d messages recorded, want only the accepted one", n)
	}
	s.Always(pushservice.Hang)
	done := make(chan int, 1)
	go func() { done <- send(t, sub, k, "x", nil) }()
	if err := s.Wait(ctx(t), func(v pushservice.View) bool { return v.Hanging() == 1 }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("a hanging request ended on its own")
	default:
	}
	s.Release()
	if got := <-done; got != 503 {
		t.Fatalf("released hang answered %d", got)
	}
}
