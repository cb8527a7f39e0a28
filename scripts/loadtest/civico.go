package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"civico/internal/diag"
	"civico/internal/hub"

	"github.com/fasthttp/websocket"
)

// civico is the server under test, reached only through its HTTP API and
// its debug endpoint, as any client would. It may be several processes
// (nodes) serving the same streets; setup goes through the first.
type civico struct {
	bases, debugs []string // per node
	client        *http.Client

	streetIDs []string
	members   [][]*member // per street; members[i][0] created the street
	users     []*member
	refresh   map[*member]string
	tokensAt  time.Time
	// serverPids are the server's processes (and the database and NATS
	// they share) when this load test started them.
	serverPids []int
}

func (c *civico) pids() []int { return c.serverPids }

func newCivico(bases, debugs []string) *civico {
	return &civico{bases: bases, debugs: debugs, refresh: map[*member]string{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

func (c *civico) name() string {
	if len(c.bases) > 1 {
		return fmt.Sprintf("civico (%d nodes)", len(c.bases))
	}
	return "civico"
}

func (c *civico) nodes() int { return len(c.bases) }

func (c *civico) wsURL(node, street int, since int64) string {
	u := "ws" + c.bases[node][len("http"):] + "/api/v1/streets/" + c.streetIDs[street] + "/ws"
	if since >= 0 {
		u += "?since=" + strconv.FormatInt(since, 10)
	}
	return u
}

// dialer offers the token as the PWA does: Sec-WebSocket-Protocol.
func (c *civico) dialer(m *member) *websocket.Dialer {
	return &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 256, HandshakeTimeout: 30 * time.Second,
		Subprotocols: []string{"civico", "access_token." + m.token}}
}

func (c *civico) header(node int) http.Header { return http.Header{"Origin": {c.bases[node]}} }

func (c *civico) streets() int { return len(c.streetIDs) }

func (c *civico) memberOf(street, j int) *member {
	ms := c.members[street]
	return ms[j%len(ms)]
}

// call sends a JSON request to the first node and decodes a JSON answer
// with status want.
func (c *civico) call(ctx context.Context, method, path, token string, body, out any, want int) error {
	return c.callNode(ctx, 0, method, path, token, body, out, want)
}

// callNode is call through the given node.
func (c *civico) callNode(ctx context.Context, node int, method, path, token string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.bases[node]+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type session struct {
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// setup creates the world through the API: users, streets (each created by
// its first member), an invite per street, and the other members joining
// with it. Every user is a member of perUser streets.
func (c *civico) setup(ctx context.Context, nstreets, perStreet, perUser int) error {
	nusers := max(perStreet, nstreets*perStreet/perUser)
	run := time.Now().UnixNano()
	c.users = make([]*member, nusers)
	var mu sync.Mutex
	err := parallel(16, nusers, func(i int) error {
		var s session
		err := c.call(ctx, "POST", "/auth/register", "", map[string]string{"email": fmt.Sprintf("lt%d.%d@loadtest.invalid", run, i),
			"password": "load test password", "name": fmt.Sprintf("Vicino %d", i), "locale": "it"}, &s, http.StatusCreated)
		if err != nil {
			return err
		}
		m := &member{id: s.User.ID, token: s.AccessToken}
		mu.Lock()
		c.users[i], c.refresh[m] = m, s.RefreshToken
		mu.Unlock()
		return nil
	})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	c.tokensAt = time.Now()
	c.streetIDs = make([]string, nstreets)
	c.members = make([][]*member, nstreets)
	for i := range nstreets {
		seen := map[*member]bool{}
		for j := 0; len(c.members[i]) < perStreet && j < 4*perStreet; j++ {
			m := c.users[(i*perStreet+j)%nusers]
			if !seen[m] {
				seen[m] = true
				c.members[i] = append(c.members[i], m)
			}
		}
	}
	err = parallel(8, nstreets, func(i int) error {
		admin := c.members[i][0]
		var st struct {
			ID string `json:"id"`
		}
		if err := c.call(ctx, "POST", "/streets", admin.token, map[string]string{"name": fmt.Sprintf("Via del Carico %d-%d", run%100000, i),
			"city": "Bologna", "description": "load test"}, &st, http.StatusCreated); err != nil {
			return err
		}
		c.streetIDs[i] = st.ID
		var inv struct {
			Code string `json:"code"`
		}
		if err := c.call(ctx, "POST", "/streets/"+st.ID+"/invites", admin.token, map[string]any{"max_uses": perStreet}, &inv, http.StatusCreated); err != nil {
			return err
		}
		for _, m := range c.members[i][1:] {
			if err := c.call(ctx, "POST", "/streets/"+st.ID+"/join", m.token, map[string]string{"invite_code": inv.Code}, nil, http.StatusOK); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("streets: %w", err)
	}
	return nil
}

// freshTokens renews every access token when they are getting old (they
// last 15 minutes).
func (c *civico) freshTokens(ctx context.Context) error {
	if time.Since(c.tokensAt) < 8*time.Minute {
		return nil
	}
	var mu sync.Mutex
	err := parallel(16, len(c.users), func(i int) error {
		m := c.users[i]
		mu.Lock()
		rt := c.refresh[m]
		mu.Unlock()
		var s session
		if err := c.call(ctx, "POST", "/auth/refresh", "", map[string]string{"refresh_token": rt}, &s, http.StatusOK); err != nil {
			return err
		}
		mu.Lock()
		m.token, c.refresh[m] = s.AccessToken, s.RefreshToken
		mu.Unlock()
		return nil
	})
	c.tokensAt = time.Now()
	return err
}

var postSeq atomic.Int64

// publish posts an offer as the next member of the street, through node.
func (c *civico) publish(ctx context.Context, node, street int, title string) error {
	m := c.memberOf(street, int(postSeq.Add(1)))
	return c.callNode(ctx, node, "POST", "/streets/"+c.streetIDs[street]+"/posts", m.token, map[string]string{
		"kind": "offer", "category": "other", "title": title, "body": postBody}, nil, http.StatusCreated)
}

// vars reads the server's debug endpoints, summed over the nodes.
func (c *civico) vars(gc bool) (diag.Mem, hub.Stats, error) {
	mems, stats, err := c.nodeVars(gc)
	var m diag.Mem
	var st hub.Stats
	for i := range mems {
		m = addMem(m, mems[i])
		st = addStats(st, stats[i])
	}
	return m, st, err
}

// nodeVars reads each node's debug endpoint.
func (c *civico) nodeVars(gc bool) ([]diag.Mem, []hub.Stats, error) {
	mems, stats := make([]diag.Mem, len(c.debugs)), make([]hub.Stats, len(c.debugs))
	for i, d := range c.debugs {
		url := d + "/debug/vars"
		if gc {
			url += "?gc=1"
		}
		res, err := c.client.Get(url)
		if err != nil {
			return nil, nil, err
		}
		var v struct {
			Mem diag.Mem  `json:"mem"`
			Hub hub.Stats `json:"hub"`
		}
		err = json.NewDecoder(res.Body).Decode(&v)
		res.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", url, err)
		}
		mems[i], stats[i] = v.Mem, v.Hub
	}
	return mems, stats, nil
}

func addMem(a, b diag.Mem) diag.Mem {
	return diag.Mem{HeapInuse: a.HeapInuse + b.HeapInuse, StackInuse: a.StackInuse + b.StackInuse,
		HeapObjects: a.HeapObjects + b.HeapObjects, Sys: a.Sys + b.Sys, Go: a.Go + b.Go, RSS: a.RSS + b.RSS,
		Goroutines: a.Goroutines + b.Goroutines, OpenFiles: a.OpenFiles + b.OpenFiles, NumGC: a.NumGC + b.NumGC}
}

func addStats(a, b hub.Stats) hub.Stats {
	s := hub.Stats{Conns: a.Conns + b.Conns, Streets: a.Streets + b.Streets, Accepted: a.Accepted + b.Accepted,
		Events: a.Events + b.Events, Deliveries: a.Deliveries + b.Deliveries, Replayed: a.Replayed + b.Replayed,
		Resets: a.Resets + b.Resets, TooSlow: a.TooSlow + b.TooSlow, Removed: a.Removed + b.Removed, Dead: a.Dead + b.Dead,
		Abusive: a.Abusive + b.Abusive, Writers: a.Writers + b.Writers}
	for i := range s.Lag {
		s.Lag[i] = a.Lag[i] + b.Lag[i]
		s.WriteLag[i] = a.WriteLag[i] + b.WriteLag[i]
	}
	return s
}

// parallel runs fn(0..n-1), par at a time, and returns the first error.
func parallel(par, n int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  atomic.Int64
	)
	for range min(par, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// server is a Civico process the load test started itself.
type server struct {
	cmd         *exec.Cmd
	base, debug string
}

// startServer runs bin on free loopback ports with a fresh data directory
// and the limits a load test needs (registration and posting per IP), and
// env added (a shared database and NATS).
func startServer(bin, dataDir string, pingInterval time.Duration, env ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dport, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{base: "http://127.0.0.1:" + strconv.Itoa(port), debug: "http://127.0.0.1:" + strconv.Itoa(dport)}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(),
		"CIVICO_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"CIVICO_DEBUG_ADDR=127.0.0.1:"+strconv.Itoa(dport),
		"CIVICO_DATA="+dataDir,
		"CIVICO_LOG_LEVEL=warn",
		"CIVICO_REGISTER_PER_IP=1000000",
		"CIVICO_LOGIN_PER_IP=1000000",
		"CIVICO_LOGIN_PER_ACCOUNT=1000000",
		"CIVICO_POSTS_PER_HOUR=1000000",
		"CIVICO_WS_PING_INTERVAL="+pingInterval.String(),
	)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := http.Get(s.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("the server did not become ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
