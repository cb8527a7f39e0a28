package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"civico/internal/clock"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const (
	collection = "events"
	// seqCollection holds, per street, the highest sequence number a
	// process may have handed out (see Log.reserve).
	seqCollection = "event_seqs"
	// reserveBlock is how many sequence numbers one reservation covers. The
	// next one is written ahead, while half a block is left, so events
	// seldom wait for it; a restart after a crash skips at most 1.5 blocks.
	reserveBlock = 64
)

// Bus is what services publish to.
type Bus interface {
	// Publish records e in its street's log and hands it to the subscribers.
	Publish(ctx context.Context, e Event) (Event, error)
}

// Subscriber receives every published event. It runs on the publisher's
// goroutine: a live subscriber (SubscribeLive) must not block, queue and
// return; a durable one (Subscribe) may write before returning.
type Subscriber func(Event)

// Options bound the log.
type Options struct {
	// KeepPerStreet is how many events each street keeps (default 1000).
	KeepPerStreet int64
	// MaxAge is how long an event is kept (default 7 days).
	MaxAge time.Duration
	// Memory is how many recent events per street are also kept in memory
	// for fast resume (default 256), on the embedded engine only.
	Memory int
	// Wire carries the live events between the processes sharing the
	// database (internal/bus, over NATS). With it, live subscribers get
	// every process's events through a per-street follower (see
	// follow.go); nil: this process is alone and calls them directly.
	Wire Wire
	// Shared says other processes write this log too, even on the
	// embedded engine: every number is final only once inserted, and
	// Since and Last read the database, never this process's memory.
	// MongoDB always is; tests set it to stand two Logs on one embedded
	// store in for two processes.
	Shared bool
	// CatchUp is how often, on the shared path with a Wire, the log looks
	// for recent events whose message never came (default 5 s): a
	// process that died, or lost NATS, before its message went out.
	CatchUp time.Duration
	// Roll lists the other live processes (internal/bus). With it and a
	// Wire, Publish of an access change (MemberBanned, MemberLeft,
	// MemberRole) returns only once every other live process's live
	// subscribers have it, or after ConfirmWithin; nil: it does not wait.
	Roll Roll
	// ConfirmWithin bounds that wait (default 2 s): a process in the
	// registry may have just died.
	ConfirmWithin time.Duration
}

// Log is the persisted per-street event log and the bus over it.
type Log struct {
	st    *store.Store
	c     *store.Collection
	clock clock.Clock
	opts  Options
	log   *slog.Logger

	// early: hand events to the live subscribers before they are
	// persisted (the embedded engine, where one process owns the database;
	// see Publish).
	early bool
	seqs  *store.Collection

	mu      sync.Mutex
	streets map[string]*streetLog
	live    []Subscriber
	subs    []Subscriber

	// The wire: what this process publishes goes out on it; what the
	// others publish comes in, through the followers, to the live
	// subscribers (see follow.go).
	wire   Wire
	origin string // this Log's mark on its messages, which it skips
	wired  wired
	// roll lists the processes that confirm access changes; confirms are
	// the changes waiting for them (see confirm.go).
	roll     Roll
	confirms confirms

	// trimMu runs one Trim at a time; nextAge, under it, is when the
	// oldest event kept expires (zero: unknown).
	trimMu  sync.Mutex
	nextAge time.Time
}

type streetLog struct {
	mu     sync.Mutex
	loaded bool
	// last is the highest sequence handed out (persisted or on its way).
	last int64
	// reserved is the highest sequence covered by the stored reservation
	// (early mode only).
	reserved int64
	// reserving is closed when the reservation being written ahead is
	// done (nil: none). One is written at a time, so the stored number
	// never goes back.
	reserving chan struct{}
	recent    []Event // ascending, contiguous, ending at last
	// persisted is closed once the latest event handed out is persisted
	// and its durable subscribers ran (early mode): the next one waits
	// for it, so events reach the database and those subscribers in order.
	persisted chan struct{}
	// trimmed is the highest sequence this process has trimmed below
	// (0: none yet, so the first trim over the limit looks).
	trimmed int64
}

// Indexes are the log's indexes.
func Indexes() []store.Index {
	return []store.Index{
		{Collection: collection, Name: "street_seq", Keys: bson.D{{Key: "street_id", Value: 1}, {Key: "seq", Value: 1}}, Unique: true},
		{Collection: collection, Name: "at", Keys: bson.D{{Key: "at", Value: 1}}},
	}
}

// New returns the log over st.
func New(st *store.Store, c clock.Clock, logger *slog.Logger, opts Options) *Log {
	if opts.KeepPerStreet <= 0 {
		opts.KeepPerStreet = 1000
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 7 * 24 * time.Hour
	}
	if opts.Memory <= 0 {
		opts.Memory = 256
	}
	if opts.CatchUp <= 0 {
		opts.CatchUp = 5 * time.Second
	}
	if opts.ConfirmWithin <= 0 {
		opts.ConfirmWithin = defaultConfirmWithin
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	origin := bson.NewObjectID().Hex()
	return &Log{st: st, c: st.Collection(collection), seqs: st.Collection(seqCollection), early: st.Embedded() && !opts.Shared,
		clock: c, opts: opts, log: logger, streets: map[string]*streetLog{},
		wire: opts.Wire, roll: opts.Roll, origin: origin, wired: newWired(origin)}
}

// Subscribe adds a durable subscriber: it gets each event once the event is
// persisted, in each street's order, and may write before it returns (the
// push outbox). Call it while wiring, before publishing.
func (l *Log) Subscribe(fn Subscriber) {
	l.mu.Lock()
	l.subs = append(l.subs, fn)
	l.mu.Unlock()
}

// SubscribeLive adds a live subscriber: it gets each event in each street's
// order as soon as it has its number, possibly before it is persisted (the
// realtime hub), and must only queue. Call it while wiring, before serving.
//
// With a Wire it gets the events of every process sharing the database,
// still in each street's order, with no gap and no duplicate: the first
// call subscribes to the wire, and its error is the subscription's.
// Events of other processes (and those read from the log to fill a gap)
// carry their Payload, not Data.
func (l *Log) SubscribeLive(fn Subscriber) error {
	l.mu.Lock()
	l.live = append(l.live, fn)
	l.mu.Unlock()
	if l.wire == nil {
		return nil
	}
	return l.listen()
}

func (l *Log) subscribers() (live, durable []Subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live, l.subs
}

type record struct {
	ID        bson.ObjectID `bson:"_id"`
	StreetID  string        `bson:"street_id"`
	Seq       int64         `bson:"seq"`
	Type      string        `bson:"type"`
	At        time.Time     `bson:"at"`
	Audience  string        `bson:"audience,omitempty"`
	Payload   string        `bson:"payload"`
	ActorID   string        `bson:"actor_id,omitempty"`
	SubjectID string        `bson:"subject_id,omitempty"`
}

// seqDoc is a street's reservation of numbers (early mode).
type seqDoc struct {
	ID       string `bson:"_id"`
	Reserved int64  `bson:"reserved"`
	// Last is set by a clean shutdown: the last number handed out, each
	// persisted or lost for good (a failed write, a hole in the log).
	// Without it the previous process may have crashed with events out on
	// sockets and not persisted.
	Last *int64 `bson:"last,omitempty"`
}

func (r record) event() Event {
	return Event{Seq: r.Seq, Type: Type(r.Type), StreetID: r.StreetID, At: r.At.UTC(), Audience: Audience(r.Audience),
		Payload: json.RawMessage(r.Payload), ActorID: r.ActorID, SubjectID: r.SubjectID}
}

// allStreets returns the streets known so far. Callers lock them one by
// one without l.mu, so that no order between the two locks is needed.
func (l *Log) allStreets() map[string]*streetLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := make(map[string]*streetLog, len(l.streets))
	for id, s := range l.streets {
		all[id] = s
	}
	return all
}

func (l *Log) street(id string) *streetLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streets[id]
	if s == nil {
		s = &streetLog{}
		l.streets[id] = s
	}
	return s
}

// load reads the street's last sequence number once per process.
//
// In early mode, after a crash, numbers up to the stored reservation may
// have reached sockets without being persisted. The street goes on after
// them: they are a hole in the log, so a client resuming from before gets
// a reset rather than a silent loss. After a clean shutdown (Close) the
// numbering simply goes on.
func (l *Log) load(ctx context.Context, s *streetLog, streetID string) error {
	if s.loaded {
		return nil
	}
	s.last, s.reserved = 0, 0
	if l.early {
		// Every number handed out was reserved first, so the stored
		// reservation (or the clean shutdown's mark) is at least the log's
		// last: no need to look for it in the log, which on the embedded
		// engine is a scan of every street's events.
		var d seqDoc
		switch err := l.seqs.FindOne(ctx, bson.M{"_id": streetID}, &d); {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case d.Last != nil:
			s.last, s.reserved = *d.Last, *d.Last
		default:
			s.last, s.reserved = d.Reserved, d.Reserved
		}
	}
	if s.reserved == 0 {
		// No reservation: a street without events, or one the log of
		// several processes numbered (a number is final once inserted).
		var r record
		err := l.c.FindOne(ctx, bson.M{"street_id": streetID}, &r, options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			s.last = r.Seq // in early mode the next event reserves from there
		}
	}
	s.recent = nil
	s.loaded = true
	return nil
}

// reserve records that numbers up to upTo may be handed out before they
// are persisted, so that a restart never gives one of them to another event
// (and forgets the clean shutdown's mark).
func (l *Log) reserve(ctx context.Context, streetID string, upTo int64) error {
	_, err := l.seqs.UpdateOne(ctx, bson.M{"_id": streetID}, bson.M{"$set": bson.M{"reserved": upTo}, "$unset": bson.M{"last": ""}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("events: reserve numbers of %s: %w", streetID, err)
	}
	return nil
}

// reserveNext makes sure the next number is covered by a stored
// reservation, waiting for the one written ahead if there is one. s.mu is
// held, and released while waiting.
func (l *Log) reserveNext(ctx context.Context, s *streetLog, streetID string) error {
	for s.last+1 > s.reserved {
		if s.awaitReservationLocked() {
			continue
		}
		upTo := s.last + reserveBlock
		if err := l.reserve(ctx, streetID, upTo); err != nil {
			return err
		}
		s.reserved = upTo
	}
	return nil
}

// awaitReservationLocked waits, s.mu released meanwhile, for the
// reservation being written ahead, and reports whether there was one.
func (s *streetLog) awaitReservationLocked() bool {
	ch := s.reserving
	if ch == nil {
		return false
	}
	s.mu.Unlock()
	<-ch
	s.mu.Lock()
	return true
}

// reserveAhead writes the next reservation in the background once half of
// the current one is used: an event waiting for it would hold up every
// socket of the street. s.mu is held.
func (l *Log) reserveAhead(ctx context.Context, s *streetLog, streetID string) {
	if s.reserving != nil || s.reserved-s.last > reserveBlock/2 {
		return
	}
	upTo, done := s.reserved+reserveBlock, make(chan struct{})
	s.reserving = done
	go func() {
		defer close(done)
		err := l.reserve(ctx, streetID, upTo)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reserving = nil
		if err != nil {
			// The next event that needs it writes it itself.
			l.log.Warn("reserving event numbers ahead", "street", streetID, "err", err)
			return
		}
		s.reserved = max(s.reserved, upTo)
	}()
}

// Close marks a clean shutdown: once every event handed out is persisted,
// each street records the last number it gave, so the next start goes on
// from there. Call it after the last Publish; a later one only makes the
// next start as careful as after a crash.
func (l *Log) Close(ctx context.Context) error {
	l.unlisten()
	if !l.early {
		return nil
	}
	if err := l.settle(ctx); err != nil {
		return err
	}
	for id, s := range l.allStreets() {
		if err := l.closeStreet(ctx, id, s); err != nil {
			return err
		}
	}
	return nil
}

// closeStreet marks one street clean. It holds the street's lock across the
// write, so no number is handed out between reading last and storing it;
// a later Publish reserves again, which clears the mark.
func (l *Log) closeStreet(ctx context.Context, id string, s *streetLog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A reservation landing after the mark would clear it.
	for s.awaitReservationLocked() {
	}
	if !s.loaded || s.reserved == 0 {
		return nil
	}
	if _, err := l.seqs.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"last": s.last}}); err != nil {
		return fmt.Errorf("events: close %s: %w", id, err)
	}
	s.reserved = s.last
	return nil
}

// remember appends e to the street's in-memory window.
func (l *Log) remember(s *streetLog, e Event) {
	if n := len(s.recent); n > 0 && s.recent[n-1].Seq != e.Seq-1 {
		s.recent = nil
	}
	s.recent = append(s.recent, e)
	if len(s.recent) > l.opts.Memory {
		s.recent = append(s.recent[:0:0], s.recent[len(s.recent)-l.opts.Memory:]...)
	}
}

func (l *Log) record(e Event) record {
	return record{ID: bson.NewObjectID(), StreetID: e.StreetID, Seq: e.Seq, Type: string(e.Type), At: e.At,
		Audience: string(e.Audience), Payload: string(e.Payload), ActorID: e.ActorID, SubjectID: e.SubjectID}
}

// Publish gives e the street's next sequence number, stores it, and hands it
// to the subscribers, each street's events in order. It returns once e is
// persisted and the durable subscribers have run.
//
// On the embedded engine the live subscribers get e before it is
// persisted: every socket of a street would otherwise wait for the
// database's write, which is most of the time from a post to its frame. A
// crash can then lose an event some sockets saw; its number is never given
// again (reserve), and a client resuming across the hole gets a reset. On
// MongoDB, where several processes may publish to one street, a number is
// only final once its insert succeeded, so every subscriber waits for it.
//
// With a Wire, e also goes out to the other processes (after the insert
// on MongoDB, before it on the early path, in the street's order either
// way); their live subscribers get it through their followers. The
// durable subscribers run only here, in the publishing process.
//
// With a Roll too, an access change (a ban, a leave, a role change)
// returns only once every other live process has handed it to its live
// subscribers, which close the member's sockets or stop the admin-only
// frames there, or after Options.ConfirmWithin (a process just died): the
// request that made it answers when it holds everywhere.
func (l *Log) Publish(ctx context.Context, e Event) (Event, error) {
	if e.StreetID == "" {
		return e, errors.New("events: event without street")
	}
	if l.wire != nil && !validToken(e.StreetID) {
		return e, fmt.Errorf("events: street id %q cannot name a wire subject", e.StreetID)
	}
	payload, err := json.Marshal(e.Data)
	if err != nil {
		return e, fmt.Errorf("events: encode %s: %w", e.Type, err)
	}
	e.Payload = payload
	if e.At.IsZero() {
		e.At = l.clock.Now()
	}
	e.At = e.At.UTC().Truncate(time.Millisecond)
	live, durable := l.subscribers()
	// Listed before e goes out: a process starting later seeds its
	// followers after e and has nothing of it to confirm.
	p := l.expect(ctx, e)
	if l.early {
		e, err = l.publishEarly(ctx, e, live, durable, p)
	} else {
		e, err = l.publishShared(ctx, e, live, durable, p)
	}
	if p != nil {
		// Not under the street's lock: its next events need not wait.
		if err != nil {
			l.unexpect(p)
		} else {
			l.await(ctx, p)
		}
	}
	return e, err
}

// publishShared is Publish where a number is final only once inserted.
func (l *Log) publishShared(ctx context.Context, e Event, live, durable []Subscriber, p *pending) (Event, error) {
	s := l.street(e.StreetID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := l.load(ctx, s, e.StreetID); err != nil {
		return e, err
	}
	var err error
	// Another process may have taken the number (several servers on one
	// MongoDB): the unique index refuses it, and we move past it. Each
	// refusal moves past at least one number, so this ends unless the
	// street is busier than it for as long as ctx lasts. The numbers the
	// other processes' events brought on the wire are where the street
	// stands, mostly: they spare the refusals, and the log is asked (a
	// sorted read, a scan on FerretDB) only when refusals go on.
	for refused := 0; ; {
		e.Seq = max(s.last, l.seen(e.StreetID)) + 1
		_, err = l.c.InsertOne(ctx, l.record(e))
		if err == nil {
			break
		}
		if !store.IsDuplicate(err) {
			return e, err
		}
		if err := ctx.Err(); err != nil {
			return e, fmt.Errorf("events: no free number in %s: %w", e.StreetID, err)
		}
		s.last = e.Seq
		if refused++; refused%4 == 0 {
			last, err := l.lastStored(ctx, e.StreetID)
			if err != nil {
				return e, err
			}
			s.last = max(last, s.last)
		}
	}
	s.last = e.Seq
	l.handOut(e, live, p)
	for _, fn := range durable {
		fn(e)
	}
	return e, nil
}

func (l *Log) publishEarly(ctx context.Context, e Event, live, durable []Subscriber, p *pending) (Event, error) {
	s := l.street(e.StreetID)
	s.mu.Lock()
	if err := l.load(ctx, s, e.StreetID); err != nil {
		s.mu.Unlock()
		return e, err
	}
	// Every connected socket of the street waits on these writes: they
	// go ahead of other writes queued on the embedded engine.
	livectx := store.Live(ctx)
	if err := l.reserveNext(livectx, s, e.StreetID); err != nil {
		s.mu.Unlock()
		return e, err
	}
	e.Seq = s.last + 1
	s.last = e.Seq
	l.reserveAhead(context.WithoutCancel(livectx), s, e.StreetID)
	l.remember(s, e)
	l.handOut(e, live, p)
	before, done := s.persisted, make(chan struct{})
	s.persisted = done
	s.mu.Unlock()
	defer close(done)

	if before != nil {
		<-before
	}
	// Sockets have it: it must reach the log even if the caller gives up.
	if _, err := l.c.InsertOne(context.WithoutCancel(livectx), l.record(e)); err != nil {
		return e, err
	}
	for _, fn := range durable {
		fn(e)
	}
	return e, nil
}

// Last returns the street's latest sequence number (0 for none).
func (l *Log) Last(ctx context.Context, streetID string) (int64, error) {
	if !l.early {
		// Another process may have published since this one last did.
		return l.lastStored(ctx, streetID)
	}
	s := l.street(streetID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := l.load(ctx, s, streetID); err != nil {
		return 0, err
	}
	return s.last, nil
}

// ErrGap says the events after the asked sequence are no longer all kept:
// the client must refetch.
var ErrGap = errors.New("events: resume point no longer kept")

// Since returns up to limit events of the street after seq, in order. It
// returns ErrGap when some of them were already dropped from the log, were
// lost in a crash, or seq lies ahead of the log (a client of another
// database). On the embedded engine the recent events come from memory;
// on the shared path (MongoDB) every call reads the log, which has every
// process's events.
func (l *Log) Since(ctx context.Context, streetID string, seq int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	if !l.early {
		return l.sinceStored(ctx, streetID, seq, limit)
	}
	s := l.street(streetID)
	s.mu.Lock()
	if err := l.load(ctx, s, streetID); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	last := s.last
	if seq > last || seq < 0 {
		s.mu.Unlock()
		return nil, ErrGap
	}
	if seq == last {
		s.mu.Unlock()
		return nil, nil
	}
	if n := len(s.recent); n > 0 && s.recent[0].Seq <= seq+1 {
		from := int(seq + 1 - s.recent[0].Seq)
		out := append([]Event(nil), s.recent[from:min(n, from+limit)]...)
		s.mu.Unlock()
		return out, nil
	}
	s.mu.Unlock()
	var recs []record
	err := l.c.FindAll(ctx, bson.M{"street_id": streetID, "seq": bson.M{"$gt": seq}}, &recs,
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].Seq != seq+1 {
		return nil, ErrGap
	}
	out := make([]Event, 0, len(recs))
	for i, r := range recs {
		if i > 0 && r.Seq != recs[i-1].Seq+1 {
			break // a hole: an event being written, or lost
		}
		out = append(out, r.event())
	}
	if len(out) == limit {
		return out, nil
	}
	// A short read must still reach the street's last event, or the caller
	// takes it for the end: what the database does not have yet (being
	// written) comes from memory; what neither has is lost.
	next := out[len(out)-1].Seq + 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if next > s.last {
		return out, nil
	}
	n := len(s.recent)
	if n == 0 || s.recent[0].Seq > next {
		return nil, ErrGap
	}
	from := int(next - s.recent[0].Seq)
	return append(out, s.recent[from:min(n, from+limit-len(out))]...), nil
}

// lastStored reads the street's highest number from the log (0: none).
func (l *Log) lastStored(ctx context.Context, streetID string) (int64, error) {
	var r record
	err := l.c.FindOne(ctx, bson.M{"street_id": streetID}, &r,
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.M{"seq": 1}))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return r.Seq, nil
}

// sinceStored is Since on the shared path, read from the log in one go:
// other processes publish to the street too, so this one's memory does not
// know its end. There a number is inserted before the next one is taken,
// so the log has no hole but those a trim left in front: the read starts
// at seq itself (or, when seq was trimmed, right after it) or the client
// missed something.
func (l *Log) sinceStored(ctx context.Context, streetID string, seq int64, limit int) ([]Event, error) {
	if seq < 0 {
		return nil, ErrGap
	}
	var recs []record
	err := l.c.FindAll(ctx, bson.M{"street_id": streetID, "seq": bson.M{"$gte": seq}}, &recs,
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 && recs[0].Seq == seq {
		recs = recs[1:]
	} else if seq > 0 && len(recs) == 0 {
		return nil, ErrGap // ahead of the log, or all of it trimmed
	}
	if len(recs) > 0 && recs[0].Seq != seq+1 {
		return nil, ErrGap
	}
	recs = recs[:min(len(recs), limit)]
	out := make([]Event, 0, len(recs))
	for i, r := range recs {
		if i > 0 && r.Seq != recs[i-1].Seq+1 {
			return nil, ErrGap // lost for good: a crash on the embedded engine
		}
		out = append(out, r.event())
	}
	return out, nil
}

// Trim drops events beyond the per-street count and older than the maximum
// age. It is the log's own expiry sweep (no TTL indexes on the embedded
// engine); run it periodically.
//
// On the embedded engine every look for what is due reads the whole
// collection, so Trim looks only when it knows something is due: by age
// once the oldest event has expired, by count once a street is a tenth
// over its limit (all such streets in one read); it deletes as background
// work (deleteBackground).
func (l *Log) Trim(ctx context.Context) error {
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	now := l.clock.Now()
	cutoff := now.Add(-l.opts.MaxAge)
	if err := l.trimAge(ctx, now, cutoff); err != nil {
		return err
	}
	streets := l.allStreets()
	slack := max(1, l.opts.KeepPerStreet/10)
	type dueStreet struct {
		s     *streetLog
		floor int64
	}
	var due []dueStreet
	var or bson.A
	for id := range streets {
		last, err := l.Last(ctx, id)
		if err != nil {
			return err
		}
		s := l.street(id)
		s.mu.Lock()
		floor := last - l.opts.KeepPerStreet
		if floor > 0 && floor-s.trimmed >= slack {
			due = append(due, dueStreet{s, floor})
			or = append(or, bson.M{"street_id": id, "seq": bson.M{"$lte": floor}})
		}
		s.mu.Unlock()
	}
	if len(or) > 0 {
		if err := l.deleteBackground(ctx, bson.M{"$or": or}); err != nil {
			return err
		}
		for _, d := range due {
			d.s.mu.Lock()
			d.s.trimmed = max(d.s.trimmed, d.floor)
			d.s.mu.Unlock()
		}
	}
	// The in-memory window must not answer for what the database dropped.
	for _, s := range streets {
		s.mu.Lock()
		// From the front only: the window stays contiguous.
		i := 0
		for i < len(s.recent) && (s.recent[i].At.Before(cutoff) || s.recent[i].Seq <= s.last-l.opts.KeepPerStreet) {
			i++
		}
		s.recent = s.recent[i:]
		s.mu.Unlock()
	}
	return nil
}

// deleteBackground deletes what filter matches as background work: on the
// embedded engine one event at a time, so live events slip in between
// (store.Collection.DeleteMany).
func (l *Log) deleteBackground(ctx context.Context, filter bson.M) error {
	_, err := l.c.DeleteMany(store.Background(ctx), filter)
	return err
}

// trimAge drops the events older than cutoff once the oldest kept has
// expired; until then it reads nothing.
func (l *Log) trimAge(ctx context.Context, now, cutoff time.Time) error {
	if now.Before(l.nextAge) {
		return nil
	}
	var oldest record
	err := l.c.FindOne(ctx, bson.M{}, &oldest, options.FindOne().SetSort(bson.D{{Key: "at", Value: 1}}).SetProjection(bson.M{"at": 1}))
	switch {
	case errors.Is(err, store.ErrNotFound):
		l.nextAge = now.Add(l.opts.MaxAge) // whatever comes next is newer than now
		return nil
	case err != nil:
		return err
	case !oldest.At.Before(cutoff):
		l.nextAge = oldest.At.Add(l.opts.MaxAge)
		return nil
	}
	if err := l.deleteBackground(ctx, bson.M{"at": bson.M{"$lt": cutoff}}); err != nil {
		return err
	}
	l.nextAge = time.Time{} // look again next time
	return nil
}
