package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"civico/internal/pushservice"
	"civico/internal/testutil"

	"github.com/fasthttp/websocket"
)

// clusterWait bounds what should take milliseconds to a few seconds.
const clusterWait = 30 * time.Second

// cluster is several server processes (this binary, run as the server) on
// one shared database and one NATS server, as production runs them.
type cluster struct {
	db    string // mongodb:// address
	name  string // database name
	nats  *testutil.NATS
	nodes []*node
	env   []string
}

// node is one process of a cluster with an API client pointed at it.
type node struct {
	*child
	api *testutil.Server
	dir string
}

func startCluster(t *testing.T, n int, env ...string) *cluster {
	t.Helper()
	c := &cluster{db: testutil.SharedDatabase(t), name: testDB(), nats: testutil.StartNATS(t)}
	c.env = append([]string{"MONGODB_URI=" + c.db, "CIVICO_NATS_URL=" + c.nats.URL, "CIVICO_PUSH_ALLOW_INSECURE=1",
		"CIVICO_POSTS_PER_HOUR=100000"}, env...)
	for range n {
		c.add(t)
	}
	return c
}

// add starts one more process.
func (c *cluster) add(t *testing.T) *node {
	t.Helper()
	dir := t.TempDir()
	ch := startChild(t, dir, c.name, c.env...)
	nd := &node{child: ch, dir: dir, api: &testutil.Server{URL: ch.url, Client: &http.Client{Timeout: clusterWait}}}
	c.nodes = append(c.nodes, nd)
	return nd
}

// live opens u's channel of sid on nd and returns once the server holds
// the socket (it answered a ping, which it reads only once the socket is
// registered and replayed): events from then on reach it.
func live(t *testing.T, nd *node, u *testutil.User, sid, since string) *testutil.WS {
	t.Helper()
	w, r, err := nd.api.DialWS(t, sid, testutil.WSDial{Token: u.Token, Since: since, Hold: true})
	if err != nil {
		t.Fatalf("websocket on %s: %v %+v", nd.url, err, r)
	}
	pong := make(chan struct{})
	var once sync.Once
	w.Conn.SetPongHandler(func(string) error { once.Do(func() { close(pong) }); return nil })
	w.Start()
	if err := w.Conn.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(clusterWait)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pong:
	case <-time.After(clusterWait):
		t.Fatal("the server never registered the socket")
	}
	return w
}

// framesUntil reads w until a frame of typ whose data holds marker, and
// returns every frame read, checking the ids go up by one.
func framesUntil(t *testing.T, w *testutil.WS, typ, marker string) []testutil.WSFrame {
	t.Helper()
	var got []testutil.WSFrame
	for {
		f := w.Next(t)
		got = append(got, f)
		if f.Type == typ && strings.Contains(string(f.Data), marker) {
			return got
		}
	}
}

// consecutive fails the test unless the frames' ids follow each other
// from the first, with no gap and no repeat.
func consecutive(t *testing.T, who string, frames []testutil.WSFrame) {
	t.Helper()
	var last int64
	for i, f := range frames {
		id, err := strconv.ParseInt(f.ID, 10, 64)
		if err != nil {
			t.Fatalf("%s: frame %d (%s) has id %q", who, i, f.Type, f.ID)
		}
		if i > 0 && id != last+1 {
			t.Fatalf("%s: event %d (%s) after %d: a gap, a repeat or a swap", who, id, f.Type, last)
		}
		last = id
	}
}

func postTitles(frames []testutil.WSFrame) []string {
	var out []string
	for _, f := range frames {
		if f.Type != "post.created" {
			continue
		}
		var d struct {
			Title string `json:"title"`
		}
		_ = json.Unmarshal(f.Data, &d)
		out = append(out, d.Title)
	}
	return out
}

// Two processes on one database and one NATS behave as one server: events
// made on either reach the sockets of both in the street's order, access
// changes made on one hold on the other before the request answers, each
// push goes out once and a rate limit counts both processes' attempts.
func TestClusterOfTwoProcesses(t *testing.T) {
	c := startCluster(t, 2, "CIVICO_LOGIN_PER_ACCOUNT=4")
	a, b := c.nodes[0], c.nodes[1]

	t.Run("events reach every process in order", func(t *testing.T) {
		admin, member := a.api.Register(t, "Anna"), b.api.Register(t, "Bruno")
		sid := a.api.StreetWithMembers(t, admin, "Via dei Due", member)
		onA, onB := live(t, a, admin, sid, ""), live(t, b, member, sid, "")
		const n = 30
		var wg sync.WaitGroup
		for k, nd := range []*node{a, b} {
			u := admin
			if nd == b {
				u = member
			}
			label := string(rune('A' + k))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n / 2 {
					code, out, err := send("POST", nd.url, "/streets/"+sid+"/posts", u.Token,
						map[string]string{"kind": "offer", "category": "repairs", "title": "Offerta " + label + strconv.Itoa(i), "body": "x"})
					if err != nil || code != http.StatusCreated {
						t.Errorf("post through %s: %d %s %v", nd.url, code, out, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		a.api.CreatePost(t, admin, sid, "offer", "Fine della serie")
		framesA := framesUntil(t, onA, "post.created", "Fine della serie")
		framesB := framesUntil(t, onB, "post.created", "Fine della serie")
		consecutive(t, "socket on A", framesA)
		consecutive(t, "socket on B", framesB)
		ta, tb := postTitles(framesA), postTitles(framesB)
		if len(ta) != n+1 || strings.Join(ta, "|") != strings.Join(tb, "|") {
			t.Fatalf("the two processes' sockets saw different streets:\nA %d %v\nB %d %v", len(ta), ta, len(tb), tb)
		}
		// A socket opened on B after the fact resumes from any point.
		from := framesA[len(framesA)-10].ID
		fromID, _ := strconv.ParseInt(from, 10, 64)
		again := live(t, b, member, sid, strconv.FormatInt(fromID-1, 10))
		replay := framesUntil(t, again, "post.created", "Fine della serie")
		consecutive(t, "resume on B", replay)
		if replay[0].ID != from {
			t.Fatalf("resume after %d on B started at %s", fromID-1, replay[0].ID)
		}
	})

	t.Run("a ban on one process holds on the other at once", func(t *testing.T) {
		admin, member := a.api.Register(t, "Carla"), b.api.Register(t, "Dario")
		sid := a.api.StreetWithMembers(t, admin, "Via del Bando", member)
		sock := live(t, b, member, sid, "")
		a.api.Do(t, "POST", "/streets/"+sid+"/members/"+member.ID+"/ban", map[string]string{"reason": "spam"}, admin.Token).Expect(t, http.StatusOK)
		// A banned member sees nothing of the street, as if it did not exist.
		b.api.Do(t, "GET", "/streets/"+sid+"/posts", nil, member.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
		b.api.Do(t, "POST", "/streets/"+sid+"/posts", map[string]string{"kind": "offer", "category": "repairs", "title": "Ancora io", "body": "x"},
			member.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
		if code := sock.CloseCode(t); code != 4003 {
			t.Fatalf("the banned member's socket on the other process closed with %d, want 4003", code)
		}
		if _, r, err := b.api.DialWS(t, sid, testutil.WSDial{Token: member.Token}); err == nil || r == nil || r.Status != http.StatusForbidden {
			t.Fatalf("a banned member opened a socket on the other process: %v %+v", err, r)
		}
	})

	t.Run("a demotion stops admin-only frames on the other process", func(t *testing.T) {
		admin, second := a.api.Register(t, "Elena"), b.api.Register(t, "Fabio")
		sid := a.api.StreetWithMembers(t, admin, "Via dei Ruoli", second)
		a.api.Do(t, "PUT", "/streets/"+sid+"/members/"+second.ID+"/role", map[string]string{"role": "admin"}, admin.Token).Expect(t, http.StatusOK)
		sock := live(t, b, second, sid, "")
		a.api.Do(t, "PUT", "/streets/"+sid+"/members/"+second.ID+"/role", map[string]string{"role": "member"}, admin.Token).Expect(t, http.StatusOK)
		asker := a.api.Register(t, "Gino")
		a.api.Do(t, "POST", "/streets/"+sid+"/join", map[string]string{"message": "abito al 3"}, asker.Token).Expect(t, http.StatusAccepted)
		a.api.CreatePost(t, admin, sid, "offer", "Dopo la richiesta")
		for _, f := range framesUntil(t, sock, "post.created", "Dopo la richiesta") {
			if f.Type == "member.requested" {
				t.Fatal("a demoted admin's socket on the other process still gets join requests")
			}
		}
	})

	t.Run("a revoked invite is refused on the other process", func(t *testing.T) {
		admin, guest := a.api.Register(t, "Ilaria"), b.api.Register(t, "Luca")
		sid := a.api.CreateStreet(t, admin, "Via dell'Invito")
		code := a.api.Invite(t, admin, sid)
		a.api.Do(t, "DELETE", "/streets/"+sid+"/invites/"+code, nil, admin.Token).Expect(t, http.StatusNoContent)
		r := b.api.DoRaw(t, "POST", "/streets/"+sid+"/join", map[string]string{"invite_code": code}, guest.Token)
		if r.Status == http.StatusOK {
			t.Fatal("an invite revoked on one process let someone in through the other")
		}
	})

	t.Run("a deleted account is gone from every process", func(t *testing.T) {
		admin, leaving := a.api.Register(t, "Marta"), a.api.Register(t, "Zeno Dimenticabile")
		sid := a.api.StreetWithMembers(t, admin, "Via dell'Oblio", leaving)
		a.api.CreatePost(t, leaving, sid, "offer", "Presto un trapano")
		// B has replayed the street (its windows and frame caches hold it).
		framesUntil(t, live(t, b, admin, sid, "0"), "post.created", "Presto un trapano")
		a.api.Do(t, "DELETE", "/me", map[string]string{"password": leaving.Password}, leaving.Token).Expect(t, http.StatusNoContent)
		b.api.Do(t, "GET", "/me", nil, leaving.Token).Expect(t, http.StatusUnauthorized)
		for _, f := range framesUntil(t, live(t, b, admin, sid, "0"), "post.created", "") {
			if strings.Contains(string(f.Data), "Dimenticabile") {
				t.Fatalf("the other process replays a deleted person's name: %s %s", f.Type, f.Data)
			}
		}
	})

	t.Run("each push goes out once", func(t *testing.T) {
		ps := a.api.PushService(t)
		admin, member := a.api.Register(t, "Nadia"), b.api.Register(t, "Oscar")
		sid := a.api.StreetWithMembers(t, admin, "Via delle Notifiche", member)
		dev := b.api.SubscribePush(t, member, ps)
		const n = 10
		for i := range n {
			nd := c.nodes[i%2]
			nd.api.CreatePost(t, admin, sid, "offer", "Avviso "+strconv.Itoa(i))
		}
		msgs := testutil.WaitPushes(t, ps, dev, n)
		// A last one, then nothing more than one each may have come.
		a.api.CreatePost(t, admin, sid, "offer", "Ultimo avviso")
		msgs = testutil.WaitPushes(t, ps, dev, n+1)
		seen := map[string]int{}
		for _, m := range msgs {
			p, err := decodePush(m)
			if err != nil {
				t.Fatal(err)
			}
			seen[p.Tag]++
		}
		for tag, k := range seen {
			if k != 1 {
				t.Errorf("push %s arrived %d times", tag, k)
			}
		}
		if len(msgs) != n+1 || len(seen) != n+1 {
			t.Fatalf("%d pushes for %d distinct posts, want %d", len(msgs), len(seen), n+1)
		}
	})

	t.Run("a private message crosses processes, pushed only to the one away", func(t *testing.T) {
		ps := a.api.PushService(t)
		anna, bruno := a.api.Register(t, "Elena"), b.api.Register(t, "Fabio")
		sid := a.api.StreetWithMembers(t, anna, "Via Riservata", bruno)
		dev := b.api.SubscribePush(t, bruno, ps)
		var started struct {
			Conversation struct {
				ID string `json:"id"`
			} `json:"conversation"`
		}
		// Fabio is connected nowhere: the message is pushed.
		a.api.Do(t, "POST", "/conversations", map[string]string{"user_id": bruno.ID, "street_id": sid, "body": "Ci sei stasera?"}, anna.Token).
			Expect(t, http.StatusCreated).JSON(t, &started)
		cid := started.Conversation.ID
		testutil.WaitPushes(t, ps, dev, 1)
		// Connected on B, he gets the next ones live from A and from B,
		// and no push: B answers A's question for his socket.
		sock := live(t, b, bruno, testutil.Me, "")
		for i, nd := range []*node{a, b} {
			body := "Porto il vino " + strconv.Itoa(i)
			nd.api.Do(t, "POST", "/conversations/"+cid+"/messages", map[string]string{"body": body}, anna.Token).Expect(t, http.StatusCreated)
			framesUntil(t, sock, "message.created", body)
		}
		// A request of the street is pushed after them: had a message been
		// pushed too, it was queued before it.
		a.api.CreatePost(t, anna, sid, "request", "Cerco sedie")
		seen := map[string]int{}
		for _, m := range testutil.WaitPushes(t, ps, dev, 2) {
			p, err := decodePush(m)
			if err != nil {
				t.Fatal(err)
			}
			seen[p.Tag]++
		}
		if seen["conversation-"+cid] != 1 || len(seen) != 2 {
			t.Fatalf("pushes to Fabio by tag: %v, want one for the conversation and one for the request", seen)
		}
	})

	t.Run("a login limit counts both processes", func(t *testing.T) {
		u := a.api.Register(t, "Paola")
		var limited, refused int
		for i := range 8 {
			nd := c.nodes[i%2]
			code, _ := call(t, "POST", nd.url, "/auth/login", "", map[string]string{"email": u.Email, "password": "not the password"})
			switch code {
			case http.StatusTooManyRequests:
				limited++
			case http.StatusUnauthorized:
				refused++
			default:
				t.Fatalf("login attempt answered %d", code)
			}
		}
		if refused != 4 || limited != 4 {
			t.Fatalf("a limit of 4 per account let %d attempts through two processes (%d limited)", refused, limited)
		}
	})
}

// A client whose process dies (kill -9) reconnects to another process and
// resumes where it was: it misses nothing and sees nothing twice.
func TestClusterResumeAfterKill9(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	admin, member := a.api.Register(t, "Rita"), a.api.Register(t, "Sandro")
	sid := a.api.StreetWithMembers(t, admin, "Via della Ripresa", member)
	sock := live(t, b, member, sid, "")
	a.api.CreatePost(t, admin, sid, "offer", "Prima del crollo")
	before := framesUntil(t, sock, "post.created", "Prima del crollo")
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = b.wait(t)
	for i := range 5 {
		a.api.CreatePost(t, admin, sid, "offer", "Durante "+strconv.Itoa(i))
	}
	a.api.CreatePost(t, admin, sid, "offer", "Dopo il crollo")
	resumed := framesUntil(t, live(t, a, member, sid, before[len(before)-1].ID), "post.created", "Dopo il crollo")
	all := append(before, resumed...)
	consecutive(t, "the member's frames across the crash", all)
	if got := postTitles(resumed); len(got) != 6 {
		t.Fatalf("resumed on the other process with %v, want the 6 posts made meanwhile", got)
	}
}

// NATS unreachable: every process says so on /readyz, writes still succeed
// (the database is the log), and once NATS is back the processes are ready
// again and a client resuming misses nothing.
func TestClusterSurvivesANATSOutage(t *testing.T) {
	c := startCluster(t, 2)
	a := c.nodes[0]
	admin := a.api.Register(t, "Teresa")
	sid := a.api.CreateStreet(t, admin, "Via del Silenzio")
	a.api.CreatePost(t, admin, sid, "offer", "Prima")
	first := framesUntil(t, live(t, a, admin, sid, "0"), "post.created", "Prima")
	ready := func(nd *node, want int) {
		t.Helper()
		deadline := time.Now().Add(clusterWait)
		for {
			res, err := http.Get(nd.url + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz on %s never answered %d", nd.url, want)
			}
			time.Sleep(50 * time.Millisecond) // polling an endpoint: nothing signals it
		}
	}
	for _, nd := range c.nodes {
		ready(nd, http.StatusOK)
	}
	c.nats.Stop()
	for _, nd := range c.nodes {
		ready(nd, http.StatusServiceUnavailable)
	}
	a.api.CreatePost(t, admin, sid, "offer", "Durante il silenzio")
	c.nats.Restart()
	for _, nd := range c.nodes {
		ready(nd, http.StatusOK)
	}
	a.api.CreatePost(t, admin, sid, "offer", "Dopo")
	b := c.nodes[1]
	rest := framesUntil(t, live(t, b, admin, sid, first[len(first)-1].ID), "post.created", "Dopo")
	consecutive(t, "resume after the outage", append(first, rest...))
	if got := postTitles(rest); len(got) != 2 {
		t.Fatalf("after the outage the other process replayed %v", got)
	}
}

// A process on MongoDB with its own embedded NATS cannot reach any other:
// a second process on that database refuses to start, with or without a
// NATS of its own, rather than fan out and sweep alone; once the first
// stops, the database is free.
func TestProcessesThatCannotReachEachOtherRefuseToShareADatabase(t *testing.T) {
	db, name := testutil.SharedDatabase(t), testDB()
	solo := startChild(t, t.TempDir(), name, "MONGODB_URI="+db)
	refused := func(env ...string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), append([]string{"CIVICO_TEST_AS_SERVER=1", "CIVICO_ADDR=127.0.0.1:0",
			"CIVICO_DATA=" + t.TempDir(), "CIVICO_DB=" + name, "MONGODB_URI=" + db}, env...)...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("a second process started on a database another one uses without a shared NATS (env %v)", env)
		}
		if !strings.Contains(string(out), "CIVICO_NATS_URL") {
			t.Fatalf("unclear refusal: %s", out)
		}
	}
	refused()
	refused("CIVICO_NATS_URL=" + testutil.StartNATS(t).URL)
	if err := solo.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := solo.wait(t); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	startChild(t, t.TempDir(), name, "MONGODB_URI="+db)
}

// A process on MongoDB with its own NATS that crashed (kill -9) comes back
// at once: its mark is its own (same machine and data directory).
func TestSoloProcessRestartsAtOnceAfterACrash(t *testing.T) {
	db, name, dir := testutil.SharedDatabase(t), testDB(), t.TempDir()
	c := startChild(t, dir, name, "MONGODB_URI="+db)
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.wait(t)
	startChild(t, dir, name, "MONGODB_URI="+db)
}

// Push work a process held when it was killed (kill -9) is taken over by
// another process within a minute and sent once: the job names its
// process, and the leader's sweep takes over the jobs of a process whose
// heartbeat lapsed.
func TestClusterTakesOverAKilledProcessesPushes(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	ps := a.api.PushService(t)
	admin, member := a.api.Register(t, "Ugo"), a.api.Register(t, "Vera")
	sid := a.api.StreetWithMembers(t, admin, "Via del Testimone", member)
	dev := a.api.SubscribePush(t, member, ps)
	// The push service asks A to come back in two minutes: A holds the
	// delivery in memory, its job on disk names A.
	ps.Always(pushservice.Answer{Status: http.StatusTooManyRequests, RetryAfter: "120"})
	a.api.CreatePost(t, admin, sid, "offer", "Consegna in sospeso")
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := ps.Wait(ctx, func(v pushservice.View) bool { return v.Attempts(dev.Token) > 0 }); err != nil {
		t.Fatalf("A never tried the push: %v", err)
	}
	killed := time.Now()
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = a.wait(t)
	ps.Always(pushservice.Created)
	ctx, cancel = context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := ps.WaitMessages(ctx, dev.Token, 1); err != nil {
		t.Fatalf("the killed process's push never went out through the other: %v", err)
	}
	took := time.Since(killed)
	t.Logf("taken over and sent %s after the kill", took.Round(100*time.Millisecond))
	if took > time.Minute {
		t.Errorf("take-over took %s, more than a minute", took)
	}
	// Nothing more for that post: another post through B comes alone.
	b.api.CreatePost(t, admin, sid, "offer", "Dopo la ripresa")
	msgs := testutil.WaitPushes(t, ps, dev, 2)
	seen := map[string]int{}
	for _, m := range ps.Messages(dev.Token) {
		p, err := decodePush(m)
		if err != nil {
			t.Fatal(err)
		}
		seen[p.Tag]++
	}
	if len(msgs) != 2 || len(seen) != 2 {
		t.Fatalf("pushes after the take-over: %d for %d posts, want one each (%v)", len(ps.Messages(dev.Token)), len(seen), seen)
	}
}
