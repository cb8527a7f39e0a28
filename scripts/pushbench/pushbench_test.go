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
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/config"
	"civico/internal/push"
	"civico/internal/pushservice"
	"civico/internal/testutil"
	"civico/scripts/internal/probe"
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
	defer app.Tune(os.Getenv)()
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
	err := probe.Parallel(*setupPar, *members, func(i int) error {
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
	lat := &probe.Latencies{}
	framePool := probe.FramePool()
	for _, m := range ms[:min(*sockets, len(ms))] {
		w, r, err := s.DialWS(b, sid, testutil.WSDial{Token: m.token, Hold: true})
		if err != nil {
			b.Fatalf("websocket: %v %+v", err, r)
		}
		go probe.Follow(w, lat, framePool)
	}
	probePost := s.CreatePost(b, author, sid, "offer", "Sonda") // its own pushes go first
	testutil.WaitPushes(b, ps, nil, *members)
	total := len(ps.Messages(""))

	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d); load average at start %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), probe.LoadAvg())
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
		stop := probe.Updates(client, s.URL, author.Token, probePost, *wsRate)
		time.Sleep(500 * time.Millisecond) // let the probe stream settle
		lat.Reset()
		q0, qcpu := time.Now(), probe.CPUTime()
		time.Sleep(window) // a measurement window, not synchronisation
		quietCores := (probe.CPUTime() - qcpu).Seconds() / time.Since(q0).Seconds()
		quiet := lat.Reset()
		t0, cpu0 := time.Now(), probe.CPUTime()
		s.CreatePost(b, author, sid, "request", fmt.Sprintf("Giro %d: chi mi aiuta a traslocare?", r))
		posted := time.Since(t0)
		want := total + *members
		msgs := testutil.WaitPushes(b, ps, nil, want)
		last := time.Since(t0)
		cores := (probe.CPUTime() - cpu0).Seconds() / last.Seconds()
		during := lat.Reset()
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
		fmt.Printf("round %d: websocket fan-out, no push: %s; process CPU %.2f cores\n", r+1, quiet.Summary(), quietCores)
		fmt.Printf("round %d: websocket fan-out, pushes:  %s; process CPU %.2f cores; p99 %+.0f%%\n", r+1, during.Summary(), cores,
			100*(float64(during.P(0.99))/float64(quiet.P(0.99))-1))
		quietP99, busyP99 = append(quietP99, quiet.P(0.99)), append(busyP99, during.P(0.99))
		window = max(2*time.Second, last)
		checkRound(b, ps, from, want)
	}
	mq, mb := probe.Median(quietP99), probe.Median(busyP99)
	fmt.Printf("over %d rounds: websocket p99 with no push median %s, during the pushes median %s: %+.0f%%\n", *rounds,
		mq.Round(100*time.Microsecond), mb.Round(100*time.Microsecond), 100*(float64(mb)/float64(mq)-1))
	b.StopTimer()
	if errs := ps.Errors(); len(errs) > 0 {
		b.Fatalf("the push service refused %d requests, e.g. %s", len(errs), errs[0])
	}
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
	if err := probe.Call(client, base, "POST", "/auth/register", "", map[string]string{"email": email, "password": "push bench password",
		"name": "Vicino " + strconv.Itoa(i), "locale": []string{"it", "en"}[i%2]}, &sess, http.StatusCreated); err != nil {
		return nil, err
	}
	m := &member{id: sess.User.ID, token: sess.AccessToken}
	if err := probe.Call(client, base, "POST", "/streets/"+sid+"/join", m.token, map[string]string{"invite_code": code}, nil, http.StatusOK); err != nil {
		return nil, err
	}
	sub, err := ps.NewSubscription()
	if err != nil {
		return nil, err
	}
	if err := probe.Call(client, base, "POST", "/push/subscriptions", m.token, sub.JSON(), nil, http.StatusCreated); err != nil {
		return nil, err
	}
	return m, nil
}

var (
	probeType  = []byte(`"type":"post.updated"`)
	probeTitle = []byte(`"title":"sonda `)
)
