package app

import (
	"context"
	"time"

	"civico/internal/store"
)

// backupRetry is how soon a failed scheduled backup is tried again (or the
// interval, when shorter).
const backupRetry = 15 * time.Minute

// startBackups runs the scheduled backups (CIVICO_BACKUP_INTERVAL) of the
// embedded database until ctx ends. The embedded engine has one process by
// construction, so the schedule has one owner; on MongoDB the configuration
// refuses the setting.
func (a *App) startBackups(ctx context.Context) {
	if a.cfg.BackupInterval <= 0 || !a.store.Embedded() {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.backupLoop(ctx)
	}()
}

// backupLoop takes a backup one interval after the newest one in the
// backup directory (at once when there is none or it is overdue, so that
// restarts more frequent than the interval do not skip backups), then
// deletes all but the newest BackupKeep. A failure is logged and leaves the
// previous backups.
func (a *App) backupLoop(ctx context.Context) {
	dir, every, keep := a.cfg.BackupDir, a.cfg.BackupInterval, a.cfg.BackupKeep
	log := a.log.With("component", "backup")
	now := time.Now()
	next := now
	if list, err := store.Backups(dir); err != nil {
		log.Warn("cannot list the backups", "dir", dir, "err", err)
	} else if len(list) > 0 {
		if due := list[len(list)-1].Started.Add(every); due.Before(now.Add(every)) {
			next = due // a backup dated in the future waits one interval at most
		} else {
			next = now.Add(every)
		}
	}
	log.Info("scheduled backups", "dir", dir, "every", every.String(), "keep", keep, "next", next.Format(time.RFC3339))
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		start := time.Now()
		info, m, err := a.store.Backup(ctx, dir)
		if err != nil {
			if ctx.Err() != nil {
				return // shutting down: the partial backup was removed
			}
			retry := min(every, backupRetry)
			log.Error("backup failed; the previous backups are kept", "dir", dir, "err", err, "retry_in", retry.String())
			next = time.Now().Add(retry)
			continue
		}
		var size int64
		for _, f := range m.Files {
			size += f.Size
		}
		removed, perr := store.Prune(dir, keep)
		log.Info("backup written", "path", info.Path, "files", len(m.Files), "bytes", size,
			"took", time.Since(start).Round(time.Millisecond).String(), "deleted_old", len(removed))
		if perr != nil {
			log.Warn("deleting old backups failed", "dir", dir, "err", perr)
		}
		next = start.Add(every)
	}
}
