package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"civico/internal/push"
	"civico/internal/pushservice"
	"civico/internal/store"
	"civico/internal/testutil"

	"github.com/fasthttp/websocket"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The chaos test's shape: chaosKills crashes, each after chaosPhaseAcks
// writes of the phase were acknowledged; the writers stop on their own
// after chaosMaxPerPhase requests each, so no phase can run for ever.
const (
	chaosKills       = 3
	chaosPhaseAcks   = 30
	chaosMaxPerPhase = 400
	chaosPushWorkers = 8                // CIVICO_PUSH_WORKERS, the default
	chaosWait        = 60 * time.Second // bound on what should take seconds
)

// TestChaosKill9UnderLoad crashes the server with kill -9 while an admin
// posts, a member replies and a volunteer records ledger entries, restarts
// it on the same data directory, and then checks what was acknowledged:
// every post, reply and ledger entry answered 2xx is there (an idempotency
// key retried after a crash made one entry), the street's event log holds
// every acknowledged event and a client following the street never misses
// one silently (a crash shows as a reset), and every acknowledged post and
// reply reached the device it was for, at most once but for pushes the
// push service accepted in the instant before a crash.
func TestChaosKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the server four times")
	}
	start := time.Now()
	dir, db := t.TempDir(), testDB()
	env := []string{"CIVICO_PUSH_ALLOW_INSECURE=1", "CIVICO_POSTS_PER_HOUR=100000",
		"CIVICO_PUSH_WORKERS=" + strconv.Itoa(chaosPushWorkers)}
	c := startChild(t, dir, db, env...)
	client := &http.Client{Timeout: 30 * time.Second}
	api := &testutil.Server{URL: c.url, Client: client}

	// Setup through the API: a street with an admin and a member, a
	// device each on the test push service, an association with the
	// member as volunteer and one roster member to record payments for.
	ps := api.PushService(t)
	vapid := vapidKey(t, api)
	admin, member := api.Register(t, "Anna"), api.Register(t, "Bruno")
	sid := api.StreetWithMembers(t, admin, "Via del Caos", member)
	memberDev := api.SubscribePush(t, member, ps)
	adminDev := api.SubscribePush(t, admin, ps)
	aid := api.Association(t, admin, "Portinaio del Caos", 500)
	api.Volunteer(t, admin, aid, member, "volunteer")
	roster := api.Member(t, admin.Token, aid, map[string]any{"full_name": "Carla Rossi"})

	// The admin follows the street (admins get every event) for the
	// whole test, resuming after each crash.
	fl := &follower{}
	fl.connect(t, api, admin.Token, sid)

	ld := &chaosLoad{client: client, sid: sid, aid: aid, rosterID: roster.ID, admin: admin.Token, volunteer: member.Token,
		member: member.Token, replyQ: make(chan string, chaosMaxPerPhase*(chaosKills+1)), year: time.Now().Year()}
	timings := []string{fmt.Sprintf("start and setup %s", time.Since(start).Round(100*time.Millisecond))}
	for phase := 0; phase <= chaosKills; phase++ {
		last := phase == chaosKills
		phaseStart := time.Now()
		ld.run(t, c, phase, last)
		timings = append(timings, fmt.Sprintf("load %s", time.Since(phaseStart).Round(100*time.Millisecond)))
		if last {
			break
		}
		// kill -9 hit the server while requests were in flight.
		_ = c.wait(t)
		client.CloseIdleConnections()
		fl.waitClosed(t)
		restart := time.Now()
		c = startChild(t, dir, db, env...)
		timings = append(timings, fmt.Sprintf("restart %s", time.Since(restart).Round(100*time.Millisecond)))
		api.URL = c.url
		if k := vapidKey(t, api); k != vapid {
			t.Fatalf("the VAPID key changed after the crash: every device would stop getting pushes")
		}
		fl.connect(t, api, admin.Token, sid) // before the load goes on
	}
	// Keys whose request died with the server and whose retry met the
	// next crash: retried once more, on the last server.
	ld.retryPending(t, c.url)
	acked := ld.snapshot()
	t.Logf("timeline: %s", strings.Join(timings, ", "))
	t.Logf("acknowledged: %d posts, %d replies, %d ledger entries (%d keys retried after a crash: %d were recorded before it, %d after); %d requests died with the server; load took %s",
		len(acked.posts), len(acked.replies), len(acked.entries), acked.retried, acked.retriedExisting, acked.retried-acked.retriedExisting,
		acked.cut, time.Since(start).Round(time.Second))
	for _, p := range acked.problems {
		t.Error(p)
	}

	// 1. Every acknowledged write is in the database, as the API shows it.
	auditPosts(t, api, admin.Token, acked)
	auditLedger(t, api, member.Token, aid, acked)

	// 2. The follower saw every event in order; each crash showed as a
	// reset, never as a silent jump. Everything acknowledged after the
	// last restart reached it.
	fl.mu.Lock()
	if len(fl.violations) > 0 {
		t.Errorf("the follower's stream: %s", strings.Join(fl.violations, "; "))
	}
	if fl.resets > chaosKills {
		t.Errorf("the follower got %d resets for %d crashes", fl.resets, chaosKills)
	}
	fl.mu.Unlock()
	waitFollower(t, fl, acked)
	fl.mu.Lock()
	firstFinal, followerLast := fl.firstAfterConnect, fl.lastID
	t.Logf("the follower: %d events, %d resets (one per resume across numbers a crash reserved), %d acknowledged events cut with a crashed server's socket",
		len(fl.frames), fl.resets, unseen(fl.frames, acked))
	fl.mu.Unlock()

	// 3. A client resuming from the first event id gets, after each
	// crash, a reset rather than a silent skip (the README: the numbers a
	// crashed process reserved are a hole, and a resume across it asks
	// the client to refetch); one resuming from before the last restart's
	// first event gets all of that run, from the log.
	first := fl.firstID()
	got, reset := resumeFrom(t, api, admin.Token, sid, first, followerLast)
	t.Logf("resume from the first event (%d): %d events replayed, reset: %v", first, len(got), reset)
	if firstFinal > 0 {
		got, reset = resumeFrom(t, api, admin.Token, sid, firstFinal-1, followerLast)
		if reset {
			t.Errorf("resuming from %d, within the last run, got a reset", firstFinal-1)
		}
		seen := map[string]bool{}
		for _, f := range got {
			seen[string(f.Type)+"/"+frameID(f)] = true
		}
		for _, p := range acked.posts {
			if p.phase == chaosKills && !seen["post.created/"+p.id] {
				t.Errorf("post %s acknowledged after the last restart is not in the log a client resumes from", p.id)
			}
		}
		for _, r := range acked.replies {
			if r.phase == chaosKills && !seen["reply.created/"+r.id] {
				t.Errorf("reply %s acknowledged after the last restart is not in the log a client resumes from", r.id)
			}
		}
	}

	// 4. Every acknowledged post reached the member's device and every
	// acknowledged reply the admin's (the post's author).
	waitPushes(t, ps, memberDev, adminDev, acked)
	phantoms := pushedPosts(ps, memberDev, acked)
	for _, pid := range phantoms {
		// Posts written but never acknowledged may be pushed: they exist.
		if r := api.Do(t, "GET", "/posts/"+pid, nil, member.Token); r.Status != http.StatusOK {
			t.Errorf("the member's device got a push for post %s, which does not exist (%d)", pid, r.Status)
		}
	}

	// A clean stop: no more pushes, and the database can be read.
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v: %s", err, c.stderr)
	}
	countDuplicates(t, ps, memberDev, adminDev, acked.kills)
	if errs := ps.Errors(); len(errs) > 0 {
		t.Errorf("the push service refused pushes: %v", errs)
	}

	// 5. The persisted log itself: every acknowledged event, numbers
	// increasing, holes only where a crash left reserved numbers unused.
	auditEventLog(t, dir, db, sid, acked, fl)
	t.Logf("chaos test took %s", time.Since(start).Round(time.Second))
}

func vapidKey(t *testing.T, api *testutil.Server) string {
	t.Helper()
	var out struct {
		Key string `json:"key"`
	}
	api.Do(t, "GET", "/push/vapid-public-key", nil, "").Expect(t, http.StatusOK).JSON(t, &out)
	return out.Key
}

// The load.

type ackedPost struct {
	id    string
	phase int
}

type ackedReply struct {
	id, postID, body string
	phase            int
}

type ledgerReq struct {
	Key         string `json:"idempotency_key"`
	MemberID    string `json:"member_id"`
	Type        string `json:"type"`
	AmountCents int64  `json:"amount_cents"`
	Year        int    `json:"year"`
	Method      string `json:"method"`
	Note        string `json:"note"`
}

type ackedEntry struct {
	id, key string
}

type chaosAcks struct {
	posts    []ackedPost
	replies  []ackedReply
	entries  []ackedEntry
	problems []string
	// retried: keys sent again after their request died; of those,
	// retriedExisting were answered 200 (recorded before the crash).
	retried, retriedExisting, cut int
	kills                         []time.Time
}

type chaosLoad struct {
	client                     *http.Client
	sid, aid, rosterID         string
	admin, member, volunteer   string
	year                       int
	replyQ                     chan string
	mu                         sync.Mutex
	acks                       chaosAcks
	pending                    []ledgerReq // died with the server: retried with the same key
	kills                      []time.Time
	phaseAcks                  int
	enough                     chan struct{}
	killed                     atomic.Bool
	postSeq, replySeq, pageSeq int
}

func (l *chaosLoad) snapshot() chaosAcks {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.acks
	a.posts, a.replies, a.entries = slices.Clone(a.posts), slices.Clone(a.replies), slices.Clone(a.entries)
	a.problems = slices.Clone(a.problems)
	a.kills = slices.Clone(l.kills)
	return a
}

func (l *chaosLoad) problem(format string, args ...any) {
	l.mu.Lock()
	l.acks.problems = append(l.acks.problems, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// ack counts an acknowledged write of the phase; the phase's crash comes
// once there are enough.
func (l *chaosLoad) ack(fn func(a *chaosAcks)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(&l.acks)
	l.phaseAcks++
	if l.enough != nil && l.phaseAcks == chaosPhaseAcks {
		close(l.enough)
	}
}

func (l *chaosLoad) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phaseAcks
}

// died records a request the server did not answer. Before the kill it is
// a problem; after, it is what a crash does.
func (l *chaosLoad) died(what string, err error) {
	if !l.killed.Load() {
		l.problem("%s failed while the server was up: %v", what, err)
	}
	l.mu.Lock()
	l.acks.cut++
	l.mu.Unlock()
}

func (l *chaosLoad) call(base, method, path, token string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, base+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := l.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// busy tells the answers a client retries later.
func busy(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
}

// run drives one phase: three writers until the phase has chaosPhaseAcks
// acknowledged writes, then kill -9 (or, in the last phase, a stop).
func (l *chaosLoad) run(t *testing.T, c *child, phase int, last bool) {
	t.Helper()
	l.mu.Lock()
	l.phaseAcks, l.enough = 0, make(chan struct{})
	enough := l.enough
	l.mu.Unlock()
	l.killed.Store(false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range []func(string, int, <-chan struct{}){l.poster, l.replier, l.recorder} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w(c.url, phase, stop)
		}()
	}
	ended := make(chan struct{})
	go func() {
		wg.Wait()
		close(ended)
	}()
	select {
	case <-enough:
	case <-ended:
		t.Fatalf("phase %d: the writers stopped with %d writes acknowledged, %d wanted: %v", phase, l.acked(), chaosPhaseAcks, l.snapshot().problems)
	case <-time.After(chaosWait):
		t.Fatalf("phase %d: %d writes acknowledged after %s", phase, l.acked(), chaosWait)
	}
	if last {
		close(stop)
	} else {
		l.killed.Store(true)
		if err := c.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		l.kills = append(l.kills, time.Now())
		l.mu.Unlock()
		close(stop)
	}
	select {
	case <-ended:
	case <-time.After(chaosWait):
		t.Fatalf("phase %d: the writers did not stop", phase)
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

var chaosCategories = []string{"babysitting", "repairs", "dog_walking", "lending", "errands", "company", "lessons", "gardening", "transport", "other"}

// poster is the admin publishing requests and offers.
func (l *chaosLoad) poster(base string, phase int, stop <-chan struct{}) {
	for i := 0; i < chaosMaxPerPhase && !stopped(stop); i++ {
		l.mu.Lock()
		l.postSeq++
		n := l.postSeq
		l.mu.Unlock()
		kind := "request"
		if n%2 == 0 {
			kind = "offer"
		}
		code, body, err := l.call(base, "POST", "/streets/"+l.sid+"/posts", l.admin, map[string]string{"kind": kind,
			"category": chaosCategories[n%len(chaosCategories)], "title": fmt.Sprintf("Richiesta numero %d", n), "body": "Chi può aiutare?"})
		switch {
		case err != nil:
			l.died("post", err)
			return
		case code == http.StatusCreated:
			var out struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &out); err != nil || out.ID == "" {
				l.problem("post answered 201 without an id: %s", body)
				return
			}
			l.ack(func(a *chaosAcks) { a.posts = append(a.posts, ackedPost{id: out.ID, phase: phase}) })
			l.replyQ <- out.ID
		case busy(code):
		default:
			l.problem("post answered %d: %s", code, body)
			return
		}
	}
}

// replier is the member answering the admin's posts, once each, in order.
func (l *chaosLoad) replier(base string, phase int, stop <-chan struct{}) {
	for i := 0; i < chaosMaxPerPhase; i++ {
		var pid string
		select {
		case pid = <-l.replyQ:
		case <-stop:
			return
		}
		l.mu.Lock()
		l.replySeq++
		text := fmt.Sprintf("Passo io, risposta %d", l.replySeq)
		l.mu.Unlock()
		code, body, err := l.call(base, "POST", "/posts/"+pid+"/replies", l.member, map[string]string{"body": text})
		switch {
		case err != nil:
			l.died("reply", err)
			return
		case code == http.StatusCreated:
			var out struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &out); err != nil || out.ID == "" {
				l.problem("reply answered 201 without an id: %s", body)
				return
			}
			l.ack(func(a *chaosAcks) {
				a.replies = append(a.replies, ackedReply{id: out.ID, postID: pid, body: text, phase: phase})
			})
		case busy(code):
		default:
			l.problem("reply to %s answered %d: %s", pid, code, body)
			return
		}
	}
}

// record sends one ledger entry; it reports whether the server answered.
func (l *chaosLoad) record(base string, req ledgerReq, retry bool) bool {
	code, body, err := l.call(base, "POST", "/associations/"+l.aid+"/ledger", l.volunteer, req)
	switch {
	case err != nil:
		l.died("ledger entry", err)
		l.mu.Lock()
		l.pending = append(l.pending, req)
		l.mu.Unlock()
		return false
	case code == http.StatusCreated || code == http.StatusOK:
		var out struct {
			ID  string `json:"id"`
			Key string `json:"idempotency_key"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.ID == "" || out.Key != req.Key {
			l.problem("ledger entry %s answered %d with %s", req.Key, code, body)
			return true
		}
		if code == http.StatusOK && !retry {
			l.problem("a fresh key %s answered 200 (an entry already there)", req.Key)
		}
		l.ack(func(a *chaosAcks) {
			a.entries = append(a.entries, ackedEntry{id: out.ID, key: req.Key})
			if retry {
				a.retried++
				if code == http.StatusOK {
					a.retriedExisting++
				}
			}
		})
	case busy(code):
		l.mu.Lock()
		l.pending = append(l.pending, req)
		l.mu.Unlock()
	default:
		l.problem("ledger entry %s answered %d: %s", req.Key, code, body)
	}
	return true
}

// recorder is the volunteer at the desk: first the entries whose request
// died with the previous server, with the same key, then new ones.
func (l *chaosLoad) recorder(base string, phase int, stop <-chan struct{}) {
	l.mu.Lock()
	retry := l.pending
	l.pending = nil
	l.mu.Unlock()
	for i, req := range retry {
		if !l.record(base, req, true) {
			l.mu.Lock()
			l.pending = append(l.pending, retry[i+1:]...)
			l.mu.Unlock()
			return
		}
	}
	for i := 0; i < chaosMaxPerPhase && !stopped(stop); i++ {
		l.mu.Lock()
		l.pageSeq++
		n := l.pageSeq
		l.mu.Unlock()
		typ := "fee"
		if n%3 == 0 {
			typ = "donation"
		}
		req := ledgerReq{Key: fmt.Sprintf("chaos-%d-%s", n, testutil.RandomHex(4)), MemberID: l.rosterID, Type: typ,
			AmountCents: int64(100 + n), Year: l.year, Method: "cash", Note: fmt.Sprintf("versamento %d", n)}
		if !l.record(base, req, false) {
			return
		}
	}
}

// retryPending sends, on the last server, what is still unanswered.
func (l *chaosLoad) retryPending(t *testing.T, base string) {
	t.Helper()
	l.mu.Lock()
	retry := l.pending
	l.pending = nil
	l.enough = nil // no phase is counted here
	l.mu.Unlock()
	for _, req := range retry {
		if !l.record(base, req, true) {
			t.Fatalf("ledger entry %s: the last server did not answer", req.Key)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) > 0 {
		t.Fatalf("%d ledger entries still unanswered on the last server", len(l.pending))
	}
}

// The audit of the API's state.

func auditPosts(t *testing.T, api *testutil.Server, token string, acked chaosAcks) {
	t.Helper()
	replies := map[string][]ackedReply{}
	for _, r := range acked.replies {
		replies[r.postID] = append(replies[r.postID], r)
	}
	lost := 0
	for _, p := range acked.posts {
		r := api.Do(t, "GET", "/posts/"+p.id, nil, token)
		if r.Status != http.StatusOK {
			t.Errorf("post %s acknowledged in phase %d is lost: %d %s", p.id, p.phase, r.Status, r.Body)
			lost++
			continue
		}
		var th struct {
			ID      string `json:"id"`
			Replies []struct {
				ID   string `json:"id"`
				Body string `json:"body"`
			} `json:"replies"`
			Next string `json:"replies_next_cursor"`
		}
		r.JSON(t, &th)
		if th.Next != "" {
			t.Fatalf("post %s has more than a page of replies; the test replies once per post", p.id)
		}
		have := map[string]string{}
		for _, x := range th.Replies {
			have[x.ID] = x.Body
		}
		for _, want := range replies[p.id] {
			if body, ok := have[want.id]; !ok || body != want.body {
				t.Errorf("reply %s to post %s, acknowledged in phase %d, is not on the post (%q)", want.id, p.id, want.phase, body)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged posts lost", lost, len(acked.posts))
	}
}

func auditLedger(t *testing.T, api *testutil.Server, token, aid string, acked chaosAcks) {
	t.Helper()
	byID := map[string]bool{}
	perKey := map[string]int{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("the ledger's pages never end")
		}
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var out struct {
			Items []struct {
				ID  string `json:"id"`
				Key string `json:"idempotency_key"`
			} `json:"items"`
			Next string `json:"next_cursor"`
		}
		api.Do(t, "GET", "/associations/"+aid+"/ledger?"+q.Encode(), nil, token).Expect(t, http.StatusOK).JSON(t, &out)
		for _, e := range out.Items {
			byID[e.ID] = true
			perKey[e.Key]++
		}
		if out.Next == "" {
			break
		}
		cursor = out.Next
	}
	for _, e := range acked.entries {
		if !byID[e.id] {
			t.Errorf("ledger entry %s (key %s), acknowledged, is not in the ledger", e.id, e.key)
		}
		if n := perKey[e.key]; n != 1 {
			t.Errorf("idempotency key %s recorded %d entries, want 1", e.key, n)
		}
	}
}

// The follower: a client of the street's channel across the crashes.

type follower struct {
	mu                sync.Mutex
	frames            []testutil.WSFrame
	lastID            int64
	resets            int
	afterReset        bool
	firstAfterConnect int64 // the first event after the latest connect
	connected         bool
	violations        []string
	changed           chan struct{}
	closed            chan struct{}
}

func frameID(f testutil.WSFrame) string {
	var d struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(f.Data, &d)
	return d.ID
}

// connect opens the channel resuming after the last event seen, and
// returns once the server has registered the socket (it answered a ping
// from the read loop that starts after registration and replay): events
// published from then on reach it.
func (f *follower) connect(t *testing.T, api *testutil.Server, token, sid string) {
	t.Helper()
	f.mu.Lock()
	since := strconv.FormatInt(f.lastID, 10)
	f.firstAfterConnect, f.connected = 0, true
	f.changed, f.closed = make(chan struct{}), make(chan struct{})
	closed := f.closed
	f.mu.Unlock()
	w, r, err := api.DialWS(t, sid, testutil.WSDial{Token: token, Since: since, Hold: true})
	if err != nil {
		t.Fatalf("follower: websocket: %v %+v", err, r)
	}
	pong := make(chan struct{})
	var once sync.Once
	w.Conn.SetPongHandler(func(string) error {
		once.Do(func() { close(pong) })
		return nil
	})
	go f.read(w.Conn, closed)
	if err := w.Conn.WriteControl(websocket.PingMessage, []byte("chaos"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("follower: ping: %v", err)
	}
	select {
	case <-pong:
	case <-closed:
		t.Fatal("follower: the socket closed before the server answered a ping")
	case <-time.After(chaosWait):
		t.Fatal("follower: no pong")
	}
}

func (f *follower) read(conn *websocket.Conn, closed chan struct{}) {
	defer close(closed)
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var fr testutil.WSFrame
		if err := json.Unmarshal(b, &fr); err != nil {
			f.mu.Lock()
			f.violations = append(f.violations, fmt.Sprintf("a frame that is not JSON: %q", b))
			f.mu.Unlock()
			return
		}
		f.mu.Lock()
		if fr.Type == "reset" {
			f.resets++
			f.afterReset = true
		} else {
			id, err := strconv.ParseInt(fr.ID, 10, 64)
			switch {
			case err != nil:
				f.violations = append(f.violations, fmt.Sprintf("a %s frame with id %q", fr.Type, fr.ID))
			case id <= f.lastID:
				f.violations = append(f.violations, fmt.Sprintf("event %d (%s) after %d: numbers given twice or out of order", id, fr.Type, f.lastID))
			case id != f.lastID+1 && !f.afterReset:
				f.violations = append(f.violations, fmt.Sprintf("silent gap: event %d (%s) after %d with no reset", id, fr.Type, f.lastID))
			}
			if err == nil && id > f.lastID {
				f.lastID = id
			}
			if f.firstAfterConnect == 0 {
				f.firstAfterConnect = id
			}
			f.afterReset = false
			f.frames = append(f.frames, fr)
		}
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}
}

// waitClosed waits for the socket the crash cut to be read to its end.
func (f *follower) waitClosed(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	select {
	case <-closed:
	case <-time.After(chaosWait):
		t.Fatal("follower: the socket outlived the server")
	}
}

func (f *follower) firstID() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.frames) == 0 {
		return 0
	}
	id, _ := strconv.ParseInt(f.frames[0].ID, 10, 64)
	return id
}

// waitFollower waits until the follower saw every event acknowledged after
// the last restart (those of earlier runs may have been cut with the
// socket: the reset covers them).
func waitFollower(t *testing.T, f *follower, acked chaosAcks) {
	t.Helper()
	want := map[string]bool{}
	for _, p := range acked.posts {
		if p.phase == chaosKills {
			want["post.created/"+p.id] = true
		}
	}
	for _, r := range acked.replies {
		if r.phase == chaosKills {
			want["reply.created/"+r.id] = true
		}
	}
	deadline := time.After(chaosWait)
	seen := 0
	for {
		f.mu.Lock()
		for _, fr := range f.frames[seen:] {
			delete(want, fr.Type+"/"+frameID(fr))
		}
		seen = len(f.frames)
		changed := f.changed
		f.mu.Unlock()
		if len(want) == 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Errorf("the follower never got %d events acknowledged after the last restart: %v", len(want), want)
			return
		}
	}
}

// unseen counts the acknowledged posts and replies whose event is not
// among frames.
func unseen(frames []testutil.WSFrame, acked chaosAcks) int {
	seen := map[string]bool{}
	for _, fr := range frames {
		seen[fr.Type+"/"+frameID(fr)] = true
	}
	n := 0
	for _, p := range acked.posts {
		if !seen["post.created/"+p.id] {
			n++
		}
	}
	for _, r := range acked.replies {
		if !seen["reply.created/"+r.id] {
			n++
		}
	}
	return n
}

// resumeFrom opens the channel with ?since= and reads until it has the
// event numbered upTo or a reset. The stream must go on from since
// without a jump.
func resumeFrom(t *testing.T, api *testutil.Server, token, sid string, since, upTo int64) ([]testutil.WSFrame, bool) {
	t.Helper()
	w, r, err := api.DialWS(t, sid, testutil.WSDial{Token: token, Since: strconv.FormatInt(since, 10), Hold: true})
	if err != nil {
		t.Fatalf("resume from %d: %v %+v", since, err, r)
	}
	defer w.Conn.Close()
	var got []testutil.WSFrame
	last := since
	for last < upTo {
		_ = w.Conn.SetReadDeadline(time.Now().Add(chaosWait))
		_, b, err := w.Conn.ReadMessage()
		if err != nil {
			t.Errorf("resume from %d: the socket ended at %d, before %d: %v", since, last, upTo, err)
			return got, false
		}
		var fr testutil.WSFrame
		if err := json.Unmarshal(b, &fr); err != nil {
			t.Fatalf("resume from %d: frame %q: %v", since, b, err)
		}
		if fr.Type == "reset" {
			return got, true
		}
		id, _ := strconv.ParseInt(fr.ID, 10, 64)
		if id != last+1 {
			t.Errorf("resume from %d: silent gap, event %d after %d", since, id, last)
		}
		last = id
		got = append(got, fr)
	}
	return got, false
}

// The pushes.

func decodePush(m pushservice.Message) (push.Payload, error) {
	var p push.Payload
	err := m.Decode(&p)
	return p, err
}

// waitPushes waits, on the push service's own notifications, until every
// acknowledged post reached the member's device and every acknowledged
// reply the admin's.
func waitPushes(t *testing.T, ps *pushservice.Service, memberDev, adminDev *pushservice.Subscription, acked chaosAcks) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chaosWait)
	defer cancel()
	for {
		missing := missingPushes(ps, memberDev, adminDev, acked)
		if len(missing) == 0 {
			return
		}
		n := len(ps.Messages(""))
		if err := ps.Wait(ctx, func(v pushservice.View) bool { return v.Messages("") > n }); err != nil {
			t.Errorf("%d acknowledged pushes never arrived (%v): %s", len(missing), err, strings.Join(missing, ", "))
			return
		}
	}
}

func missingPushes(ps *pushservice.Service, memberDev, adminDev *pushservice.Subscription, acked chaosAcks) []string {
	tags := map[string]bool{}
	for _, m := range ps.Messages(memberDev.Token) {
		if p, err := decodePush(m); err == nil {
			tags[p.Tag] = true
		}
	}
	bodies := map[string]bool{}
	for _, m := range ps.Messages(adminDev.Token) {
		if p, err := decodePush(m); err == nil {
			bodies[p.Body] = true
		}
	}
	var missing []string
	for _, p := range acked.posts {
		if !tags["post-"+p.id] {
			missing = append(missing, fmt.Sprintf("post %s (phase %d) to the member", p.id, p.phase))
		}
	}
	for _, r := range acked.replies {
		if !bodies["Bruno: "+r.body] {
			missing = append(missing, fmt.Sprintf("reply %s (phase %d) to the admin", r.id, r.phase))
		}
	}
	return missing
}

// pushedPosts returns the posts pushed to the member that were never
// acknowledged (their request died with the server).
func pushedPosts(ps *pushservice.Service, memberDev *pushservice.Subscription, acked chaosAcks) []string {
	known := map[string]bool{}
	for _, p := range acked.posts {
		known[p.id] = true
	}
	var out []string
	for _, m := range ps.Messages(memberDev.Token) {
		p, err := decodePush(m)
		pid, ok := strings.CutPrefix(p.Tag, "post-")
		if err != nil || !ok || known[pid] {
			continue
		}
		known[pid] = true
		out = append(out, pid)
	}
	return out
}

// countDuplicates counts the pushes a device got more than once: the same
// post (Topic) on the member's, the same reply on the admin's. A push the
// service accepted just before a crash, whose done-marker was not yet
// written, is sent again after the restart; more than one per worker per
// crash is a fault. Markers are written in batches (outbox.go:
// commitLoop), so under load "just before" can be a hundred milliseconds
// or more: each duplicate is logged with how long before the crash that
// followed it its first copy was accepted.
func countDuplicates(t *testing.T, ps *pushservice.Service, memberDev, adminDev *pushservice.Subscription, kills []time.Time) {
	t.Helper()
	copies := map[string][]time.Time{}
	total := 0
	for _, dev := range []*pushservice.Subscription{memberDev, adminDev} {
		for _, m := range ps.Messages(dev.Token) {
			p, err := decodePush(m)
			if err != nil {
				t.Errorf("a push that is not a payload: %q", m.Payload)
				continue
			}
			if m.Topic == "" {
				t.Errorf("push %+v without a Topic", p)
			}
			key := dev.Token + "|" + m.Topic + "|" + p.Body
			copies[key] = append(copies[key], m.At)
			total++
		}
	}
	dups := 0
	var which []string
	for key, at := range copies {
		if len(at) < 2 {
			continue
		}
		dups += len(at) - 1
		body := key[strings.LastIndex(key, "|")+1:]
		when := "after the last crash"
		for k, kill := range kills {
			if at[0].Before(kill) {
				when = fmt.Sprintf("first accepted %s before crash %d", kill.Sub(at[0]).Round(time.Millisecond), k+1)
				break
			}
		}
		which = append(which, fmt.Sprintf("%q ×%d (%s)", body, len(at), when))
	}
	slices.Sort(which)
	t.Logf("pushes: %d delivered, %d distinct, %d duplicates after %d crashes (%d workers: at most %d allowed) %s",
		total, len(copies), dups, chaosKills, chaosPushWorkers, chaosKills*chaosPushWorkers, strings.Join(which, "; "))
	if dups > chaosKills*chaosPushWorkers {
		t.Errorf("%d duplicate pushes: more than one per worker per crash", dups)
	}
}

// The persisted event log.

func auditEventLog(t *testing.T, dir, db, sid string, acked chaosAcks, f *follower) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chaosWait)
	defer cancel()
	cfg := store.Config{DataDir: dir, Database: db}
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		cfg.URI = uri
	}
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open the database: %v", err)
	}
	defer func() {
		if cfg.URI != "" {
			_ = st.Database().Drop(context.Background())
		}
		_ = st.Close(context.Background())
	}()
	var recs []struct {
		Seq     int64  `bson:"seq"`
		Type    string `bson:"type"`
		Payload string `bson:"payload"`
	}
	if err := st.Collection("events").FindAll(ctx, bson.M{"street_id": sid}, &recs, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}})); err != nil {
		t.Fatalf("read the event log: %v", err)
	}
	logged := map[string]int64{}
	bySeq := map[int64]string{}
	var holes []string
	for i, r := range recs {
		var d struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(r.Payload), &d)
		logged[r.Type+"/"+d.ID] = r.Seq
		bySeq[r.Seq] = r.Type + "/" + d.ID
		if i > 0 && r.Seq != recs[i-1].Seq+1 {
			holes = append(holes, fmt.Sprintf("%d–%d", recs[i-1].Seq+1, r.Seq-1))
		}
	}
	if len(recs) == 0 {
		t.Fatal("the street's event log is empty")
	}
	t.Logf("event log: %d events, numbers %d to %d, holes left by the crashes: %v",
		len(recs), recs[0].Seq, recs[len(recs)-1].Seq, holes)
	if len(holes) > chaosKills {
		t.Errorf("%d holes in the event log for %d crashes: %v", len(holes), chaosKills, holes)
	}
	for _, p := range acked.posts {
		if _, ok := logged["post.created/"+p.id]; !ok {
			t.Errorf("post %s acknowledged in phase %d has no post.created in the event log", p.id, p.phase)
		}
	}
	for _, r := range acked.replies {
		if _, ok := logged["reply.created/"+r.id]; !ok {
			t.Errorf("reply %s acknowledged in phase %d has no reply.created in the event log", r.id, r.phase)
		}
	}
	// What the follower saw is what the log holds, number for number;
	// events lost with a crash (sent to sockets, not yet written) were
	// never acknowledged.
	ackedIDs := map[string]bool{}
	for _, p := range acked.posts {
		ackedIDs["post.created/"+p.id] = true
	}
	for _, r := range acked.replies {
		ackedIDs["reply.created/"+r.id] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	lost := 0
	for _, fr := range f.frames {
		id, _ := strconv.ParseInt(fr.ID, 10, 64)
		key := fr.Type + "/" + frameID(fr)
		switch have, ok := bySeq[id]; {
		case !ok:
			lost++
			if ackedIDs[key] {
				t.Errorf("event %d (%s) was acknowledged and sent to sockets, but is not in the log", id, key)
			}
		case have != key:
			t.Errorf("event %d is %s in the log but was sent to sockets as %s", id, have, key)
		}
	}
	t.Logf("events the follower saw that a crash lost before they were written: %d (none acknowledged)", lost)
}
