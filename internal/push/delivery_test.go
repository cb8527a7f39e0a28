package push

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/events"
	"civico/internal/pushservice"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// webpush-go pads into the slice it is given: every send must get its own
// copy, or concurrent sends of one payload (one language, many devices)
// corrupt each other and the shared payload.
func TestSendCopiesThePayload(t *testing.T) {
	ps, err := pushservice.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.TrustKey(pub); err != nil {
		t.Fatal(err)
	}
	opts := Options{AllowInsecure: true, Workers: 8, HTTPTimeout: 5 * time.Second}
	s := &Service{opts: opts, subscriber: subscriber("mailto:ops@example.org"), vapidPublic: pub, vapidPrivate: priv, client: newHTTPClient(opts), cpu: make(chan struct{}, 1)}
	t.Cleanup(s.client.CloseIdleConnections)

	payload := Payload{Title: "Nuova offerta · Via Zamboni", Body: "Marta: Presto la scala", URL: "/posts/p1", Tag: "post-p1"}.encode()
	// Spare capacity full of sentinels, as a bytes.Buffer's bytes have.
	shared := bytes.Repeat([]byte{'#'}, 4096)
	copy(shared, payload)
	shared = shared[:len(payload)]

	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		sub, err := ps.NewSubscription()
		if err != nil {
			t.Fatal(err)
		}
		d := &delivery{ID: sub.Token, Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth, Payload: shared,
			Topic: topic("post-p1"), TTL: 60, Urgency: "normal"}
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, errs[i] = s.send(context.Background(), d, time.Now())
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || statuses[i] != http.StatusCreated {
			t.Fatalf("send %d: %d %v; push service errors %v", i, statuses[i], errs[i], ps.Errors())
		}
	}
	if spare := shared[len(shared):cap(shared)]; bytes.Count(spare, []byte{'#'}) != len(spare) {
		t.Fatal("a send wrote into the payload's spare capacity")
	}
	msgs := ps.Messages("")
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	for _, m := range msgs {
		if !bytes.Equal(m.Payload, payload) {
			t.Fatalf("a device got %q, want %q", m.Payload, payload)
		}
		if m.BodyLen >= 3070 || m.Subject != "mailto:ops@example.org" || m.TTL != 60 || m.Urgency != "normal" {
			t.Fatalf("message %+v", m)
		}
	}
}

// The contact goes to webpush-go without the "mailto:" it adds itself.
func TestSubscriberIsBare(t *testing.T) {
	for in, want := range map[string]string{
		"mailto:ops@example.org":         "ops@example.org",
		"ops@example.org":                "ops@example.org",
		"https://civico.example/contact": "https://civico.example/contact",
	} {
		if got := subscriber(in); got != want {
			t.Errorf("subscriber(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every notification about one post has the same tag and Topic, so a
// phone shows one entry (the newest) and a push service replaces an
// undelivered one; other posts and other languages do not interfere.
func TestTagCollapsesOnePost(t *testing.T) {
	job := func(typ events.Type, data any) jobDoc {
		b, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		return jobDoc{Type: string(typ), StreetID: "s1", Payload: string(b)}
	}
	post := job(events.PostCreated, events.PostData{ID: "p1", Kind: "request", Category: "repairs", Title: "Scala?", AuthorName: "Marta"})
	reply := job(events.ReplyCreated, events.ReplyData{ID: "r1", PostID: "p1", PostTitle: "Scala?", AuthorName: "Gino", Body: "Io!"})
	other := job(events.PostCreated, events.PostData{ID: "p2", Kind: "offer", Category: "lending", Title: "Trapano", AuthorName: "Marta"})
	tagOf := func(j jobDoc, locale string) (string, string) {
		m, ok := compose(j, locale, "Via Zamboni")
		if !ok {
			t.Fatalf("compose %s failed", j.Type)
		}
		var p Payload
		if err := json.Unmarshal(m.payload, &p); err != nil {
			t.Fatal(err)
		}
		if len(m.topic) > 32 || strings.Trim(m.topic, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("topic %q is not ≤ 32 base64url characters", m.topic)
		}
		return p.Tag, m.topic
	}
	postTag, postTopic := tagOf(post, "it")
	for _, c := range []struct {
		j      jobDoc
		locale string
	}{{post, "en"}, {reply, "it"}, {reply, "en"}} {
		if tag, tp := tagOf(c.j, c.locale); tag != postTag || tp != postTopic {
			t.Fatalf("%s in %s: tag %q topic %q, want %q %q", c.j.Type, c.locale, tag, tp, postTag, postTopic)
		}
	}
	if tag, tp := tagOf(other, "it"); tag == postTag || tp == postTopic {
		t.Fatalf("another post shares tag %q / topic %q", tag, tp)
	}
}

// Retry-After is read in both forms RFC 9110 allows.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"99999999", 24 * time.Hour},
	} {
		if got := parseRetryAfter(c.in, now); got != c.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
