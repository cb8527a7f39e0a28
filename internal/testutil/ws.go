package testutil

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// WSFrame is a frame of a street's channel.
type WSFrame struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	StreetID string          `json:"street_id"`
	At       time.Time       `json:"at"`
	Data     json.RawMessage `json:"data"`
}

// WS is a client of a street's channel that reads in the background.
type WS struct {
	Conn   *websocket.Conn
	frames chan WSFrame
	done   chan error
	pings  atomic.Int64
}

// WSDial says how to open a channel.
type WSDial struct {
	Token string
	// Since, when set, resumes after that event id.
	Since string
	// TokenInQuery sends ?token= instead of the subprotocol.
	TokenInQuery bool
	// Origin replaces the server's own origin; "-" sends none.
	Origin string
	// Header adds request headers.
	Header http.Header
	// Dialer replaces the default dialer (its Subprotocols are set here).
	Dialer *websocket.Dialer
	// Hold leaves the socket unread until Start: a client that stalls.
	Hold bool
}

// wsWait bounds what should take milliseconds.
const wsWait = 20 * time.Second

// Me is the street id DialWS and ConnectWS take for the user's own channel
// (/me/ws) instead of a street's.
const Me = ""

// DialWS opens streetID's channel (Me: the user's own). It returns the
// handshake's response (its body holds the API error of a refused upgrade)
// and the error, if any.
func (s *Server) DialWS(tb testing.TB, streetID string, o WSDial) (*WS, *Response, error) {
	tb.Helper()
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/api/v1/streets/" + streetID + "/ws"
	if streetID == Me {
		u = "ws" + strings.TrimPrefix(s.URL, "http") + "/api/v1/me/ws"
	}
	q := url.Values{}
	if o.Since != "" {
		q.Set("since", o.Since)
	}
	d := o.Dialer
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: wsWait}
	}
	if o.TokenInQuery {
		q.Set("token", o.Token)
		d.Subprotocols = nil
	} else if o.Token != "" {
		d.Subprotocols = []string{"civico", "access_token." + o.Token}
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	h := http.Header{}
	for k, v := range o.Header {
		h[k] = v
	}
	switch o.Origin {
	case "":
		h.Set("Origin", s.URL)
	case "-":
	default:
		h.Set("Origin", o.Origin)
	}
	conn, res, err := d.Dial(u, h)
	var r *Response
	if res != nil {
		r = &Response{Status: res.StatusCode, Header: res.Header}
		if res.Body != nil {
			r.Body, _ = io.ReadAll(res.Body)
			res.Body.Close()
		}
	}
	if err != nil {
		return nil, r, err
	}
	w := &WS{Conn: conn, frames: make(chan WSFrame, 4096), done: make(chan error, 1)}
	conn.SetPingHandler(func(data string) error {
		w.pings.Add(1)
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	if !o.Hold {
		w.Start()
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return w, r, nil
}

// ConnectWS opens streetID's channel as u, resuming after since when set,
// and fails the test if the server refuses.
func (s *Server) ConnectWS(tb testing.TB, u *User, streetID, since string) *WS {
	tb.Helper()
	w, r, err := s.DialWS(tb, streetID, WSDial{Token: u.Token, Since: since})
	if err != nil {
		status, body := 0, ""
		if r != nil {
			status, body = r.Status, string(r.Body)
		}
		tb.Fatalf("websocket to %s as %s: %v (%d %s)", streetID, u.Name, err, status, body)
	}
	return w
}

// Start reads the socket in the background (DialWS does, unless Hold).
func (w *WS) Start() { go w.read() }

func (w *WS) read() {
	for {
		_, b, err := w.Conn.ReadMessage()
		if err != nil {
			w.done <- err
			close(w.frames)
			return
		}
		var f WSFrame
		if err := json.Unmarshal(b, &f); err != nil {
			w.done <- err
			close(w.frames)
			return
		}
		w.frames <- f
	}
}

// Next returns the next frame, failing the test if none comes.
func (w *WS) Next(tb testing.TB) WSFrame {
	tb.Helper()
	select {
	case f, ok := <-w.frames:
		if !ok {
			tb.Fatalf("the socket ended while a frame was expected: %v", <-w.done)
		}
		return f
	case <-time.After(wsWait):
		tb.Fatal("no frame came")
	}
	return WSFrame{}
}

// NextOf skips frames of other types and returns the next one of typ.
func (w *WS) NextOf(tb testing.TB, typ string) WSFrame {
	tb.Helper()
	for {
		if f := w.Next(tb); f.Type == typ {
			return f
		}
	}
}

// Pings is how many pings the server sent so far.
func (w *WS) Pings() int64 { return w.pings.Load() }

// CloseCode waits for the socket to end (frames still coming are dropped)
// and returns the server's close code, failing the test if it ended
// without one.
func (w *WS) CloseCode(tb testing.TB) int {
	tb.Helper()
	timeout := time.After(wsWait)
	for {
		select {
		case _, ok := <-w.frames:
			if ok {
				continue
			}
			err := <-w.done
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			tb.Fatalf("the socket ended without a close frame: %v", err)
		case <-timeout:
			tb.Fatal("the socket is still open")
		}
	}
}
