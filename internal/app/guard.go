package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"civico/internal/clock"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrDatabaseShared refuses a process that would share a MongoDB database
// with processes it cannot reach: one with its own embedded NATS beside
// others, or one joining a database a process with its own NATS holds.
// Each would fan out, sweep and count alone, silently.
var ErrDatabaseShared = errors.New("app: another Civico process uses this database without a shared NATS; " +
	"set the same CIVICO_NATS_URL on every process (README, Several processes)")

const (
	guardCollection = "processes"
	// guardSolo is held by the one process using MongoDB with an embedded
	// NATS; guardShared is kept fresh by the processes on a shared NATS.
	guardSolo   = "solo"
	guardShared = "shared"
	guardTTL    = 15 * time.Second
)

// processHome names where a process runs: its machine and data directory.
// A process restarted after a crash has the same home and takes the solo
// mark back at once instead of waiting for it to expire; two live
// processes cannot share one (the embedded NATS locks its store there).
func processHome(dataDir string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	return host + ":" + dataDir
}

// dbGuard keeps this process's mark in the database while it runs.
type dbGuard struct {
	c     *store.Collection
	clock clock.Clock
	log   *slog.Logger
	self  string
	solo  bool
	stop  chan struct{}
	done  sync.WaitGroup
}

type guardDoc struct {
	ID    string    `bson:"_id"`
	Owner string    `bson:"owner"`
	Until time.Time `bson:"until"`
}

// guardDatabase marks the database as used by this process, or refuses to
// start (ErrDatabaseShared). The embedded database needs no mark: its
// data-directory lock already refuses a second process.
func guardDatabase(ctx context.Context, st *store.Store, c clock.Clock, log *slog.Logger, self string, solo bool) (*dbGuard, error) {
	if st.Embedded() {
		return nil, nil
	}
	g := &dbGuard{c: st.Collection(guardCollection), clock: c, log: log, self: self, solo: solo, stop: make(chan struct{})}
	if err := g.mark(ctx, true); err != nil {
		return nil, err
	}
	g.done.Add(1)
	go g.keep()
	return g, nil
}

// mark writes this process's mark; first says whether a live mark of the
// other kind must refuse the start.
func (g *dbGuard) mark(ctx context.Context, first bool) error {
	now := g.clock.Now().UTC()
	until := now.Add(guardTTL)
	other := guardSolo
	if g.solo {
		other = guardShared
	}
	if first {
		var d guardDoc
		err := g.c.FindOne(ctx, bson.M{"_id": other, "until": bson.M{"$gt": now}}, &d)
		if err == nil {
			return ErrDatabaseShared
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("app: read the database's process mark: %w", err)
		}
	}
	if !g.solo {
		// Any process of the shared NATS keeps the mark fresh.
		_, err := g.c.UpdateOne(ctx, bson.M{"_id": guardShared}, bson.M{"$set": bson.M{"owner": g.self, "until": until}},
			options.UpdateOne().SetUpsert(true))
		return err
	}
	// The solo mark is one process's: take it when free or expired.
	res, err := g.c.UpdateOne(ctx, bson.M{"_id": guardSolo, "$or": bson.A{bson.M{"owner": g.self}, bson.M{"until": bson.M{"$lte": now}}}},
		bson.M{"$set": bson.M{"owner": g.self, "until": until}})
	if err != nil {
		return err
	}
	if res.MatchedCount == 1 {
		return nil
	}
	_, err = g.c.InsertOne(ctx, guardDoc{ID: guardSolo, Owner: g.self, Until: until})
	if store.IsDuplicate(err) {
		return ErrDatabaseShared
	}
	return err
}

func (g *dbGuard) keep() {
	defer g.done.Done()
	t := time.NewTicker(guardTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), guardTTL/3)
			if err := g.mark(ctx, false); err != nil {
				g.log.Warn("refreshing this process's mark in the database", "err", err)
			}
			cancel()
		}
	}
}

// close stops refreshing and, for the solo process, frees the mark at
// once so a replacement starts without waiting for it to expire.
func (g *dbGuard) close(ctx context.Context) {
	if g == nil {
		return
	}
	close(g.stop)
	g.done.Wait()
	if g.solo {
		if _, err := g.c.DeleteOne(ctx, bson.M{"_id": guardSolo, "owner": g.self}); err != nil {
			g.log.Warn("freeing this process's mark in the database", "err", err)
		}
	}
}
