package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/hub"
	"civico/internal/listener"
	"civico/internal/store"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// harness is a hub over a real event log (embedded database) behind a real
// fasthttp server, with a membership table the test controls.
type harness struct {
	log  *events.Log
	hub  *hub.Hub
	addr string

	mu      sync.Mutex
	members map[string]hub.Access // streetID/userID
	tickets map[string]hub.Ticket
}

func newHarness(t *testing.T, opts hub.Options, logOpts events.Options) *harness {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	if err := st.EnsureIndexes(context.Background(), events.Indexes()...); err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, st, opts, logOpts)
}

// newHarnessOn is one process's hub and log on st (which several may share).
func newHarnessOn(t *testing.T, st *store.Store, opts hub.Options, logOpts events.Options) *harness {
	t.Helper()
	h := &harness{members: map[string]hub.Access{}, tickets: map[string]hub.Ticket{}}
	h.log = events.New(st, clock.System{}, nil, logOpts)
	h.hub = hub.New(h.log, h.membership, nil, opts)
	if err := h.log.SubscribeLive(h.hub.Publish); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.log.Close(context.Background()) })

	up := websocket.FastHTTPUpgrader{
		ReadBufferSize:  256,
		WriteBufferSize: 256,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*fasthttp.RequestCtx) bool { return true },
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		q := ctx.QueryArgs()
		var tk hub.Ticket
		if id := string(q.Peek("ticket")); id != "" {
			h.mu.Lock()
			tk = h.tickets[id]
			h.mu.Unlock()
		} else {
			var err error
			tk, err = h.hub.Authorize(ctx, string(q.Peek("street")), string(q.Peek("user")))
			if err != nil {
				ctx.Error("refused", http.StatusForbidden)
				return
			}
		}
		if s := q.Peek("since"); s != nil {
			n, ok := hub.ParseID(string(s))
			if !ok {
				ctx.Error("bad since", http.StatusBadRequest)
				return
			}
			tk.Since, tk.Resume = n, true
		}
		_ = up.Upgrade(ctx, func(ws *websocket.Conn) { h.hub.Serve(ws, tk) })
	}}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The server's own listener guard, as in production: the hub's direct
	// writes must still reach the TCP connection through its wrapper.
	ln := listener.Guard(tcp, listener.Limits{FirstByte: wait}, nil)
	h.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.hub.Close(ctx); err != nil {
			t.Errorf("hub close: %v", err)
		}
		_ = srv.Shutdown()
	})
	return h
}

// writeModes are the two ways a frame leaves the hub: written at once by
// the publisher when the socket can take it, or by the socket's writer
// goroutine. Tests of order and of slow clients run in both.
var writeModes = []struct {
	name string
	opts func(hub.Options) hub.Options
}{
	{"direct", func(o hub.Options) hub.Options { return o }},
	{"writer", func(o hub.Options) hub.Options { o.NoDirectWrites = true; return o }},
}

func (h *harness) membership(_ context.Context, streetID, userID string) (hub.Access, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.members[streetID+"/"+userID], nil
}

func (h *harness) join(street, user string, admin bool) {
	h.mu.Lock()
	h.members[street+"/"+user] = hub.Access{Active: true, Admin: admin}
	h.mu.Unlock()
}

func (h *harness) url(street, user, extra string) string {
	u := fmt.Sprintf("ws://%s/ws?street=%s&user=%s", h.addr, street, user)
	if extra != "" {
		u += "&" + extra
	}
	return u
}

// publish records n post events in street and returns their ids.
func (h *harness) publish(t testing.TB, street string, n int) []int64 {
	t.Helper()
	ids := make([]int64, 0, n)
	for i := range n {
		e, err := h.log.Publish(context.Background(), events.Event{Type: events.PostCreated, StreetID: street,
			Data: events.PostData{ID: fmt.Sprintf("p%d", i), Kind: "request", Title: "post " + strconv.Itoa(i), Status: "open"}})
		if err != nil {
			t.Errorf("publish: %v", err)
			return ids
		}
		ids = append(ids, e.Seq)
	}
	return ids
}

type frame struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	StreetID string          `json:"street_id"`
	At       time.Time       `json:"at"`
	Data     json.RawMessage `json:"data"`
}

func (f frame) seq(t testing.TB) int64 {
	t.Helper()
	n, err := strconv.ParseInt(f.ID, 10, 64)
	if err != nil {
		t.Fatalf("frame id %q: %v", f.ID, err)
	}
	return n
}

// client reads its socket in the background.
type client struct {
	ws     *websocket.Conn
	frames chan frame
	done   chan error
	pings  chan struct{}
}

const wait = 20 * time.Second // a bound for what should take milliseconds

func dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: wait}
}

// smallBufferDialer dials with a 4 KB receive buffer: a client that stops
// reading soon leaves the server's writes waiting.
func smallBufferDialer() *websocket.Dialer {
	d := dialer()
	d.NetDial = func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return errors.Join(err, serr)
		}}
		return nd.Dial(network, addr)
	}
	return d
}

func (h *harness) dial(t *testing.T, street, user, extra string) *client {
	t.Helper()
	ws, res, err := dialer().Dial(h.url(street, user, extra), nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s as %s: %v (status %d)", street, user, err, status)
	}
	return read(t, ws)
}

func read(t *testing.T, ws *websocket.Conn) *client {
	c := &client{ws: ws, frames: make(chan frame, 10000), done: make(chan error, 1), pings: make(chan struct{}, 100)}
	ws.SetPingHandler(func(data string) error {
		select {
		case c.pings <- struct{}{}:
		default:
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				c.done <- err
				close(c.frames)
				return
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				c.done <- err
				close(c.frames)
				return
			}
			c.frames <- f
		}
	}()
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

func (c *client) next(t *testing.T) frame {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			t.Fatalf("socket ended while a frame was expected: %v", <-c.done)
		}
		return f
	case <-time.After(wait):
		t.Fatal("no frame")
	}
	return frame{}
}

// expect reads frames until it has the given ids, failing on anything else.
func (c *client) expect(t *testing.T, street string, ids []int64) {
	t.Helper()
	for _, want := range ids {
		f := c.next(t)
		if got := f.seq(t); got != want || f.StreetID != street {
			t.Fatalf("got frame %d of %s, want %d of %s", got, f.StreetID, want, street)
		}
	}
}

// closeCode waits for the socket to end and returns the server's close code.
func (c *client) closeCode(t *testing.T) int {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			err := <-c.done
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			t.Fatalf("socket ended without a close frame: %v", err)
		case <-timeout:
			t.Fatal("socket still open")
		}
	}
}

func seqs(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// eventually polls cond (there is no event to wait on) until a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWSEventsArriveInOrderAndOnlyInTheirStreet(t *testing.T) {
	for _, mode := range writeModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, mode.opts(hub.Options{}), events.Options{})
			for _, u := range []string{"ann", "bob"} {
				h.join("via-roma", u, false)
			}
			h.join("via-po", "carla", false)
			ann := h.dial(t, "via-roma", "ann", "")
			bob := h.dial(t, "via-roma", "bob", "")
			carla := h.dial(t, "via-po", "carla", "")
			eventually(t, "three sockets", func() bool { return h.hub.Stats().Conns == 3 })

			var roma, po []int64
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); roma = h.publish(t, "via-roma", 60) }()
			go func() { defer wg.Done(); po = h.publish(t, "via-po", 40) }()
			wg.Wait()

			ann.expect(t, "via-roma", roma)
			bob.expect(t, "via-roma", roma)
			carla.expect(t, "via-po", po)
			// Nothing of the other street follows: the next frame is the next event.
			last := h.publish(t, "via-po", 1)
			carla.expect(t, "via-po", last)
			mark := h.publish(t, "via-roma", 1)
			ann.expect(t, "via-roma", mark)
		})
	}
}

func TestWSAdminEventsReachOnlyAdmins(t *testing.T) {
	h := newHarness(t, hub.Options{}, events.Options{})
	h.join("s", "admin", true)
	h.join("s", "member", false)
	admin := h.dial(t, "s", "admin", "")
	member := h.dial(t, "s", "member", "")
	eventually(t, "two sockets", func() bool { return h.hub.Stats().Conns == 2 })

	req, err := h.log.Publish(context.Background(), events.Event{Type: events.MemberRequested, StreetID: "s",
		Audience: events.Admins, Data: events.MemberData{UserID: "x", Name: "Newcomer", Status: "pending"}})
	if err != nil {
		t.Fatal(err)
	}
	post := h.publish(t, "s", 1)
	admin.expect(t, "s", []int64{req.Seq, post[0]})
	member.expect(t, "s", post) // the join request was skipped

	// Replays hide it from members too.
	late := h.dial(t, "s", "member", "since=0")
	late.expect(t, "s", post)
}

func TestWSResumeHasNoGapAndNoDuplicate(t *testing.T) {
	h := newHarness(t, hub.Options{ReplayPage: 7}, events.Options{Memory: 16})
	h.join("s", "ann", false)
	first := h.publish(t, "s", 40)

	// Events keep coming while the socket replays from the log (pages of 7,
	// partly beyond the in-memory window): each must arrive exactly once.
	for round, since := range []int64{3, 25, 40} {
		more := make(chan []int64, 1)
		go func() { more <- h.publish(t, "s", 30) }()
		c := h.dial(t, "s", "ann", "since="+strconv.FormatInt(since, 10))
		ids := <-more
		last := ids[len(ids)-1]
		c.expect(t, "s", seqs(since+1, last))
		mark := h.publish(t, "s", 1)
		c.expect(t, "s", mark)
		_ = c.ws.Close()
		t.Logf("round %d: resumed after %d, got %d..%d", round, since, since+1, mark[0])
	}
	_ = first
}

func TestWSResumeFrame(t *testing.T) {
	h := newHarness(t, hub.Options{}, events.Options{})
	h.join("s", "ann", false)
	h.publish(t, "s", 10)
	c := h.dial(t, "s", "ann", "")
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"resume","since":"4"}`)); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "s", seqs(5, 10))
	live := h.publish(t, "s", 2)
	c.expect(t, "s", live)
}

func TestWSResumeTooOldGetsReset(t *testing.T) {
	h := newHarness(t, hub.Options{}, events.Options{KeepPerStreet: 5, Memory: 5})
	h.join("s", "ann", false)
	h.publish(t, "s", 20)
	if err := h.log.Trim(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, since := range []string{"2", "999"} { // dropped from the log; ahead of it
		c := h.dial(t, "s", "ann", "since="+since)
		if f := c.next(t); f.Type != "reset" {
			t.Fatalf("since=%s: got %+v, want a reset frame", since, f)
		}
		live := h.publish(t, "s", 1)
		c.expect(t, "s", live) // then live, nothing replayed
	}
}

// A client that stops reading is closed with 4008; the others receive
// everything, in order, meanwhile.
func TestWSSlowConsumerIsClosedOthersKeepReceiving(t *testing.T) {
	for _, mode := range writeModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, mode.opts(hub.Options{SendQueue: 8, SocketSendBuffer: 4096, CloseGrace: time.Minute}), events.Options{})
			h.join("s", "slow", false)
			h.join("s", "fast", false)
			d := smallBufferDialer()
			slow, _, err := d.Dial(h.url("s", "slow", ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = slow.Close() })
			fast := h.dial(t, "s", "fast", "")
			eventually(t, "two sockets", func() bool { return h.hub.Stats().Conns == 2 })

			body := strings.Repeat("x", 2000)
			var ids []int64
			for i := 0; h.hub.Stats().TooSlow == 0; i++ {
				if i == 2000 {
					t.Fatal("the slow client was never closed")
				}
				e, err := h.log.Publish(context.Background(), events.Event{Type: events.PostCreated, StreetID: "s",
					Data: events.PostData{ID: strconv.Itoa(i), Title: "t", Body: body}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, e.Seq)
			}
			fast.expect(t, "s", ids)
			more := h.publish(t, "s", 5)
			fast.expect(t, "s", more)
			if h.hub.Stats().Conns != 1 && h.hub.Stats().Conns != 2 {
				t.Fatalf("conns %d", h.hub.Stats().Conns)
			}

			// The slow client reads again: what was on the wire, then 4008.
			sc := read(t, slow)
			if code := sc.closeCode(t); code != hub.CloseTooSlow {
				t.Fatalf("slow client closed with %d, want %d", code, hub.CloseTooSlow)
			}
			eventually(t, "the slow socket to go", func() bool { return h.hub.Stats().Conns == 1 })
		})
	}
}

func TestWSBanClosesOnlyThatMembersSockets(t *testing.T) {
	h := newHarness(t, hub.Options{}, events.Options{})
	h.join("s", "troll", false)
	h.join("s", "ann", false)
	h.join("other", "troll", false)
	troll1 := h.dial(t, "s", "troll", "")
	troll2 := h.dial(t, "s", "troll", "")
	elsewhere := h.dial(t, "other", "troll", "")
	ann := h.dial(t, "s", "ann", "")
	eventually(t, "four sockets", func() bool { return h.hub.Stats().Conns == 4 })

	h.mu.Lock()
	delete(h.members, "s/troll")
	h.mu.Unlock()
	ban, err := h.log.Publish(context.Background(), events.Event{Type: events.MemberBanned, StreetID: "s",
		SubjectID: "troll", Data: events.MemberData{UserID: "troll", Status: "banned"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{troll1, troll2} {
		if code := c.closeCode(t); code != hub.CloseRemoved {
			t.Fatalf("banned member closed with %d, want %d", code, hub.CloseRemoved)
		}
	}
	ann.expect(t, "s", []int64{ban.Seq})
	other := h.publish(t, "other", 1)
	elsewhere.expect(t, "other", other)
	eventually(t, "two sockets", func() bool { return h.hub.Stats().Conns == 2 })
	if _, res, err := dialer().Dial(h.url("s", "troll", ""), nil); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("banned member reconnected: %v", err)
	}
}

// A ban published between the membership check and the registration of the
// socket must still keep the socket out.
func TestWSBanDuringHandshakeRefusesSocket(t *testing.T) {
	h := newHarness(t, hub.Options{}, events.Options{})
	h.join("s", "troll", false)
	tk, err := h.hub.Authorize(context.Background(), "s", "troll")
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.tickets["t1"] = tk
	h.mu.Unlock()
	if _, err := h.log.Publish(context.Background(), events.Event{Type: events.MemberLeft, StreetID: "s", SubjectID: "troll",
		Data: events.MemberData{UserID: "troll", Status: "left"}}); err != nil {
		t.Fatal(err)
	}
	ws, _, err := dialer().Dial(fmt.Sprintf("ws://%s/ws?ticket=t1", h.addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	if code := read(t, ws).closeCode(t); code != hub.CloseRemoved {
		t.Fatalf("closed with %d, want %d", code, hub.CloseRemoved)
	}
}

func TestWSNonMembersAreRefused(t *testing.T) {
	h := newHarness(t, hub.Options{}, events.Options{})
	h.join("s", "ann", false)
	h.mu.Lock()
	h.members["s/pending"] = hub.Access{Active: false}
	h.mu.Unlock()
	for _, user := range []string{"stranger", "pending"} {
		_, res, err := dialer().Dial(h.url("s", user, ""), nil)
		if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: want 403, got %v", user, err)
		}
	}
}

func TestWSDeadPeerIsDroppedLivePeerIsPinged(t *testing.T) {
	h := newHarness(t, hub.Options{PingInterval: 100 * time.Millisecond, PongWait: 400 * time.Millisecond}, events.Options{})
	h.join("s", "ann", false)
	h.join("s", "ghost", false)
	ann := h.dial(t, "s", "ann", "")
	ghost, _, err := dialer().Dial(h.url("s", "ghost", ""), nil) // never reads, never answers pings
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ghost.Close() })
	eventually(t, "two sockets", func() bool { return h.hub.Stats().Conns == 2 })
	eventually(t, "the dead peer to be dropped", func() bool { return h.hub.Stats().Dead >= 1 && h.hub.Stats().Conns == 1 })
	select {
	case <-ann.pings:
	default:
		t.Fatal("the live client was never pinged")
	}
	live := h.publish(t, "s", 1)
	ann.expect(t, "s", live)
}

func TestWSAbusiveClientFramesCloseTheSocket(t *testing.T) {
	h := newHarness(t, hub.Options{FramesPerSecond: 5}, events.Options{})
	h.join("s", "ann", false)
	cases := []struct {
		name string
		send func(ws *websocket.Conn) error
		code int
	}{
		{"frame over 4 KB", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"x","pad":"`+strings.Repeat("a", 4100)+`"}`))
		}, hub.CloseTooBig},
		{"too many frames", func(ws *websocket.Conn) error {
			for range 50 {
				if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`)); err != nil {
					return nil // the server may already have closed
				}
			}
			return nil
		}, hub.ClosePolicy},
		{"binary frame", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
		}, hub.CloseBadData},
		{"not JSON", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, []byte(`resume please`))
		}, hub.CloseBadFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(t, "s", "ann", "")
			if err := tc.send(c.ws); err != nil {
				t.Fatal(err)
			}
			if code := c.closeCode(t); code != tc.code {
				t.Fatalf("closed with %d, want %d", code, tc.code)
			}
		})
	}
	eventually(t, "no sockets", func() bool { return h.hub.Stats().Conns == 0 })
}

func TestWSCloseSaysGoingAway(t *testing.T) {
	h := newHarness(t, hub.Options{}, events.Options{})
	h.join("s", "ann", false)
	c := h.dial(t, "s", "ann", "")
	eventually(t, "one socket", func() bool { return h.hub.Stats().Conns == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if code := c.closeCode(t); code != hub.CloseGoingAway {
		t.Fatalf("closed with %d, want %d", code, hub.CloseGoingAway)
	}
}

// Many publishers, pings, resumes, bans and closes at once: under -race this
// shows that no socket is written from two goroutines and no frame is lost.
func TestWSConcurrentTrafficIsRaceFree(t *testing.T) {
	for _, mode := range writeModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, mode.opts(hub.Options{PingInterval: 20 * time.Millisecond, PongWait: 5 * time.Second, FramesPerSecond: 1000}), events.Options{})
			streets := []string{"a", "b", "c"}
			var clients []*client
			var names []string
			for i := range 12 {
				s := streets[i%3]
				u := "u" + strconv.Itoa(i)
				h.join(s, u, i%4 == 0)
				clients = append(clients, h.dial(t, s, u, ""))
				names = append(names, s)
			}
			eventually(t, "twelve sockets", func() bool { return h.hub.Stats().Conns == 12 })
			var wg sync.WaitGroup
			published := make([][]int64, 3)
			for i, s := range streets {
				wg.Add(1)
				go func() { defer wg.Done(); published[i] = h.publish(t, s, 40) }()
			}
			for _, c := range clients[:6] { // resume frames race with live traffic
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"resume","since":"0"}`))
				}()
			}
			wg.Wait()
			for i, c := range clients {
				want := published[i%3]
				// Every event arrives once and in order, whatever the resume did.
				var last int64
				for got := 0; got < len(want); {
					f := c.next(t)
					n := f.seq(t)
					if f.StreetID != names[i] {
						t.Fatalf("client %d got street %s", i, f.StreetID)
					}
					if n <= last {
						t.Fatalf("client %d: frame %d after %d", i, n, last)
					}
					last = n
					got++
					if n == want[len(want)-1] {
						break
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := h.hub.Close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A frame larger than what the socket takes at once is written in part by
// the publisher and finished by the writer goroutine: every frame arrives
// whole and in order, however the kernel cut it, and the pongs the client's
// pings ask for meanwhile never land inside one.
func TestWSFramesLargerThanTheSocketBufferArriveWhole(t *testing.T) {
	for _, mode := range writeModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, mode.opts(hub.Options{SocketSendBuffer: 4096, FramesPerSecond: 1000}), events.Options{})
			h.join("s", "ann", false)
			d := smallBufferDialer()
			ws, _, err := d.Dial(h.url("s", "ann", ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			ann := read(t, ws)
			eventually(t, "the socket", func() bool { return h.hub.Stats().Conns == 1 })
			var ids []int64
			for i := range 20 {
				body := strings.Repeat(string(rune('a'+i)), 30000+i*101) // over the ~16 KB both buffers hold
				e, err := h.log.Publish(context.Background(), events.Event{Type: events.PostCreated, StreetID: "s",
					Data: events.PostData{ID: strconv.Itoa(i), Title: "t", Body: body}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, e.Seq)
				if err := ws.WriteControl(websocket.PingMessage, []byte(strconv.Itoa(i)), time.Now().Add(wait)); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range ids {
				f := ann.next(t)
				var d events.PostData
				if err := json.Unmarshal(f.Data, &d); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if f.seq(t) != want || len(d.Body) != 30000+i*101 || d.Body[0] != byte('a'+i) {
					t.Fatalf("frame %d: id %d (want %d), body of %d bytes", i, f.seq(t), want, len(d.Body))
				}
			}
			if st := h.hub.Stats(); st.TooSlow != 0 || st.Conns != 1 {
				t.Fatalf("stats after the frames: %+v", st)
			}
		})
	}
}

func TestSocketBudgetKeepsRoomForTheAPI(t *testing.T) {
	h := newHarness(t, hub.Options{MaxSockets: 2}, events.Options{})
	for _, u := range []string{"u1", "u2", "u3"} {
		h.join("s1", u, false)
	}
	c1, c2 := h.dial(t, "s1", "u1", ""), h.dial(t, "s1", "u2", "")
	// A frame received means its socket was admitted (and counted). Frames
	// go out directly through the listener's wrapper: no writer goroutine
	// is woken for a socket that takes them at once.
	h.publish(t, "s1", 1)
	c1.next(t)
	c2.next(t)
	if w := h.hub.Stats().Writers; w != 0 {
		t.Errorf("%d writer goroutines for sockets that took their frame at once", w)
	}
	if _, err := h.hub.Authorize(context.Background(), "s1", "u3"); !errors.Is(err, hub.ErrFull) {
		t.Fatalf("a socket over the budget: got %v, want ErrFull", err)
	}
}
