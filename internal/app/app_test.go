package app_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"civico/internal/app"
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
