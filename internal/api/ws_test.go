package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/clock"
	"civico/internal/config"
	"civico/internal/events"
	"civico/internal/hub"
	"civico/internal/testutil"

	"github.com/fasthttp/websocket"
)

func frameSeq(t *testing.T, f testutil.WSFrame) int64 {
	t.Helper()
	n, err := strconv.ParseInt(f.ID, 10, 64)
	if err != nil {
		t.Fatalf("frame id %q: %v", f.ID, err)
	}
	return n
}

func postTitle(t *testing.T, f testutil.WSFrame) string {
	t.Helper()
	var d struct {
		Title string `json:"title"`
	}
	if err := json.Unmarshal(f.Data, &d); err != nil {
		t.Fatalf("frame data %s: %v", f.Data, err)
	}
	return d.Title
}

// waitConns waits until the hub holds n sockets: the handshake's answer
// reaches the client before the socket is registered.
func waitConns(t *testing.T, s *testutil.Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.App.Hub.Stats().Conns != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub holds %d sockets, want %d", s.App.Hub.Stats().Conns, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Members see their street's events as they happen, in order, each as one
// frame; the neighbouring street's never.
func TestWSStreetEventsArriveInOrderOnlyToTheirStreet(t *testing.T) {
	s := testutil.Start(t)
	admin, ann, bob := s.Register(t, "Admin Roma"), s.Register(t, "Ann"), s.Register(t, "Bob")
	roma := s.StreetWithMembers(t, admin, "Via Roma", ann)
	po := s.StreetWithMembers(t, bob, "Via Po")
	annWS := s.ConnectWS(t, ann, roma, "")
	adminWS := s.ConnectWS(t, admin, roma, "")
	bobWS := s.ConnectWS(t, bob, po, "")
	waitConns(t, s, 3)

	var titles []string
	for i := range 5 {
		titles = append(titles, "Trapano da prestare "+strconv.Itoa(i))
		s.CreatePost(t, admin, roma, "offer", titles[i])
		s.CreatePost(t, bob, po, "request", "Via Po "+strconv.Itoa(i))
	}
	pid := s.CreatePost(t, ann, roma, "request", "Cerco babysitter")
	s.Reply(t, admin, pid, "Ci sono io sabato")

	for _, ws := range []*testutil.WS{annWS, adminWS} {
		var last int64
		for i, want := range append(titles, "Cerco babysitter") {
			f := ws.Next(t)
			if f.Type != "post.created" || f.StreetID != roma || postTitle(t, f) != want {
				t.Fatalf("frame %d: %s %s %q, want post.created %q in %s", i, f.Type, f.StreetID, postTitle(t, f), want, roma)
			}
			if n := frameSeq(t, f); n <= last || f.At.IsZero() {
				t.Fatalf("frame %d: id %d after %d, at %v", i, n, last, f.At)
			} else {
				last = n
			}
		}
		if f := ws.Next(t); f.Type != "reply.created" || frameSeq(t, f) != last+1 {
			t.Fatalf("got %s %s, want reply.created %d", f.Type, f.ID, last+1)
		}
	}
	for i := range 5 {
		if f := bobWS.Next(t); f.StreetID != po || postTitle(t, f) != "Via Po "+strconv.Itoa(i) {
			t.Fatalf("Via Po got %s %q", f.StreetID, postTitle(t, f))
		}
	}
	// Nothing of Via Roma follows on Via Po's channel.
	s.CreatePost(t, bob, po, "offer", "Ultimo")
	if f := bobWS.Next(t); postTitle(t, f) != "Ultimo" {
		t.Fatalf("Via Po got %q", postTitle(t, f))
	}
}

// A client that was away resumes with since: after a server restart it
// gets exactly what it missed, from the database, then live events. A
// socket open during the restart is told the server is going away.
func TestWSResumeAcrossRestart(t *testing.T) {
	s := testutil.Start(t)
	admin, ann := s.Register(t, "Admin"), s.Register(t, "Ann")
	sid := s.StreetWithMembers(t, admin, "Via Resume", ann)
	ws := s.ConnectWS(t, ann, sid, "")
	waitConns(t, s, 1)
	s.CreatePost(t, admin, sid, "offer", "prima")
	seen := ws.Next(t)
	watcher := s.ConnectWS(t, admin, sid, "")
	waitConns(t, s, 2)
	_ = ws.Conn.Close()
	waitConns(t, s, 1)

	s.CreatePost(t, admin, sid, "offer", "seconda")
	s.CreatePost(t, admin, sid, "offer", "terza")
	s.Restart(t)
	if code := watcher.CloseCode(t); code != websocket.CloseGoingAway {
		t.Fatalf("socket open during the restart closed with %d, want %d", code, websocket.CloseGoingAway)
	}

	back := s.ConnectWS(t, ann, sid, seen.ID)
	waitConns(t, s, 1)
	s.CreatePost(t, admin, sid, "offer", "quarta")
	for i, want := range []string{"seconda", "terza", "quarta"} {
		f := back.Next(t)
		if f.Type != "post.created" || postTitle(t, f) != want || frameSeq(t, f) != frameSeq(t, seen)+int64(i)+1 {
			t.Fatalf("after resume got %s %s %q, want %q", f.ID, f.Type, postTitle(t, f), want)
		}
	}

	// A resume frame does the same on an open socket; a point older than
	// the log (or unknown to it) gets a reset.
	again := s.ConnectWS(t, ann, sid, "")
	waitConns(t, s, 2)
	if err := again.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"resume","since":"`+seen.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"seconda", "terza", "quarta"} {
		if got := postTitle(t, again.Next(t)); got != want {
			t.Fatalf("resume frame: got %q, want %q", got, want)
		}
	}
	ahead := s.ConnectWS(t, ann, sid, "999999")
	if f := ahead.Next(t); f.Type != "reset" {
		t.Fatalf("since ahead of the log: got %+v, want a reset frame", f)
	}
}

// Only active members of the street get a socket; everything else is
// refused before the upgrade with the API's error shape.
func TestWSRefusedUpgrades(t *testing.T) {
	fake := clock.NewFake(time.Now())
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }),
		testutil.WithConfig(func(c *config.Config) { c.AllowedOrigins = []string{"https://app.civico.example"} }))
	admin, ann, stranger, pending := s.Register(t, "Admin"), s.Register(t, "Ann"), s.Register(t, "Stranger"), s.Register(t, "Pending")
	sid := s.StreetWithMembers(t, admin, "Via Chiusa", ann)
	other := s.CreateStreet(t, stranger, "Via Altra")
	s.Do(t, "POST", "/streets/"+sid+"/join", map[string]string{"message": "ciao"}, pending.Token).Expect(t, http.StatusAccepted)
	expiring := s.Register(t, "Expiring")
	s.AddMember(t, admin, expiring, sid)
	fake.Advance(16 * time.Minute) // access tokens last 15 minutes
	ann, pending = refreshed(t, s, ann), refreshed(t, s, pending)

	cases := []struct {
		name   string
		street string
		dial   testutil.WSDial
		status int
		code   string
	}{
		{"no token", sid, testutil.WSDial{}, 401, "unauthorized"},
		{"bad token", sid, testutil.WSDial{Token: "not.a.jwt"}, 401, "invalid_token"},
		{"expired token", sid, testutil.WSDial{Token: expiring.Token}, 401, "token_expired"},
		{"foreign street", other, testutil.WSDial{Token: ann.Token}, 403, "not_member"},
		{"pending member", sid, testutil.WSDial{Token: pending.Token}, 403, "not_member"},
		{"unknown street", "0123456789abcdef01234567", testutil.WSDial{Token: ann.Token}, 404, "street_not_found"},
		{"malformed street", "nope", testutil.WSDial{Token: ann.Token}, 404, "not_found"},
		{"foreign origin", sid, testutil.WSDial{Token: ann.Token, Origin: "https://evil.example"}, 403, "origin_not_allowed"},
		{"no origin", sid, testutil.WSDial{Token: ann.Token, Origin: "-"}, 403, "origin_not_allowed"},
		{"the internal origin mark", sid, testutil.WSDial{Token: ann.Token, Origin: "civico:origin-checked"}, 403, "origin_not_allowed"},
		{"bad since", sid, testutil.WSDial{Token: ann.Token, Since: "-3"}, 422, "validation_failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, r, err := s.DialWS(t, tc.street, tc.dial)
			if err == nil {
				t.Fatal("the upgrade was accepted")
			}
			if r == nil || r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Fatalf("got %v, want %d %s", r, tc.status, tc.code)
			}
		})
	}
	t.Run("plain GET", func(t *testing.T) {
		s.Do(t, "GET", "/streets/"+sid+"/ws", nil, ann.Token).ExpectError(t, 400, "upgrade_required")
	})
	t.Run("token in the query, allowed origin", func(t *testing.T) {
		ws, r, err := s.DialWS(t, sid, testutil.WSDial{Token: ann.Token, TokenInQuery: true, Origin: "https://app.civico.example"})
		if err != nil {
			t.Fatalf("refused: %v %v", err, r)
		}
		if p := ws.Conn.Subprotocol(); p != "" {
			t.Fatalf("subprotocol %q answered to a client that offered none", p)
		}
	})
	t.Run("subprotocol answered", func(t *testing.T) {
		ws := s.ConnectWS(t, ann, sid, "")
		if p := ws.Conn.Subprotocol(); p != "civico" {
			t.Fatalf("subprotocol %q, want civico", p)
		}
	})
}

func refreshed(t *testing.T, s *testutil.Server, u *testutil.User) *testutil.User {
	t.Helper()
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": u.RefreshToken}, "").Expect(t, http.StatusOK).JSON(t, &out)
	c := *u
	c.Token, c.RefreshToken = out.AccessToken, out.RefreshToken
	return &c
}

// A member who is banned, or leaves, loses the channel at once; the others
// see the change and stay connected.
func TestWSBanAndLeaveDisconnect(t *testing.T) {
	s := testutil.Start(t)
	admin, troll, ann := s.Register(t, "Admin"), s.Register(t, "Troll"), s.Register(t, "Ann")
	sid := s.StreetWithMembers(t, admin, "Via Severa", troll, ann)
	trollPhone := s.ConnectWS(t, troll, sid, "")
	trollLaptop := s.ConnectWS(t, troll, sid, "")
	annWS := s.ConnectWS(t, ann, sid, "")
	adminWS := s.ConnectWS(t, admin, sid, "")
	waitConns(t, s, 4)

	s.Do(t, "POST", "/streets/"+sid+"/members/"+troll.ID+"/ban", map[string]string{"reason": "insulti"}, admin.Token).Expect(t, http.StatusOK)
	for _, ws := range []*testutil.WS{trollPhone, trollLaptop} {
		if code := ws.CloseCode(t); code != hub.CloseRemoved {
			t.Fatalf("banned member's socket closed with %d, want %d", code, hub.CloseRemoved)
		}
	}
	if f := annWS.Next(t); f.Type != "member.banned" {
		t.Fatalf("ann got %s, want member.banned", f.Type)
	}
	if _, r, err := s.DialWS(t, sid, testutil.WSDial{Token: troll.Token}); err == nil || r.Status != http.StatusForbidden {
		t.Fatalf("banned member reconnected: %v", r)
	}

	s.Do(t, "DELETE", "/streets/"+sid+"/members/me", nil, ann.Token).Expect(t, http.StatusNoContent)
	if code := annWS.CloseCode(t); code != hub.CloseRemoved {
		t.Fatalf("leaving member's socket closed with %d, want %d", code, hub.CloseRemoved)
	}
	adminWS.NextOf(t, "member.left")
	waitConns(t, s, 1)
	s.CreatePost(t, admin, sid, "offer", "ancora qui")
	if f := adminWS.Next(t); postTitle(t, f) != "ancora qui" {
		t.Fatalf("admin got %q", postTitle(t, f))
	}
}

// Join requests are for admins only.
func TestWSAdminOnlyEvents(t *testing.T) {
	s := testutil.Start(t)
	admin, ann, carla := s.Register(t, "Admin"), s.Register(t, "Ann"), s.Register(t, "Carla")
	sid := s.StreetWithMembers(t, admin, "Via Riservata", ann)
	adminWS := s.ConnectWS(t, admin, sid, "")
	annWS := s.ConnectWS(t, ann, sid, "")
	waitConns(t, s, 2)
	s.Do(t, "POST", "/streets/"+sid+"/join", map[string]string{"message": "abito al 12"}, carla.Token).Expect(t, http.StatusAccepted)
	s.CreatePost(t, ann, sid, "request", "dopo")
	if f := adminWS.Next(t); f.Type != "member.requested" {
		t.Fatalf("admin got %s, want member.requested", f.Type)
	}
	if f := annWS.Next(t); f.Type != "post.created" || postTitle(t, f) != "dopo" {
		t.Fatalf("member got %s %q, want only the post", f.Type, postTitle(t, f))
	}
}

// A client that stops reading is closed with 4008 while the others keep
// receiving everything, in order.
func TestWSSlowConsumerIsClosedOthersKeepReceiving(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.WSSendQueue = 8 }))
	admin, slow, fast := s.Register(t, "Admin"), s.Register(t, "Slow"), s.Register(t, "Fast")
	sid := s.StreetWithMembers(t, admin, "Via Lenta", slow, fast)
	d := &websocket.Dialer{HandshakeTimeout: 20 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return errors.Join(err, serr)
		}}
		return nd.Dial(network, addr)
	}}
	// The slow client reads nothing until the hub gave up on it.
	slowWS, _, err := s.DialWS(t, sid, testutil.WSDial{Token: slow.Token, Dialer: d, Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	fastWS := s.ConnectWS(t, fast, sid, "")
	waitConns(t, s, 2)

	body := strings.Repeat("lungo ", 650)
	var sent []int64
	for i := 0; s.App.Hub.Stats().TooSlow == 0; i++ {
		if i == 3000 {
			t.Fatal("the slow client was never closed")
		}
		e, err := s.App.Events.Publish(context.Background(), events.Event{Type: events.PostCreated, StreetID: sid,
			Data: events.PostData{ID: strconv.Itoa(i), Title: "t" + strconv.Itoa(i), Body: body}})
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, e.Seq)
	}
	for _, want := range sent {
		if f := fastWS.Next(t); frameSeq(t, f) != want {
			t.Fatalf("fast client got %s, want %d", f.ID, want)
		}
	}
	s.CreatePost(t, admin, sid, "offer", "dopo")
	if f := fastWS.Next(t); postTitle(t, f) != "dopo" {
		t.Fatalf("fast client got %q", postTitle(t, f))
	}
	slowWS.Start()
	if code := slowWS.CloseCode(t); code != hub.CloseTooSlow {
		t.Fatalf("slow client closed with %d, want %d", code, hub.CloseTooSlow)
	}
	waitConns(t, s, 1)
}

// Fiber's read and idle timeouts apply to HTTP requests, not to upgraded
// sockets: a quiet, healthy socket outlives them (kept by pings).
func TestWSHealthySocketOutlivesHTTPTimeouts(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) {
		c.ReadTimeout, c.IdleTimeout, c.WSPingInterval = 100*time.Millisecond, 100*time.Millisecond, 150*time.Millisecond
	}))
	admin := s.Register(t, "Admin")
	sid := s.CreateStreet(t, admin, "Via Tranquilla")
	ws := s.ConnectWS(t, admin, sid, "")
	waitConns(t, s, 1)
	deadline := time.Now().Add(20 * time.Second)
	for ws.Pings() < 4 { // well past both timeouts
		if time.Now().After(deadline) {
			t.Fatalf("only %d pings", ws.Pings())
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.CreatePost(t, admin, sid, "offer", "sveglia")
	if f := ws.Next(t); postTitle(t, f) != "sveglia" {
		t.Fatalf("got %q", postTitle(t, f))
	}
}
