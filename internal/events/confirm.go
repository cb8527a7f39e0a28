package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Roll says which processes share the wire (internal/bus's registry).
type Roll interface {
	// Self is this process's id.
	Self() string
	// Peers lists the ids of the other live processes.
	Peers(ctx context.Context) ([]string, error)
}

// defaultConfirmWithin bounds how long an access change waits for the
// other processes (Options.ConfirmWithin).
const defaultConfirmWithin = 2 * time.Second

// maxWaiters bounds the confirmations a follower keeps for numbers it has
// not handed out yet; past it the oldest go (their publisher stops
// waiting at its bound anyway).
const maxWaiters = 1024

// confirmPrefix is followed by the publishing Log's origin: the subject
// its confirmations come back on.
const confirmPrefix = "civico.confirm."

// accessChange says whether e changes who may see what: its Publish
// returns only once every process's sockets know (issue 17: a ban closes
// the member's sockets everywhere, a demotion stops admin-only frames
// everywhere, before the request that made them answers).
func accessChange(t Type) bool {
	return t == MemberBanned || t == MemberLeft || t == MemberRole
}

// confirms is the publishing side: the access changes waiting for the
// other processes to hand them out.
type confirms struct {
	mu sync.Mutex
	// stop ends the subscription to the confirmations (nil: none yet).
	stop    func()
	closed  bool
	pending map[confirmKey]*pending
}

type confirmKey struct {
	street string
	seq    int64
}

// pending is one access change waiting for its confirmations.
type pending struct {
	deadline time.Time
	key      confirmKey // set once it has its number
	// listing gets the other processes, looked up while e is stored.
	listing chan listing
	// Under confirms.mu: until listed, got are the processes that
	// confirmed; then want are those yet to, and done is closed when none
	// is left.
	listed    bool
	got, want map[string]bool
	done      chan struct{}
}

type listing struct {
	peers []string
	err   error
}

// confirmation is a process's word that its live subscribers have a
// street's events up to Seq.
type confirmation struct {
	Process  string `json:"p"`
	StreetID string `json:"s"`
	Seq      int64  `json:"q"`
}

// waiter is a confirmation a follower owes once it hands out seq.
type waiter struct {
	seq      int64
	subject  string
	deadline time.Time
}

// expect starts an access change's wait for the other live processes, and
// their lookup, which runs while e is stored. It returns nil when there is
// nothing to wait for (not an access change, no roll, or the wire
// failing: then the others learn at their pace).
func (l *Log) expect(ctx context.Context, e Event) *pending {
	if l.wire == nil || l.roll == nil || !accessChange(e.Type) {
		return nil
	}
	if err := l.confirmInbox(); err != nil {
		l.log.Warn("events: access change unconfirmed", "type", e.Type, "err", err)
		return nil
	}
	p := &pending{deadline: time.Now().Add(l.opts.ConfirmWithin), listing: make(chan listing, 1),
		got: map[string]bool{}, done: make(chan struct{})}
	go func() {
		ctx, cancel := context.WithDeadline(ctx, p.deadline)
		defer cancel()
		peers, err := l.roll.Peers(ctx)
		p.listing <- listing{peers, err}
	}()
	return p
}

// confirmInbox subscribes, once, to the confirmations of this Log's
// access changes.
func (l *Log) confirmInbox() error {
	c := &l.confirms
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("events: log closed")
	}
	if c.stop != nil {
		return nil
	}
	stop, err := l.wire.Subscribe(confirmPrefix+l.origin, l.confirmed)
	if err != nil {
		return fmt.Errorf("events: subscribe to the confirmations: %w", err)
	}
	c.stop = stop
	return nil
}

// expecting registers p under e's number, before e goes on the wire, and
// returns the subject the others confirm on.
func (l *Log) expecting(p *pending, e Event) string {
	c := &l.confirms
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = map[confirmKey]*pending{}
	}
	p.key = confirmKey{e.StreetID, e.Seq}
	c.pending[p.key] = p
	return confirmPrefix + l.origin
}

// confirmed handles a confirmation of one of this Log's access changes.
func (l *Log) confirmed(data []byte) {
	var m confirmation
	if err := json.Unmarshal(data, &m); err != nil {
		l.log.Warn("events: unreadable confirmation", "err", err)
		return
	}
	c := &l.confirms
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[confirmKey{m.StreetID, m.Seq}]
	switch {
	case p == nil:
		// Late.
	case !p.listed:
		p.got[m.Process] = true
	case p.want[m.Process]:
		delete(p.want, m.Process)
		if len(p.want) == 0 {
			close(p.done)
		}
	}
}

// list records who p waits for: the listed processes that have not
// confirmed yet. It says whether any is left.
func (l *Log) list(p *pending, peers []string) bool {
	c := &l.confirms
	c.mu.Lock()
	defer c.mu.Unlock()
	p.listed = true
	p.want = make(map[string]bool, len(peers))
	for _, id := range peers {
		if !p.got[id] {
			p.want[id] = true
		}
	}
	return len(p.want) > 0
}

// await waits until every process p waits for has confirmed, or p's
// deadline: a process in the registry may have just died. Either way the
// change is in the log and goes on: past the deadline it only warns.
func (l *Log) await(ctx context.Context, p *pending) {
	defer l.unexpect(p)
	if p.key == (confirmKey{}) {
		return // never handed out
	}
	t := time.NewTimer(time.Until(p.deadline))
	defer t.Stop()
	select {
	case r := <-p.listing:
		if r.err != nil {
			l.log.Warn("events: listing the processes to confirm an access change", "street", p.key.street,
				"seq", p.key.seq, "err", r.err)
			return
		}
		if !l.list(p, r.peers) {
			return
		}
	case <-t.C:
		l.log.Warn("events: listing the processes to confirm an access change", "street", p.key.street,
			"seq", p.key.seq, "err", "timed out")
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-p.done:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	c := &l.confirms
	c.mu.Lock()
	missing := make([]string, 0, len(p.want))
	for id := range p.want {
		missing = append(missing, id)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return
	}
	slices.Sort(missing)
	l.log.Warn("events: access change not confirmed by every process", "street", p.key.street, "seq", p.key.seq,
		"missing", missing, "within", l.opts.ConfirmWithin, "err", ctx.Err())
}

func (l *Log) unexpect(p *pending) {
	c := &l.confirms
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[p.key] == p {
		delete(c.pending, p.key)
	}
}

// stopConfirms ends the subscription to the confirmations (Close).
func (l *Log) stopConfirms() {
	c := &l.confirms
	c.mu.Lock()
	stop := c.stop
	c.stop, c.closed = nil, true
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// confirmDelivered answers another process's access change on subject
// once this process's live subscribers have its street up to seq: at
// once, or when the follower gets there.
func (l *Log) confirmDelivered(streetID string, seq int64, subject string) {
	if l.roll == nil || !strings.HasPrefix(subject, confirmPrefix) || !validToken(strings.TrimPrefix(subject, confirmPrefix)) {
		return
	}
	f := l.follower(streetID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next > seq {
		l.confirm(subject, streetID, seq)
		return
	}
	if len(f.waiters) >= maxWaiters {
		f.waiters = f.waiters[1:]
	}
	f.waiters = append(f.waiters, waiter{seq: seq, subject: subject, deadline: time.Now().Add(l.opts.ConfirmWithin)})
}

// settleLocked sends the confirmations the follower owes for what it has
// handed out, and drops those no one waits for any more. f.mu is held.
func (l *Log) settleLocked(streetID string, f *follower) {
	if len(f.waiters) == 0 {
		return
	}
	now := time.Now()
	f.waiters = slices.DeleteFunc(f.waiters, func(w waiter) bool {
		if f.next > w.seq {
			l.confirm(w.subject, streetID, w.seq)
			return true
		}
		return now.After(w.deadline)
	})
}

func (l *Log) confirm(subject, streetID string, seq int64) {
	data, err := json.Marshal(confirmation{Process: l.roll.Self(), StreetID: streetID, Seq: seq})
	if err == nil {
		err = l.wire.Publish(subject, data)
	}
	if err != nil {
		l.log.Warn("events: confirming an access change", "street", streetID, "seq", seq, "err", err)
	}
}
