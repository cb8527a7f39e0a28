// Package hub is the realtime side of a street: one websocket channel per
// street that carries every event of the street's log, in order, to the
// members connected to it, with resume after a reconnect.
//
// The hub never blocks a publisher. The events log calls Publish on the
// publishing goroutine, in street order; Publish encodes the frame once and
// appends it to each connection's bounded queue. A connection that lets its
// queue fill is closed with CloseTooSlow; the others are not affected.
//
// Per connection the hub keeps as little as it can, because a street server
// holds thousands of idle sockets: the read loop is the goroutine the
// websocket library already runs for the connection, the writer goroutine
// exists only while there is something to write (one at a time), read
// buffers come from a pool for the length of one frame, write buffers are
// not needed at all (frames are prepared once per event), and queues are
// allocated when something is queued and dropped when they drain.
package hub

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/idle"

	"github.com/fasthttp/websocket"
)

// Close codes the hub ends sockets with. Clients act on them: 4008 and 1001
// mean "reconnect with since", 4003 means "you are no longer a member".
const (
	// CloseTooSlow: the client did not read its frames fast enough.
	CloseTooSlow = 4008
	// CloseRemoved: the member was banned, or left the street.
	CloseRemoved = 4003
	// CloseGoingAway: the server is shutting down (standard 1001).
	CloseGoingAway = websocket.CloseGoingAway
	// ClosePolicy: too many frames from the client (standard 1008).
	ClosePolicy = websocket.ClosePolicyViolation
	// CloseTooBig: a client frame over the size limit (standard 1009).
	CloseTooBig = websocket.CloseMessageTooBig
	// CloseBadData: a binary frame (standard 1003).
	CloseBadData = websocket.CloseUnsupportedData
	// CloseBadFrame: a text frame that is not JSON (standard 1007).
	CloseBadFrame = websocket.CloseInvalidFramePayloadData
	// CloseInternal: the event log could not be read (standard 1011).
	CloseInternal = websocket.CloseInternalServerErr
)

// ErrNotMember refuses a channel to anyone who is not an active member.
var ErrNotMember = fault.New(fault.Forbidden, "not_member", "only active members can follow this street live")

// errClosed refuses new channels while the server shuts down.
var errClosed = errors.New("hub: closed")

// ErrFull refuses a socket when the hub holds Options.MaxSockets.
var ErrFull = fault.New(fault.Unavailable, "too_many_sockets", "the server holds all the live channels it can; try again soon")

// Access is what the hub needs to know of a user in a street.
type Access struct {
	// Active is true for active members only (not pending, banned, left).
	Active bool
	// Admin members also receive the events meant for admins.
	Admin bool
}

// Members says whether userID may follow streetID. It returns an error of
// kind NotFound for a street that does not exist (or that the user may not
// know of), and Access{} for a non-member. The streets service provides it;
// the hub does not import streets.
type Members func(ctx context.Context, streetID, userID string) (Access, error)

// Source is the event log replays read from (events.Log).
type Source interface {
	Since(ctx context.Context, streetID string, seq int64, limit int) ([]events.Event, error)
}

// Options tune the hub. Zero values take the defaults.
type Options struct {
	// PingInterval is how often an idle socket is pinged (default 25 s).
	PingInterval time.Duration
	// PongWait is how long a socket may stay silent (no pong, no frame)
	// before it counts as dead and is dropped (default 2 × PingInterval + 5 s).
	PongWait time.Duration
	// SendQueue bounds the frames waiting for one socket (default 256).
	SendQueue int
	// WriteTimeout bounds one write to a socket (default 10 s).
	WriteTimeout time.Duration
	// CloseGrace is how long a socket being closed gets to take its close
	// frame and answer it (default 5 s).
	CloseGrace time.Duration
	// MaxFrame is the largest client frame accepted, in bytes (default 4096).
	MaxFrame int
	// FramesPerSecond is the sustained rate of client frames allowed, with
	// bursts of twice as many (default 5).
	FramesPerSecond int
	// ReplayPage is how many events a replay reads at a time (default 100).
	ReplayPage int
	// Recent is how many prepared frames per street are kept for replays
	// (default 64).
	Recent int
	// SocketSendBuffer, when set, fixes the kernel send buffer of each
	// socket (bytes). It bounds what a stalled client holds in the kernel.
	SocketSendBuffer int
	// Foreground, when set, is marked busy while a street's frames are
	// written, so that background work gives way.
	Foreground *idle.Gate
	// MaxSockets caps the sockets open at once (0: no cap): the rest of
	// the process's connections are kept for API requests.
	MaxSockets int
	// NoDirectWrites sends every frame through the socket's writer
	// goroutine (tests of that path; and sockets that are not plain TCP
	// always do).
	NoDirectWrites bool
}

func (o *Options) defaults() {
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 2*o.PingInterval + 5*time.Second
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = 5 * time.Second
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = 4096
	}
	if o.FramesPerSecond <= 0 {
		o.FramesPerSecond = 5
	}
	if o.ReplayPage <= 0 {
		o.ReplayPage = 100
	}
	if o.Recent <= 0 {
		o.Recent = 64
	}
}

// Stats are the hub's counters, for the debug endpoint and the load test.
type Stats struct {
	Conns      int64 `json:"conns"`
	Streets    int64 `json:"streets"`
	Accepted   int64 `json:"accepted"`
	Events     int64 `json:"events"`
	Deliveries int64 `json:"deliveries"`
	Replayed   int64 `json:"replayed"`
	Resets     int64 `json:"resets"`
	TooSlow    int64 `json:"too_slow"`
	Removed    int64 `json:"removed"`
	Dead       int64 `json:"dead"`
	Abusive    int64 `json:"abusive"`
	Writers    int64 `json:"writers"`
	// Lag counts events by how long they took from their time stamp (set
	// by the log before it persists them) to reaching the hub: bucket i
	// holds those under 2^i ms, the last one the rest. It tells the time
	// spent before the fan-out (the database, other subscribers) from the
	// fan-out's own.
	Lag [LagBuckets]int64 `json:"lag_ms_log2"`
	// WriteLag counts live frames by how long they took from reaching
	// the hub to being written to their socket (same buckets as Lag): the
	// fan-out's own share of the latency.
	WriteLag [LagBuckets]int64 `json:"write_lag_ms_log2"`
}

// LagBuckets is the number of buckets of Stats.Lag.
const LagBuckets = 14

// Hub holds every open channel.
type Hub struct {
	src     Source
	members Members
	log     *slog.Logger
	opts    Options

	mu    sync.RWMutex
	rooms map[string]*room
	kicks map[string]kick // streetID/userID → when their membership ended
	// roles: streetID/userID → their last role change, for the sockets
	// being admitted meanwhile (see admit).
	roles  map[string]roleKick
	gen    uint64 // counts membership endings and role changes, for Ticket.gen
	closed bool

	// seed keys the payload sums of the replay cache.
	seed maphash.Seed

	serving sync.WaitGroup
	stop    chan struct{}
	stopped chan struct{}

	reset   []byte // the reset frame
	readBuf sync.Pool

	conns, accepted, events, deliveries, replayed, resets atomic.Int64
	tooSlow, removed, dead, abusive, writers              atomic.Int64
	lag, writeLag                                         [LagBuckets]atomic.Int64
}

type kick struct {
	gen uint64
	at  time.Time
}

type roleKick struct {
	kick
	admin bool
}

// room is the sockets of one street and its last prepared frames.
type room struct {
	mu     sync.RWMutex
	conns  map[*conn]struct{}
	recent []cachedFrame // ring, by seq % len
}

// cachedFrame is a prepared frame kept for replays, with the sum of the
// payload it encodes: an event rewritten since (events.Log.Forget, on this
// process or any other) no longer matches and is encoded afresh, so a
// replay never serves what was forgotten.
type cachedFrame struct {
	prepared
	sum uint64
}

// prepared is an event frame encoded once for every socket of its street:
// the whole websocket frame, header included, ready for the wire (server
// frames are not masked, and the hub negotiates no compression).
type prepared struct {
	seq    int64
	admins bool // only for admins
	frame  []byte
	at     time.Time // when a live frame reached the hub (Stats.WriteLag)
}

// textFrame encodes payload as one final, unmasked text frame (RFC 6455 5.2).
func textFrame(payload []byte) []byte {
	n := len(payload)
	var b []byte
	switch {
	case n < 126:
		b = make([]byte, 2, 2+n)
		b[1] = byte(n)
	case n <= 0xffff:
		b = make([]byte, 4, 4+n)
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = make([]byte, 10, 10+n)
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b[0] = 0x80 | websocket.TextMessage // FIN, opcode
	return append(b, payload...)
}

// New returns a hub replaying from src and admitting members. Call Close to
// stop it.
func New(src Source, members Members, log *slog.Logger, opts Options) *Hub {
	opts.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{src: src, members: members, log: log, opts: opts,
		rooms: map[string]*room{}, kicks: map[string]kick{}, roles: map[string]roleKick{}, seed: maphash.MakeSeed(),
		stop: make(chan struct{}), stopped: make(chan struct{}), reset: textFrame([]byte(`{"type":"reset"}`))}
	size := opts.MaxFrame + 1
	h.readBuf.New = func() any { b := make([]byte, size); return &b }
	go h.pingLoop()
	return h
}

// Ticket admits one socket to a street's channel; Authorize issues it.
type Ticket struct {
	StreetID string
	UserID   string
	Admin    bool
	// Since, when Resume is set, is the id of the last event the client
	// has: the socket first replays what came after it.
	Since  int64
	Resume bool
	gen    uint64
}

// Authorize checks, before the upgrade, that userID may follow streetID.
func (h *Hub) Authorize(ctx context.Context, streetID, userID string) (Ticket, error) {
	h.mu.RLock()
	gen, closed := h.gen, h.closed
	h.mu.RUnlock()
	if closed {
		return Ticket{}, errClosed
	}
	if h.opts.MaxSockets > 0 && h.conns.Load() >= int64(h.opts.MaxSockets) {
		return Ticket{}, ErrFull
	}
	if h.members == nil {
		return Ticket{}, ErrNotMember
	}
	a, err := h.members(ctx, streetID, userID)
	if err != nil {
		return Ticket{}, err
	}
	if !a.Active {
		return Ticket{}, ErrNotMember
	}
	return Ticket{StreetID: streetID, UserID: userID, Admin: a.Admin, gen: gen}, nil
}

// Publish fans e out to the sockets of its street. It is the events log's
// live subscriber: it runs on the publisher's goroutine (or, for another
// process's events, the log's follower), in street order, and never blocks
// on a socket. Bans, leaves and role changes take effect here on every
// process, for the street's sockets and for those being admitted.
func (h *Hub) Publish(e events.Event) {
	h.events.Add(1)
	h.lag[lagBucket(time.Since(e.At))].Add(1)
	if e.Type == events.MemberBanned || e.Type == events.MemberLeft {
		h.endMembership(e.StreetID, e.SubjectID)
	}
	var role roleChange
	if e.Type == events.MemberRole && e.SubjectID != "" {
		if role = parseRole(e); role.ok {
			h.changeRole(e.StreetID, e.SubjectID, role.admin)
		}
	}
	h.mu.RLock()
	r := h.rooms[e.StreetID]
	h.mu.RUnlock()
	if r == nil {
		return
	}
	p, err := prepare(e)
	if err != nil {
		h.log.Error("hub: encode frame", "type", e.Type, "street", e.StreetID, "err", err)
		return
	}
	sum := h.sum(e.Payload)
	r.mu.Lock()
	r.recent[int(p.seq%int64(len(r.recent)))] = cachedFrame{p, sum}
	r.mu.Unlock()
	p.at = time.Now() // live frames only: replays leave it zero
	h.opts.Foreground.Begin()
	defer h.opts.Foreground.End()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for c := range r.conns {
		if role.ok && c.user == e.SubjectID {
			c.admin.Store(role.admin)
		}
		if c.deliver(p) {
			h.deliveries.Add(1)
		}
	}
}

// lagBucket is the Stats.Lag bucket of d: under 2^i ms in bucket i.
func lagBucket(d time.Duration) int {
	return min(bits.Len64(uint64(max(d.Milliseconds(), 0))), LagBuckets-1)
}

type roleChange struct{ ok, admin bool }

func parseRole(e events.Event) roleChange {
	var d events.MemberData
	if json.Unmarshal(e.Payload, &d) != nil {
		return roleChange{}
	}
	return roleChange{ok: true, admin: d.Role == "admin" && (d.Status == "" || d.Status == "active")}
}

func prepare(e events.Event) (prepared, error) {
	b, err := json.Marshal(e.Frame())
	if err != nil {
		return prepared{}, err
	}
	return prepared{seq: e.Seq, admins: e.Audience == events.Admins, frame: textFrame(b)}, nil
}

func (h *Hub) sum(payload []byte) uint64 { return maphash.Bytes(h.seed, payload) }

// cached returns the prepared frame of e when Publish kept it and e's
// payload is still the one it encodes.
func (h *Hub) cached(streetID string, e events.Event) (prepared, error) {
	h.mu.RLock()
	r := h.rooms[streetID]
	h.mu.RUnlock()
	if r != nil {
		r.mu.RLock()
		p := r.recent[int(e.Seq%int64(len(r.recent)))]
		r.mu.RUnlock()
		if p.seq == e.Seq && p.frame != nil && p.sum == h.sum(e.Payload) {
			return p.prepared, nil
		}
	}
	return prepare(e)
}

// changeRole records userID's new role in streetID for the sockets being
// admitted right now (see admit); Publish updates the open ones.
func (h *Hub) changeRole(streetID, userID string, admin bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	h.roles[streetID+"/"+userID] = roleKick{kick{gen: h.gen, at: time.Now()}, admin}
}

// endMembership closes userID's sockets in streetID at once, and remembers
// it for the sockets being admitted right now (see admit).
func (h *Hub) endMembership(streetID, userID string) {
	if userID == "" {
		return
	}
	h.mu.Lock()
	h.gen++
	h.kicks[streetID+"/"+userID] = kick{gen: h.gen, at: time.Now()}
	r := h.rooms[streetID]
	h.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for c := range r.conns {
		if c.user == userID {
			h.removed.Add(1)
			c.close(CloseRemoved, "no longer a member of this street")
		}
	}
}

// admit registers c in its street. A membership that ended between
// Authorize and now (a ban racing the handshake) refuses it; a role that
// changed meanwhile replaces the ticket's.
func (h *Hub) admit(c *conn, t Ticket) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errClosed
	}
	key := t.StreetID + "/" + t.UserID
	if k, ok := h.kicks[key]; ok && k.gen > t.gen {
		return ErrNotMember
	}
	if k, ok := h.roles[key]; ok && k.gen > t.gen {
		c.admin.Store(k.admin)
	}
	r := h.rooms[t.StreetID]
	if r == nil {
		r = &room{conns: map[*conn]struct{}{}, recent: make([]cachedFrame, h.opts.Recent)}
		h.rooms[t.StreetID] = r
	}
	r.mu.Lock()
	r.conns[c] = struct{}{}
	r.mu.Unlock()
	h.conns.Add(1)
	return nil
}

func (h *Hub) leave(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[c.street]
	if r == nil {
		return
	}
	r.mu.Lock()
	if _, ok := r.conns[c]; ok {
		delete(r.conns, c)
		h.conns.Add(-1)
	}
	empty := len(r.conns) == 0
	r.mu.Unlock()
	if empty {
		delete(h.rooms, c.street)
	}
}

// Serve runs one admitted socket until it closes: it replays what the
// client missed, then reads the client's frames while the writer sends the
// street's events. The websocket handler calls it and returns with it.
func (h *Hub) Serve(ws *websocket.Conn, t Ticket) {
	h.serving.Add(1)
	defer h.serving.Done()
	c := newConn(h, ws, t)
	if h.opts.SocketSendBuffer > 0 {
		setSendBuffer(ws, h.opts.SocketSendBuffer)
	}
	if t.Resume {
		c.replaying, c.last = true, t.Since
	}
	if err := h.admit(c, t); err != nil {
		code, text := CloseGoingAway, "server restarting"
		if errors.Is(err, ErrNotMember) {
			code, text = CloseRemoved, "no longer a member of this street"
		}
		c.close(code, text)
		c.finish(nil)
		return
	}
	h.accepted.Add(1)
	var readErr error
	defer func() {
		// Unregister first, so nothing is queued any more, then let the
		// writer finish: the socket is closed only after this returns.
		h.leave(c)
		c.finish(readErr)
	}()
	if t.Resume {
		c.replay(context.Background())
	}
	readErr = c.readLoop()
}

// Close ends every socket with CloseGoingAway and waits, until ctx ends,
// for their handlers to return. New sockets are refused from then on.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	var all []*conn
	for _, r := range h.rooms {
		r.mu.RLock()
		for c := range r.conns {
			all = append(all, c)
		}
		r.mu.RUnlock()
	}
	h.mu.Unlock()
	close(h.stop)
	<-h.stopped
	for _, c := range all {
		c.close(CloseGoingAway, "server restarting")
	}
	done := make(chan struct{})
	go func() {
		h.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range all {
			c.abort()
		}
		return fmt.Errorf("hub: %d sockets still open: %w", h.conns.Load(), ctx.Err())
	}
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	streets := int64(len(h.rooms))
	h.mu.RUnlock()
	st := Stats{Conns: h.conns.Load(), Streets: streets, Accepted: h.accepted.Load(), Events: h.events.Load(),
		Deliveries: h.deliveries.Load(), Replayed: h.replayed.Load(), Resets: h.resets.Load(),
		TooSlow: h.tooSlow.Load(), Removed: h.removed.Load(), Dead: h.dead.Load(), Abusive: h.abusive.Load(),
		Writers: h.writers.Load()}
	for i := range st.Lag {
		st.Lag[i] = h.lag[i].Load()
		st.WriteLag[i] = h.writeLag[i].Load()
	}
	return st
}

// pingLoop pings idle sockets, drops the ones that stopped answering, and
// forgets old membership endings. Each socket is looked at many times per
// interval; with each socket's random phase, a tick pings about 1/slices
// of them instead of all leaving at once.
func (h *Hub) pingLoop() {
	defer close(h.stopped)
	const slices = 50
	t := time.NewTicker(max(h.opts.PingInterval/slices, 10*time.Millisecond))
	defer t.Stop()
	var batch []*conn
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		batch = batch[:0]
		h.mu.Lock()
		for k, v := range h.kicks {
			if now.Sub(v.at) > time.Minute {
				delete(h.kicks, k)
			}
		}
		for k, v := range h.roles {
			if now.Sub(v.at) > time.Minute {
				delete(h.roles, k)
			}
		}
		h.mu.Unlock()
		// A read lock only: publishers, which also read, go on meanwhile.
		h.mu.RLock()
		for _, r := range h.rooms {
			r.mu.RLock()
			for c := range r.conns {
				batch = append(batch, c)
			}
			r.mu.RUnlock()
		}
		h.mu.RUnlock()
		for _, c := range batch {
			c.tick(now)
		}
		clear(batch)
	}
}
