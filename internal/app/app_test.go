package app_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/config"
	"civico/internal/testutil"
)

// A server stopped before it got to serve (a test that skips at once, a
// signal during start-up) must still stop, and Serve must return.
func TestShutdownBeforeServeStopsEverything(t *testing.T) {
	for _, order := range []string{"shutdown first", "serve first"} {
		t.Run(order, func(t *testing.T) {
			a, err := app.New(context.Background(), testutil.Config(t), slog.New(slog.DiscardHandler), app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			if order == "shutdown first" {
				if err := a.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				go func() { served <- a.Serve(ln) }()
			} else {
				go func() { served <- a.Serve(ln) }()
				if err := a.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("Serve after Shutdown: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Serve still running 20 s after Shutdown")
			}
			if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				c.Close()
				t.Fatal("the listener still accepts connections after Shutdown")
			}
		})
	}
}

// A process that lost NATS cannot pass events on: /readyz says so (503,
// naming NATS) until it reconnects by itself.
func TestReadyzNamesNATSWhileItIsDown(t *testing.T) {
	n := testutil.StartNATS(t)
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.NATSURL = n.URL }))
	s.Do(t, "GET", "/readyz", nil, "").Expect(t, 200)
	if !s.App.Bus.IsLeader() {
		t.Fatal("the only process does not lead the sweeps")
	}

	n.Stop()
	r := waitReadyz(t, s, 503)
	var body struct {
		Error struct{ Code, Message string }
	}
	r.JSON(t, &body)
	if body.Error.Code != "not_ready" || !strings.Contains(body.Error.Message, "NATS") {
		t.Fatalf("readyz without NATS: %s", r.Body)
	}

	n.Restart()
	waitReadyz(t, s, 200)
}

// waitReadyz polls /readyz until it answers status: the client's
// reconnection signals nothing outside the app.
func waitReadyz(t *testing.T, s *testutil.Server, status int) *testutil.Response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.Do(t, "GET", "/readyz", nil, "")
		if r.Status == status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d, want %d: %s", r.Status, status, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
