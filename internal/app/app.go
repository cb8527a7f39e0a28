// Package app wires Civico together: it opens the store, builds every
// service and the HTTP server, runs the background sweeps, and shuts it all
// down in order. server/main.go and the tests both start it through here.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"civico/internal/activities"
	"civico/internal/api"
	"civico/internal/auth"
	"civico/internal/bus"
	"civico/internal/clock"
	"civico/internal/config"
	"civico/internal/conversations"
	"civico/internal/diag"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/handoff"
	"civico/internal/hub"
	"civico/internal/idle"
	"civico/internal/impact"
	"civico/internal/listener"
	"civico/internal/locator"
	"civico/internal/mail"
	"civico/internal/metrics"
	"civico/internal/moderation"
	"civico/internal/notices"
	"civico/internal/paper"
	"civico/internal/photos"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/profiles"
	"civico/internal/push"
	"civico/internal/ratelimit"
	"civico/internal/referrals"
	"civico/internal/showcase"
	"civico/internal/store"
	"civico/internal/streets"
	"civico/internal/suggestions"
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

	// Bus connects this process to the others (NATS): their messages, who
	// is alive, who leads the periodic work.
	Bus *bus.Bus
	// Services, exposed for tests that drive them directly.
	Auth   *auth.Service
	Events *events.Log
	Hub    *hub.Hub
	// Portineria is the Portinaio di rione.
	Portineria *portineria.Service
	// Streets, Posts and Moderation: the streets, their requests and
	// offers, and reports.
	Streets    *streets.Service
	Posts      *posts.Service
	Moderation *moderation.Service
	// Push is web push: subscriptions, settings and the outbox.
	Push *push.Service
	// Mail is the email channel (outbox and sender); Notices what Civico
	// tells by email (reply notices, digests, their settings).
	Mail    *mail.Service
	Notices *notices.Service
	// Paper prints the street's board and invitation flyers.
	Paper *paper.Service
	// Handoff is the warm hand-off and "no wrong door"; Impact the figures.
	Handoff *handoff.Service
	Impact  *impact.Service
	// Locator is the neighbourhood's places; Referrals the desk's referrals to them.
	Locator   *locator.Service
	Referrals *referrals.Service
	// Suggestions are residents' suggestions on the places.
	Suggestions *suggestions.Service
	// Activities are the street's events (the API's /events).
	Activities *activities.Service
	// Conversations are members' private conversations.
	Conversations *conversations.Service
	// Photos are the images of posts and replies.
	Photos *photos.Service
	// Profiles are members' profiles and the streets' skills directories.
	Profiles *profiles.Service
	// Foreground is marked by requests and fan-outs; pushes wait for it
	// to be quiet before encrypting. Its part fanout is marked by the hub
	// alone; the embedded database's writes wait for that.
	Foreground *idle.Gate
	fanout     *idle.Gate

	// procMark marks the database as used by this process (guard.go).
	procMark *dbGuard
	debug    *diag.Server
	metrics  *metrics.Metrics
	sweeps   []func(context.Context) error
	pwa      fs.FS
	static   fiber.Handler
	wg       sync.WaitGroup

	// life orders Serve and Shutdown, which may race (a test that ends
	// at once): a Shutdown first makes Serve return at once.
	life     sync.Mutex
	stop     context.CancelFunc
	ln       net.Listener
	listener *listener.Listener
	shutDown bool
}

// Options are what tests may replace.
type Options struct {
	Clock clock.Clock
	// PWA replaces the app's files (default: the embedded pwa.FS()), so a
	// test can serve a new version of the app.
	PWA fs.FS
	// Static, when set, is api.Static of the app's files, built already:
	// compressing every file at the best levels takes seconds (more under
	// the race detector), which a test process starting a hundred servers
	// pays once (testutil).
	Static fiber.Handler
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
	foreground := idle.New(foregroundLinger)
	fanout := foreground.Sub(0)
	m := metrics.New()
	st, err := store.Open(ctx, store.Config{URI: cfg.MongoURI, DataDir: cfg.DataDir, Database: cfg.Database,
		Logger: log, EngineLogger: engineLog, Fanout: fanout, Monitor: m.CommandMonitor()})
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, clock: opts.Clock, store: st, pwa: opts.PWA, static: opts.Static, Foreground: foreground, fanout: fanout, metrics: m}
	if err := a.build(ctx); err != nil {
		if a.Bus != nil {
			a.Bus.Close()
		}
		a.procMark.close(context.Background())
		_ = st.Close(context.Background())
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context) error {
	cfg, c, log := a.cfg, a.clock, a.log
	// Before the services, which subscribe to it. Without a NATS URL it
	// is embedded: enough for one process, whatever the database.
	var err error
	a.Bus, err = bus.Start(ctx, bus.Options{URL: cfg.NATSURL, DataDir: cfg.DataDir, Listen: cfg.NATSListen,
		Replicas: cfg.NATSReplicas, Logger: log.With("component", "bus")})
	if err != nil {
		return err
	}
	solo := cfg.NATSURL == ""
	a.procMark, err = guardDatabase(ctx, a.store, c, log, processHome(cfg.DataDir), solo)
	if err != nil {
		return err
	}
	if solo {
		a.store.MarkSolo() // the guard refuses every other process
	}
	idx := slices.Concat(events.Indexes(), auth.Indexes(), ratelimit.Indexes())
	if err := a.store.EnsureIndexes(ctx, idx...); err != nil {
		return err
	}
	// Events cross processes on NATS; what a receiver missed (an outage,
	// a slow subscription) it reads back from the log once reconnected.
	a.Events = events.New(a.store, c, log, events.Options{Wire: a.Bus, Roll: a.Bus})
	a.Bus.OnReconnect(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := a.Events.Resync(ctx); err != nil {
			log.Warn("resyncing live events", "err", err)
		}
	})
	if err := a.buildMail(ctx); err != nil {
		return err
	}
	a.Auth, err = auth.New(ctx, a.store, c, log, auth.Options{Secret: cfg.JWTSecret, Postman: a.Mail,
		LoginPerAccount: cfg.LoginPerAccount, LoginPerIP: cfg.LoginPerIP, RegisterPerIP: cfg.RegisterPerIP})
	if err != nil {
		return err
	}
	// Rate-limit counts are shared by every process (internal/ratelimit);
	// their expired documents go here, with no TTL index to do it.
	a.sweeps = append(a.sweeps, a.Auth.Sweep, a.Events.Trim,
		func(ctx context.Context) error { return ratelimit.Sweep(ctx, a.store, c) })
	if err := a.buildStreets(ctx); err != nil {
		return err
	}
	// The hub is the log's live subscriber (it only queues, and gets each
	// event before it is persisted); the later ones are durable and write
	// to the database before returning.
	if err := a.buildHub(); err != nil {
		return err
	}
	if err := a.buildPortineria(ctx); err != nil {
		return err
	}
	if err := a.buildPush(ctx); err != nil {
		return err
	}
	if err := a.buildImpact(ctx); err != nil {
		return err
	}
	if err := a.buildNotices(ctx); err != nil {
		return err
	}
	if err := a.buildLocator(ctx); err != nil {
		return err
	}
	if err := a.buildSuggestions(ctx); err != nil {
		return err
	}
	if err := a.buildReferrals(ctx); err != nil {
		return err
	}
	if err := a.buildActivities(ctx); err != nil {
		return err
	}
	if err := a.buildConversations(ctx); err != nil {
		return err
	}
	if err := a.buildProfiles(ctx); err != nil {
		return err
	}
	a.buildFigures()
	a.buildPaper()

	files := a.pwa
	if files == nil {
		files = pwa.FS()
	}
	static := a.static
	if static == nil {
		if static, err = api.Static(files); err != nil {
			return fmt.Errorf("app: pwa: %w", err)
		}
	}
	pages, err := showcase.New(files)
	if err != nil {
		return fmt.Errorf("app: public pages: %w", err)
	}
	a.fiber = api.New(api.Config{
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout,
		TrustedProxies: cfg.TrustedProxies, PublicURL: cfg.PublicURL, AllowedOrigins: cfg.AllowedOrigins,
		SecureCookies: len(cfg.PublicURL) > 8 && cfg.PublicURL[:8] == "https://",
	}, api.Deps{
		Log:           log,
		Ready:         a.ready,
		Auth:          a.Auth,
		Hub:           a.Hub,
		Portineria:    a.Portineria,
		Streets:       a.Streets,
		Posts:         a.Posts,
		Photos:        a.Photos,
		Moderation:    a.Moderation,
		Memberships:   map[string]func(context.Context, string) (any, error){"associations": a.Portineria.Memberships, "streets": a.streetMemberships},
		Exporters:     map[string]func(context.Context, string) (any, error){"associations": a.Portineria.Export, "push": a.Push.Export, "email": a.Notices.Export, "handoff": a.Handoff.Export, "streets": a.Streets.Export, "posts": a.Posts.Export, "reports": a.Moderation.Export, "places": a.Locator.Export, "referrals": a.Referrals.Export, "suggestions": a.Suggestions.Export, "events": a.Activities.Export, "conversations": a.Conversations.Export},
		Erasers:       []func(context.Context, string) error{a.Portineria.Erase, a.Push.Erase, a.Notices.Erase, a.Handoff.Erase, a.Locator.Erase, a.Referrals.Erase, a.Suggestions.Erase, a.Activities.Erase, a.Photos.Erase, a.Conversations.Erase, a.eraseStreetData},
		Static:        static,
		Showcase:      pages,
		Push:          a.Push,
		Notices:       a.Notices,
		Paper:         a.Paper,
		LogoutHook:    a.Push.Logout,
		Impact:        a.Impact,
		Handoff:       a.Handoff,
		Locator:       a.Locator,
		Referrals:     a.Referrals,
		Suggestions:   a.Suggestions,
		Activities:    a.Activities,
		Profiles:      a.Profiles,
		Conversations: a.Conversations,
		Foreground:    a.Foreground,
		Observer:      a.metrics,
	})
	return nil
}

// Serve answers requests on ln until Shutdown, and runs the background work.
func (a *App) Serve(ln net.Listener) error {
	a.life.Lock()
	if a.shutDown {
		a.life.Unlock()
		_ = ln.Close()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln = a.guard(ln)
	if err := a.startDebug(); err != nil {
		a.life.Unlock()
		cancel()
		return err
	}
	a.stop, a.ln = cancel, ln
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.sweepLoop(ctx)
	}()
	a.startBackups(ctx)
	a.Push.Start()
	a.Mail.Start()
	a.life.Unlock()
	err := a.fiber.Listener(ln)
	a.life.Lock()
	defer a.life.Unlock()
	if a.shutDown {
		return nil // the listener was closed by Shutdown
	}
	return err
}

// guard wraps the server's listener: silent connections are closed after
// the read timeout, the connections are capped below the open-file limit
// (per address too, but for loopback and the trusted proxies, which carry
// many clients), and running out of descriptors never stops the server.
func (a *App) guard(ln net.Listener) *listener.Listener {
	conns, _ := listener.Budget(0, a.cfg.MaxConns)
	proxies := parsePrefixes(a.cfg.TrustedProxies)
	exempt := func(ip netip.Addr) bool {
		if ip.IsLoopback() {
			return true
		}
		for _, p := range proxies {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	a.listener = listener.Guard(ln, listener.Limits{FirstByte: a.cfg.ReadTimeout, MaxConns: conns,
		MaxPerIP: a.cfg.MaxConnsPerIP, Exempt: exempt}, a.log.With("component", "listener"))
	return a.listener
}

// parsePrefixes reads addresses and CIDRs; what does not parse was
// refused by Fiber's own parsing of the same list.
func parsePrefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		}
	}
	return out
}

// What /readyz answers with (503, their message) when a part is down.
var (
	errDatabaseNotReady = fault.New(fault.Unavailable, "not_ready", "the database does not answer")
	errNATSNotReady     = fault.New(fault.Unavailable, "not_ready", "NATS does not answer")
)

// sweepEvery is how often the leader runs the sweeps.
const sweepEvery = 20 * time.Second

// ready says whether the database and NATS answer.
func (a *App) ready() error {
	if err := a.store.Ping(context.Background()); err != nil {
		return errDatabaseNotReady.Wrap(err)
	}
	if err := a.Bus.Ready(); err != nil {
		return errNATSNotReady.Wrap(err)
	}
	return nil
}

// sweepLoop runs the expiry sweeps the embedded engine cannot (no TTL
// indexes), on the leader only: every process sweeping the same shared
// data would expire a post twice, send a reminder twice, and scan it all
// N times. A process that leads later starts sweeping at its next tick.
// The tick is short enough that work a dead process held (its push jobs,
// its claimed follow-ups) is taken over within a minute: lease (15 s) plus
// one tick.
func (a *App) sweepLoop(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	ctx = store.Background(ctx) // sweeps give way to requests' writes
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !a.Bus.IsLeader() {
				continue
			}
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
	a.life.Lock()
	a.shutDown = true
	stop, ln := a.stop, a.ln
	a.life.Unlock()
	err := a.fiber.ShutdownWithContext(ctx)
	if ln != nil {
		// Fiber's shutdown does nothing when Serve has not reached its
		// accept loop yet; closing the listener ends that loop at once.
		_ = ln.Close()
	}
	if rerr := a.closeRealtime(ctx); rerr != nil && err == nil {
		err = rerr
	}
	if stop != nil {
		stop()
	}
	a.wg.Wait()
	// After the sweeps (which may publish) and before the store: sends in
	// flight are abandoned to the next start, finished ones recorded.
	a.Push.Close()
	a.Mail.Close()
	// Last of the services: the next start goes on with the numbering.
	if cerr := a.Events.Close(ctx); cerr != nil && err == nil {
		err = cerr
	}
	// After everything that publishes, before the store: a clean stop
	// hands the leadership over at once.
	a.Bus.Close()
	a.procMark.close(ctx)
	if cerr := a.store.Close(ctx); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// GCPercent is the garbage collector's target the server runs with unless
// GOGC is set. A server holding thousands of sockets has a large live heap
// that changes little; collected at the default 100 it was marked every
// second or two under load, each time taking a processor from the streets'
// fan-out for a fifth of a second (load test: fan-out p99 31 ms, 23 ms at
// 400). Set GOMEMLIMIT on a machine with little memory.
const GCPercent = 400

// Tune sets the Go runtime as the server runs: GCPercent, unless GOGC is
// set. It returns what undoes it, for the benchmarks that run a server
// in-process.
//
// GOMAXPROCS stays Go's own choice, the machine's cores. One processor
// more was tried (a photo being decoded holds one for a quarter of a
// second): once the hub's frame writes stopped giving up their processor
// (hub.conn.writeFdOnce), the extra one only added threads for the kernel
// to share out. On 2 vCPU, medians of 3 rounds: load test fan-out p99
// ÷ bare broadcast 2.6–2.9 with 3 processors, 1.9–2.3 with 2; photo bench
// websocket p99 during uploads 20.2 ms with 3, 23.6 ms with 2.
func Tune(getenv func(string) string) (undo func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(gc) }
}

// foregroundLinger is how long after the last request or fan-out the
// foreground still counts as busy: what it set going (a response being
// sent, frames read) may still need the processors.
const foregroundLinger = 2 * time.Millisecond

// Store is the app's store, for tests.
func (a *App) Store() *store.Store { return a.store }
