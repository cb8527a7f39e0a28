package mail_test

import (
	"context"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/fault"
	civmail "civico/internal/mail"
	"civico/internal/testutil"
)

func TestMailHasEnvelopeHeadersAndBothParts(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	m := civmail.Message{
		ID: "reply:1", Kind: civmail.KindReply, To: "anna@example.org", ToName: "Anna Ròssi", Locale: "it",
		Subject: "Nuova risposta: perché sì", Text: "Ciao Anna,\nLuca ha risposto: https://civico.example.org/posts/1\n",
		HTML: "<p>Ciao Anna,</p><p>Luca ha risposto.</p>", Unsubscribe: "https://civico.example.org/api/v1/mail/unsubscribe?t=abc",
	}
	queue(t, s, m)
	got := e.smtp.Next(t)
	if got.From != "civico@example.org" || !slices.Equal(got.To, []string{"anna@example.org"}) {
		t.Errorf("envelope: from %q to %v", got.From, got.To)
	}
	h := got.Header
	if id := h.Get("Message-Id"); !regexp.MustCompile(`^<[a-z2-7]{20,}@example\.org>$`).MatchString(id) {
		t.Errorf("Message-ID %q: want <random@example.org>", id)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Civico" || from[0].Address != "civico@example.org" {
		t.Errorf("From: %v %v", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Anna Ròssi" || to[0].Address != "anna@example.org" {
		t.Errorf("To: %v %v", to, err)
	}
	if got.Subject() != m.Subject {
		t.Errorf("Subject %q, want %q", got.Subject(), m.Subject)
	}
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "multipart/alternative" {
		t.Errorf("Content-Type %q, want multipart/alternative", h.Get("Content-Type"))
	}
	if v := h.Get("List-Unsubscribe"); v != "<"+m.Unsubscribe+">" {
		t.Errorf("List-Unsubscribe %q", v)
	}
	if v := h.Get("List-Unsubscribe-Post"); v != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", v)
	}
	if v := h.Get("Content-Language"); v != "it" {
		t.Errorf("Content-Language %q", v)
	}
	if strings.Contains(string(got.Data), "go-mail") {
		t.Error("the mail names the library that wrote it")
	}
	if !strings.Contains(got.Text, "Luca ha risposto: https://civico.example.org/posts/1") || !strings.Contains(got.HTML, "<p>Luca ha risposto.</p>") {
		t.Errorf("parts: text %q html %q", got.Text, got.HTML)
	}
	if !slices.Equal(got.Links, []string{"https://civico.example.org/posts/1"}) {
		t.Errorf("links %v", got.Links)
	}
	waitStats(t, s, func(st civmail.Stats) bool { return st.Queued == 1 && st.Sent == 1 && st.Pending == 0 })
	e.smtp.None(t)
}

func TestMailWithoutUnsubscribeOrHTML(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	m := msg("plain", "bruno@example.org")
	m.HTML = ""
	queue(t, s, m)
	got := e.smtp.Next(t)
	if got.Header.Get("List-Unsubscribe") != "" || got.Header.Get("List-Unsubscribe-Post") != "" {
		t.Error("List-Unsubscribe on a mail that asked for none")
	}
	if mt, _, _ := mime.ParseMediaType(got.Header.Get("Content-Type")); mt != "text/plain" {
		t.Errorf("Content-Type %q for a text-only mail", got.Header.Get("Content-Type"))
	}
}

func TestQueueIsIdempotent(t *testing.T) {
	e := newEnv(t)
	s := e.service()
	queue(t, s, msg("digest:s1:u1:2026-W10", "anna@example.org"))
	queue(t, s, msg("digest:s1:u1:2026-W10", "anna@example.org")) // queued, not sent yet
	s.Start()
	e.smtp.Next(t)
	e.smtp.None(t)
	// After the send, the same ID is spent too.
	waitStats(t, s, func(st civmail.Stats) bool { return st.Sent == 1 && st.Pending == 0 })
	queue(t, s, msg("digest:s1:u1:2026-W10", "anna@example.org"))
	e.smtp.None(t)
	if st := s.Stats(); st.Queued != 1 || st.Duplicates != 2 {
		t.Errorf("stats %+v: want 1 queued, 2 duplicates", st)
	}
}

func TestTemporaryFailureIsRetriedWithBackoff(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	e.smtp.FailNext(2, 451)
	queue(t, s, msg("t1", "anna@example.org"))
	waitStats(t, s, func(st civmail.Stats) bool { return st.Retried == 1 })
	e.smtp.None(t)
	// Not before its minute: the clock has not moved.
	s.Wake()
	e.clock.Advance(59 * time.Second)
	s.Wake()
	e.smtp.None(t)
	e.clock.Advance(time.Second)
	s.Wake()
	waitStats(t, s, func(st civmail.Stats) bool { return st.Retried == 2 }) // second failure: now 5 minutes
	e.clock.Advance(4 * time.Minute)
	s.Wake()
	e.smtp.None(t)
	e.clock.Advance(time.Minute)
	s.Wake()
	got := e.smtp.Next(t)
	if got.Subject() != "Subject t1" {
		t.Errorf("got %q", got.Subject())
	}
	e.smtp.None(t)
	waitStats(t, s, func(st civmail.Stats) bool { return st.Sent == 1 && st.Retried == 2 && st.Pending == 0 })
}

func TestTemporaryFailuresGiveUpAfterThreeDays(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	e.smtp.FailNext(1000, 421)
	queue(t, s, msg("old", "anna@example.org"))
	waitStats(t, s, func(st civmail.Stats) bool { return st.Retried == 1 })
	e.clock.Advance(3*24*time.Hour + time.Minute)
	s.Wake()
	e.logs.wait(t, "giving up after retries", 1)
	waitStats(t, s, func(st civmail.Stats) bool { return st.Dropped == 1 && st.Pending == 0 })
	e.smtp.FailNext(0, 0)
	queue(t, s, msg("old", "anna@example.org")) // spent: given up is finished
	e.smtp.None(t)
}

func TestPermanentFailureMarksTheAddressBouncing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.started()
	e.smtp.FailNext(1, 550)
	queue(t, s, msg("b1", "Gone@Example.org"))
	e.logs.wait(t, "marked as bouncing", 1)
	waitStats(t, s, func(st civmail.Stats) bool { return st.Bounced == 1 && st.Pending == 0 })
	if b, err := s.Bouncing(ctx, "gone@example.org"); err != nil || !b {
		t.Fatalf("bouncing %v %v, want true", b, err)
	}
	e.smtp.None(t)

	// Later notices to it are not even queued; account mails still go.
	queue(t, s, msg("b2", "gone@example.org"))
	if st := s.Stats(); st.Suppressed != 1 || st.Queued != 1 {
		t.Errorf("stats %+v: want the second mail suppressed", st)
	}
	v := msg("verify:1", "gone@example.org")
	v.Kind = civmail.KindVerify
	queue(t, s, v)
	if got := e.smtp.Next(t); got.Subject() != "Subject verify:1" {
		t.Errorf("got %q, want the verification", got.Subject())
	}
	e.smtp.None(t)

	// Proven again: mail flows.
	if err := s.ClearBounce(ctx, "GONE@example.org"); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Bouncing(ctx, "gone@example.org"); b {
		t.Fatal("still bouncing after ClearBounce")
	}
	queue(t, s, msg("b3", "gone@example.org"))
	if got := e.smtp.Next(t); got.Subject() != "Subject b3" {
		t.Errorf("got %q", got.Subject())
	}
}

func TestHeaderInjectionSendsNothingInjected(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	m := msg("inj", "anna@example.org")
	m.ToName = "Eve\r\nBcc: victim@example.org"
	m.Subject = "Hello\r\nBcc: victim2@example.org\nX-Evil: 1"
	queue(t, s, m)
	got := e.smtp.Next(t)
	if !slices.Equal(got.To, []string{"anna@example.org"}) {
		t.Errorf("envelope recipients %v", got.To)
	}
	for _, k := range []string{"Bcc", "X-Evil"} {
		if v, ok := got.Header[k]; ok {
			t.Errorf("injected header %s: %v", k, v)
		}
	}
	if s := got.Subject(); strings.ContainsAny(s, "\r\n") || s != "Hello Bcc: victim2@example.org X-Evil: 1" {
		t.Errorf("subject %q", s)
	}
	to, err := got.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Eve Bcc: victim@example.org" || to[0].Address != "anna@example.org" {
		t.Errorf("To %v %v", to, err)
	}
	e.smtp.None(t)
}

func TestBadInputIsRefusedAndQueuesNothing(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	for _, to := range []string{
		"", "anna", "anna@", "@example.org", "anna@example.org\r\nRCPT TO:<x@y>", "anna@example.org\n",
		"Anna <anna@example.org>", "a,b@example.org", "a b@example.org", "anna@@example.org",
		strings.Repeat("a", 250) + "@example.org", "anna@exa\x00mple.org",
	} {
		err := s.Queue(context.Background(), msg("bad:"+to, to))
		fe, ok := fault.As(err)
		if !ok || fe.Kind != fault.Invalid || fe.Fields["to"] != "invalid" {
			t.Errorf("Queue to %q: %v, want a validation error on to", to, err)
		}
	}
	// Programming mistakes: no ID, unknown kind, no subject, a bad unsubscribe URL.
	for name, change := range map[string]func(*civmail.Message){
		"no id":       func(m *civmail.Message) { m.ID = "" },
		"kind":        func(m *civmail.Message) { m.Kind = "spam" },
		"subject":     func(m *civmail.Message) { m.Subject = "\r\n" },
		"text":        func(m *civmail.Message) { m.Text = "" },
		"unsubscribe": func(m *civmail.Message) { m.Unsubscribe = "https://x.org/u>\r\nBcc: y@z" },
	} {
		m := msg("mistake", "anna@example.org")
		change(&m)
		if err := s.Queue(context.Background(), m); err == nil {
			t.Errorf("%s: queued", name)
		}
	}
	if st := s.Stats(); st.Queued != 0 {
		t.Errorf("%d queued", st.Queued)
	}
	e.smtp.None(t)
}

func TestNotBeforeHoldsTheMail(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	m := msg("quiet", "anna@example.org")
	m.NotBefore = e.clock.Now().Add(8 * time.Hour)
	queue(t, s, m)
	e.clock.Advance(8*time.Hour - time.Second)
	s.Wake()
	e.smtp.None(t)
	e.clock.Advance(time.Second)
	s.Wake()
	e.smtp.Next(t)
}

// A clean restart in the middle of a batch: the sends in flight finish
// and are marked, the rest go out from the next start, each once.
func TestRestartInTheMiddleOfABatchLosesAndRepeatsNothing(t *testing.T) {
	e := newEnv(t)
	a := e.started(func(o *civmail.Options) { o.Workers = 2 })
	release := e.smtp.Hold()
	const n = 10
	for i := range n {
		queue(t, a, msg("batch:"+string(rune('a'+i)), "anna@example.org"))
	}
	e.smtp.Held(t, 2) // both workers are in DATA
	closed := make(chan struct{})
	go func() {
		a.Close()
		close(closed)
	}()
	select {
	case <-civmail.Stopping(a):
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not begin")
	}
	release()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
	if got := e.smtp.Count(); got != 2 {
		t.Fatalf("%d mails accepted before the stop, want the 2 in flight", got)
	}
	if st := a.Stats(); st.Sent != 2 {
		t.Errorf("first run: %+v", st)
	}

	b := e.started() // the next run: another process id, on the same database
	subjects := map[string]int{}
	for range n {
		subjects[e.smtp.Next(t).Subject()]++
	}
	e.smtp.None(t)
	for i := range n {
		if s := "Subject batch:" + string(rune('a'+i)); subjects[s] != 1 {
			t.Errorf("%s arrived %d times", s, subjects[s])
		}
	}
	waitStats(t, b, func(st civmail.Stats) bool { return st.Sent == n-2 && st.Pending == 0 })
}

// Two processes on one database: each sends what it queued, once; the
// mails of one that is gone are taken over by the other's sweep, those of
// a live one are left alone.
func TestTwoProcessesSendEachMailOnce(t *testing.T) {
	e := newEnv(t)
	c := testutil.NewCluster()
	a := e.started(func(o *civmail.Options) { o.Owners = c.Process("a") })
	b := e.started(func(o *civmail.Options) { o.Owners = c.Process("b") })
	for i := range 4 {
		queue(t, a, msg("a"+string(rune('0'+i)), "anna@example.org"))
		queue(t, b, msg("b"+string(rune('0'+i)), "anna@example.org"))
		queue(t, b, msg("a"+string(rune('0'+i)), "anna@example.org")) // the same mail through the other
	}
	seen := map[string]int{}
	for range 8 {
		seen[e.smtp.Next(t).Subject()]++
	}
	e.smtp.None(t)
	for s, k := range seen {
		if k != 1 {
			t.Errorf("%s arrived %d times", s, k)
		}
	}

	// A third process queues and stops before sending (not started: as
	// if it crashed right after the inserts).
	x := e.service(func(o *civmail.Options) { o.Owners = c.Process("x") })
	for i := range 3 {
		queue(t, x, msg("x"+string(rune('0'+i)), "anna@example.org"))
	}
	if err := b.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.smtp.None(t) // x is alive: its mails are its own
	c.Kill("x")
	errs := make(chan error, 2)
	go func() { errs <- a.Sweep(context.Background()) }()
	go func() { errs <- b.Sweep(context.Background()) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen = map[string]int{}
	for range 3 {
		seen[e.smtp.Next(t).Subject()]++
	}
	e.smtp.None(t)
	for i := range 3 {
		if s := "Subject x" + string(rune('0'+i)); seen[s] != 1 {
			t.Errorf("%s arrived %d times", s, seen[s])
		}
	}
}

func TestSweepDropsOldMarkers(t *testing.T) {
	e := newEnv(t)
	s := e.started()
	queue(t, s, msg("once", "anna@example.org"))
	e.smtp.Next(t)
	waitStats(t, s, func(st civmail.Stats) bool { return st.Sent == 1 && st.Pending == 0 })
	if err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	queue(t, s, msg("once", "anna@example.org"))
	e.smtp.None(t)

	e.clock.Advance(31 * 24 * time.Hour)
	if err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	queue(t, s, msg("once", "anna@example.org")) // 31 days on, the ID is free again
	e.smtp.Next(t)
}

func TestFileTransportWritesEML(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "mail")
	s := e.started(func(o *civmail.Options) { o.URL, o.Dir = "", dir })
	m := msg("file", "anna@example.org")
	m.Text = "Apri https://civico.example.org/reset?token=abc per continuare.\n"
	queue(t, s, m)
	rec := e.logs.wait(t, "mail written", 1)
	if !strings.Contains(rec, "https://civico.example.org/reset?token=abc") {
		t.Errorf("log %q does not give the link", rec)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v %v", files, err)
	}
	if !strings.Contains(rec, files[0]) {
		t.Errorf("log %q does not give the path %s", rec, files[0])
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v, want 0600", fi.Mode(), err)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parsed, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	if testutil.DecodeHeader(parsed.Header.Get("Subject")) != "Subject file" || parsed.Header.Get("Message-Id") == "" {
		t.Errorf("header %v", parsed.Header)
	}
	waitStats(t, s, func(st civmail.Stats) bool { return st.Sent == 1 && st.Pending == 0 })
}

func TestNewRefusesBadOptions(t *testing.T) {
	e := newEnv(t)
	for name, o := range map[string]civmail.Options{
		"from":            {URL: e.smtp.URL(), From: "not an address"},
		"from with CRLF":  {URL: e.smtp.URL(), From: "Civico <civico@example.org>\r\nBcc: x@y"},
		"no dir":          {},
		"insecure remote": {URL: "smtp+insecure://mail.example.org:25"},
		"unknown scheme":  {URL: "http://mail.example.org"},
	} {
		if _, err := civmail.New(context.Background(), e.st, e.clock, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// waitStats waits up to 10 s for the stats to satisfy ok, woken by the
// service each time a mail is finished or put back for a retry.
func waitStats(t *testing.T, s *civmail.Service, ok func(civmail.Stats) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		changed := civmail.Changed(s)
		if ok(s.Stats()) {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("stats %+v never as expected", s.Stats())
		}
	}
}

func TestCredentialsFromTheURLAreUsed(t *testing.T) {
	e := newEnv(t)
	u := strings.Replace(e.smtp.URL(), "://", "://civico:pa%40ss@", 1)
	s := e.started(func(o *civmail.Options) { o.URL = u })
	queue(t, s, msg("auth", "anna@example.org"))
	if got := e.smtp.Next(t); got.User != "civico" {
		t.Errorf("authenticated as %q, want civico", got.User)
	}
}

func TestSTARTTLSIsRequiredOnSMTP(t *testing.T) {
	e := newEnv(t)
	// smtp:// to a relay without STARTTLS: nothing goes in clear.
	s := e.started(func(o *civmail.Options) { o.URL = "smtp://" + e.smtp.Addr() })
	queue(t, s, msg("tls", "anna@example.org"))
	waitStats(t, s, func(st civmail.Stats) bool { return st.Retried == 1 })
	if e.logs.count("cannot reach the SMTP relay") != 1 {
		t.Error("the failure was not logged as the relay's")
	}
	e.smtp.None(t)
	if e.smtp.Count() != 0 {
		t.Error("a mail went without TLS")
	}
}
