package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// transport hands out sessions: one per worker, used for one mail at a
// time.
type transport interface {
	session() session
}

// session sends mails one after another, over one connection while the
// worker has work.
type session interface {
	send(ctx context.Context, m *gomail.Msg, d *outboxDoc, now time.Time) error
	close()
}

// smtpTransport sends through the relay CIVICO_SMTP_URL names.
type smtpTransport struct {
	t      Transport
	client *gomail.Client // a template: every session dials its own connection
	err    error          // the client could not be made: every send fails with it
}

// sendTimeout bounds each step of the SMTP dialogue (go-mail renews the
// connection's deadline per command).
const sendTimeout = 30 * time.Second

func newSMTPTransport(t Transport) *smtpTransport {
	opts := []gomail.Option{
		gomail.WithPort(t.Port),
		gomail.WithTimeout(sendTimeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: t.Host, MinVersion: tls.VersionTLS12}),
	}
	switch t.Security {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case Plain:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if t.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if t.Security == Plain {
			// Loopback only (ParseURL): PLAIN without TLS is all a local
			// relay usually offers.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(t.Username), gomail.WithPassword(t.Password))
	}
	c, err := gomail.NewClient(t.Host, opts...)
	return &smtpTransport{t: t, client: c, err: err}
}

func (t *smtpTransport) session() session { return &smtpSession{t: t} }

type smtpSession struct {
	t    *smtpTransport
	conn *smtp.Client
}

// dialError is a failure before any mail was handed over: connection,
// TLS, authentication. Always temporary for the mail.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect to the SMTP relay: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func (x *smtpSession) send(ctx context.Context, m *gomail.Msg, _ *outboxDoc, _ time.Time) error {
	if x.t.err != nil {
		return &dialError{x.t.err}
	}
	reused := x.conn != nil
	if err := x.dial(ctx); err != nil {
		return err
	}
	err := x.t.client.SendWithSMTPClient(x.conn, m)
	var se *gomail.SendError
	if err != nil && reused && errors.As(err, &se) && se.Reason == gomail.ErrConnCheck {
		// The kept connection died while idle (the NOOP before the mail
		// failed): nothing was handed over, so one more try on a new one.
		x.close()
		if err := x.dial(ctx); err != nil {
			return err
		}
		err = x.t.client.SendWithSMTPClient(x.conn, m)
	}
	if err != nil {
		// Whatever state the dialogue is in, the next mail starts afresh.
		x.close()
	}
	return err
}

func (x *smtpSession) dial(ctx context.Context) error {
	if x.conn != nil {
		return nil
	}
	c, err := x.t.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return &dialError{err}
	}
	x.conn = c
	return nil
}

func (x *smtpSession) close() {
	if x.conn == nil {
		return
	}
	if err := x.t.client.CloseWithSMTPClient(x.conn); err != nil {
		_ = x.conn.Close()
	}
	x.conn = nil
}

// fileTransport writes every mail as a .eml file: the embedded default,
// so a password can be recovered on a laptop with no relay.
type fileTransport struct {
	dir string
	log *slog.Logger
}

func (t *fileTransport) session() session { return fileSession{t} }

type fileSession struct{ t *fileTransport }

func (x fileSession) send(_ context.Context, m *gomail.Msg, d *outboxDoc, now time.Time) error {
	data, err := render(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(x.t.dir, 0o700); err != nil {
		return fmt.Errorf("mail: directory: %w", err)
	}
	path := filepath.Join(x.t.dir, now.UTC().Format("20060102T150405.000000000Z")+"-"+d.ID+".eml")
	// Written aside and renamed: a reader never sees half a mail.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("mail: write file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mail: write file: %w", err)
	}
	x.t.log.Info("mail written", "path", path, "kind", d.Kind, "links", links(d.Text))
	return nil
}

func (fileSession) close() {}

// verdict is what a failed send means for the mail.
type verdict int

const (
	temporary verdict = iota // try again later
	bounce                   // the relay refused the recipient for good
	refused                  // the relay refused the mail for good, not for its recipient
)

// classify reads a send's error: 5xx to RCPT is a bounce; 5xx to MAIL or
// DATA is a refusal that another try would meet again, but says nothing
// of the address (a wrong sender, content the relay rejects: marking the
// recipient would stop their mail for our mistake); anything else
// (4xx, network, TLS, authentication) is temporary.
func classify(err error) (verdict, int) {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return temporary, 0
	}
	code := se.ErrorCode()
	if code < 500 || code > 599 {
		return temporary, code
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo:
		return bounce, code
	case gomail.ErrSMTPMailFrom, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		return refused, code
	}
	return temporary, code
}
