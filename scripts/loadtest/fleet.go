package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// target is a server under test: Civico, or the bare baseline.
type target interface {
	name() string
	// nodes is how many server processes serve the same streets; the
	// methods below taking a node address one of them (0 ≤ node < nodes).
	nodes() int
	// wsURL is the channel of street i on node, resuming after since when ≥ 0.
	wsURL(node, street int, since int64) string
	// dialer is what a socket of member m offers with its handshake, and
	// header what it sends to node.
	dialer(m *member) *websocket.Dialer
	header(node int) http.Header
	// publish posts to street i through node, with the title carrying the
	// send time and the node.
	publish(ctx context.Context, node, street int, title string) error
	// streets is how many streets there are; memberOf the member holding
	// the j-th socket of a street.
	streets() int
	memberOf(street, j int) *member
	// pids are the server's processes (with whatever they share), none
	// when they run elsewhere.
	pids() []int
}

// nodeOf spreads the j-th socket (or post) of a street over the nodes,
// round robin, shifted by the street: consecutive sockets and posts go to
// different nodes, and each street has sockets and posts on every node
// even when the number of streets is a multiple of the nodes'.
func nodeOf(street, j, nodes int) int { return (street + j) % nodes }

// member is a user of a street, with the token its sockets use.
type member struct {
	id, token string
}

// sock is one client socket. The reader goroutine owns the counters until
// done is closed.
type sock struct {
	street int
	node   int // the server process it is connected to
	m      *member
	ws     *websocket.Conn
	done   chan struct{}

	first, last    int64   // event ids: first and last received
	posts          int64   // post frames received
	from           []int64 // of which posted through each node (several nodes only)
	gaps, dups     int64
	resets         int64
	closeCode      int
	reconnects     int
	lastBeforeDrop int64
}

// fleet is the sockets of one run and what they measured.
type fleet struct {
	t      target
	socks  []*sock
	lat    *hist // event time (server accepted the post) → frame received
	tl     *timeline
	e2e    *hist // post sent by this program → frame received
	frames atomic.Int64
	live   atomic.Bool // latency is recorded only while true
	ips    []net.IP
	next   atomic.Uint32
	// With several nodes, lat again split by whether the post went
	// through the socket's own node or another one (nil with one node).
	latLocal, latCross *hist
}

func newFleet(t target, n int, localIPs int) *fleet {
	f := &fleet{t: t, lat: newHist(), e2e: newHist()}
	if t.nodes() > 1 {
		f.latLocal, f.latCross = newHist(), newHist()
	}
	for i := range localIPs {
		f.ips = append(f.ips, net.IPv4(127, 0, 0, byte(1+i)))
	}
	for i := range n {
		street, j := i%t.streets(), i/t.streets()
		s := &sock{street: street, node: nodeOf(street, j, t.nodes()), m: t.memberOf(street, j)}
		if t.nodes() > 1 {
			s.from = make([]int64, t.nodes())
		}
		f.socks = append(f.socks, s)
	}
	return f
}

// netDial spreads client sockets over several loopback source addresses,
// so that tens of thousands of sockets (and their TIME_WAITs) do not run
// out of ephemeral ports.
func (f *fleet) netDial(ctx context.Context, network, addr string) (net.Conn, error) {
	ip := f.ips[int(f.next.Add(1))%len(f.ips)]
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 20 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// dial opens s's socket once.
func (f *fleet) dial(ctx context.Context, s *sock, since int64) error {
	d := f.t.dialer(s.m)
	d.NetDialContext = f.netDial
	ws, res, err := d.DialContext(ctx, f.t.wsURL(s.node, s.street, since), f.t.header(s.node))
	if err != nil {
		if res != nil {
			return fmt.Errorf("handshake: %d: %w", res.StatusCode, err)
		}
		return err
	}
	s.ws = ws
	s.done = make(chan struct{})
	go f.read(s)
	return nil
}

// connect opens every socket, par at a time, retrying a failed handshake
// with backoff. It returns the sockets that failed for good.
func (f *fleet) connect(ctx context.Context, socks []*sock, par int, resume bool, jitter time.Duration) (failedAttempts, failed int64) {
	var fa, fl atomic.Int64
	work := make(chan *sock)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				since := int64(-1)
				if resume {
					since = s.last
				}
				backoff := 100 * time.Millisecond
				for attempt := 0; ; attempt++ {
					err := f.dial(ctx, s, since)
					if err == nil {
						break
					}
					fa.Add(1)
					if attempt == 8 || ctx.Err() != nil {
						fl.Add(1)
						break
					}
					time.Sleep(backoff/2 + rand.N(backoff))
					backoff = min(2*backoff, 3*time.Second)
				}
			}
		}()
	}
	for _, s := range socks {
		if jitter > 0 {
			// spread over the jitter window, as clients would
			time.Sleep(jitter / time.Duration(len(socks)))
		}
		work <- s
	}
	close(work)
	wg.Wait()
	return fa.Load(), fl.Load()
}

// read counts s's frames until the socket ends. It reads each frame into a
// pooled buffer and scans it in place: a load generator that allocated per
// frame would spend its CPU collecting garbage, late in reading the next
// frames, and blame the server for it.
func (f *fleet) read(s *sock) {
	defer close(s.done)
	for {
		mt, r, err := s.ws.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				s.closeCode = ce.Code
			}
			return
		}
		now := time.Now()
		if mt != websocket.TextMessage {
			continue
		}
		bp := framePool.Get().(*[]byte)
		n, err := io.ReadFull(r, *bp)
		if err != io.ErrUnexpectedEOF && err != io.EOF {
			framePool.Put(bp)
			if err == nil {
				continue // larger than any frame of ours: not counted
			}
			return
		}
		fr := scan((*bp)[:n])
		framePool.Put(bp)
		if fr.typ == typeReset {
			s.resets++
			continue
		}
		if fr.id == 0 {
			continue
		}
		switch {
		case s.last == 0:
			s.first = fr.id
		case fr.id <= s.last:
			s.dups++
			continue
		case fr.id > s.last+1:
			s.gaps += fr.id - s.last - 1
		}
		s.last = fr.id
		f.frames.Add(1)
		if fr.typ == typePost {
			s.posts++
			local := true
			if s.from != nil && fr.node >= 0 && fr.node < len(s.from) {
				s.from[fr.node]++
				local = fr.node == s.node
			}
			if f.live.Load() {
				f.lat.add(now.Sub(fr.at))
				if f.latLocal != nil && local {
					f.latLocal.add(now.Sub(fr.at))
				} else if f.latCross != nil {
					f.latCross.add(now.Sub(fr.at))
				}
				if tl := f.tl; tl != nil {
					tl.add(now, now.Sub(fr.at))
				}
				if fr.sent > 0 {
					f.e2e.add(now.Sub(time.Unix(0, fr.sent)))
				}
			}
		}
	}
}

// framePool holds the buffers frames are read into.
var framePool = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// drop closes every socket abruptly (no close frame), as a network loss.
func (f *fleet) drop() {
	for _, s := range f.socks {
		if s.ws != nil {
			_ = s.ws.NetConn().Close()
		}
	}
	for _, s := range f.socks {
		if s.done != nil {
			<-s.done
		}
		s.lastBeforeDrop = s.last
	}
}

// close ends every socket with a close frame and waits for the readers.
func (f *fleet) close() {
	for _, s := range f.socks {
		if s.ws != nil {
			_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
				time.Now().Add(time.Second))
		}
	}
	for _, s := range f.socks {
		if s.done == nil {
			continue
		}
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
		}
		_ = s.ws.NetConn().Close()
	}
}

// open counts the sockets whose reader still runs.
func (f *fleet) open() int {
	n := 0
	for _, s := range f.socks {
		if s.done == nil {
			continue
		}
		select {
		case <-s.done:
		default:
			n++
		}
	}
	return n
}

// frame is what the load test reads of a frame, scanned without a full
// JSON decode (and without allocating) to leave the CPU to the server.
type frame struct {
	id   int64
	typ  frameType
	at   time.Time
	sent int64
	node int // the node the post went through, -1 when the title does not say
}

type frameType int

const (
	typeOther frameType = iota
	typePost
	typeReset
)

var (
	keyID    = []byte(`"id":"`)
	keyType  = []byte(`"type":"`)
	keyAt    = []byte(`"at":"`)
	keyTitle = []byte(`"title":"lt `)
)

func scan(b []byte) frame {
	var fr frame
	str := func(key []byte) []byte {
		i := bytes.Index(b, key)
		if i < 0 {
			return nil
		}
		rest := b[i+len(key):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			return nil
		}
		return rest[:j]
	}
	fr.id = digits(str(keyID))
	switch string(str(keyType)) { // compared in place, not allocated
	case "post.created":
		fr.typ = typePost
	case "reset":
		fr.typ = typeReset
	}
	fr.at = stamp(str(keyAt))
	// A load test's title is "lt <send time in ns> <node>".
	fr.node = -1
	if t := str(keyTitle); t != nil {
		if sp := bytes.IndexByte(t, ' '); sp >= 0 {
			fr.sent = digits(t[:sp])
			if n := digits(t[sp+1:]); sp+1 < len(t) && (n > 0 || t[sp+1] == '0') {
				fr.node = int(n)
			}
		} else {
			fr.sent = digits(t)
		}
	}
	return fr
}

// digits parses a decimal number, 0 for anything else.
func digits(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// stamp parses the frames' time stamps, UTC with milliseconds
// ("2026-12-02T10:04:05.123Z", or without the fraction), zero for others.
func stamp(b []byte) time.Time {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}
	}
	num := func(i, j int) int { return int(digits(b[i:j])) }
	ns := 0
	if frac := b[19 : len(b)-1]; len(frac) > 1 && frac[0] == '.' {
		ns = int(digits(frac[1:]))
		for range 10 - len(frac) {
			ns *= 10
		}
	}
	return time.Date(num(0, 4), time.Month(num(5, 7)), num(8, 10), num(11, 13), num(14, 16), num(17, 19), ns, time.UTC)
}

// poster publishes at rate per second over every street, with workers
// concurrent requests, until ctx ends.
type poster struct {
	accepted, failed atomic.Int64
	perStreet        []atomic.Int64
	// perStreetNode counts the accepted posts of street i through node n
	// at i*nodes+n.
	perStreetNode []atomic.Int64
	nodes         int
	done          chan struct{} // closed when the last request returned

	mu     sync.Mutex
	errors map[string]int // why posts failed, by message
}

var (
	hexID  = regexp.MustCompile(`[0-9a-f]{24}`)
	number = regexp.MustCompile(`[0-9]+`)
)

// noteErr counts a failed post by its message (ids and numbers blanked).
func (p *poster) noteErr(err error) {
	msg := number.ReplaceAllString(hexID.ReplaceAllString(err.Error(), "<id>"), "#")
	if len(msg) > 160 {
		msg = msg[:160]
	}
	p.mu.Lock()
	p.errors[msg]++
	p.mu.Unlock()
}

// errs describes why posts failed, most frequent first, or "" for none.
func (p *poster) errs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	type kv struct {
		msg string
		n   int
	}
	var all []kv
	for m, n := range p.errors {
		all = append(all, kv{m, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return b.n - a.n })
	var sb strings.Builder
	for i, e := range all {
		if i == 3 {
			break
		}
		fmt.Fprintf(&sb, "    %d× %s\n", e.n, e.msg)
	}
	return sb.String()
}

func post(ctx context.Context, t target, rate float64, workers int) *poster {
	nodes := t.nodes()
	p := &poster{perStreet: make([]atomic.Int64, t.streets()), perStreetNode: make([]atomic.Int64, t.streets()*nodes),
		nodes: nodes, done: make(chan struct{}), errors: map[string]int{}}
	type job struct{ street, node int }
	jobs := make(chan job, workers*4)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				street := j.street
				title := "lt " + strconv.FormatInt(time.Now().UnixNano(), 10) + " " + strconv.Itoa(j.node)
				pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := t.publish(pctx, j.node, street, title)
				cancel()
				if err != nil {
					p.failed.Add(1)
					p.noteErr(err)
					continue
				}
				p.accepted.Add(1)
				p.perStreet[street].Add(1)
				p.perStreetNode[street*nodes+j.node].Add(1)
			}
		}()
	}
	go func() {
		defer func() { close(jobs); wg.Wait(); close(p.done) }()
		start := time.Now()
		for i := 0; ; i++ {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(at)):
			}
			select {
			case jobs <- job{i % t.streets(), nodeOf(i%t.streets(), i/t.streets(), nodes)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return p
}
