package app

import (
	"context"
	"errors"

	"civico/internal/diag"
	"civico/internal/events"
	"civico/internal/hub"
	"civico/internal/listener"
	"civico/internal/push"
	"civico/internal/streets"
)

// buildHub makes the streets' live channels, fed by the event log. Call it
// once the services it asks about memberships are built.
func (a *App) buildHub() error {
	_, sockets := listener.Budget(0, a.cfg.MaxConns)
	a.Hub = hub.New(a.Events, a.memberAccess(), a.log.With("component", "hub"), hub.Options{
		PingInterval: a.cfg.WSPingInterval,
		SendQueue:    a.cfg.WSSendQueue,
		// A fixed kernel buffer per socket: a stalled client holds at most
		// this much there, and falls behind its queue (and is closed) soon.
		SocketSendBuffer: 64 << 10,
		Foreground:       a.fanout,
		MaxSockets:       sockets,
	})
	return a.Events.SubscribeLive(a.Hub.Publish)
}

// memberAccess tells the hub who may follow a street: its active members
// (admins also get the admins' events). An unknown street is NotFound.
func (a *App) memberAccess() hub.Members {
	if a.Streets == nil {
		return nil
	}
	return func(ctx context.Context, streetID, userID string) (hub.Access, error) {
		if owner, ok := events.IsPersonal(streetID); ok {
			// A user's own channel: theirs alone.
			return hub.Access{Active: owner == userID && userID != ""}, nil
		}
		m, err := a.Streets.Membership(ctx, streetID, userID)
		if errors.Is(err, streets.ErrMemberNotFound) {
			if _, err := a.Streets.StreetName(ctx, streetID); err != nil {
				return hub.Access{}, err
			}
			return hub.Access{}, nil
		}
		if err != nil {
			return hub.Access{}, err
		}
		return hub.Access{Active: m.Status == streets.StatusActive, Admin: m.Role == streets.RoleAdmin}, nil
	}
}

// startDebug serves the debug endpoint when CIVICO_DEBUG_ADDR is set.
func (a *App) startDebug() error {
	if a.cfg.DebugAddr == "" {
		return nil
	}
	a.measure()
	s, err := diag.Start(a.cfg.DebugAddr, diag.Vars{"hub": func() any { return a.Hub.Stats() }}, a.metrics.Handler(),
		diag.Actions{"digests": a.SendDigests})
	if err != nil {
		return err
	}
	a.debug = s
	a.log.Info("debug endpoint listening", "addr", s.Addr())
	return nil
}

// closeRealtime ends every websocket (1001, clients resume elsewhere or
// after the restart) and stops the debug endpoint. The HTTP server does not
// track hijacked connections, so its shutdown leaves them to the hub.
func (a *App) closeRealtime(ctx context.Context) error {
	var errs []error
	if a.Hub != nil {
		errs = append(errs, a.Hub.Close(ctx))
	}
	if a.debug != nil {
		errs = append(errs, a.debug.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// measure registers what the services count with the metrics, read at
// each scrape. Only with the debug endpoint on: nobody scrapes otherwise.
func (a *App) measure() {
	m := a.metrics
	hubStat := func(f func(hub.Stats) int64) func() float64 {
		return func() float64 { return float64(f(a.Hub.Stats())) }
	}
	m.Gauge("ws_sockets", "Live websockets open on this process.", hubStat(func(s hub.Stats) int64 { return s.Conns }))
	m.Counter("ws_deliveries_total", "Event frames delivered to sockets.", hubStat(func(s hub.Stats) int64 { return s.Deliveries }))
	m.Counter("ws_closed_too_slow_total", "Sockets closed because they could not keep up.", hubStat(func(s hub.Stats) int64 { return s.TooSlow }))
	m.Log2Histogram("fanout_lag_seconds", "From an event's time to its reaching the hub.", func() []int64 { s := a.Hub.Stats(); return s.Lag[:] })
	m.Log2Histogram("fanout_write_seconds", "From an event's reaching the hub to its frame written to a socket.",
		func() []int64 { s := a.Hub.Stats(); return s.WriteLag[:] })
	if a.Push != nil {
		pushStat := func(f func(push.Stats) int64) func() float64 {
			return func() float64 { return float64(f(a.Push.Stats())) }
		}
		m.Gauge("push_outbox_pending", "Push deliveries queued, held (quiet hours, backoff) or being sent.",
			pushStat(func(s push.Stats) int64 { return int64(s.Pending) }))
		m.Counter("push_sent_total", "Pushes accepted by the push services.", pushStat(func(s push.Stats) int64 { return s.Sent }))
		m.Counter("push_retried_total", "Pushes retried after 429, 5xx or a network error.", pushStat(func(s push.Stats) int64 { return s.Retried }))
		m.Counter("push_failed_total", "Pushes given up (expired, refused, too many attempts) or gone (404/410).",
			pushStat(func(s push.Stats) int64 { return s.Dropped + s.Gone }))
	}
	if l := a.listener; l != nil {
		m.Gauge("connections_open", "TCP connections open on the server's listener.", func() float64 { return float64(l.Stats().Open) })
		m.Counter("connections_shed_total", "Connections closed at accept because a cap was reached.", func() float64 { return float64(l.Stats().Shed) })
	}
}
