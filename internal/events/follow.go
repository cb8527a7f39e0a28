package events

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const (
	// fillPage is how many events one read of a gap takes.
	fillPage = 256
	// maxHeld bounds the events a follower holds while it waits for a gap
	// to fill; past it the gap counts as lost.
	maxHeld = 4096
	// retries is how often a follower reads a gap again, backing off from
	// retryFirst, before it leaves it to the next event or Resync.
	retries    = 8
	retryFirst = 10 * time.Millisecond
	// fillTimeout bounds one read of a gap.
	fillTimeout = 10 * time.Second
)

// follower hands one street's events to the live subscribers in order,
// whichever process published them and in whatever order the wire brought
// them: each number once, none skipped that the log has.
//
// A number missing when a later one arrives is read from the log at once.
// On the shared path a number is inserted before any process can take the
// next one (Publish inserts last+1 and retries on the unique index), and
// it is published on the wire only once inserted: whatever a later event
// skipped is already in the log, or gone for good (trimmed). On the
// embedded engine's early path the events are handed out before they are
// persisted, so a read may come too soon; the follower holds what it has
// and reads again a little later (the engine persists in order, so a
// number missing below a persisted one is lost for good).
type follower struct {
	mu sync.Mutex
	// next is the next number to hand out; 0: the first event seen.
	next int64
	// held are events that came ahead of next, by number.
	held map[int64]Event
	// known is the highest number known to be in the log (Resync).
	known int64
	// retrying: a read of the gap is scheduled; tries counts them.
	retrying bool
	tries    int
	// waiters are the confirmations owed to other processes' access
	// changes once they are handed out (see confirm.go).
	waiters []waiter
}

// follower returns the street's follower, made on first use.
func (l *Log) follower(streetID string) *follower {
	w := &l.wired
	w.fmu.RLock()
	f := w.followers[streetID]
	w.fmu.RUnlock()
	if f != nil {
		return f
	}
	w.fmu.Lock()
	defer w.fmu.Unlock()
	if f = w.followers[streetID]; f == nil {
		f = &follower{}
		if w.seeded {
			// Every street with events has a follower since the seed:
			// this one's events start at 1.
			f.next = 1
		}
		w.followers[streetID] = f
	}
	return f
}

// seen is the highest number of the street this process knows of from
// the wire (0 without one): handed out, held, or known to be in the log.
func (l *Log) seen(streetID string) int64 {
	if l.wire == nil {
		return 0
	}
	w := &l.wired
	w.fmu.RLock()
	f := w.followers[streetID]
	w.fmu.RUnlock()
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := max(f.next-1, f.known)
	for seq := range f.held {
		n = max(n, seq)
	}
	return n
}

// offer hands e out if it is the street's next event, drops it if it was
// handed out already, and otherwise holds it and fills the gap before it.
func (l *Log) offer(e Event) {
	f := l.follower(e.StreetID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == 0 {
		f.next = e.Seq
	}
	switch {
	case e.Seq < f.next:
		return // a duplicate
	case e.Seq == f.next && len(f.held) == 0:
		l.deliver(e)
		f.next++
		l.settleLocked(e.StreetID, f)
		return
	}
	if f.held == nil {
		f.held = map[int64]Event{}
	}
	f.held[e.Seq] = e
	l.advanceLocked(e.StreetID, f)
}

func (l *Log) deliver(e Event) {
	l.mu.Lock()
	live := l.live
	l.mu.Unlock()
	for _, fn := range live {
		fn(e)
	}
}

// advanceLocked hands out what it can in order, reading the gaps from the
// log, and schedules another try when it has to wait. f.mu is held.
func (l *Log) advanceLocked(streetID string, f *follower) {
	if f.next == 0 {
		return
	}
	if len(f.held) > maxHeld {
		first := int64(0)
		for seq := range f.held {
			if first == 0 || seq < first {
				first = seq
			}
		}
		l.log.Warn("events: gap never filled, going on after it", "street", streetID, "from", f.next, "to", first-1)
		f.next = first
	}
	switch l.fillLocked(streetID, f) {
	case filled:
		f.tries = 0
	case progressed:
		f.tries = 0
		l.retryLocked(streetID, f)
	case stuck:
		l.retryLocked(streetID, f)
	}
	l.settleLocked(streetID, f)
}

type fillResult int

const (
	filled     fillResult = iota // nothing missing any more
	progressed                   // handed some out, still waiting for some
	stuck                        // handed nothing out
)

// fillLocked hands out the held events and the ones missing before them (or
// before f.known) in order, reading the missing ones from the log.
func (l *Log) fillLocked(streetID string, f *follower) fillResult {
	start := f.next
	for {
		l.flushLocked(f)
		top := f.known
		for seq := range f.held {
			top = max(top, seq)
		}
		if f.next > top {
			return filled
		}
		before := f.next
		if err := l.readGapLocked(streetID, f, top); err != nil {
			l.log.Warn("events: reading a gap from the log", "street", streetID, "from", f.next, "err", err)
		}
		if f.next == before {
			if f.next > start {
				return progressed
			}
			return stuck
		}
	}
}

// flushLocked hands out the held events that come next.
func (l *Log) flushLocked(f *follower) {
	for {
		e, ok := f.held[f.next]
		if !ok {
			break
		}
		delete(f.held, f.next)
		l.deliver(e)
		f.next++
	}
	for seq := range f.held {
		if seq < f.next {
			delete(f.held, seq)
		}
	}
}

// readGapLocked reads one page of the log from f.next up to top and hands
// out, in order, what it and the held events cover. A number neither has
// is skipped only when something after it is in the log: it is gone.
func (l *Log) readGapLocked(streetID string, f *follower, top int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), fillTimeout)
	defer cancel()
	var recs []record
	err := l.c.FindAll(ctx, bson.M{"street_id": streetID, "seq": bson.M{"$gte": f.next, "$lte": top}}, &recs,
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(fillPage))
	if err != nil {
		return err
	}
	// Up to horizon the read says what the log has.
	horizon := top
	if len(recs) == fillPage {
		horizon = recs[len(recs)-1].Seq
	}
	// The highest number known to be persisted: a missing one below it
	// is gone for good.
	persisted := f.known
	if n := len(recs); n > 0 {
		persisted = max(persisted, recs[n-1].Seq)
	}
	if !l.early {
		// Published on the wire only once inserted.
		for seq := range f.held {
			persisted = max(persisted, seq)
		}
	}
	i := 0
	for f.next <= horizon {
		for i < len(recs) && recs[i].Seq < f.next {
			i++
		}
		if e, ok := f.held[f.next]; ok {
			delete(f.held, f.next)
			l.deliver(e)
			f.next++
			continue
		}
		if i < len(recs) && recs[i].Seq == f.next {
			l.deliver(recs[i].event())
			f.next++
			i++
			continue
		}
		// f.next is missing: what comes after it?
		after := int64(0)
		if i < len(recs) {
			after = recs[i].Seq
		}
		for seq := range f.held {
			if seq > f.next && (after == 0 || seq < after) {
				after = seq
			}
		}
		switch {
		case after == 0:
			if persisted >= f.next && len(recs) < fillPage {
				l.log.Warn("events: events gone from the log before they were handed out", "street", streetID,
					"from", f.next, "to", persisted)
				f.next = persisted + 1
			}
			return nil
		case after > horizon, persisted < after:
			return nil // may still come
		}
		l.log.Warn("events: events gone from the log before they were handed out", "street", streetID,
			"from", f.next, "to", after-1)
		f.next = after
	}
	return nil
}

// retryLocked schedules another read of the gap, backing off, unless one
// is scheduled or the tries are used up: then the next event of the
// street, or Resync, tries again.
func (l *Log) retryLocked(streetID string, f *follower) {
	if f.retrying || f.tries >= retries {
		return
	}
	w := &l.wired
	w.fmu.RLock()
	closed := w.closed
	w.fmu.RUnlock()
	if closed {
		return
	}
	f.retrying = true
	d := retryFirst << f.tries
	f.tries++
	time.AfterFunc(d, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.retrying = false
		w.fmu.RLock()
		closed := w.closed
		w.fmu.RUnlock()
		if !closed {
			l.advanceLocked(streetID, f)
		}
	})
}
