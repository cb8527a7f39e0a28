package testutil

import (
	"context"
	"net/http"
	"testing"
	"time"

	"civico/internal/pushservice"
)

// PushService starts a test push service on loopback that trusts this
// server's VAPID key, and stops it when the test ends.
func (s *Server) PushService(tb testing.TB) *pushservice.Service {
	tb.Helper()
	ps, err := pushservice.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ps.Close() })
	var out struct {
		Key string `json:"key"`
	}
	s.Do(tb, "GET", "/push/vapid-public-key", nil, "").Expect(tb, http.StatusOK).JSON(tb, &out)
	if err := ps.TrustKey(out.Key); err != nil {
		tb.Fatal(err)
	}
	return ps
}

// SubscribePush gives u a device subscribed on ps, registered through the API.
func (s *Server) SubscribePush(tb testing.TB, u *User, ps *pushservice.Service) *pushservice.Subscription {
	tb.Helper()
	sub, err := ps.NewSubscription()
	if err != nil {
		tb.Fatal(err)
	}
	s.Do(tb, "POST", "/push/subscriptions", sub.JSON(), u.Token).Expect(tb, http.StatusCreated)
	return sub
}

// WaitPushes waits until the subscription ("" for any) received n pushes
// and returns them; it fails the test after 15 s, with the push service's
// protocol errors.
func WaitPushes(tb testing.TB, ps *pushservice.Service, sub *pushservice.Subscription, n int) []pushservice.Message {
	tb.Helper()
	token := ""
	if sub != nil {
		token = sub.Token
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	msgs, err := ps.WaitMessages(ctx, token, n)
	if err != nil {
		tb.Fatalf("%v (protocol errors: %v)", err, ps.Errors())
	}
	return msgs
}
