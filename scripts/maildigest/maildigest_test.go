// Package maildigest measures the weekly digest: a street of -members
// members with verified addresses and some new posts, one run of the
// digests queueing a mail to each, and the time until the test SMTP server
// accepted the last (mails per second), while -sockets members follow the
// street's websocket channel and a stream of post updates measures the
// websocket fan-out latency before, during and after the digests.
//
// Everything is real and in one process: the server (embedded FerretDB,
// HTTP, hub, mail outbox), the SMTP server (counting, not keeping, the
// digests) and the clients, so they share the machine's cores.
//
//	go test ./scripts/maildigest -run '^$' -bench Digest -benchtime 1x -timeout 60m \
//	    -args -members 10000 -sockets 200 -window 20s -rounds 7
//
// Setup registers every member through the API (argon2id, ~40 ms each
// here) and proves each address with the token of the verification mail
// the SMTP server received; it is not part of the figures.
package maildigest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/config"
	"civico/internal/store"
	"civico/internal/testutil"
	"civico/scripts/internal/probe"
)

var (
	members  = flag.Int("members", 10000, "members of the street with a verified address (besides the author)")
	sockets  = flag.Int("sockets", 200, "members following the street's websocket channel")
	wsRate   = flag.Int("ws-rate", 40, "post updates per second while measuring websocket latency")
	newPosts = flag.Int("posts", 30, "new requests and offers in the street for the digest to list")
	mailRate = flag.Int("mail-rate", 10000, "CIVICO_MAIL_RATE: mails per second at most")
	window   = flag.Duration("window", 10*time.Second, "length of the websocket measurements before and after the digests")
	setupPar = flag.Int("setup-par", 4, "concurrent registrations during setup")
	rounds   = flag.Int("rounds", 7, "weekly digests to time, a week apart, each with its own new posts (the figures are medians over them)")
)

func BenchmarkDigest(b *testing.B) {
	// The server's own setting (server/main.go), as this runs it in-process.
	defer app.Tune(os.Getenv)()
	b.ResetTimer()
	run(b, options{members: *members, sockets: *sockets, wsRate: *wsRate, posts: *newPosts, mailRate: *mailRate,
		rounds: *rounds, window: *window, setupPar: *setupPar, out: os.Stdout, progress: os.Stderr})
}

// TestDigestSmoke runs the bench on a small street: every member gets one
// digest through SMTP, and the followers' probe frames are timed.
func TestDigestSmoke(t *testing.T) {
	r := run(t, options{members: 50, sockets: 5, wsRate: 20, posts: 3, mailRate: 10000, rounds: 2,
		window: 500 * time.Millisecond, setupPar: 2, out: io.Discard, progress: io.Discard})
	if r.mails != 100 {
		t.Errorf("%d digests sent over two weeks, want 100", r.mails)
	}
	if len(r.before) == 0 || len(r.during) == 0 {
		t.Errorf("no probe frames timed: %d before, %d during", len(r.before), len(r.during))
	}
}

type options struct {
	members, sockets, wsRate, posts, mailRate, setupPar int
	rounds                                              int
	window                                              time.Duration
	out, progress                                       io.Writer
}

type result struct {
	mails                 int
	before, during, after probe.Sample
}

// quiet is the fan-out without digests: before and after together.
func (r result) quiet() probe.Sample { return r.before.Merge(r.after) }

type member struct {
	id, token string
}

// shifted is the wall clock moved by a fixed amount: the server runs on a
// Monday early morning, before its hourly sweep finds any weekly digest due
// (from 08:00), so the digests of the bench's own call are the only ones.
type shifted struct{ by atomic.Int64 }

func (c *shifted) Now() time.Time { return time.Now().UTC().Add(time.Duration(c.by.Load())) }

func (c *shifted) add(d time.Duration) { c.by.Add(int64(d)) }

// nextMonday returns the first Monday 06:00 in Rome (the members' zone: they
// set none) after now.
func nextMonday(now time.Time) time.Time {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		loc = time.UTC
	}
	l := now.In(loc)
	d := time.Date(l.Year(), l.Month(), l.Day(), 6, 0, 0, 0, loc)
	for d.Weekday() != time.Monday || !d.After(now) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func run(tb testing.TB, o options) result {
	tb.Helper()
	ctx := context.Background()
	monday := nextMonday(time.Now())
	clk := &shifted{}
	clk.add(time.Until(monday))
	// The digests' time: 09:00 of that Monday, when the week's digest is due
	// and lists the posts made since the Monday before.
	digestAt := monday.Add(3 * time.Hour)

	relay := testutil.SMTP(tb)
	s := testutil.Start(tb, testutil.WithConfig(func(c *config.Config) {
		c.SMTPURL = relay.URL()
		c.MailRate = o.mailRate
		c.PostsPerHour = 1 << 20
		c.RegisterPerIP = 1 << 20
	}), testutil.WithAppOptions(func(ao *app.Options) { ao.Clock = clk }))
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	// Setup: the author's street, members joining by invite.
	setupStart := time.Now()
	author := s.Register(tb, "Autrice")
	sid := s.CreateStreet(tb, author, "Via del Corriere")
	const perInvite = 1000 // an invite serves at most 1 000 people
	var codes []string
	for n := 0; n < o.members; n += perInvite {
		var inv struct {
			Code string `json:"code"`
		}
		s.Do(tb, "POST", "/streets/"+sid+"/invites", map[string]int{"max_uses": min(perInvite, o.members-n)}, author.Token).Expect(tb, http.StatusCreated).JSON(tb, &inv)
		codes = append(codes, inv.Code)
	}
	ms := make([]*member, o.members)
	var done atomic.Int64
	err := probe.Parallel(o.setupPar, o.members, func(i int) error {
		m, err := setupMember(client, s.URL, sid, codes[i/perInvite], i)
		if err == nil {
			ms[i] = m
			if n := done.Add(1); n%500 == 0 {
				fmt.Fprintf(o.progress, "setup: %d/%d members (%s)\n", n, o.members, time.Since(setupStart).Round(time.Second))
			}
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	// Each sign-up mailed a verification link (the author's too): prove
	// every address with it, as a member clicking the link would, through
	// the account service rather than the PWA.
	tokens := make([]string, o.members+1)
	for i := range tokens {
		if tokens[i] = verifyToken(relay.Next(tb)); tokens[i] == "" {
			tb.Fatalf("mail %d holds no verification link", i)
		}
	}
	if err := probe.Parallel(o.setupPar, len(tokens), func(i int) error {
		_, err := s.App.Auth.VerifyEmail(ctx, tokens[i])
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	relay.CountOnly()
	for i := range o.posts {
		kind, title := "request", "Chi mi presta una scala? "+strconv.Itoa(i)
		if i%2 == 1 {
			kind, title = "offer", "Regalo vasetti di marmellata "+strconv.Itoa(i)
		}
		s.CreatePost(tb, author, sid, kind, title)
	}
	probePost := s.CreatePost(tb, author, sid, "offer", "Sonda")
	fmt.Fprintf(o.progress, "setup: %d verified members in %s\n", o.members, time.Since(setupStart).Round(time.Second))

	// Websocket followers record every probe's latency: the members who
	// signed up last, whose access tokens are the freshest.
	lat := &probe.Latencies{}
	pool := probe.FramePool()
	for _, m := range ms[len(ms)-min(o.sockets, len(ms)):] {
		w, r, err := s.DialWS(tb, sid, testutil.WSDial{Token: m.token, Hold: true})
		if err != nil {
			tb.Fatalf("websocket: %v %+v", err, r)
		}
		go probe.Follow(w, lat, pool)
	}
	// A long setup outlives the author's first access token.
	var sess struct {
		AccessToken string `json:"access_token"`
	}
	s.Do(tb, "POST", "/auth/login", map[string]string{"email": author.Email, "password": author.Password}, "").Expect(tb, http.StatusOK).JSON(tb, &sess)

	fmt.Fprintf(o.out, "machine: %d CPUs (GOMAXPROCS %d); load average at start %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), probe.LoadAvg())
	fmt.Fprintf(o.out, "street: %d members with verified addresses, %d new posts, %d websocket followers, %d probe updates/s; at most %d mails/s\n",
		o.members, o.posts, o.sockets, o.wsRate, o.mailRate)

	var r result
	var quietP99, busyP99 []time.Duration
	for round := range o.rounds {
		if round > 0 {
			// A week later: new posts for the next Monday's digest, and a
			// fresh session (the week outlived every access token; the
			// followers' sockets stay open).
			clk.add(7 * 24 * time.Hour)
			digestAt = digestAt.AddDate(0, 0, 7)
			s.Do(tb, "POST", "/auth/login", map[string]string{"email": author.Email, "password": author.Password}, "").Expect(tb, http.StatusOK).JSON(tb, &sess)
			writer := *author
			writer.Token = sess.AccessToken
			for i := range o.posts {
				s.CreatePost(tb, &writer, sid, "request", fmt.Sprintf("Settimana %d: chi mi aiuta? %d", round+1, i))
			}
			// A new probe each week: a post expires after 30 days, and
			// the updates of an expired one are refused.
			probePost = s.CreatePost(tb, &writer, sid, "offer", "Sonda")
		}
		rr := digestRound(ctx, tb, s, relay, client, lat, sess.AccessToken, probePost, digestAt, o)
		fmt.Fprintf(o.out, "round %d: p99 %s → %s (%+.0f%%)\n", round+1, rr.quiet().P(0.99).Round(100*time.Microsecond),
			rr.during.P(0.99).Round(100*time.Microsecond), change(rr.during.P(0.99), rr.quiet().P(0.99)))
		quietP99, busyP99 = append(quietP99, rr.quiet().P(0.99)), append(busyP99, rr.during.P(0.99))
		r.mails += rr.mails
		r.before, r.during, r.after = r.before.Merge(rr.before), r.during.Merge(rr.during), r.after.Merge(rr.after)
	}
	mq, mb := probe.Median(quietP99), probe.Median(busyP99)
	fmt.Fprintf(o.out, "over %d rounds: websocket p99 without digests median %s, during the digests median %s: %+.0f%%\n", o.rounds,
		mq.Round(100*time.Microsecond), mb.Round(100*time.Microsecond), change(mb, mq))
	return r
}

// digestRound measures one Monday's digests: the websocket fan-out for a
// window before, while the digests are queued and sent, and a window after.
func digestRound(ctx context.Context, tb testing.TB, s *testutil.Server, relay *testutil.SMTPServer, client *http.Client,
	lat *probe.Latencies, token, probePost string, digestAt time.Time, o options) result {
	tb.Helper()
	stop := probe.Updates(client, s.URL, token, probePost, o.wsRate)
	time.Sleep(500 * time.Millisecond) // let the probe stream settle
	lat.Reset()
	var r result
	c0, t0 := probe.CPUTime(), time.Now()
	time.Sleep(o.window) // a measurement window, not synchronisation
	r.before = lat.Reset()
	beforeCores := (probe.CPUTime() - c0).Seconds() / time.Since(t0).Seconds()

	stats0, sent0 := s.App.Mail.Stats(), relay.Count()
	c0, t0 = probe.CPUTime(), time.Now()
	// The outbox sends while the digests are still being queued: a watcher
	// notes when the first mail arrives.
	first := make(chan time.Duration, 1)
	watching, unwatch := context.WithCancel(ctx)
	go func() {
		for relay.Count() == sent0 {
			select {
			case <-watching.Done():
				first <- 0
				return
			case <-time.After(2 * time.Millisecond): // polling a counter, in a benchmark
			}
		}
		first <- time.Since(t0)
	}()
	queued, err := s.App.Notices.Digests(store.Background(ctx), digestAt)
	queuedIn, sentByThen := time.Since(t0), relay.Count()-sent0
	if err != nil {
		stop()
		tb.Fatalf("digests: %v", err)
	}
	// The outbox sends while the run queues; what is left then drains at
	// the mail rate, 10 ms a mail being far more than it takes.
	deadline := time.Now().Add(30*time.Second + time.Duration(queued-sentByThen)*10*time.Millisecond)
	for relay.Count()-sent0 < queued {
		if time.Now().After(deadline) {
			stop()
			tb.Fatalf("%d of %d digests accepted by the SMTP server after %s", relay.Count()-sent0, queued, time.Since(t0).Round(time.Second))
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, in a benchmark
	}
	took := time.Since(t0)
	duringCores := (probe.CPUTime() - c0).Seconds() / took.Seconds()
	r.during = lat.Reset()
	r.mails = relay.Count() - sent0
	unwatch()
	firstAt := <-first

	c0, t0 = probe.CPUTime(), time.Now()
	time.Sleep(o.window)
	r.after = lat.Reset()
	afterCores := (probe.CPUTime() - c0).Seconds() / time.Since(t0).Seconds()
	stop()
	stats := s.App.Mail.Stats()

	quiet := r.quiet()
	fmt.Fprintf(o.out, "digests: %d queued in %s (%d accepted by then); first accepted after %s, last (%d) after %s: %.0f mails/s; retried %d, dropped %d, bounced %d\n",
		queued, queuedIn.Round(time.Millisecond), sentByThen, firstAt.Round(time.Millisecond), r.mails, took.Round(time.Millisecond),
		float64(r.mails)/took.Seconds(), stats.Retried-stats0.Retried, stats.Dropped-stats0.Dropped, stats.Bounced-stats0.Bounced)
	fmt.Fprintf(o.out, "websocket fan-out, before:  %s; process CPU %.2f cores\n", r.before.Summary(), beforeCores)
	fmt.Fprintf(o.out, "websocket fan-out, digests: %s; process CPU %.2f cores\n", r.during.Summary(), duringCores)
	fmt.Fprintf(o.out, "websocket fan-out, after:   %s; process CPU %.2f cores\n", r.after.Summary(), afterCores)
	fmt.Fprintf(o.out, "p50 %s → %s (%+.0f%%), p99 %s → %s (%+.0f%%) during the digests over before and after together\n",
		quiet.P(0.5).Round(100*time.Microsecond), r.during.P(0.5).Round(100*time.Microsecond), change(r.during.P(0.5), quiet.P(0.5)),
		quiet.P(0.99).Round(100*time.Microsecond), r.during.P(0.99).Round(100*time.Microsecond), change(r.during.P(0.99), quiet.P(0.99)))
	if queued != o.members {
		tb.Fatalf("%d digests queued, want one for each of the %d members (the author's own posts are not listed to her)", queued, o.members)
	}
	return r
}

// change is how much larger a is than b, in percent.
func change(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return 100 * (float64(a)/float64(b) - 1)
}

func setupMember(client *http.Client, base, sid, code string, i int) (*member, error) {
	var sess struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	email := fmt.Sprintf("vicino%d.%d@maildigest.example", time.Now().UnixNano(), i)
	if err := probe.Call(client, base, "POST", "/auth/register", "", map[string]string{"email": email, "password": "mail digest password",
		"name": "Vicino " + strconv.Itoa(i), "locale": []string{"it", "en"}[i%2]}, &sess, http.StatusCreated); err != nil {
		return nil, err
	}
	m := &member{id: sess.User.ID, token: sess.AccessToken}
	if err := probe.Call(client, base, "POST", "/streets/"+sid+"/join", m.token, map[string]string{"invite_code": code}, nil, http.StatusOK); err != nil {
		return nil, err
	}
	return m, nil
}

// verifyToken is the token of the verification link in m, "" if none.
func verifyToken(m testutil.Mail) string {
	for _, l := range m.Links {
		u, err := url.Parse(l)
		if err == nil && strings.HasSuffix(u.Path, "/verify") {
			return u.Query().Get("token")
		}
	}
	return ""
}
