package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Wire carries messages between the processes sharing the database
// (internal/bus over core NATS). The log does not keep its events there:
// the database is the log of record (Forget rewrites it, which a stream
// could not), the wire only tells the other processes at once.
type Wire interface {
	// Publish sends data on subject to every subscriber of any process.
	Publish(subject string, data []byte) error
	// Subscribe calls fn, one message at a time, for each message on
	// subject (wildcards allowed). It returns once the subscription is
	// in place, so nothing published afterwards is missed.
	Subscribe(subject string, fn func(data []byte)) (stop func(), err error)
}

// wirePrefix is followed by the street's id: one subject per street.
const wirePrefix = "civico.events."

// wireAll subscribes to every street's events.
const wireAll = wirePrefix + "*"

// validToken says whether id can be one token of a subject: street ids are
// hex object ids, tests use short words.
func validToken(id string) bool {
	return id != "" && !strings.ContainsAny(id, ".*> \t\r\n")
}

// wireEvent is an event on the wire: the stored record's fields, the
// payload as is.
type wireEvent struct {
	// Origin is the publishing Log's mark: a process skips its own.
	Origin    string          `json:"o"`
	StreetID  string          `json:"s"`
	Seq       int64           `json:"q"`
	Type      Type            `json:"t"`
	At        time.Time       `json:"at"`
	Audience  Audience        `json:"a,omitempty"`
	Payload   json.RawMessage `json:"p"`
	ActorID   string          `json:"ac,omitempty"`
	SubjectID string          `json:"su,omitempty"`
	// Confirm, on an access change, is the subject on which each process
	// confirms it has handed the event out (see confirm.go).
	Confirm string `json:"c,omitempty"`
}

func (l *Log) encode(e Event, confirm string) ([]byte, error) {
	return json.Marshal(wireEvent{Origin: l.origin, StreetID: e.StreetID, Seq: e.Seq, Type: e.Type, At: e.At,
		Audience: e.Audience, Payload: e.Payload, ActorID: e.ActorID, SubjectID: e.SubjectID, Confirm: confirm})
}

// errWireMessage refuses a wire message that is not an event of a street.
var errWireMessage = errors.New("events: not an event of a street")

// decodeWire reads a message of the wire. Another process wrote it, but
// anything on the NATS it shares may: it is checked as outside input.
func decodeWire(data []byte) (wireEvent, error) {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return wireEvent{}, err
	}
	if !validToken(w.StreetID) || w.Seq <= 0 || w.Type == "" {
		return wireEvent{}, errWireMessage
	}
	if string(w.Payload) == "null" {
		w.Payload = nil // as when there is none
	}
	return w, nil
}

func (w wireEvent) event() Event {
	return Event{Seq: w.Seq, Type: w.Type, StreetID: w.StreetID, At: w.At, Audience: w.Audience, Payload: w.Payload,
		ActorID: w.ActorID, SubjectID: w.SubjectID}
}

// wired is the state of the subscription to the other processes' events.
type wired struct {
	mu   sync.Mutex
	stop func() // nil: not subscribed
	// ready is closed once the followers know where each street stands
	// (seed): messages wait for it.
	ready     chan struct{}
	readyOnce sync.Once

	fmu       sync.RWMutex
	followers map[string]*follower
	// seeded: every street that had events when the subscription began
	// has a follower, so an unknown street starts at its first event.
	seeded bool
	closed bool
	// own is how this Log's messages begin (encode writes Origin first).
	own []byte
}

func newWired(origin string) wired {
	return wired{ready: make(chan struct{}), followers: map[string]*follower{}, own: []byte(`{"o":"` + origin + `",`)}
}

// handOut gives e, which has its number, to the live subscribers. Without
// a wire it calls them. With one it hands e to this process's own
// subscribers through the street's follower, like the others' events: at
// once, without the wire's round trip, and through an outage of the wire;
// then it publishes e to the other processes. Local sockets first: a
// publish can wait on the NATS connection, which this street's sockets
// need not. The caller holds the street's lock, so both see this
// process's events in order. With p, the others confirm when they have
// handed e out (see confirm.go).
func (l *Log) handOut(e Event, live []Subscriber, p *pending) {
	if l.wire == nil {
		for _, fn := range live {
			fn(e)
		}
		return
	}
	l.offer(e)
	confirm := ""
	if p != nil {
		confirm = l.expecting(p, e)
	}
	data, err := l.encode(e, confirm)
	if err == nil {
		err = l.wire.Publish(wirePrefix+e.StreetID, data)
	}
	if err != nil {
		// The others read it from the log at their next event of the
		// street, or when they resync.
		l.log.Warn("events: publishing on the wire", "street", e.StreetID, "seq", e.Seq, "err", err)
	}
}

// listen subscribes to every process's events once. On the shared path it
// then seeds the followers from the log before any message is handled.
func (l *Log) listen() error {
	w := &l.wired
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		return nil
	}
	stop, err := l.wire.Subscribe(wireAll, l.receive)
	if err != nil {
		return fmt.Errorf("events: subscribe to the other processes' events: %w", err)
	}
	if l.roll != nil {
		// Now rather than at the first access change, which would
		// wait for it; that one tries again if this fails.
		if err := l.confirmInbox(); err != nil {
			l.log.Warn("events: subscribing to the confirmations of access changes", "err", err)
		}
	}
	ready := func() { w.readyOnce.Do(func() { close(w.ready) }) }
	if !l.early {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.seed(ctx); err != nil {
			ready() // first: stop waits for a message being handled
			stop()
			return err
		}
	}
	ready()
	w.stop = stop
	if !l.early {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.catchUpLoop(ctx)
		}()
		w.stop = func() {
			cancel()
			<-done
			stop()
		}
	}
	return nil
}

// unlisten ends the subscription (Close).
func (l *Log) unlisten() {
	w := &l.wired
	w.mu.Lock()
	stop := w.stop
	w.stop = nil
	w.mu.Unlock()
	w.fmu.Lock()
	w.closed = true
	w.fmu.Unlock()
	if stop != nil {
		stop()
	}
	l.stopConfirms()
}

// receive handles a message of the wire: another process's event.
func (l *Log) receive(data []byte) {
	<-l.wired.ready
	if bytes.HasPrefix(data, l.wired.own) {
		return // handed out when published; not worth decoding
	}
	w, err := decodeWire(data)
	if err != nil {
		l.log.Warn("events: unreadable message on the wire", "err", err)
		return
	}
	if w.Origin == l.origin {
		return
	}
	l.offer(w.event())
	if w.Confirm != "" {
		l.confirmDelivered(w.StreetID, w.Seq, w.Confirm)
	}
}

// streetLast is a street's highest sequence number in the log.
type streetLast struct {
	ID   string
	Last int64
}

// lasts reads every street's highest number: one seek down the street_seq
// index per street, each to the last event of the street before the
// previous one (FerretDB has no $max or $first to group with).
func (l *Log) lasts(ctx context.Context) ([]streetLast, error) {
	var rows []streetLast
	filter := bson.M{}
	for {
		var r record
		err := l.c.FindOne(ctx, filter, &r, options.FindOne().
			SetSort(bson.D{{Key: "street_id", Value: -1}, {Key: "seq", Value: -1}}).
			SetProjection(bson.M{"street_id": 1, "seq": 1}))
		if errors.Is(err, store.ErrNotFound) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("events: read each street's last event: %w", err)
		}
		rows = append(rows, streetLast{ID: r.StreetID, Last: r.Seq})
		filter = bson.M{"street_id": bson.M{"$lt": r.StreetID}}
	}
}

// seed starts each street's follower after the street's last event, read
// once the subscription is in place: whatever the others publish from now
// on comes after it, and what came before is in the log for the sockets'
// replays. Sockets are only served once this has run.
func (l *Log) seed(ctx context.Context) error {
	rows, err := l.lasts(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		f := l.follower(r.ID)
		f.mu.Lock()
		f.next = max(f.next, r.Last+1)
		l.settleLocked(r.ID, f)
		f.mu.Unlock()
	}
	w := &l.wired
	w.fmu.Lock()
	w.seeded = true
	w.fmu.Unlock()
	return nil
}

// catchUpWindow is how far back catchUp looks: events are stamped by their
// process's clock before they are inserted, so it covers the time between
// two looks, an insert's delay and the clocks' skew.
const catchUpWindow = 30 * time.Second

// catchUpLoop runs catchUp every Options.CatchUp until ctx ends.
func (l *Log) catchUpLoop(ctx context.Context) {
	t := time.NewTicker(l.opts.CatchUp)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.catchUp(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("events: looking for events whose message never came", "err", err)
		}
	}
}

// catchUp hands out the recent events whose message never came: a process
// publishes its message after the insert, and may die or lose NATS in
// between. Resync covers what this process missed while it had no NATS;
// this covers what another process never sent. Each look reads the
// numbers of the last catchUpWindow's events (the at index).
func (l *Log) catchUp(ctx context.Context) error {
	var recs []record
	err := l.c.FindAll(ctx, bson.M{"at": bson.M{"$gte": l.clock.Now().Add(-catchUpWindow)}}, &recs,
		options.Find().SetProjection(bson.M{"street_id": 1, "seq": 1}))
	if err != nil {
		return err
	}
	lasts := map[string]int64{}
	for _, r := range recs {
		lasts[r.StreetID] = max(lasts[r.StreetID], r.Seq)
	}
	for id, last := range lasts {
		l.advanceTo(id, last)
	}
	return nil
}

// advanceTo tells the street's follower the log has events up to last.
func (l *Log) advanceTo(streetID string, last int64) {
	f := l.follower(streetID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if last < f.next {
		return
	}
	f.known = max(f.known, last)
	l.advanceLocked(streetID, f)
}

// Resync catches the live subscribers up with the log after the wire may
// have lost messages (NATS reconnected, or reported this process a slow
// consumer): each street's events this process has not handed out are read
// from the log and handed out in order. Call it from the bus's reconnect
// hook, on its own goroutine. The embedded engine is one process, whose
// events are all handed out here: there is nothing to catch up.
func (l *Log) Resync(ctx context.Context) error {
	if l.wire == nil || l.early {
		return nil
	}
	w := &l.wired
	w.mu.Lock()
	listening := w.stop != nil
	w.mu.Unlock()
	if !listening {
		return nil
	}
	rows, err := l.lasts(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		l.advanceTo(r.ID, r.Last)
	}
	return nil
}
