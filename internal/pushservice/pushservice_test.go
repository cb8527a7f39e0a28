package pushservice_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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

// rewriter is an HTTP client that changes each request before sending it,
// to make what a faulty sender would send.
type rewriter struct {
	c   *http.Client
	mod func(*http.Request)
}

func (r rewriter) Do(req *http.Request) (*http.Response, error) {
	r.mod(req)
	return r.c.Do(req)
}

// jwt signs claims with ES256 (or says it uses alg) by the VAPID private key.
func jwt(t *testing.T, privateKey, alg string, claims map[string]any) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(privateKey, "="))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		t.Fatal(err)
	}
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := seg(map[string]string{"typ": "JWT", "alg": alg}) + "." + seg(claims)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// The VAPID claims are checked as RFC 8292 asks: aud is the push service's
// origin, exp is in the future but within 24 h, sub is a contact, the
// token is ES256-signed by k=; TTL is required and Urgency one of four.
func TestChecksVAPIDClaimsAndHeaders(t *testing.T) {
	s := start(t)
	k, other := vapidKeys(t), vapidKeys(t)
	if err := s.TrustKey(k.pub); err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimRight(k.pub, "=")
	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": s.URL, "exp": now.Add(23 * time.Hour).Unix(), "sub": "mailto:ops@example.org"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	vapid := func(token string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "vapid t="+token+", k="+pub) }
	}
	cases := []struct {
		name   string
		mod    func(*http.Request)
		status int
		err    string
	}{
		{"hand-made and right", vapid(jwt(t, k.priv, "ES256", claims(nil))), 201, ""},
		{"https contact", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { c["sub"] = "https://civico.example/contact" }))), 201, ""},
		{"aud of another service", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { c["aud"] = "https://fcm.googleapis.com" }))), 401, "vapid aud"},
		{"aud with a path", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { c["aud"] = s.URL + "/push" }))), 401, "vapid aud"},
		{"no aud", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { delete(c, "aud") }))), 401, "vapid aud"},
		{"no exp", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { delete(c, "exp") }))), 401, "without exp"},
		{"expired", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))), 401, "expired"},
		{"exp beyond 24 h", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { c["exp"] = now.Add(25 * time.Hour).Unix() }))), 401, "more than 24 h"},
		{"no sub", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { delete(c, "sub") }))), 401, "not a mailto"},
		{"bare address as sub", vapid(jwt(t, k.priv, "ES256", claims(func(c map[string]any) { c["sub"] = "ops@example.org" }))), 401, "not a mailto"},
		{"alg none", vapid(jwt(t, k.priv, "none", claims(nil))), 401, "alg"},
		{"signed by another key", vapid(jwt(t, other.priv, "ES256", claims(nil))), 401, "does not verify"},
		{"not vapid", func(r *http.Request) { r.Header.Set("Authorization", "WebPush "+jwt(t, k.priv, "ES256", claims(nil))) }, 401, "not vapid"},
		{"no t=", func(r *http.Request) { r.Header.Set("Authorization", "vapid k="+pub) }, 401, "without t="},
		{"no TTL", func(r *http.Request) { r.Header.Del("TTL") }, 400, "missing TTL"},
		{"bad Urgency", func(r *http.Request) { r.Header.Set("Urgency", "urgent") }, 400, "bad Urgency"},
		{"long Topic", func(r *http.Request) { r.Header.Set("Topic", strings.Repeat("a", 33)) }, 400, "bad Topic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := newSub(t, s)
			before := len(s.Errors())
			got := send(t, sub, k, `{"title":"x"}`, func(o *webpush.Options) {
				o.HTTPClient = rewriter{c: &http.Client{Timeout: 5 * time.Second}, mod: c.mod}
			})
			if got != c.status {
				t.Fatalf("status %d, want %d; errors %v", got, c.status, s.Errors()[before:])
			}
			errs := s.Errors()[before:]
			if c.err == "" {
				if len(errs) > 0 || len(s.Messages(sub.Token)) != 1 {
					t.Fatalf("a correct push was refused: %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0], c.err) {
				t.Fatalf("errors %v, want %q", errs, c.err)
			}
			if len(s.Messages(sub.Token)) != 0 {
				t.Fatal("a refused push was recorded")
			}
		})
	}
}

// Every answer a push service gives can be asked for, 404 included, and
// Retry-After goes out with a 429.
func TestAnswersEveryStatus(t *testing.T) {
	s := start(t)
	k := vapidKeys(t)
	for _, c := range []struct {
		ans        pushservice.Answer
		status     int
		retryAfter string
	}{
		{pushservice.Created, 201, ""},
		{pushservice.NotFound, 404, ""},
		{pushservice.Gone, 410, ""},
		{pushservice.TooMany(1500 * time.Millisecond), 429, "2"},
		{pushservice.Error500, 500, ""},
	} {
		sub := newSub(t, s)
		s.Queue(sub, c.ans)
		var header string
		got := send(t, sub, k, "x", func(o *webpush.Options) {
			o.HTTPClient = capture{c: &http.Client{Timeout: 5 * time.Second}, retryAfter: &header}
		})
		if got != c.status || header != c.retryAfter {
			t.Fatalf("answer %+v: status %d, Retry-After %q", c.ans, got, header)
		}
	}
}

// capture keeps a response's Retry-After header.
type capture struct {
	c          *http.Client
	retryAfter *string
}

func (c capture) Do(req *http.Request) (*http.Response, error) {
	res, err := c.c.Do(req)
	if err == nil {
		*c.retryAfter = res.Header.Get("Retry-After")
	}
	return res, err
}

// Two requests in flight at once never share a number: a behaviour such as
// "the first five succeed, the rest hang" must see each request once.
func TestRequestsInFlightHaveDistinctNumbers(t *testing.T) {
	s := start(t)
	sub := newSub(t, s)
	seen := make(chan int, 2)
	s.SetBehaviour(func(r pushservice.Request) pushservice.Answer {
		seen <- r.N
		return pushservice.Created
	})
	// The first request's body never ends until we say so: it has arrived
	// (and has its number) but is not answered yet.
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() {
		res, err := http.Post(sub.Endpoint, "application/octet-stream", pr)
		if err == nil {
			res.Body.Close()
		}
		first <- err
	}()
	a := <-seen
	res, err := http.Post(sub.Endpoint, "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	b := <-seen
	pw.Close()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 2 {
		t.Fatalf("requests numbered %d and %d, want 1 and 2", a, b)
	}
}

// With decryption deferred a push is accepted on its headers and VAPID
// signature alone, and decrypts later to what was sent; a signature that
// does not check is still refused at once.
func TestDeferredDecryption(t *testing.T) {
	s := start(t)
	s.DeferDecryption()
	k := vapidKeys(t)
	if err := s.TrustKey(k.pub); err != nil {
		t.Fatal(err)
	}
	sub := newSub(t, s)
	if got := send(t, sub, k, "a dopo", nil); got != 201 {
		t.Fatalf("status %d, errors %v", got, s.Errors())
	}
	if got := send(t, sub, vapidKeys(t), "someone else's key", nil); got != http.StatusUnauthorized {
		t.Fatalf("a foreign VAPID key got %d", got)
	}
	msgs := s.Messages(sub.Token)
	if len(msgs) != 1 || msgs[0].Payload != nil {
		t.Fatalf("before decrypting: %+v", msgs)
	}
	if err := s.DecryptDeferred(); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Messages(sub.Token)[0].Payload); got != "a dopo" {
		t.Fatalf("decrypted %q", got)
	}
}
