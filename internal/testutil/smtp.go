package testutil

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPServer is a real SMTP server on a loopback port for one test: it
// accepts every mail (unless told to fail or hold) and keeps what it got,
// so a test can read the envelope, the headers and both parts of a mail.
type SMTPServer struct {
	srv  *smtp.Server
	addr string

	mu       sync.Mutex
	mails    []Mail
	read     int           // mails handed out by Next
	count    int           // mails accepted, also those not kept
	keep     bool          // false after CountOnly
	arrived  chan struct{} // closed and replaced whenever a mail is accepted or a transaction ends
	open     int           // transactions between MAIL and their end (accepted, failed, reset)
	failN    int
	failCode int
	hold     chan struct{} // non-nil while held: DATA waits until it is closed
	held     int           // DATA commands waiting on hold
}

// Mail is one mail the server accepted.
type Mail struct {
	From   string      // envelope sender (MAIL FROM)
	To     []string    // envelope recipients (RCPT TO)
	User   string      // the user that authenticated, "" without AUTH
	Data   []byte      // the message as it came
	Header mail.Header // its parsed header (raw values: use Subject() for the decoded subject)
	Text   string      // the decoded text/plain part
	HTML   string      // the decoded text/html part
	Links  []string    // http(s) links found in Text, in order
}

// Subject returns the mail's Subject header, RFC 2047 words decoded.
func (m Mail) Subject() string { return DecodeHeader(m.Header.Get("Subject")) }

// DecodeHeader decodes the RFC 2047 encoded words of a header value.
func DecodeHeader(v string) string {
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return s
}

// SMTP starts an SMTP server on 127.0.0.1 and stops it when the test ends.
// It takes plain SMTP (no TLS) and AUTH PLAIN with any credentials: the
// mail package accepts that only for a loopback relay, as here.
func SMTP(tb testing.TB) *SMTPServer {
	tb.Helper()
	s := &SMTPServer{keep: true, arrived: make(chan struct{})}
	srv := smtp.NewServer(smtpBackend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtp listen: %v", err)
	}
	s.srv, s.addr = srv, l.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	tb.Cleanup(func() {
		s.release() // a held DATA must not outlive the test
		_ = srv.Close()
		<-served
	})
	return s
}

// URL is the server's address as CIVICO_SMTP_URL takes it.
func (s *SMTPServer) URL() string { return "smtp+insecure://" + s.addr }

// Addr is the server's host:port.
func (s *SMTPServer) Addr() string { return s.addr }

// Next waits up to 10 s for the next accepted mail not yet handed out.
func (s *SMTPServer) Next(tb testing.TB) Mail {
	tb.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		if s.read < len(s.mails) {
			m := s.mails[s.read]
			s.read++
			s.mu.Unlock()
			return m
		}
		wait := s.arrived
		s.mu.Unlock()
		select {
		case <-wait:
		case <-timeout.C:
			tb.Fatalf("smtp: no mail within 10 s (%d accepted, %d read)", s.Count(), s.read)
			return Mail{}
		}
	}
}

// Count is how many mails the server accepted so far.
func (s *SMTPServer) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// All returns every mail accepted so far (also those Next handed out).
func (s *SMTPServer) All() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// CountOnly makes the server count mails without keeping them: for
// benchmarks that send thousands. Next then waits in vain.
func (s *SMTPServer) CountOnly() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keep = false
}

// FailNext makes the next n RCPT commands answer code: 4xx is a temporary
// failure (451), 5xx a permanent one (550).
func (s *SMTPServer) FailNext(n int, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, code
}

// Hold makes every DATA, from now until release is called, wait before
// the server answers: the mail is read but neither accepted nor refused,
// as when a process is stopped in the middle of a send. release accepts
// them; calling it again does nothing.
func (s *SMTPServer) Hold() (release func()) {
	s.mu.Lock()
	if s.hold == nil {
		s.hold = make(chan struct{})
	}
	s.mu.Unlock()
	return s.release
}

func (s *SMTPServer) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// Held waits up to 10 s until n DATA commands wait on Hold.
func (s *SMTPServer) Held(tb testing.TB, n int) {
	tb.Helper()
	s.waitFor(tb, func() bool { return s.held >= n }, fmt.Sprintf("%d held DATA", n))
}

// None asserts that no mail arrived beyond those Next handed out. It first
// waits (up to 10 s) for the transactions in flight to end, so a mail the
// server is still receiving counts.
func (s *SMTPServer) None(tb testing.TB) {
	tb.Helper()
	s.waitFor(tb, func() bool { return s.open == 0 }, "the transactions in flight to end")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.read < len(s.mails) {
		extra := s.mails[s.read:]
		subjects := make([]string, len(extra))
		for i, m := range extra {
			subjects[i] = fmt.Sprintf("%v %q", m.To, m.Subject())
		}
		tb.Fatalf("smtp: %d unexpected mail(s): %s", len(extra), strings.Join(subjects, "; "))
	}
}

// waitFor waits until cond (called with s.mu held) is true, on the
// server's own events.
func (s *SMTPServer) waitFor(tb testing.TB, cond func() bool, what string) {
	tb.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return
		}
		wait := s.arrived
		s.mu.Unlock()
		select {
		case <-wait:
		case <-timeout.C:
			tb.Fatalf("smtp: waited 10 s for %s", what)
			return
		}
	}
}

// changed wakes the waiters; s.mu is held.
func (s *SMTPServer) changed() {
	close(s.arrived)
	s.arrived = make(chan struct{})
}

type smtpBackend struct{ s *SMTPServer }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{s: b.s}, nil
}

type smtpSession struct {
	s    *SMTPServer
	user string
	from string
	to   []string
	open bool // a transaction is counted in s.open
}

func (x *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, _ string) error {
		x.user = username
		return nil
	}), nil
}

func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	x.end()
	x.s.mu.Lock()
	x.s.open++
	x.s.mu.Unlock()
	x.open, x.from, x.to = true, from, nil
	return nil
}

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	if x.s.failN > 0 {
		x.s.failN--
		code := x.s.failCode
		x.s.mu.Unlock()
		return smtpFailure(code)
	}
	x.s.mu.Unlock()
	x.to = append(x.to, to)
	return nil
}

func smtpFailure(code int) error {
	class := code / 100
	if class != 4 && class != 5 {
		class = 4
	}
	return &smtp.SMTPError{
		Code:         code,
		EnhancedCode: smtp.EnhancedCode{class, 1, 1},
		Message:      "test server: told to fail",
	}
}

func (x *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	hold := x.s.hold
	if hold != nil {
		x.s.held++
		x.s.changed()
	}
	x.s.mu.Unlock()
	if hold != nil {
		<-hold
		x.s.mu.Lock()
		x.s.held--
		x.s.mu.Unlock()
	}
	m, err := parseMail(data)
	if err != nil {
		x.end()
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "test server: " + err.Error()}
	}
	m.From, m.To, m.User = x.from, x.to, x.user
	x.s.mu.Lock()
	x.s.count++
	if x.s.keep {
		x.s.mails = append(x.s.mails, m)
	}
	if x.open {
		x.open = false
		x.s.open--
	}
	x.s.changed()
	x.s.mu.Unlock()
	return nil
}

// end closes the session's transaction, if one is open.
func (x *smtpSession) end() {
	if !x.open {
		return
	}
	x.open = false
	x.s.mu.Lock()
	x.s.open--
	x.s.changed()
	x.s.mu.Unlock()
}

func (x *smtpSession) Reset() { x.end(); x.from, x.to = "", nil }

func (x *smtpSession) Logout() error { x.end(); return nil }

var linkPattern = regexp.MustCompile(`https?://[^\s<>"')\]]+`)

// parseMail reads the header and the text and HTML parts of a message.
func parseMail(data []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Mail{}, fmt.Errorf("parse message: %w", err)
	}
	m := Mail{Data: data, Header: msg.Header}
	if err := readPart(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return Mail{}, err
	}
	m.Links = linkPattern.FindAllString(m.Text, -1)
	return m, nil
}

// readPart decodes one part, descending into multiparts.
func readPart(m *Mail, contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(media, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := readPart(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // it skips the line breaks
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s part: %w", media, err)
	}
	switch media {
	case "text/plain":
		m.Text += string(b)
	case "text/html":
		m.HTML += string(b)
	}
	return nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...interface{}) {}
func (discardLogger) Println(...interface{})        {}
