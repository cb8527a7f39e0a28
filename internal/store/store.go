// Package store connects to MongoDB, or starts the embedded FerretDB, and is
// the one door every capability package uses to reach its collections.
//
// The embedded FerretDB applies a single-document update as read, modify in
// Go, write back, with nothing guarding the gap. On that engine the store
// serialises writes that could race on one document, so callers get
// MongoDB's atomicity on both engines; on MongoDB it adds nothing.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"civico/internal/idle"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// DefaultOpTimeout bounds every operation whose context carries no deadline.
const DefaultOpTimeout = 10 * time.Second

// ErrNotFound is returned when a single document was asked for and none matched.
var ErrNotFound = errors.New("store: not found")

// Config says which database to use.
type Config struct {
	// URI of a MongoDB server; empty starts the embedded FerretDB in DataDir.
	URI string
	// DataDir holds the embedded database, its socket and its lock.
	DataDir string
	// Database is the database name.
	Database string
	// Logger receives the store's own messages.
	Logger *slog.Logger
	// EngineLogger receives the embedded engine's messages; nil keeps it quiet.
	EngineLogger *slog.Logger
	// OpTimeout bounds operations without a deadline; zero means DefaultOpTimeout.
	OpTimeout time.Duration
	// Fanout, when set, is marked while a street's frames are written: on
	// the embedded engine a write waits for it to end (briefly), so that
	// the database's work and the fan-out do not take both processors at
	// once and leave nothing for the sockets' readers.
	Fanout *idle.Gate
	// Monitor, when set, sees every database command (the metrics).
	Monitor *event.CommandMonitor
}

// Store is an open database.
type Store struct {
	client    *mongo.Client
	db        *mongo.Database
	embedded  *embedded
	locks     *lockTable
	gate      *writeGate // one writer at a time on the embedded engine (gate.go)
	ids       *idIndexer
	inserts   insertGroups // group commit of inserts (group.go)
	opTimeout time.Duration
	log       *slog.Logger
	solo      atomic.Bool // no other process uses the database (MarkSolo)
	memosMu   sync.Mutex
	memos     map[string]*memo // by collection (memo.go)
}

// Open connects to cfg.URI, or starts the embedded engine when it is empty.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Database == "" {
		cfg.Database = "civico"
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	s := &Store{opTimeout: cfg.OpTimeout, log: cfg.Logger}
	uri := cfg.URI
	if uri == "" {
		e, err := startEmbedded(cfg.DataDir, cfg.EngineLogger)
		if err != nil {
			return nil, err
		}
		s.embedded = e
		s.locks = newLockTable()
		s.gate = &writeGate{yield: cfg.Fanout}
		uri = e.uri
	}
	opts := options.Client().ApplyURI(uri).SetTimeout(cfg.OpTimeout)
	if cfg.Monitor != nil {
		opts.SetMonitor(cfg.Monitor)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		s.closeEmbedded()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	s.client = client
	s.db = client.Database(cfg.Database)
	if s.embedded != nil {
		s.ids = newIDIndexer(s.embedded.dbDir, cfg.Database)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		s.closeEmbedded()
		return nil, fmt.Errorf("store: ping %s: %w", redact(uri), err)
	}
	return s, nil
}

// Embedded tells whether the store runs the embedded FerretDB.
func (s *Store) Embedded() bool { return s.embedded != nil }

// MarkSolo records that no other process uses the database: the app calls
// it once it holds the solo mark (a process with its own NATS, which
// refuses to share the database). Services created after it may then keep
// in memory what several processes would have to share through the
// database (the rate limits' counts).
func (s *Store) MarkSolo() { s.solo.Store(true) }

// Solo tells whether MarkSolo was called.
func (s *Store) Solo() bool { return s.solo.Load() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.client.Ping(ctx, readpref.Primary())
}

// Database gives the underlying database, for tests and tools only.
func (s *Store) Database() *mongo.Database { return s.db }

// Close disconnects the driver, then stops the embedded engine and releases
// the data directory.
func (s *Store) Close(ctx context.Context) error {
	var err error
	if s.client != nil {
		err = s.client.Disconnect(ctx)
	}
	if s.ids != nil {
		s.ids.close()
	}
	s.closeEmbedded()
	return err
}

func (s *Store) closeEmbedded() {
	if s.embedded != nil {
		s.embedded.stop()
	}
}

// opCtx gives ctx a deadline when it has none, so no operation waits forever.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opTimeout)
}

// IsDuplicate tells whether err is a unique-index violation.
func IsDuplicate(err error) bool {
	return mongo.IsDuplicateKeyError(err)
}

func redact(uri string) string {
	if len(uri) > 0 && uri[0] == 'm' {
		if i := indexByte(uri, '@'); i > 0 {
			return "mongodb://…" + uri[i:]
		}
	}
	return uri
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// ID parses a hex ObjectID as clients send it; ok is false when malformed,
// which callers answer as "not found".
func ID(s string) (bson.ObjectID, bool) {
	id, err := bson.ObjectIDFromHex(s)
	return id, err == nil
}
