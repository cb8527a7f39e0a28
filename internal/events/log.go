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

const collection = "events"

// Bus is what services publish to.
type Bus interface {
	// Publish records e in its street's log and hands it to the subscribers.
	Publish(ctx context.Context, e Event) (Event, error)
}

// Subscriber receives every published event, in each street's order. It
// runs on the publisher's goroutine, so it must not block: queue and return.
type Subscriber func(Event)

// Options bound the log.
type Options struct {
	// KeepPerStreet is how many events each street keeps (default 1000).
	KeepPerStreet int64
	// MaxAge is how long an event is kept (default 7 days).
	MaxAge time.Duration
	// Memory is how many recent events per street are also kept in memory
	// for fast resume (default 256).
	Memory int
}

// Log is the persisted per-street event log and the bus over it.
type Log struct {
	st    *store.Store
	c     *store.Collection
	clock clock.Clock
	opts  Options
	log   *slog.Logger

	mu      sync.Mutex
	streets map[string]*streetLog
	subs    []Subscriber

	// trimMu runs one Trim at a time; nextAge, under it, is when the
	// oldest event kept expires (zero: unknown).
	trimMu  sync.Mutex
	nextAge time.Time
}

type streetLog struct {
	mu     sync.Mutex
	loaded bool
	last   int64
	recent []Event // ascending, contiguous, ending at last
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
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{st: st, c: st.Collection(collection), clock: c, opts: opts, log: logger, streets: map[string]*streetLog{}}
}

// Subscribe adds a subscriber. Call it while wiring, before publishing.
func (l *Log) Subscribe(fn Subscriber) {
	l.mu.Lock()
	l.subs = append(l.subs, fn)
	l.mu.Unlock()
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

func (r record) event() Event {
	return Event{Seq: r.Seq, Type: Type(r.Type), StreetID: r.StreetID, At: r.At.UTC(), Audience: Audience(r.Audience),
		Payload: json.RawMessage(r.Payload), ActorID: r.ActorID, SubjectID: r.SubjectID}
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
func (l *Log) load(ctx context.Context, s *streetLog, streetID string) error {
	if s.loaded {
		return nil
	}
	var r record
	err := l.c.FindOne(ctx, bson.M{"street_id": streetID}, &r, options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}))
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.last = 0
	case err != nil:
		return err
	default:
		s.last = r.Seq
	}
	s.loaded = true
	return nil
}

// Publish gives e the street's next sequence number, stores it, and hands it
// to the subscribers before the next event of the same street is published.
func (l *Log) Publish(ctx context.Context, e Event) (Event, error) {
	if e.StreetID == "" {
		return e, errors.New("events: event without street")
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
	s := l.street(e.StreetID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := l.load(ctx, s, e.StreetID); err != nil {
		return e, err
	}
	// Another process may have taken the number (several servers on one
	// MongoDB): the unique index refuses it, and we move past it.
	// Every connected socket of the street waits on this write: it goes
	// ahead of other writes queued on the embedded engine.
	live := store.Live(ctx)
	for attempt := 0; ; attempt++ {
		e.Seq = s.last + 1
		_, err = l.c.InsertOne(live, record{ID: bson.NewObjectID(), StreetID: e.StreetID, Seq: e.Seq, Type: string(e.Type), At: e.At,
			Audience: string(e.Audience), Payload: string(payload), ActorID: e.ActorID, SubjectID: e.SubjectID})
		if err == nil {
			break
		}
		if !store.IsDuplicate(err) || attempt >= 10 {
			return e, err
		}
		s.loaded = false
		s.recent = nil
		if err := l.load(ctx, s, e.StreetID); err != nil {
			return e, err
		}
	}
	if len(s.recent) > 0 && s.recent[len(s.recent)-1].Seq != e.Seq-1 {
		s.recent = nil
	}
	s.last = e.Seq
	s.recent = append(s.recent, e)
	if len(s.recent) > l.opts.Memory {
		s.recent = append(s.recent[:0:0], s.recent[len(s.recent)-l.opts.Memory:]...)
	}
	l.mu.Lock()
	subs := l.subs
	l.mu.Unlock()
	for _, fn := range subs {
		fn(e)
	}
	return e, nil
}

// Last returns the street's latest sequence number (0 for none).
func (l *Log) Last(ctx context.Context, streetID string) (int64, error) {
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
// returns ErrGap when some of them were already dropped from the log or seq
// lies ahead of the log (a client of another database).
func (l *Log) Since(ctx context.Context, streetID string, seq int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 1000
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
	out := make([]Event, len(recs))
	for i, r := range recs {
		out[i] = r.event()
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
	l.mu.Lock()
	ids := make([]string, 0, len(l.streets))
	for id := range l.streets {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	slack := max(1, l.opts.KeepPerStreet/10)
	type dueStreet struct {
		s     *streetLog
		floor int64
	}
	var due []dueStreet
	var or bson.A
	for _, id := range ids {
		if _, err := l.Last(ctx, id); err != nil {
			return err
		}
		s := l.street(id)
		s.mu.Lock()
		floor := s.last - l.opts.KeepPerStreet
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
	// The streets are collected first and locked one by one without l.mu:
	// Publish holds a street's lock while it takes l.mu (to read the
	// subscribers), so holding l.mu here while taking a street's lock
	// would deadlock the log against a publisher.
	l.mu.Lock()
	all := make([]*streetLog, 0, len(l.streets))
	for _, s := range l.streets {
		all = append(all, s)
	}
	l.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		kept := s.recent[:0]
		for _, e := range s.recent {
			if !e.At.Before(cutoff) && e.Seq > s.last-l.opts.KeepPerStreet {
				kept = append(kept, e)
			}
		}
		s.recent = kept
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
