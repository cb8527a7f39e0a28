package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"civico/internal/events"

	"github.com/fasthttp/websocket"
)

// conn is one socket of a street's channel.
//
// Two goroutines touch it: the read loop (the handler's goroutine, for the
// socket's life) and the writer, which runs only while something is queued
// and is the only one that ever writes to the socket (frames, pings, pongs
// and the close frame alike). The publisher only appends under mu.
type conn struct {
	hub *Hub
	ws  *websocket.Conn
	nc  net.Conn // what frames are written to (control frames go through ws)
	// raw, when the socket is a plain TCP one, lets a frame be written
	// without a goroutine when the socket can take it at once (direct).
	raw     syscall.RawConn
	writeFd func(fd uintptr) bool // c.writeFdOnce, made once
	direct  []byte                // what writeFd writes (under mu)
	directN int                   // how much of it the socket took
	street  string
	user    string
	admin   atomic.Bool
	seen    atomic.Int64 // unix nanoseconds of the last frame from the client

	mu    sync.Mutex
	queue []prepared // waiting for the writer; nil when empty
	// partial: queue[0] is the rest of a frame the socket took in part;
	// it goes before anything else, and is never dropped while the socket
	// may still be written to, or the stream would break.
	partial   bool
	pending   []prepared // live events held back while a replay runs
	replaying bool
	first     int64 // seq of the first event handled on this socket, 0 for none
	last      int64 // seq of the last event handled (queued or not for this member)
	writing   bool  // a writer goroutine is running
	idle      chan struct{}
	pingDue   bool
	pongDue   bool
	pongData  []byte
	closing   bool
	closeMsg  []byte // the close frame to send; nil when the peer is gone
	closeSent bool
	lastPing  time.Time

	// read loop only
	tokens float64
	refill time.Time
}

func newConn(h *Hub, ws *websocket.Conn, t Ticket) *conn {
	now := time.Now()
	// A random phase: sockets that connected together (a reconnect storm,
	// a restart) are pinged spread over the interval, not in one burst
	// that delays every delivery behind thousands of writes.
	phase := time.Duration(rand.Int64N(int64(h.opts.PingInterval)))
	c := &conn{hub: h, ws: ws, nc: ws.NetConn(), street: t.StreetID, user: t.UserID, lastPing: now.Add(-phase), refill: now,
		tokens: float64(2 * h.opts.FramesPerSecond)}
	if sc, ok := rawConn(ws).(syscall.Conn); ok && !h.opts.NoDirectWrites {
		c.raw, _ = sc.SyscallConn()
		c.writeFd = c.writeFdOnce
	}
	c.admin.Store(t.Admin)
	c.seen.Store(now.UnixNano())
	return c
}

// deliver queues a live event. It never blocks: a full queue closes the
// socket. It reports whether the frame was queued.
func (c *conn) deliver(p prepared) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	if c.replaying {
		if len(c.pending) >= c.hub.opts.SendQueue {
			c.hub.tooSlow.Add(1)
			c.closeLocked(CloseTooSlow, "too slow")
			return false
		}
		c.pending = append(c.pending, p)
		return false
	}
	return c.pushLocked(p, true)
}

// pushLocked queues p unless this socket already handled it or it is not
// for this member. A bounded push into a full queue closes the socket; an
// unbounded one (replays, which wait for the queue to drain) does not.
func (c *conn) pushLocked(p prepared, bounded bool) bool {
	if p.seq <= c.last {
		return false
	}
	c.last = p.seq
	if c.first == 0 {
		c.first = p.seq
	}
	if p.admins && !c.admin.Load() {
		return false
	}
	if bounded && len(c.queue) >= c.hub.opts.SendQueue {
		c.hub.tooSlow.Add(1)
		c.closeLocked(CloseTooSlow, "too slow")
		return false
	}
	c.sendLocked(p)
	return true
}

// idleLocked says whether nothing is on its way to the socket: no writer
// running and nothing queued.
func (c *conn) idleLocked() bool {
	return len(c.queue) == 0 && !c.writing && !c.closeSent
}

// sendLocked writes p here, without blocking, when nothing else is on its
// way to the socket; what the socket does not take at once, or everything
// when something is on its way, goes to the writer.
func (c *conn) sendLocked(p prepared) {
	if c.idleLocked() {
		n := c.writeDirectLocked(p.frame)
		if n == len(p.frame) {
			c.wrote(p)
			return
		}
		if n > 0 {
			p.frame, c.partial = p.frame[n:], true
		}
	}
	c.queue = append(c.queue, p)
	c.startWriterLocked()
}

// dropQueuedLocked drops the frames not begun yet; the rest of one the
// socket has in part stays, to be finished first.
func (c *conn) dropQueuedLocked() {
	if c.partial && len(c.queue) > 0 {
		c.queue = c.queue[:1:1]
		return
	}
	c.queue = nil
}

// popLocked takes the head of the queue.
func (c *conn) popLocked() prepared {
	p := c.queue[0]
	c.queue[0] = prepared{}
	if c.queue = c.queue[1:]; len(c.queue) == 0 {
		c.queue = nil
	}
	return p
}

// writeDirectLocked writes as much of b as the socket takes without
// waiting, and returns how much that was. The caller holds mu with no
// writer running, so it is the socket's only writer meanwhile.
//
// Most frames go out this way: waking a goroutine per socket for every
// event of a big street cost more than the writes themselves, and under
// load the wake-ups waited for the scheduler for tens of milliseconds.
func (c *conn) writeDirectLocked(b []byte) int {
	if c.raw == nil {
		return 0
	}
	c.direct, c.directN = b, 0
	// An error (a write deadline that passed, a closed socket) writes
	// nothing: the writer goroutine then meets it and acts on it.
	_ = c.raw.Write(c.writeFd)
	n := c.directN
	c.direct = nil
	return n
}

// writeFdOnce writes c.direct to the socket's descriptor until the kernel
// takes no more; it never waits. It is a method value made once per
// socket, with its state in the conn (under mu), so that a frame written
// allocates nothing: the fan-out loop then never pays for the collector.
//
// The write is a raw system call: the socket is non-blocking, so the call
// returns at once, and the fan-out keeps its Go processor. Through
// syscall.Write the runtime may hand the processor to another goroutine
// while the call runs (a database command, a photo), and the fan-out then
// queues for one before its next frame: with 100 frames per event that
// was much of the load test's fan-out tail (with the app's other changes
// of that day, p99 ÷ bare broadcast 2.9 → 1.9–2.3 on 2 vCPU).
func (c *conn) writeFdOnce(fd uintptr) bool {
	for c.directN < len(c.direct) {
		b := c.direct[c.directN:]
		r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 || int(r) <= 0 {
			break // EAGAIN: the socket is full for now
		}
		c.directN += int(r)
	}
	return true
}

// wrote counts a frame written to the socket.
func (c *conn) wrote(p prepared) {
	if !p.at.IsZero() {
		c.hub.writeLag[lagBucket(time.Since(p.at))].Add(1)
	}
}

func (c *conn) startWriterLocked() {
	if c.writing || c.closeSent {
		return
	}
	c.writing = true
	c.hub.writers.Add(1)
	go c.writeLoop()
}

// close asks the writer to end the socket with code; the read loop ends
// when the client answers, or after CloseGrace.
func (c *conn) close(code int, text string) {
	c.mu.Lock()
	c.closeLocked(code, text)
	c.mu.Unlock()
}

func (c *conn) closeLocked(code int, text string) {
	if c.closing {
		return
	}
	c.closing = true
	c.closeMsg = websocket.FormatCloseMessage(code, text)
	c.dropQueuedLocked()
	c.pending = nil
	// A write in progress may be stuck on a client that stopped reading:
	// give it CloseGrace at most.
	_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(c.hub.opts.CloseGrace))
	c.startWriterLocked()
}

// abort closes the socket without a close frame (dead peer, failed write).
func (c *conn) abort() {
	_ = rawConn(c.ws).Close()
}

// rawConn is the TCP connection under ws: closing the hijacked wrapper
// fasthttp hands out does nothing, by design of fasthttp.
func rawConn(ws *websocket.Conn) net.Conn {
	nc := ws.NetConn()
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}

func setSendBuffer(ws *websocket.Conn, n int) {
	if tc, ok := rawConn(ws).(interface{ SetWriteBuffer(int) error }); ok {
		_ = tc.SetWriteBuffer(n)
	}
}

type job int

const (
	jobNone job = iota
	jobFrame
	jobPing
	jobPong
	jobClose
)

// nextLocked takes what the writer sends next. The rest of a frame the
// socket took in part comes first, whatever else is due: anything written
// before it would land inside that frame. Then a pong, then the close frame
// (frames not begun are dropped by then), then frames, then a ping.
func (c *conn) nextLocked() (j job, p prepared, data []byte) {
	switch {
	case c.closeSent:
	case c.partial:
		j, p, c.partial = jobFrame, c.popLocked(), false
	case c.pongDue:
		j, data, c.pongDue, c.pongData = jobPong, c.pongData, false, nil
	case c.closing:
		if c.closeMsg != nil {
			j, data = jobClose, c.closeMsg
		}
	case len(c.queue) > 0:
		j, p = jobFrame, c.popLocked()
	case c.pingDue:
		j, c.pingDue = jobPing, false
	}
	return j, p, data
}

// writeLoop writes whatever is due, then exits; deliver starts it again.
func (c *conn) writeLoop() {
	defer c.hub.writers.Add(-1)
	for {
		c.mu.Lock()
		j, p, data := c.nextLocked()
		if j == jobNone {
			if !c.closing {
				// Frames, pings and pongs left a write deadline behind:
				// clear it, or the next direct write would meet it.
				_ = c.nc.SetWriteDeadline(time.Time{})
			}
			c.writing = false
			if c.idle != nil {
				close(c.idle)
				c.idle = nil
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		var err error
		deadline := time.Now().Add(c.hub.opts.WriteTimeout)
		switch j {
		case jobFrame:
			_ = c.nc.SetWriteDeadline(deadline)
			if _, err = c.nc.Write(p.frame); err == nil {
				c.wrote(p)
			}
		case jobPing:
			err = c.ws.WriteControl(websocket.PingMessage, nil, deadline)
		case jobPong:
			err = c.ws.WriteControl(websocket.PongMessage, data, deadline)
		case jobClose:
			err = c.ws.WriteControl(websocket.CloseMessage, data, time.Now().Add(c.hub.opts.CloseGrace))
			// The read loop ends when the client answers the close, or
			// after the grace period if it does not.
			_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(c.hub.opts.CloseGrace))
		}
		if err != nil || j == jobClose {
			c.mu.Lock()
			c.closing, c.closeSent, c.queue, c.pending, c.partial = true, true, nil, nil, false
			c.mu.Unlock()
			if err != nil {
				c.abort()
			}
		}
	}
}

// tick is the ping loop's look at this socket.
func (c *conn) tick(now time.Time) {
	if now.Sub(time.Unix(0, c.seen.Load())) > c.hub.opts.PongWait {
		c.hub.dead.Add(1)
		c.abort()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || now.Sub(c.lastPing) < c.hub.opts.PingInterval {
		return
	}
	c.lastPing = now
	if c.idleLocked() {
		// Most sockets are idle: no goroutine for their ping either.
		c.sendLocked(prepared{frame: pingFrame})
		return
	}
	c.pingDue = true
	c.startWriterLocked()
}

// pingFrame is an empty ping (RFC 6455 5.5.2), as the server sends it.
var pingFrame = []byte{0x80 | websocket.PingMessage, 0}

func (c *conn) touch() { c.seen.Store(time.Now().UnixNano()) }

// allow spends a token of the client's frame budget.
func (c *conn) allow() bool {
	now := time.Now()
	rate := float64(c.hub.opts.FramesPerSecond)
	c.tokens = min(2*rate, c.tokens+now.Sub(c.refill).Seconds()*rate)
	c.refill = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// clientFrame is what a client may send.
type clientFrame struct {
	Type  string          `json:"type"`
	Since json.RawMessage `json:"since"`
}

// readLoop reads the client's frames until the socket ends. Control frames
// are answered through the writer, never from here.
func (c *conn) readLoop() error {
	ws := c.ws
	ws.SetPingHandler(func(data string) error {
		c.touch()
		if !c.allow() {
			c.hub.abusive.Add(1)
			c.close(ClosePolicy, "too many messages")
			return nil
		}
		c.mu.Lock()
		if !c.closing {
			c.pongDue, c.pongData = true, []byte(data)
			c.startWriterLocked()
		}
		c.mu.Unlock()
		return nil
	})
	ws.SetPongHandler(func(string) error {
		c.touch()
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		// The client closes, or answers our close: echo its code once.
		msg := websocket.FormatCloseMessage(code, "")
		if code == websocket.CloseNoStatusReceived {
			msg = []byte{}
		}
		c.close2(msg)
		return nil
	})
	for {
		mt, r, err := ws.NextReader()
		if err != nil {
			return err
		}
		c.touch()
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			continue // drained and dropped until the client answers the close
		}
		if !c.allow() {
			c.hub.abusive.Add(1)
			c.close(ClosePolicy, "too many messages")
			continue
		}
		if mt != websocket.TextMessage {
			c.hub.abusive.Add(1)
			c.close(CloseBadData, "text frames only")
			continue
		}
		bp := c.hub.readBuf.Get().(*[]byte)
		n, err := io.ReadFull(r, *bp)
		switch {
		case err == nil: // filled MaxFrame+1 bytes: too large
			c.hub.abusive.Add(1)
			c.close(CloseTooBig, "frame too large")
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			c.handle((*bp)[:n])
		default:
			c.hub.readBuf.Put(bp)
			return err
		}
		c.hub.readBuf.Put(bp)
	}
}

// close2 ends the socket with a ready close frame (the echo of the client's).
func (c *conn) close2(msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.closeMsg, c.pending = true, msg, nil
	c.dropQueuedLocked()
	c.startWriterLocked()
}

// handle acts on one client frame.
func (c *conn) handle(b []byte) {
	var f clientFrame
	if err := json.Unmarshal(b, &f); err != nil {
		c.hub.abusive.Add(1)
		c.close(CloseBadFrame, "frames must be JSON")
		return
	}
	switch f.Type {
	case "resume":
		since, ok := parseSince(f.Since)
		if !ok {
			c.close(CloseBadFrame, "since must be an event id")
			return
		}
		c.resume(since)
	default:
		// Unknown frames are ignored: newer clients may send more.
	}
}

// parseSince accepts an event id as a JSON string ("42") or number (42).
func parseSince(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	return ParseID(string(raw))
}

// ParseID parses an event id as clients send it.
func ParseID(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// resume answers a resume frame sent on a live socket.
func (c *conn) resume(since int64) {
	c.mu.Lock()
	switch {
	case c.closing:
		c.mu.Unlock()
		return
	case c.first == 0 || since >= c.last:
		// Nothing after since was sent yet: replay from there.
		kept := c.queue[:0]
		for i, p := range c.queue {
			if p.seq > since || p.seq == 0 || (i == 0 && c.partial) {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			kept = nil
		}
		c.queue, c.replaying, c.last = kept, true, since
		c.mu.Unlock()
		c.replay(context.Background())
	case since >= c.first-1:
		// Everything after since is already on its way, in order.
		c.mu.Unlock()
	default:
		// The client misses events older than this socket: they cannot be
		// sent in order any more, so it refetches.
		c.hub.resets.Add(1)
		c.queue = append(c.queue, prepared{frame: c.hub.reset})
		c.startWriterLocked()
		c.mu.Unlock()
	}
}

// replay sends the events after c.last from the log, then the live events
// that arrived meanwhile, skipping what the log already gave: no gap, no
// duplicate. The socket was registered before, so every event is either in
// the log when read or held in pending.
func (c *conn) replay(ctx context.Context) {
	page := c.hub.opts.ReplayPage
	for {
		c.mu.Lock()
		from, closing := c.last, c.closing
		c.mu.Unlock()
		if closing {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		evs, err := c.hub.src.Since(rctx, c.street, from, page)
		cancel()
		if errors.Is(err, events.ErrGap) {
			c.hub.resets.Add(1)
			c.mu.Lock()
			if !c.closing {
				c.queue = append(c.queue, prepared{frame: c.hub.reset})
				c.first, c.last = 0, 0
				c.drainPendingLocked()
				c.startWriterLocked()
			}
			c.mu.Unlock()
			return
		}
		if err != nil {
			c.hub.log.Error("hub: replay", "street", c.street, "err", err)
			c.close(CloseInternal, "try again later")
			return
		}
		ps := make([]prepared, 0, len(evs))
		for _, e := range evs {
			p, err := c.hub.cached(c.street, e)
			if err != nil {
				c.hub.log.Error("hub: encode frame", "street", c.street, "seq", e.Seq, "err", err)
				c.close(CloseInternal, "try again later")
				return
			}
			ps = append(ps, p)
		}
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return
		}
		for _, p := range ps {
			if c.pushLocked(p, false) {
				c.hub.replayed.Add(1)
			}
		}
		if len(evs) < page {
			c.drainPendingLocked()
			c.mu.Unlock()
			return
		}
		// Let the writer catch up before reading the next page.
		wait := make(chan struct{})
		if c.writing {
			c.idle = wait
		} else {
			close(wait)
		}
		c.mu.Unlock()
		<-wait
	}
}

func (c *conn) drainPendingLocked() {
	for _, p := range c.pending {
		if c.pushLocked(p, false) {
			c.hub.deliveries.Add(1)
		}
	}
	c.pending, c.replaying = nil, false
}

// finish ends the socket after the read loop: nothing more is queued, a
// close frame still due is sent, and the writer is waited for so that the
// handler returns only when no goroutine uses the socket any more.
func (c *conn) finish(readErr error) {
	c.mu.Lock()
	if !c.closing {
		// The read failed: the client is gone, there is nobody to tell.
		c.closing, c.closeMsg, c.queue, c.pending, c.partial = true, nil, nil, nil, false
	}
	var wait chan struct{}
	if c.writing {
		wait = make(chan struct{})
		c.idle = wait
	}
	c.mu.Unlock()
	if wait != nil {
		if readErr != nil && !websocket.IsCloseError(readErr, websocket.CloseNormalClosure, websocket.CloseGoingAway,
			CloseTooSlow, CloseRemoved) {
			// Do not wait long for a client that is gone.
			_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
		}
		<-wait
	}
}
