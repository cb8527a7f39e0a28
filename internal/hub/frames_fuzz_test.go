package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/events"
	"civico/internal/hub"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// Event ids are outside data (?since= on the upgrade, "since" in a resume
// frame): ParseID reads back every id the server writes, and accepts
// exactly the decimal integers from 0 to the largest int64 written in at
// most 19 characters, with their value. Nothing panics.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0", "1", "42", "9223372036854775807", "9223372036854775808", "-1", "-0", "+5", "007",
		"", " 1", "1 ", "1e3", "0x10", "1_000", "٣", "\x00", "00000000000000000001", strings.Repeat("9", 40)} {
		f.Add(s, int64(len(s)))
	}
	f.Add("", int64(math.MaxInt64))
	f.Add("", int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		got, ok := hub.ParseID(strconv.FormatInt(n, 10))
		switch {
		case n >= 0 && (!ok || got != n):
			t.Fatalf("ParseID(%d) = %d, %v", n, got, ok)
		case n < 0 && ok:
			t.Fatalf("ParseID(%d) accepted a negative id: %d", n, got)
		}

		got, ok = hub.ParseID(s)
		v, isInt := new(big.Int).SetString(s, 10)
		want := s != "" && isInt && len(s) <= 19 && v.Sign() >= 0 && v.IsInt64()
		switch {
		case ok != want:
			t.Fatalf("ParseID(%q) accepted: %v, want %v", s, ok, want)
		case ok && got != v.Int64():
			t.Fatalf("ParseID(%q) = %d, want %d", s, got, v)
		case !ok && got != 0:
			t.Fatalf("ParseID(%q) refused, yet returned %d", s, got)
		}
	})
}

// frameSource is the event log of FuzzClientFrame: it has no events, and
// records where each replay starts, street by street.
type frameSource struct {
	mu    sync.Mutex
	calls map[string]chan int64
}

func (s *frameSource) replays(street string) chan int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.calls[street]
	if ch == nil {
		ch = make(chan int64, 16)
		s.calls[street] = ch
	}
	return ch
}

func (s *frameSource) Since(_ context.Context, street string, seq int64, _ int) ([]events.Event, error) {
	s.replays(street) <- seq
	return nil, nil
}

// sentinel is the since of the resume frame sent after the fuzzed one:
// when the hub replays from it, it has handled the fuzzed frame.
const sentinel = 7777777777777777777

// maxFrame is the hub's bound on client frames (DESIGN: 4 KB).
const maxFrame = 4096

// The frames a client sends on its socket are outside data. Whatever the
// bytes, sent as one text message (in several websocket frames when it is
// long), the hub never panics nor stalls, and:
//   - a message over 4 KB closes the socket with 1009 (too big);
//   - text that is not JSON, or JSON that is not an object with a string
//     "type" (or null), closes it with 1007 "frames must be JSON";
//   - a resume frame whose "since" is not an event id (a JSON number or a
//     string holding one, see ParseID) closes it with 1007 "since must be
//     an event id";
//   - a resume frame with a valid since replays from exactly that id;
//   - any other frame is ignored: the socket stays open and the next frame
//     is handled.
//
// Keys are matched as encoding/json matches struct fields (exactly, else
// case-insensitively; the last of repeated keys wins).
func FuzzClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"resume","since":42}`,
		`{"type":"resume","since":"42"}`,
		`{"type":"resume","since":" 42 "}`,
		`{"type":"resume","since":0}`,
		`{"type":"resume","since":9223372036854775807}`,
		`{"type":"resume","since":9223372036854775808}`,
		`{"type":"resume","since":-1}`,
		`{"type":"resume","since":1.5}`,
		`{"type":"resume","since":1e3}`,
		`{"type":"resume","since":"\u0034\u0032"}`,
		`{"type":"resume","since":null}`,
		`{"type":"resume","since":{"$gt":0}}`,
		`{"type":"resume"}`,
		`{"TYPE":"resume","Since":7}`,
		`{"type":"resume","since":1,"since":2}`,
		`{"type":"Resume","since":1}`,
		`{"type":"ping"}`,
		`{"type":"hello","data":[1,2,3]}`,
		`{"type":5}`,
		`{"type":null,"since":3}`,
		`{}`, `null`, `[]`, `"resume"`, `42`, ``, ` `, `{`, `{"type":"resume","since":1}{}`, "\xff\xfe",
	} {
		f.Add([]byte(s), uint16(0))
	}
	f.Add([]byte(`{"type":"resume","since":42}`), uint16(maxFrame-len(`{"type":"resume","since":42}`)))
	f.Add([]byte(`{"type":"resume","since":42}`), uint16(maxFrame-len(`{"type":"resume","since":42}`)+1))
	f.Add([]byte(`{"type":"ping"}`), uint16(3*maxFrame))

	src := &frameSource{calls: map[string]chan int64{}}
	h := hub.New(src, func(context.Context, string, string) (hub.Access, error) {
		return hub.Access{Active: true}, nil
	}, nil, hub.Options{})
	var tickets sync.Map // street → hub.Ticket
	up := websocket.FastHTTPUpgrader{CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		tk, ok := tickets.LoadAndDelete(string(ctx.QueryArgs().Peek("street")))
		if !ok {
			ctx.Error("no ticket", 403)
			return
		}
		_ = up.Upgrade(ctx, func(ws *websocket.Conn) { h.Serve(ws, tk.(hub.Ticket)) })
	}}
	go func() { _ = srv.Serve(ln) }()
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		_ = srv.Shutdown()
	})
	// A small write buffer: long messages go out in several frames.
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 1024,
		NetDial: func(string, string) (net.Conn, error) { return ln.Dial() }}
	var streets atomic.Int64

	f.Fuzz(func(t *testing.T, data []byte, pad uint16) {
		msg := append(slices.Clip(data), bytes.Repeat([]byte(" "), int(pad))...)
		want := expectFrame(msg)

		street := fmt.Sprintf("s%d", streets.Add(1))
		tk, err := h.Authorize(context.Background(), street, "u")
		if err != nil {
			t.Fatal(err)
		}
		tickets.Store(street, tk)
		ws, _, err := d.Dial("ws://civico/ws?street="+street, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer ws.Close()
		closed := make(chan error, 1)
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					closed <- err
					return
				}
			}
		}()
		// A write fails when the hub closed the socket while the message
		// was on its way (it stops reading at 4 KB): the close tells.
		if ws.WriteMessage(websocket.TextMessage, msg) == nil {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"resume","since":`+strconv.Itoa(sentinel)+`}`))
		}

		var replays []int64
		timeout := time.After(20 * time.Second)
		for {
			select {
			case seq := <-src.replays(street):
				replays = append(replays, seq)
				if seq != sentinel {
					continue
				}
				got := frameOutcome{kind: "ignored"}
				if len(replays) == 2 {
					got = frameOutcome{kind: "resume", since: replays[0]}
				} else if len(replays) > 2 {
					t.Fatalf("%q: replays from %v", msg, replays)
				}
				if got != want {
					t.Fatalf("%.200q: %+v, want %+v", msg, got, want)
				}
				return
			case err := <-closed:
				var ce *websocket.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("%.200q: the socket ended without a close frame: %v (want %+v)", msg, err, want)
				}
				got := frameOutcome{kind: "close", code: ce.Code, text: ce.Text}
				if got != want {
					t.Fatalf("%.200q: %+v, want %+v (replays from %v)", msg, got, want, replays)
				}
				return
			case <-timeout:
				t.Fatalf("%.200q: no answer (want %+v, replays from %v)", msg, want, replays)
			}
		}
	})
}

type frameOutcome struct {
	kind  string // ignored, resume, close
	since int64
	code  int
	text  string
}

// expectFrame is what the hub should make of msg, worked out from the
// protocol with a token reader rather than with the hub's own decoding.
func expectFrame(msg []byte) frameOutcome {
	badFrame := frameOutcome{kind: "close", code: hub.CloseBadFrame, text: "frames must be JSON"}
	if len(msg) > maxFrame {
		return frameOutcome{kind: "close", code: hub.CloseTooBig, text: "frame too large"}
	}
	if !json.Valid(msg) {
		return badFrame
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	tok, _ := dec.Token()
	if tok == nil {
		return frameOutcome{kind: "ignored"} // null
	}
	if tok != json.Delim('{') {
		return badFrame
	}
	typ, badType := "", false
	var since json.RawMessage
	for dec.More() {
		kt, _ := dec.Token()
		key := kt.(string)
		var raw json.RawMessage
		_ = dec.Decode(&raw)
		switch {
		case strings.EqualFold(key, "type"):
			var s *string
			if json.Unmarshal(raw, &s) != nil {
				badType = true
			} else if s != nil {
				typ = *s
			}
		case strings.EqualFold(key, "since"):
			since = raw
		}
	}
	switch {
	case badType:
		return badFrame
	case typ != "resume":
		return frameOutcome{kind: "ignored"}
	}
	// since is a JSON number, or a string whose raw text (no escapes
	// interpreted) is the id.
	id := string(since)
	if len(id) >= 2 && id[0] == '"' && id[len(id)-1] == '"' {
		id = id[1 : len(id)-1]
	}
	n, ok := hub.ParseID(id)
	if !ok {
		return frameOutcome{kind: "close", code: hub.CloseBadFrame, text: "since must be an event id"}
	}
	return frameOutcome{kind: "resume", since: n}
}
