// Package pushbench measures web push throughput: a street of -members
// subscribed members, one new post, and the time until the last push is
// accepted by the test push service (pushes per second), while -sockets
// members follow the street's websocket channel and a stream of post
// updates measures the websocket fan-out latency with and without the push
// fan-out running.
//
// Everything is real and in one process: the server (embedded FerretDB,
// HTTP, hub), the push service (VAPID checks, aes128gcm decryption) and the
// clients, so they share the machine's cores.
//
//	go test ./scripts/pushbench -run '^$' -bench PushFanOut -benchtime 1x -timeout 30m \
//	    -args -members 2000 -sockets 200 -rounds 3
//
// Setup registers every member through the API (argon2id, ~40 ms each
// here), which takes a minute or two; it is not part of the figures.
package pushbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/config"
	"civico/internal/push"
	"civico/internal/pushservice"
	"civico/internal/testutil"

	"github.com/fasthttp/websocket"
)

var (
	members  = flag.Int("members", 2000, "subscribed members of the street (besides the author)")
	sockets  = flag.Int("sockets", 200, "members following the street's websocket channel")
	wsRate   = flag.Int("ws-rate", 40, "post updates per second while measuring websocket latency")
	rounds   = flag.Int("rounds", 3, "posts to time, one after the other")
	workers  = flag.Int("workers", 8, "CIVICO_PUSH_WORKERS")
	pushRate = flag.Int("push-rate", 1500, "CIVICO_PUSH_RATE: pushes per second after a burst of 100 (0: unpaced)")
	psChecks = flag.Int("ps-checks", 1, "requests the in-process push service verifies and decrypts at once (0: no bound); a real one runs elsewhere")
	psYield  = flag.Bool("ps-yield", true, "the in-process push service checks only while the server's requests and fan-outs are quiet (a real one runs elsewhere)")
	psDefer  = flag.Bool("ps-defer", true, "the in-process push service accepts after the VAPID check and decrypts every push after the round, as a real one never decrypts")
	setupPar = flag.Int("setup-par", 4, "concurrent registrations during setup")
	profile  = flag.String("roundprofile", "", "write a CPU profile of the timed rounds (not the setup) to this file")
)

type member struct {
	id, token string
}

func BenchmarkPushFanOut(b *testing.B) {
	// The server's own setting (server/main.go), as this runs it in-process.
	defer debug.SetGCPercent(debug.SetGCPercent(app.GCPercent))
	s := testutil.Start(b, testutil.WithConfig(func(c *config.Config) {
		c.PushWorkers = *workers
		c.PushRate = *pushRate
		c.PostsPerHour = 1 << 20
		c.RegisterPerIP = 1 << 20
	}))
	ps := s.PushService(b)
	ps.LimitChecks(*psChecks)
	if *psYield {
		ps.YieldTo(s.App.Foreground)
	}
	if *psDefer {
		ps.DeferDecryption()
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	// Setup: the author's street, members joining by invite, each with a
	// subscribed device.
	setupStart := time.Now()
	author := s.Register(b, "Autrice")
	sid := s.CreateStreet(b, author, "Via del Banco")
	// An invite serves at most 1 000 people.
	const perInvite = 1000
	var codes []string
	for n := 0; n < *members; n += perInvite {
		var inv struct {
			Code string `json:"code"`
		}
		s.Do(b, "POST", "/streets/"+sid+"/invites", map[string]int{"max_uses": min(perInvite, *members-n)}, author.Token).Expect(b, http.StatusCreated).JSON(b, &inv)
		codes = append(codes, inv.Code)
	}
	ms := make([]*member, *members)
	var done atomic.Int64
	err := parallel(*setupPar, *members, func(i int) error {
		m, err := setupMember(client, s.URL, ps, sid, codes[i/perInvite], i)
		if err == nil {
			ms[i] = m
			if n := done.Add(1); n%250 == 0 {
				fmt.Fprintf(os.Stderr, "setup: %d/%d members (%s)\n", n, *members, time.Since(setupStart).Round(time.Second))
			}
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "setup: %d members in %s\n", *members, time.Since(setupStart).Round(time.Second))

	// Websocket followers record every post.updated probe's latency.
	lat := &latencies{}
	framePool := &sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}
	for _, m := range ms[:min(*sockets, len(ms))] {
		w, r, err := s.DialWS(b, sid, testutil.WSDial{Token: m.token, Hold: true})
		if err != nil {
			b.Fatalf("websocket: %v %+v", err, r)
		}
		go follow(w, lat, framePool)
	}
	probe := s.CreatePost(b, author, sid, "offer", "Sonda") // its own pushes go first
	testutil.WaitPushes(b, ps, nil, *members)
	total := len(ps.Messages(""))

	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d); load average at start %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadavg())
	fmt.Printf("street: %d subscribed members, %d websocket followers, %d push workers, at most %d pushes/s (0: unpaced); push service checks %d at once (0: unbounded), yielding to the server: %v, decrypting after the round: %v\n",
		*members, *sockets, *workers, *pushRate, *psChecks, *psYield, *psDefer)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	// Each round measures the websocket fan-out twice, on the same probe
	// stream: first with no push running (as long as the previous round's
	// pushes took, at least 2 s), then while the post's pushes go out. The
	// machine's own drift then weighs on both alike.
	var quietP99, busyP99 []time.Duration
	window := 2 * time.Second
	b.ResetTimer()
	for r := range *rounds {
		before := s.App.Push.Stats()
		stop := updates(client, s.URL, author.Token, probe, *wsRate)
		time.Sleep(500 * time.Millisecond) // let the probe stream settle
		lat.reset()
		q0, qcpu := time.Now(), cpuTime()
		time.Sleep(window) // a measurement window, not synchronisation
		quietCores := (cpuTime() - qcpu).Seconds() / time.Since(q0).Seconds()
		quiet := lat.reset()
		t0, cpu0 := time.Now(), cpuTime()
		s.CreatePost(b, author, sid, "request", fmt.Sprintf("Giro %d: chi mi aiuta a traslocare?", r))
		posted := time.Since(t0)
		want := total + *members
		msgs := testutil.WaitPushes(b, ps, nil, want)
		last := time.Since(t0)
		cores := (cpuTime() - cpu0).Seconds() / last.Seconds()
		during := lat.reset()
		stop()
		round, from := msgs[total:], total
		total = want
		first := round[0].At.Sub(t0)
		for _, m := range round {
			first = min(first, m.At.Sub(t0))
		}
		after := s.App.Push.Stats()
		fmt.Printf("round %d: POST answered in %s; first push after %s, last (%d) after %s: %.0f pushes/s; retried %d, dropped %d\n",
			r+1, posted.Round(time.Millisecond), first.Round(time.Millisecond), len(round), last.Round(time.Millisecond),
			float64(len(round))/last.Seconds(), after.Retried-before.Retried, after.Dropped-before.Dropped)
		fmt.Printf("round %d: websocket fan-out, no push: %s; process CPU %.2f cores\n", r+1, quiet.summary(), quietCores)
		fmt.Printf("round %d: websocket fan-out, pushes:  %s; process CPU %.2f cores; p99 %+.0f%%\n", r+1, during.summary(), cores,
			100*(float64(during.p(0.99))/float64(quiet.p(0.99))-1))
		quietP99, busyP99 = append(quietP99, quiet.p(0.99)), append(busyP99, during.p(0.99))
		window = max(2*time.Second, last)
		checkRound(b, ps, from, want)
	}
	mq, mb := median(quietP99), median(busyP99)
	fmt.Printf("over %d rounds: websocket p99 with no push median %s, during the pushes median %s: %+.0f%%\n", *rounds,
		mq.Round(100*time.Microsecond), mb.Round(100*time.Microsecond), 100*(float64(mb)/float64(mq)-1))
	b.StopTimer()
	if errs := ps.Errors(); len(errs) > 0 {
		b.Fatalf("the push service refused %d requests, e.g. %s", len(errs), errs[0])
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// checkRound fails unless every push decrypts to the same post's payload.
func checkRound(b *testing.B, ps *pushservice.Service, from, to int) {
	if err := ps.DecryptDeferred(); err != nil {
		b.Fatal(err)
	}
	round := ps.Messages("")[from:to]
	seen := map[string]bool{}
	var tag string
	for _, m := range round {
		var p push.Payload
		if err := m.Decode(&p); err != nil {
			b.Fatalf("payload %q: %v", m.Payload, err)
		}
		if tag == "" {
			tag = p.Tag
		}
		if p.Tag != tag || seen[m.Subscription] {
			b.Fatalf("push %+v: another post or a second push to one device", p)
		}
		seen[m.Subscription] = true
	}
}

func setupMember(client *http.Client, base string, ps *pushservice.Service, sid, code string, i int) (*member, error) {
	var sess struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	email := fmt.Sprintf("bench%d.%d@pushbench.invalid", time.Now().UnixNano(), i)
	if err := call(client, base, "POST", "/auth/register", "", map[string]string{"email": email, "password": "push bench password",
		"name": "Vicino " + strconv.Itoa(i), "locale": []string{"it", "en"}[i%2]}, &sess, http.StatusCreated); err != nil {
		return nil, err
	}
	m := &member{id: sess.User.ID, token: sess.AccessToken}
	if err := call(client, base, "POST", "/streets/"+sid+"/join", m.token, map[string]string{"invite_code": code}, nil, http.StatusOK); err != nil {
		return nil, err
	}
	sub, err := ps.NewSubscription()
	if err != nil {
		return nil, err
	}
	if err := call(client, base, "POST", "/push/subscriptions", m.token, sub.JSON(), nil, http.StatusCreated); err != nil {
		return nil, err
	}
	return m, nil
}

func call(client *http.Client, base, method, path, token string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// maxProbes bounds the probe updates in flight: a starved server then
// gets fewer probes instead of a growing queue that would delay the next
// round's post (and measure the queue, not the fan-out).
const maxProbes = 4

// updates edits the probe post rate times a second, stamping the send time
// in its title, until the returned stop is called (which waits for the
// probes in flight).
func updates(client *http.Client, base, token, pid string, rate int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxProbes)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case slots <- struct{}{}:
				default:
					continue // maxProbes still in flight: skip this tick
				}
				title := "sonda " + strconv.FormatInt(time.Now().UnixNano(), 10)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					_ = call(client, base, "PATCH", "/posts/"+pid, token, map[string]string{"title": title}, nil, http.StatusOK)
				}()
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// follow records, for each probe update on w, the time from the PATCH
// being sent to the frame arriving. It reads each frame into a pooled
// buffer and finds the two fields it needs in place:
// the followers stand for phones, and decoding every frame's JSON here
// took a fifth of the machine from the server being measured.
func follow(w *testutil.WS, lat *latencies, pool *sync.Pool) {
	for {
		mt, r, err := w.Conn.NextReader()
		if err != nil {
			return
		}
		now := time.Now()
		if mt != websocket.TextMessage {
			continue
		}
		bp := pool.Get().(*[]byte)
		n, err := io.ReadFull(r, *bp)
		if err != io.ErrUnexpectedEOF && err != io.EOF {
			pool.Put(bp)
			if err == nil {
				continue // larger than any probe frame
			}
			return
		}
		if ns, ok := probeTime((*bp)[:n]); ok {
			lat.add(now.Sub(time.Unix(0, ns)))
		}
		pool.Put(bp)
	}
}

var (
	probeType  = []byte(`"type":"post.updated"`)
	probeTitle = []byte(`"title":"sonda `)
)

// probeTime is the send time a probe frame carries in its title.
func probeTime(b []byte) (int64, bool) {
	if !bytes.Contains(b, probeType) {
		return 0, false
	}
	i := bytes.Index(b, probeTitle)
	if i < 0 {
		return 0, false
	}
	var ns int64
	digits := 0
	for _, c := range b[i+len(probeTitle):] {
		if c < '0' || c > '9' {
			break
		}
		ns, digits = ns*10+int64(c-'0'), digits+1
	}
	return ns, digits > 0
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) reset() sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := sample(l.d)
	l.d = nil
	slices.Sort(out)
	return out
}

type sample []time.Duration

func (s sample) p(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (s sample) summary() string {
	return fmt.Sprintf("%d frames, p50 %s, p99 %s, max %s", len(s), s.p(0.5).Round(100*time.Microsecond),
		s.p(0.99).Round(100*time.Microsecond), s.p(1).Round(100*time.Microsecond))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
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
	if first != nil {
		return errors.New("setup: " + first.Error())
	}
	return nil
}
