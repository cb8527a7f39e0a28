package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"civico/internal/diag"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// The baseline is the simplest broadcast server one would write with
// fasthttp/websocket (the gorilla chat example's shape): per socket a read
// loop and a write pump goroutine with a buffered channel, a room per
// street, and a publish endpoint that stamps and broadcasts a frame shaped
// like Civico's. No auth, no database, no resume. It runs as a child process
// of the load test, so each side has its own file limit.

type bclient struct {
	ws   *websocket.Conn
	send chan []byte
}

type bserver struct {
	mu    sync.RWMutex
	rooms map[string]map[*bclient]struct{}
	seq   map[string]int64
}

// serveBaseline runs the baseline on addr and prints "listening ADDR".
func serveBaseline(addr string) error {
	b := &bserver{rooms: map[string]map[*bclient]struct{}{}, seq: map[string]int64{}}
	up := websocket.FastHTTPUpgrader{ReadBufferSize: 1024, WriteBufferSize: 1024,
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
	handler := func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/ws":
			street := string(ctx.QueryArgs().Peek("street"))
			_ = up.Upgrade(ctx, func(ws *websocket.Conn) { b.serve(ws, street) })
		case "/publish":
			b.publish(string(ctx.QueryArgs().Peek("street")), ctx.PostBody())
			ctx.SetStatusCode(http.StatusNoContent)
		case "/mem":
			m := diag.ReadMem(string(ctx.QueryArgs().Peek("gc")) == "1")
			body, _ := json.Marshal(map[string]any{"mem": m})
			ctx.SetContentType("application/json")
			ctx.SetBody(body)
		default:
			ctx.SetStatusCode(http.StatusNotFound)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &fasthttp.Server{Handler: handler, ReadTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	return srv.Serve(ln)
}

func (b *bserver) serve(ws *websocket.Conn, street string) {
	c := &bclient{ws: ws, send: make(chan []byte, 256)}
	b.mu.Lock()
	if b.rooms[street] == nil {
		b.rooms[street] = map[*bclient]struct{}{}
	}
	b.rooms[street][c] = struct{}{}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { // write pump
		defer close(done)
		ping := time.NewTicker(25 * time.Second)
		defer ping.Stop()
		for {
			select {
			case msg, ok := <-c.send:
				if !ok {
					_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4008, "too slow"), time.Now().Add(time.Second))
					return
				}
				_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
					return
				}
			case <-ping.C:
				if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
					return
				}
			}
		}
	}()
	for { // read pump
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	b.mu.Lock()
	if _, ok := b.rooms[street][c]; ok {
		delete(b.rooms[street], c)
		close(c.send)
	}
	b.mu.Unlock()
	<-done
}

func (b *bserver) publish(street string, data []byte) {
	b.mu.Lock()
	b.seq[street]++
	id := b.seq[street]
	at := time.Now().UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano) // as Civico's event log stamps
	msg := fmt.Appendf(nil, `{"id":"%d","type":"post.created","street_id":%q,"at":%q,"data":%s}`, id, street, at, data)
	for c := range b.rooms[street] {
		select {
		case c.send <- msg:
		default: // too slow: closed, as Civico does
			delete(b.rooms[street], c)
			close(c.send)
		}
	}
	b.mu.Unlock()
}

// baseline is the load test's side of the baseline: it starts the child
// process and talks to it.
type baseline struct {
	addr    string
	cmd     *exec.Cmd
	client  *http.Client
	nstreet int
}

func startBaseline(nstreets int) (*baseline, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-baseline-serve", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("baseline did not start: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &baseline{addr: strings.TrimSpace(strings.TrimPrefix(line, "listening ")), cmd: cmd, nstreet: nstreets,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}, nil
}

func (b *baseline) stop() {
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
}

func (b *baseline) name() string { return "bare fasthttp/websocket" }

func (b *baseline) nodes() int { return 1 }

func (b *baseline) wsURL(_, street int, since int64) string {
	return "ws://" + b.addr + "/ws?street=" + strconv.Itoa(street)
}

func (b *baseline) dialer(*member) *websocket.Dialer {
	return &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 256, HandshakeTimeout: 30 * time.Second}
}

func (b *baseline) header(int) http.Header { return nil }

func (b *baseline) streets() int { return b.nstreet }

func (b *baseline) memberOf(int, int) *member { return &member{} }

func (b *baseline) pids() []int { return []int{b.cmd.Process.Pid} }

// publish sends a payload of the size of a Civico post event.
func (b *baseline) publish(ctx context.Context, _, street int, title string) error {
	data, _ := json.Marshal(map[string]any{"id": "000000000000000000000000", "kind": "offer", "category": "other",
		"title": title, "body": postBody, "status": "open", "pinned": false, "author_id": "000000000000000000000000",
		"author_name": "Load Test", "created_at": time.Now().UTC()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+b.addr+"/publish?street="+strconv.Itoa(street), bytes.NewReader(data))
	if err != nil {
		return err
	}
	res, err := b.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("publish: %s", res.Status)
	}
	return nil
}

func (b *baseline) mem(gc bool) (diag.Mem, error) {
	url := "http://" + b.addr + "/mem"
	if gc {
		url += "?gc=1"
	}
	return getMem(b.client, url)
}

func getMem(c *http.Client, url string) (diag.Mem, error) {
	res, err := c.Get(url)
	if err != nil {
		return diag.Mem{}, err
	}
	defer res.Body.Close()
	var v struct {
		Mem diag.Mem `json:"mem"`
	}
	err = json.NewDecoder(res.Body).Decode(&v)
	return v.Mem, err
}

// postBody is the body of every load-test post: a few lines, as neighbours write.
const postBody = "Cerco qualcuno che possa portare a spasso il cane domani mattina verso le otto, " +
	"sono fuori città per lavoro. Grazie mille!"
