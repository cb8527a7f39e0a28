// Package app wires Civico together: it opens the store, builds every
// service and the HTTP server, runs the background sweeps, and shuts it all
// down in order. server/main.go and the tests both start it through here.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"civico/internal/api"
	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/config"
	"civico/internal/events"
	"civico/internal/store"
	"civico/pwa"

	"github.com/gofiber/fiber/v2"
)

// App is a running Civico.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	clock clock.Clock
	store *store.Store
	fiber *fiber.App

	// Services, exposed for tests that drive them directly.
	Auth   *auth.Service
	Events *events.Log

	sweeps []func(context.Context) error
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// Options are what tests may replace.
type Options struct {
	Clock clock.Clock
}

// New opens the database and builds every service.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*App, error) {
	if opts.Clock == nil {
		opts.Clock = clock.System{}
	}
	var engineLog *slog.Logger
	if cfg.LogLevel <= slog.LevelDebug {
		engineLog = log.With("component", "ferretdb")
	}
	st, err := store.Open(ctx, store.Config{URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database,
		Logger: log, EngineLogger: engineLog})
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, clock: opts.Clock, store: st}
	if err := a.build(ctx); err != nil {
		_ = st.Close(context.Background())
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context) error {
	cfg, c, log := a.cfg, a.clock, a.log
	idx := append(events.Indexes(), auth.Indexes()...)
	if err := a.store.EnsureIndexes(ctx, idx...); err != nil {
		return err
	}
	a.Events = events.New(a.store, c, log, events.Options{})
	var err error
	a.Auth, err = auth.New(ctx, a.store, c, log, auth.Options{Secret: cfg.JWTSecret,
		LoginPerAccount: cfg.LoginPerAccount, LoginPerIP: cfg.LoginPerIP, RegisterPerIP: cfg.RegisterPerIP})
	if err != nil {
		return err
	}
	a.sweeps = append(a.sweeps, a.Auth.Sweep, a.Events.Trim)

	static, err := api.Static(pwa.FS())
	if err != nil {
		return fmt.Errorf("app: pwa: %w", err)
	}
	a.fiber = api.New(api.Config{
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout,
		TrustedProxies: cfg.TrustedProxies, PublicURL: cfg.PublicURL, AllowedOrigins: cfg.AllowedOrigins,
		SecureCookies: len(cfg.PublicURL) > 8 && cfg.PublicURL[:8] == "https://",
	}, api.Deps{
		Log:    log,
		Ready:  func() error { return a.store.Ping(context.Background()) },
		Auth:   a.Auth,
		Static: static,
	})
	return nil
}

// Serve answers requests on ln until Shutdown, and runs the background work.
func (a *App) Serve(ln net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.sweepLoop(ctx)
	}()
	return a.fiber.Listener(ln)
}

// sweepLoop runs the expiry sweeps the embedded engine cannot (no TTL indexes).
func (a *App) sweepLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, sweep := range a.sweeps {
				if err := sweep(ctx); err != nil && !errors.Is(err, context.Canceled) {
					a.log.Warn("sweep failed", "err", err)
				}
			}
		}
	}
}

// Shutdown stops accepting requests, drains those in flight, stops the
// background work, then closes the driver and the embedded database.
func (a *App) Shutdown(ctx context.Context) error {
	err := a.fiber.ShutdownWithContext(ctx)
	if a.stop != nil {
		a.stop()
	}
	a.wg.Wait()
	if cerr := a.store.Close(ctx); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Store is the app's store, for tests.
func (a *App) Store() *store.Store { return a.store }
