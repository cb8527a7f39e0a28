package app

import (
	"context"

	"civico/internal/push"
)

// buildPush makes push notifications: VAPID keys, subscriptions, settings
// and the outbox fed by the event log. Call it after the streets service,
// which tells who is in a street.
func (a *App) buildPush(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, push.Indexes()...); err != nil {
		return err
	}
	var dir push.Directory
	if a.Streets != nil {
		dir = a.Streets
	}
	p, err := push.New(ctx, a.store, a.clock, a.Auth, dir, push.Options{
		VAPIDPublicKey: a.cfg.VAPIDPublicKey, VAPIDPrivateKey: a.cfg.VAPIDPrivateKey, Subject: a.cfg.VAPIDSubject,
		AllowInsecure: a.cfg.PushAllowInsecure, Workers: a.cfg.PushWorkers, Rate: a.cfg.PushRate, Logger: a.log,
		Foreground: a.Foreground,
		// The jobs of a process that is gone are taken over by the sweep.
		Owners: a.Bus,
	})
	if err != nil {
		return err
	}
	a.Push = p
	a.Events.Subscribe(p.OnEvent)
	a.sweeps = append(a.sweeps, p.Sweep)
	return nil
}
