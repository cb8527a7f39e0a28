// Package mail is Civico's email channel: a durable outbox that sends each
// mail once over SMTP (or, with no relay configured, writes it as a .eml
// file), retries temporary failures with backoff, remembers addresses that
// bounce, and writes the account mails (password reset, verification).
//
// The outbox on disk:
//
//	mail_outbox   the mails not yet finished, each naming the process that holds it
//	mail_sent     a marker per finished mail (sent, bounced or dropped), by the
//	              mail's key: looked up before a send, written once the relay
//	              accepted it; pruned after 30 days
//	mail_bounces  the addresses a relay refused for good, by address
//
// The process that queues a mail owns it and sends it from memory; the
// database is read by _id only on that path (the embedded engine scans a
// collection for anything else). Another process takes a mail over only
// when its owner is gone (Owners), with a conditional update on the owner
// it read, so each mail has one sender. A mail whose marker exists is never
// sent again; a crash between the relay's acceptance and the marker is the
// one window in which a mail may go twice.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"civico/internal/clock"
	"civico/internal/idle"
	"civico/internal/schedule"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Owners tells which processes are running (the bus implements it).
type Owners interface {
	// Self is this process's id, written as the owner of the mails it holds.
	Self() string
	// Alive tells whether the process id is running.
	Alive(ctx context.Context, id string) (bool, error)
}

// Options configure the service; zero values take the defaults.
type Options struct {
	// URL is CIVICO_SMTP_URL (see ParseURL); empty writes each mail as a
	// .eml file into Dir and logs its links, so a laptop can follow them.
	URL string
	// From is the sender, "Civico <civico@example.org>"; default
	// "Civico <civico@localhost>".
	From string
	// Dir is where .eml files go when URL is empty.
	Dir string
	// PublicURL is where links in mails point (no trailing slash).
	PublicURL string
	// Owners tells which processes run; nil is the single process, to
	// which every mail it did not queue was left by a previous run.
	Owners Owners
	// Rate is how many mails a process sends per second at most (default 20).
	Rate int
	// Workers is how many SMTP sessions a process holds at once (default 2).
	Workers int
	// Logger gets what went wrong; nil discards.
	Logger *slog.Logger
	// Foreground, when set, is waited for (briefly) before each mail is
	// built and sent: requests go first.
	Foreground *idle.Gate
}

// Service is the email channel.
type Service struct {
	st      *store.Store
	outbox  *store.Collection
	sent    *store.Collection
	bounces *store.Collection
	clock   clock.Clock
	log     *slog.Logger
	opts    Options
	owners  Owners

	from      *mail.Address
	domain    string // of From: Message-IDs end with it
	publicURL string
	transport transport
	pace      *pacer
	sched     *schedule.Queue[*item]

	// queueing counts the Queue calls of each key between their insert
	// and their hold (under queueingMu): recover leaves those mails to
	// them, so a mail is not held twice, once without its marker read.
	queueingMu sync.Mutex
	queueing   map[string]int

	// mem is how many bytes of mails this process holds in memory; past
	// maxMemory a queued mail is read back from the outbox when its turn
	// comes (a street's digest to thousands).
	mem atomic.Int64

	stats     stats
	changedMu sync.Mutex
	changed   chan struct{} // closed and replaced when a mail is finished or retried (tests wait on it)
	started   atomic.Bool
	closed    atomic.Bool
	recovered atomic.Bool
	sweeping  sync.Mutex
	lastPrune time.Time // under sweeping

	ctx        context.Context // ends once the workers are done: the scheduler
	cancel     context.CancelFunc
	waitCtx    context.Context // ends when Close is called: waits before a send give up
	waitCancel context.CancelFunc
	stop       chan struct{} // closed by Close: workers take no new mail
	workers    sync.WaitGroup
	bg         sync.WaitGroup
}

// Collection names.
const (
	collOutbox  = "mail_outbox"
	collSent    = "mail_sent"
	collBounces = "mail_bounces"
)

// Indexes are this package's indexes. Every lookup on the way of a mail
// is by _id; the markers' age serves the prune of old ones on MongoDB.
func Indexes() []store.Index {
	return []store.Index{{Collection: collSent, Name: "at", Keys: bson.D{{Key: "at", Value: 1}}}}
}

// New checks the options and returns the service; Start runs it.
func New(ctx context.Context, st *store.Store, c clock.Clock, opts Options) (*Service, error) {
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.From == "" {
		opts.From = "Civico <civico@localhost>"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	from, err := mail.ParseAddress(opts.From)
	if err != nil || hasControl(opts.From) {
		return nil, fmt.Errorf("mail: the sender %q is not an address like \"Civico <civico@example.org>\"", opts.From)
	}
	s := &Service{
		st: st, outbox: st.Collection(collOutbox), sent: st.Collection(collSent), bounces: st.Collection(collBounces),
		clock: c, log: opts.Logger.With("component", "mail"), opts: opts, owners: opts.Owners,
		from: from, domain: from.Address[strings.LastIndexByte(from.Address, '@')+1:],
		publicURL: strings.TrimRight(opts.PublicURL, "/"),
		pace:      newPacer(opts.Rate),
		sched:     newScheduler(c),
		stop:      make(chan struct{}),
		changed:   make(chan struct{}),
	}
	if s.owners == nil {
		s.owners = newSoloOwners()
	}
	if opts.URL == "" {
		if opts.Dir == "" {
			return nil, errors.New("mail: with no SMTP URL, mails are written to a directory: none given")
		}
		s.transport = &fileTransport{dir: opts.Dir, log: s.log}
	} else {
		t, err := ParseURL(opts.URL)
		if err != nil {
			return nil, err
		}
		s.transport = newSMTPTransport(t)
	}
	s.ctx, s.cancel = context.WithCancel(store.Background(context.WithoutCancel(ctx)))
	s.waitCtx, s.waitCancel = context.WithCancel(s.ctx)
	return s, nil
}

// Start takes over what earlier runs left in the outbox, then sends until
// Close.
func (s *Service) Start() {
	if !s.started.CompareAndSwap(false, true) {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.sched.Run(s.ctx)
	}()
	for range s.opts.Workers {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			s.worker()
		}()
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.recover(s.ctx); err != nil && s.ctx.Err() == nil {
			s.log.Error("mail: outbox recovery failed; the sweep retries", "err", err)
		}
	}()
}

// Close stops sending. Mails being sent are finished and their markers
// written first, so a clean restart loses and repeats nothing; the others
// stay in the outbox for the next start (or, once this process is gone,
// for another process).
func (s *Service) Close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	close(s.stop)
	s.waitCancel()
	if !s.started.Load() {
		s.cancel()
		return
	}
	s.workers.Wait()
	s.cancel()
	s.bg.Wait()
}

// Wake makes the scheduler look at the clock now: tests that move a fake
// clock past a backoff or NotBefore call it instead of waiting a tick.
func (s *Service) Wake() { s.sched.Wake() }

// Stats counts what the service did since it started.
type Stats struct {
	Queued     int64 // mails written to the outbox
	Duplicates int64 // Queue calls whose ID was queued or sent before
	Suppressed int64 // not queued: the address bounces
	Sent       int64 // accepted by the relay (or written as a file)
	Retried    int64 // temporary failures, tried again later
	Bounced    int64 // refused for good by the relay: the address is marked
	Dropped    int64 // given up: too old, or refused for another reason
	Pending    int   // held by this process now
}

type stats struct {
	queued, duplicates, suppressed, sent, retried, bounced, dropped atomic.Int64
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	return Stats{
		Queued: s.stats.queued.Load(), Duplicates: s.stats.duplicates.Load(), Suppressed: s.stats.suppressed.Load(),
		Sent: s.stats.sent.Load(), Retried: s.stats.retried.Load(), Bounced: s.stats.bounced.Load(),
		Dropped: s.stats.dropped.Load(), Pending: s.sched.Size(),
	}
}

// notify wakes whoever waits on changed.
func (s *Service) notify() {
	s.changedMu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.changedMu.Unlock()
}

// soloOwners is the single process: a new id per service, every other id
// a previous run whose mails are to be taken over.
type soloOwners struct{ self string }

func newSoloOwners() soloOwners { return soloOwners{self: "solo-" + bson.NewObjectID().Hex()} }

func (o soloOwners) Self() string { return o.self }

func (o soloOwners) Alive(_ context.Context, id string) (bool, error) { return id == o.self, nil }
