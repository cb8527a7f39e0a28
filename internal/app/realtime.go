package app

import (
	"context"
	"errors"

	"civico/internal/diag"
	"civico/internal/hub"
	"civico/internal/listener"
	"civico/internal/streets"
)

// buildHub makes the streets' live channels, fed by the event log. Call it
// once the services it asks about memberships are built.
func (a *App) buildHub() {
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
	a.Events.SubscribeLive(a.Hub.Publish)
}

// memberAccess tells the hub who may follow a street: its active members
// (admins also get the admins' events). An unknown street is NotFound.
func (a *App) memberAccess() hub.Members {
	if a.Streets == nil {
		return nil
	}
	return func(ctx context.Context, streetID, userID string) (hub.Access, error) {
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
	s, err := diag.Start(a.cfg.DebugAddr, diag.Vars{"hub": func() any { return a.Hub.Stats() }})
	if err != nil {
		return err
	}
	a.debug = s
	a.log.Info("debug endpoint listening", "addr", a.cfg.DebugAddr)
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
