package mail_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/mail"
	"civico/internal/store"
	"civico/internal/testutil"
)

// env is one test's world: a database, an SMTP server, a clock and the
// log of every mail service it starts.
type env struct {
	t     *testing.T
	st    *store.Store
	smtp  *testutil.SMTPServer
	clock *clock.Fake
	logs  *logTap
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := testutil.Store(t)
	if err := st.EnsureIndexes(context.Background(), mail.Indexes()...); err != nil {
		t.Fatal(err)
	}
	return &env{
		t: t, st: st, smtp: testutil.SMTP(t),
		clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		logs:  newLogTap(),
	}
}

// options are the defaults of the tests: the test's SMTP server, fast.
func (e *env) options() mail.Options {
	return mail.Options{
		URL: e.smtp.URL(), From: "Civico <civico@example.org>", PublicURL: "https://civico.example.org",
		Rate: 1000, Logger: slog.New(e.logs),
	}
}

// service makes a mail service (not started) and closes it when the test ends.
func (e *env) service(change ...func(*mail.Options)) *mail.Service {
	e.t.Helper()
	o := e.options()
	for _, c := range change {
		c(&o)
	}
	s, err := mail.New(context.Background(), e.st, e.clock, o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return s
}

// started is service, started.
func (e *env) started(change ...func(*mail.Options)) *mail.Service {
	e.t.Helper()
	s := e.service(change...)
	s.Start()
	return s
}

// msg is a plain mail to to with the given id.
func msg(id, to string) mail.Message {
	return mail.Message{
		ID: id, Kind: mail.KindReply, To: to, ToName: "Anna Rossi", Locale: "it",
		Subject: "Subject " + id, Text: "Text of " + id + "\n", HTML: "<p>HTML of " + id + "</p>",
	}
}

func queue(t *testing.T, s *mail.Service, m mail.Message) {
	t.Helper()
	if err := s.Queue(context.Background(), m); err != nil {
		t.Fatalf("queue %s: %v", m.ID, err)
	}
}

// logTap is a slog handler that keeps the messages logged, so a test can
// wait for something the service says it did.
type logTap struct {
	mu      sync.Mutex
	records []string
	changed chan struct{}
}

func newLogTap() *logTap { return &logTap{changed: make(chan struct{})} }

func (l *logTap) Enabled(context.Context, slog.Level) bool { return true }

func (l *logTap) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

func (l *logTap) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logTap) WithGroup(string) slog.Handler      { return l }

// wait returns the n-th record (from 1) holding text, waiting up to 10 s.
func (l *logTap) wait(t *testing.T, text string, n int) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		seen := 0
		for _, r := range l.records {
			if strings.Contains(r, text) {
				if seen++; seen == n {
					l.mu.Unlock()
					return r
				}
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no log %q (#%d) within 10 s", text, n)
		}
	}
}

// count is how many records hold text.
func (l *logTap) count(text string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if strings.Contains(r, text) {
			n++
		}
	}
	return n
}
