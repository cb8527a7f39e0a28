package app

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"time"

	"civico/internal/mail"
	"civico/internal/notices"
	"civico/internal/store"
)

// buildMail makes the email channel: the outbox and its sender (SMTP, or
// .eml files under the data directory when no SMTP is configured). The
// account service sends through it, so it comes before auth.
func (a *App) buildMail(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, mail.Indexes()...); err != nil {
		return err
	}
	m, err := mail.New(ctx, a.store, a.clock, mail.Options{
		URL: a.cfg.SMTPURL, From: a.cfg.MailFrom, Dir: filepath.Join(a.cfg.DataDir, "mail"),
		PublicURL: a.publicURL(), Rate: a.cfg.MailRate, Logger: a.log,
		Foreground: a.Foreground,
		// The mails of a process that is gone are taken over by the sweep.
		Owners: a.Bus,
	})
	if err != nil {
		return err
	}
	a.Mail = m
	a.sweeps = append(a.sweeps, m.Sweep)
	return nil
}

// buildNotices makes what Civico tells by email: reply notices for those
// without push, the street digests, one-click unsubscribe. Call it once
// streets, posts and push exist.
func (a *App) buildNotices(ctx context.Context) error {
	if err := a.store.EnsureIndexes(ctx, notices.Indexes()...); err != nil {
		return err
	}
	n, err := notices.New(ctx, a.store, a.clock, a.Mail, a.Auth, a.Push, a.Push, a.Streets, a.Posts,
		// The unsubscribe links' key is kept in the database (notices.Options).
		notices.Options{PublicURL: a.publicURL(), Logger: a.log.With("component", "notices"), Foreground: a.Foreground})
	if err != nil {
		return err
	}
	a.Notices = n
	a.Events.Subscribe(n.OnEvent)
	a.sweeps = append(a.sweeps, a.digestSweep())
	return nil
}

// digestSweep sends the digests that fell due, looking once an hour: a
// digest is due from 08:00 in its reader's time zone, and the outbox makes
// a second look (another leader, the operator's command) send nothing twice.
func (a *App) digestSweep() func(context.Context) error {
	var mu sync.Mutex
	var last time.Time
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		now := a.clock.Now()
		if hour := now.Truncate(time.Hour); hour.Equal(last) {
			return nil
		} else {
			last = hour
		}
		_, err := a.Notices.Digests(ctx, now)
		return err
	}
}

// SendDigests queues the digests due now: the operator's command
// (`civico digest`) through the debug endpoint.
func (a *App) SendDigests(ctx context.Context) (any, error) {
	n, err := a.Notices.Digests(store.Background(ctx), a.clock.Now())
	return map[string]int{"queued": n}, err
}

// publicURL is where links in mails point: CIVICO_PUBLIC_URL, else this
// machine's own port (a laptop running go run ./server).
func (a *App) publicURL() string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	port := "8080"
	if _, p, err := net.SplitHostPort(a.cfg.Addr); err == nil && p != "" && p != "0" {
		port = p
	}
	return "http://localhost:" + port
}
