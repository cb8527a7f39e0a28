// Package push sends Web Push notifications: VAPID keys, the devices'
// subscriptions, each user's notification settings, and a persisted outbox
// that turns street events into encrypted pushes.
//
// The flow: the event bus hands an event to OnEvent, which only inserts one
// job (one cheap insert) and queues it. An expander turns the job into one
// delivery per (event, subscription) — recipients, settings, language,
// quiet hours — inserted in batches and fed to an in-memory scheduler; a
// bounded pool of workers sends them with timeouts, retries 429/5xx with
// backoff, deletes subscriptions the push service says are gone, and
// records each finished delivery with an insert.
//
// Why inserts only: on the embedded FerretDB every read, update or delete
// scans its collection, `_id` included, so a per-delivery "mark sent" would
// make a fan-out quadratic. Deliveries and their done-markers go to
// collections per hour ("buckets") that are dropped whole once everything
// in them is done; the database is read back only at start-up.
package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/idle"
	"civico/internal/ratelimit"
	"civico/internal/schedule"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Directory tells who belongs to a street. The streets service implements it.
type Directory interface {
	ActiveMemberIDs(ctx context.Context, streetID string) ([]string, error)
	AdminIDs(ctx context.Context, streetID string) ([]string, error)
	StreetName(ctx context.Context, streetID string) (string, error)
}

// Accounts gives recipients' language and time zone. auth.Service implements it.
type Accounts interface {
	Users(ctx context.Context, ids []string) (map[string]auth.Account, error)
}

// Options tune the service; zero values take the defaults.
type Options struct {
	// VAPIDPublicKey and VAPIDPrivateKey (base64url) come from the
	// configuration; when empty a pair is generated once and kept in the
	// database, so restarts never invalidate the devices' subscriptions.
	VAPIDPublicKey, VAPIDPrivateKey string
	// Subject is the contact for push services: "mailto:…" or "https://…".
	Subject string
	// AllowInsecure accepts http:// endpoints on loopback (tests, development).
	AllowInsecure bool
	// Workers is how many pushes are sent at once (default 8): most of a
	// send is waiting for the push service; the CPU part is bounded apart.
	Workers int
	// Rate is how many pushes per second are sent at most, after bursts of
	// Burst (default 100); 0 sends as fast as the workers go. The server
	// sets 1 500/s (see pacer).
	Rate, Burst int
	// HTTPTimeout bounds one send, connection included (default 10 s).
	HTTPTimeout time.Duration
	// MaxAttempts bounds the sends of one delivery (default 6).
	MaxAttempts int
	// RetryBase is the first backoff after a 5xx or network error
	// (default 2 s, doubled each time); RetryMax caps any wait (default 30 min).
	RetryBase, RetryMax time.Duration
	// Logger gets what went wrong; nil discards.
	Logger *slog.Logger
	// Foreground, when set, is waited for before each encryption (briefly:
	// yieldBound): pushes use the processors requests and fan-outs leave.
	Foreground *idle.Gate
	// Owners tells which processes are running; nil is the single
	// process, to which every job it did not write was left by a previous
	// run.
	Owners Owners
}

// Service is push notifications.
type Service struct {
	st       *store.Store
	subs     *store.Collection
	settings *store.Collection
	jobColl  *store.Collection
	registry *store.Collection
	clock    clock.Clock
	log      *slog.Logger
	opts     Options
	accounts Accounts
	dir      Directory

	vapidPublic, vapidPrivate string
	// subscriber is the contact as webpush-go wants it: a bare address
	// (it adds "mailto:" itself) or an https URL.
	subscriber string
	client     *http.Client
	// cpu bounds the sends encrypting and signing at once to half the
	// cores: a street-wide fan-out must leave the API and the sockets a
	// core, while many more sends wait on the network (Workers).
	cpu chan struct{}
	// pace spreads the sends of a big fan-out over time.
	pace *pacer

	sched   *schedule.Queue[*delivery]
	buckets *buckets
	expandQ chan jobDoc
	done    chan doneItem

	mu      sync.Mutex
	jobs    map[string]*jobState  // jobs this process knows, by id
	revoked map[string]revocation // subscription id → when it stopped being valid
	revGen  atomic.Int64

	owners    Owners
	recovered atomic.Bool
	// sweeping keeps two sweeps from running at once.
	sweeping sync.Mutex
	// claims numbers the jobs taken from disk (recovered or taken over),
	// so that a snapshot of done-markers is used only for jobs claimed
	// before it was read (doneCache).
	claims atomic.Int64
	// doneCache: the markers of the buckets claimed jobs expand in
	// (recoveredDone; expand loop only).
	doneCache map[string]doneSnapshot

	// userData is the in-memory copy of subscriptions and settings
	// (embedded engine only, see userdata.go).
	userData *userData

	stats   stats
	started atomic.Bool
	cancel  context.CancelFunc
	workers sync.WaitGroup
	bg      sync.WaitGroup
	commit  sync.WaitGroup
	closed  atomic.Bool
}

const (
	collSubscriptions = "push_subscriptions"
	collSettings      = "push_settings"
	collJobs          = "push_jobs"
	collBuckets       = "push_buckets"
)

// Indexes are this package's indexes.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: collSubscriptions, Name: "user", Keys: bson.D{{Key: "user_id", Value: 1}}},
	}
}

// New loads or creates the VAPID keys and returns the service; Start runs it.
// dir may be nil until a streets service exists: street-wide
// notifications then have no recipients.
func New(ctx context.Context, st *store.Store, c clock.Clock, accounts Accounts, dir Directory, opts Options) (*Service, error) {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Burst <= 0 {
		opts.Burst = 100
	}
	if opts.HTTPTimeout <= 0 {
		opts.HTTPTimeout = 10 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 6
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 2 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 30 * time.Minute
	}
	if opts.Subject == "" {
		opts.Subject = "mailto:admin@civico.invalid"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		st: st, subs: st.Collection(collSubscriptions), settings: st.Collection(collSettings),
		jobColl: st.Collection(collJobs), registry: st.Collection(collBuckets),
		clock: c, log: opts.Logger.With("component", "push"), opts: opts, accounts: accounts, dir: dir,
		subscriber: subscriber(opts.Subject),
		expandQ:    make(chan jobDoc, 1024),
		done:       make(chan doneItem, 4096),
		jobs:       map[string]*jobState{},
		revoked:    map[string]revocation{},
		userData:   newUserData(),
		owners:     opts.Owners,
		doneCache:  map[string]doneSnapshot{},
	}
	if s.owners == nil {
		s.owners = newSoloOwners()
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	s.client = newHTTPClient(opts)
	s.cpu = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	s.pace = newPacer(opts.Rate, opts.Burst)
	if opts.Rate > 0 && !st.Embedded() { // the embedded engine serves one process
		s.pace.shared = newBudget(st.Collection(ratelimit.Collection), opts.Rate)
	}
	s.sched = newScheduler(c)
	s.buckets = newBuckets()
	return s, nil
}

// subscriber strips the "mailto:" webpush-go adds again: a doubled
// "mailto:mailto:" is refused by Apple with 403.
func subscriber(subject string) string {
	if strings.HasPrefix(subject, "https:") {
		return subject
	}
	return strings.TrimPrefix(subject, "mailto:")
}

// Start recovers what a previous run left in the outbox, then runs the
// expander, the scheduler, the workers and the committer until Close.
func (s *Service) Start() {
	if !s.started.CompareAndSwap(false, true) {
		return
	}
	// Expanding, sending and recording outcomes give way to the writes of
	// requests someone is waiting for.
	ctx, cancel := context.WithCancel(store.Background(context.Background()))
	s.cancel = cancel
	s.commit.Add(1)
	go func() {
		defer s.commit.Done()
		s.commitLoop()
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.sched.Run(ctx)
	}()
	for range s.opts.Workers {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			s.worker(ctx)
		}()
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.recover(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("push outbox recovery failed; the sweep retries", "err", err)
		}
		s.expandLoop(ctx)
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.tidyLoop(ctx)
	}()
}

// Close stops sending: sends in flight are abandoned (they are still in the
// outbox and go out after the next start), finished ones are recorded.
func (s *Service) Close() {
	if !s.started.Load() || !s.closed.CompareAndSwap(false, true) {
		return
	}
	s.cancel()
	s.workers.Wait()
	s.bg.Wait()
	close(s.done)
	s.commit.Wait()
	s.client.CloseIdleConnections()
}

// Wake makes the scheduler look at the clock now (tests that move a fake
// clock past quiet hours or a backoff call it instead of waiting a tick).
func (s *Service) Wake() { s.sched.Wake() }

// Stats counts what the service did since it started.
type Stats struct {
	Jobs       int64 // events turned into deliveries
	Skipped    int64 // events none of whose recipients had a device: no job written
	Deliveries int64 // deliveries created
	Sent       int64 // accepted by the push service
	Gone       int64 // answered 404/410 (subscription deleted), or the subscription was gone or moved before the send
	Retried    int64 // sends retried after 429, 5xx or a network error
	Dropped    int64 // given up: expired, refused, too many attempts, revoked
	Pending    int   // in memory now: queued, held or being sent
}

type stats struct {
	jobs, skipped, deliveries, sent, gone, retried, dropped atomic.Int64
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{Jobs: s.stats.jobs.Load(), Skipped: s.stats.skipped.Load(), Deliveries: s.stats.deliveries.Load(), Sent: s.stats.sent.Load(),
		Gone: s.stats.gone.Load(), Retried: s.stats.retried.Load(), Dropped: s.stats.dropped.Load(), Pending: s.sched.Size()}
}

// Sweep is the periodic recovery of the outbox, for the whole cluster: the
// jobs of processes that are gone are taken over (and this process's own
// failed expansions tried again), and buckets no job refers to any more
// are dropped. Run it every minute, on one process (the leader) or on
// every process: claims and drops are settled by the database.
func (s *Service) Sweep(ctx context.Context) error {
	if !s.started.Load() || s.closed.Load() {
		return nil
	}
	s.sweeping.Lock()
	defer s.sweeping.Unlock()
	s.retryOwnJobs(ctx)
	if !s.recovered.Load() {
		return s.recover(ctx) // the start's recovery failed: first that
	}
	docs, err := s.readJobs(ctx)
	if err != nil {
		return err
	}
	return errors.Join(s.claimJobs(ctx, docs), s.dropIdleBuckets(ctx, docs))
}

// tidyEvery is how often each process does its own upkeep (tidy).
const tidyEvery = time.Minute

// tidyLoop runs tidy until ctx ends. It runs on every process, while
// Sweep may run on one only.
func (s *Service) tidyLoop(ctx context.Context) {
	t := time.NewTicker(tidyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tidy()
		}
	}
}

// tidy is this process's upkeep: its jobs whose expansion failed are
// queued again (or given up when too old), old revocations and buckets it
// no longer uses are forgotten.
func (s *Service) tidy() {
	ctx, cancel := context.WithTimeout(store.Background(context.Background()), time.Minute)
	defer cancel()
	s.retryOwnJobs(ctx)
	s.pruneRevoked()
	s.buckets.forgetIdle(bucketName(s.clock.Now().Add(-bucketSkew)))
}

type revocation struct {
	gen int64
	at  time.Time
}

// revoke records that deliveries made from what was read of subscription
// id before now must not be sent: it was deleted, moved to another user or
// re-keyed. Generations, not times, order the two, so a frozen test clock
// cannot confuse them.
func (s *Service) revoke(id string) {
	gen := s.revGen.Add(1)
	s.mu.Lock()
	s.revoked[id] = revocation{gen: gen, at: s.clock.Now()}
	s.mu.Unlock()
}

// isRevoked tells whether d's subscription was revoked after d was made.
func (s *Service) isRevoked(d *delivery) bool {
	s.mu.Lock()
	r, ok := s.revoked[d.SubID]
	s.mu.Unlock()
	return ok && r.gen > d.gen
}

// maxDeliveryLife bounds how long any delivery can wait (quiet hours plus
// TTL plus retries), so revocations older than that no longer matter.
const maxDeliveryLife = 4 * 24 * time.Hour

func (s *Service) pruneRevoked() {
	cutoff := s.clock.Now().Add(-maxDeliveryLife)
	s.mu.Lock()
	for id, r := range s.revoked {
		if r.at.Before(cutoff) {
			delete(s.revoked, id)
		}
	}
	s.mu.Unlock()
}

func errf(format string, args ...any) error { return fmt.Errorf("push: "+format, args...) }
