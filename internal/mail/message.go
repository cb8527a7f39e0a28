package mail

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"civico/internal/fault"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to queue.
type Message struct {
	// ID is the idempotency key: a second Queue with the same ID sends
	// nothing more, also after the first was sent (for 30 days).
	ID string
	// Kind is what the mail is: "reset", "verify", "notice", "reply" or
	// "digest". Only "reset" and "verify" still go to a bouncing address.
	Kind string
	// To is the recipient's address; ToName their name, for the header.
	To, ToName string
	// Locale is the language the mail is written in ("it", "en").
	Locale string
	// Subject, Text and HTML are the mail; HTML may be empty.
	Subject, Text, HTML string
	// Unsubscribe is a one-click URL: it adds List-Unsubscribe and
	// List-Unsubscribe-Post (RFC 8058).
	Unsubscribe string
	// NotBefore holds the mail until then (quiet hours).
	NotBefore time.Time
}

// The kinds of mail.
const (
	KindReset  = "reset"
	KindVerify = "verify"
	KindNotice = "notice"
	KindReply  = "reply"
	KindDigest = "digest"
)

var kinds = map[string]bool{KindReset: true, KindVerify: true, KindNotice: true, KindReply: true, KindDigest: true}

// Limits on what a message may hold.
const (
	maxAddress = 254 // RFC 5321's path limit, less the brackets
	maxName    = 200
	maxSubject = 300
	maxBody    = 1 << 20 // per part: a digest of 20 posts is far below
	maxID      = 512
)

// errInvalidAddress is a recipient address Queue refuses: nothing is queued.
var errInvalidAddress = fault.Validation("to", "invalid")

// CheckAddress returns address if it is a single bare mail address
// (local@domain, at most 254 bytes, no control characters, no display name
// or comment); else a validation error on field "to".
func CheckAddress(address string) (string, error) {
	if address == "" || len(address) > maxAddress || !utf8.ValidString(address) || hasControl(address) || strings.ContainsAny(address, "<>\"()[]\\,; ") {
		return "", errInvalidAddress
	}
	a, err := mail.ParseAddress(address)
	if err != nil || a.Name != "" || a.Address != address {
		return "", errInvalidAddress
	}
	at := strings.LastIndexByte(address, '@')
	if at <= 0 || at == len(address)-1 || strings.Count(address, "@") != 1 {
		return "", errInvalidAddress
	}
	return address, nil
}

// addressKey is how an address is looked up among the bounces: mail
// systems ignore the case of addresses in practice.
func addressKey(address string) string { return strings.ToLower(strings.TrimSpace(address)) }

// headerText makes user text safe for a header: control characters (CR
// and LF above all: header injection) become spaces, runs of spaces one,
// and the result is cut to max bytes on a rune boundary.
func headerText(s string, limit int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > limit {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// prepare validates m and makes its header fields safe; the error is a
// validation error for a bad address, a plain one for a caller's mistake.
func prepare(m Message) (Message, error) {
	to, err := CheckAddress(m.To)
	if err != nil {
		return Message{}, err
	}
	m.To = to
	switch {
	case m.ID == "" || len(m.ID) > maxID:
		return Message{}, errors.New("mail: a message needs an ID (at most 512 bytes)")
	case !kinds[m.Kind]:
		return Message{}, fmt.Errorf("mail: unknown kind %q", m.Kind)
	case len(m.Text) > maxBody || len(m.HTML) > maxBody:
		return Message{}, errors.New("mail: body too large")
	}
	m.ToName = headerText(m.ToName, maxName)
	m.Subject = headerText(m.Subject, maxSubject)
	if m.Subject == "" || strings.TrimSpace(m.Text) == "" {
		return Message{}, errors.New("mail: a message needs a subject and a text")
	}
	m.Locale = headerText(m.Locale, 16)
	if m.Unsubscribe != "" {
		u, err := url.Parse(m.Unsubscribe)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || hasControl(m.Unsubscribe) || strings.ContainsAny(m.Unsubscribe, " <>\"") {
			return Message{}, errors.New("mail: the unsubscribe URL must be an absolute http(s) URL")
		}
	}
	return m, nil
}

// build writes the mail as it goes out: From, To (name encoded), Subject
// (encoded), Date, Message-ID, Content-Language, List-Unsubscribe when
// asked, and the text and HTML parts as multipart/alternative. Every header
// value from outside went through headerText at Queue.
func (s *Service) build(d *outboxDoc, now time.Time) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(s.from)
	if err := m.AddToFormat(headerText(d.ToName, maxName), d.To); err != nil {
		return nil, fmt.Errorf("mail: recipient: %w", err)
	}
	m.Subject(headerText(d.Subject, maxSubject))
	m.SetDateWithValue(now)
	m.SetMessageIDWithValue(d.MessageID)
	if d.Locale != "" {
		m.SetGenHeader(gomail.HeaderContentLang, headerText(d.Locale, 16))
	}
	if d.Unsubscribe != "" {
		m.SetListUnsubscribe(d.Unsubscribe)
		m.SetListUnsubscribePost()
	}
	m.SetBodyString(gomail.TypeTextPlain, d.Text)
	if d.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, d.HTML)
	}
	return m, nil
}

// render is the mail as bytes (the .eml file, and tests).
func render(m *gomail.Msg) ([]byte, error) {
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// links are the http(s) links of a text, for the log of the file transport.
func links(text string) []string { return linkPattern.FindAllString(text, 20) }
