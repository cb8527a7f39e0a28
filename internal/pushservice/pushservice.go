// Package pushservice is a real Web Push service on loopback, for tests,
// browser tests and benchmarks. It checks what a production push service
// checks — the VAPID Authorization header (RFC 8292: ES256 signature by the
// served key, aud = its origin, exp within 24 h, sub present), the TTL,
// Urgency and Topic headers (RFC 8030) — and decrypts the aes128gcm body
// (RFC 8291 + RFC 8188) with the subscription's private key and auth
// secret, so a test sees exactly what a phone would show. It can be told to
// answer 201, 404, 410, 429 (with Retry-After), 500, or to hang.
package pushservice

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"civico/internal/idle"
)

// DefaultMaxBody mimics Firefox on Android, which refused bodies over 3 070
// bytes: a sender that pads beyond it fails here too.
const DefaultMaxBody = 3070

// Answer is what the service replies to one push request.
type Answer struct {
	// Status is the HTTP status (201 when zero).
	Status int
	// RetryAfter, when set, goes into the Retry-After header (seconds or a date).
	RetryAfter string
	// Hang keeps the request open until the sender gives up, Release is
	// called or the service closes.
	Hang bool
}

// Common answers.
var (
	Created  = Answer{Status: http.StatusCreated}
	NotFound = Answer{Status: http.StatusNotFound}
	Gone     = Answer{Status: http.StatusGone}
	Error500 = Answer{Status: http.StatusInternalServerError}
	Hang     = Answer{Hang: true}
)

// TooMany is a 429 asking to retry after d.
func TooMany(d time.Duration) Answer {
	return Answer{Status: http.StatusTooManyRequests, RetryAfter: strconv.Itoa(int((d + time.Second - 1) / time.Second))}
}

// Message is one push the service accepted, decrypted.
type Message struct {
	// Subscription is the endpoint's token (Subscription.Token).
	Subscription string
	Payload      []byte
	TTL          int
	Urgency      string
	Topic        string
	// Subject is the VAPID sub claim.
	Subject string
	// BodyLen is the size of the encrypted body on the wire.
	BodyLen int
	At      time.Time

	// cipher is the body still to decrypt for sub (DeferDecryption).
	cipher []byte
	sub    *Subscription
}

// Decode unmarshals the payload as JSON into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Payload, v) }

// Attempt is one request the service saw, whatever it answered.
type Attempt struct {
	Subscription string
	Status       int // 0 for a request that hung
	Err          string
	At           time.Time
}

// Service is a running push service.
type Service struct {
	// URL is the origin, e.g. http://127.0.0.1:41234.
	URL string
	// MaxBody is the largest encrypted body accepted (413 beyond).
	MaxBody int

	srv *http.Server
	ln  net.Listener

	checking chan struct{} // bounds the requests verified and decrypted at once; nil: no bound
	yield    *idle.Gate    // when set, checks wait for the server's foreground to be quiet
	deferred bool          // decrypt only in DecryptDeferred (benchmarks)

	mu        sync.Mutex
	vapidKey  []byte // the trusted application server key; nil accepts any (still verified against k=)
	subs      map[string]*Subscription
	behaviour func(Request) Answer
	messages  []Message
	attempts  []Attempt
	errs      []string
	hanging   int
	seen      int // requests arrived; attempts are recorded only once answered
	conns     int
	changed   chan struct{}
	release   chan struct{}
	closed    bool
}

// Request is what a behaviour function is told about a push request.
type Request struct {
	Subscription string
	// N counts the requests this service has seen, starting at 1.
	N int
}

// Start listens on a random loopback port.
func Start() (*Service, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pushservice: listen: %w", err)
	}
	s := &Service{
		URL:     "http://" + ln.Addr().String(),
		MaxBody: DefaultMaxBody,
		ln:      ln,
		subs:    map[string]*Subscription{},
		changed: make(chan struct{}),
		release: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /push/{token}", s.push)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ConnState: s.connState}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close releases hanging requests and stops the service.
func (s *Service) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.release)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// TrustKey sets the application server's public key (base64url, as served
// at /push/vapid-public-key); requests signed by another key are refused.
func (s *Service) TrustKey(publicKey string) error {
	k, err := decodeB64(publicKey)
	if err != nil || len(k) != 65 || k[0] != 4 {
		return fmt.Errorf("pushservice: bad VAPID public key %q", publicKey)
	}
	s.mu.Lock()
	s.vapidKey = k
	s.mu.Unlock()
	return nil
}

// LimitChecks bounds how many requests are verified and decrypted at once
// (0: no bound). A real push service runs on its provider's machines; a
// benchmark sharing one machine with the server sets 1 so that this one
// does not take more than a core from the server it measures.
func (s *Service) LimitChecks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		s.checking = nil
		return
	}
	s.checking = make(chan struct{}, n)
}

// YieldTo makes each check wait (yieldBound at most) for the server's
// foreground to be quiet: in a benchmark sharing the process with the
// server it measures, this push service then takes only what the server's
// requests and fan-outs leave, as one on its provider's machines would.
func (s *Service) YieldTo(g *idle.Gate) {
	s.mu.Lock()
	s.yield = g
	s.mu.Unlock()
}

// yieldBound is how long a check waits for the server to be quiet.
const yieldBound = 5 * time.Millisecond

// DeferDecryption makes the service accept a push once its headers and
// VAPID signature are checked, as a real push service does (it cannot read
// the payload: only the phone can), and decrypt it only in
// DecryptDeferred. A benchmark then times the server, not this decryption.
func (s *Service) DeferDecryption() {
	s.mu.Lock()
	s.deferred = true
	s.mu.Unlock()
}

// DecryptDeferred decrypts the messages accepted undecrypted; one that does
// not decrypt is an error (and listed by Errors).
func (s *Service) DecryptDeferred() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for i := range s.messages {
		m := &s.messages[i]
		if m.cipher == nil {
			continue
		}
		plain, err := decrypt(m.cipher, m.sub.priv, m.sub.auth)
		m.cipher, m.sub = nil, nil
		if err != nil {
			s.errs = append(s.errs, "deferred decryption: "+err.Error())
			if first == nil {
				first = fmt.Errorf("pushservice: message for %s: %w", m.Subscription, err)
			}
			continue
		}
		m.Payload = plain
	}
	return first
}

// Always makes every request get a.
func (s *Service) Always(a Answer) {
	s.SetBehaviour(func(Request) Answer { return a })
}

// SetBehaviour decides the answer of every request (after the
// subscription's own queued answers); nil answers 201.
func (s *Service) SetBehaviour(fn func(Request) Answer) {
	s.mu.Lock()
	s.behaviour = fn
	s.mu.Unlock()
}

// Release lets every hanging request end (answered 503) and makes later
// Hang answers end at once.
func (s *Service) Release() {
	s.mu.Lock()
	if !s.closed {
		close(s.release)
		s.release = make(chan struct{})
	}
	s.mu.Unlock()
}

// Subscription is a browser's push subscription: a P-256 key pair and a
// 16-byte auth secret, with an endpoint on this service.
type Subscription struct {
	Token    string
	Endpoint string
	// P256dh and Auth are base64url, as PushSubscription.toJSON() gives them.
	P256dh string
	Auth   string

	priv    *ecdh.PrivateKey
	auth    []byte
	answers []Answer
}

// NewSubscription makes a subscription on this service.
func (s *Service) NewSubscription() (*Subscription, error) {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	auth := make([]byte, 16)
	if _, err := rand.Read(auth); err != nil {
		return nil, err
	}
	tok := make([]byte, 12)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	sub := &Subscription{
		Token:  base64.RawURLEncoding.EncodeToString(tok),
		P256dh: base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(auth),
		priv:   priv, auth: auth,
	}
	sub.Endpoint = s.URL + "/push/" + sub.Token
	s.mu.Lock()
	s.subs[sub.Token] = sub
	s.mu.Unlock()
	return sub, nil
}

// JSON is the body of POST /push/subscriptions for this subscription.
func (sub *Subscription) JSON() map[string]any {
	return map[string]any{"endpoint": sub.Endpoint, "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth}}
}

// Queue makes the subscription's next requests get these answers, in order.
func (s *Service) Queue(sub *Subscription, answers ...Answer) {
	s.mu.Lock()
	sub.answers = append(sub.answers, answers...)
	s.mu.Unlock()
}

// Forget makes the endpoint unknown: its requests get 404 without checks.
func (s *Service) Forget(sub *Subscription) {
	s.mu.Lock()
	delete(s.subs, sub.Token)
	s.mu.Unlock()
}

// Messages returns what a subscription received so far ("" for all).
func (s *Service) Messages(token string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if token == "" || m.Subscription == token {
			out = append(out, m)
		}
	}
	return out
}

// Attempts returns every request seen for a subscription ("" for all).
func (s *Service) Attempts(token string) []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Attempt
	for _, a := range s.attempts {
		if token == "" || a.Subscription == token {
			out = append(out, a)
		}
	}
	return out
}

// Errors lists the protocol violations seen (bad VAPID, bad encryption,
// missing headers…); a correct sender leaves it empty.
func (s *Service) Errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

// Connections counts the TCP connections senders opened so far. A sender
// that closes every response body reuses a few; one that leaks bodies
// needs a new connection per push.
func (s *Service) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *Service) connState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
	}
}

// Hanging is how many requests are being held open right now.
func (s *Service) Hanging() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hanging
}

// Wait blocks until cond, evaluated under the service's lock on every
// change, is true, or ctx ends.
func (s *Service) Wait(ctx context.Context, cond func(v View) bool) error {
	for {
		s.mu.Lock()
		ok := cond(View{s: s})
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// View reads the service's state inside Wait.
type View struct{ s *Service }

// Messages counts accepted messages for a token ("" for all).
func (v View) Messages(token string) int {
	if token == "" {
		return len(v.s.messages) // a benchmark waits for thousands: no scan per arrival
	}
	n := 0
	for _, m := range v.s.messages {
		if m.Subscription == token {
			n++
		}
	}
	return n
}

// Attempts counts requests for a token ("" for all).
func (v View) Attempts(token string) int {
	if token == "" {
		return len(v.s.attempts)
	}
	n := 0
	for _, a := range v.s.attempts {
		if a.Subscription == token {
			n++
		}
	}
	return n
}

// Hanging is how many requests are held open.
func (v View) Hanging() int { return v.s.hanging }

// WaitMessages waits until the subscription ("" for all) received at least
// n messages and returns them.
func (s *Service) WaitMessages(ctx context.Context, token string, n int) ([]Message, error) {
	err := s.Wait(ctx, func(v View) bool { return v.Messages(token) >= n })
	msgs := s.Messages(token)
	if err != nil {
		return msgs, fmt.Errorf("pushservice: %d of %d messages arrived: %w", len(msgs), n, err)
	}
	return msgs, nil
}

// notify wakes the waiters; call with s.mu held.
func (s *Service) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Service) push(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	s.mu.Lock()
	sub := s.subs[token]
	var ans Answer
	// Counted on arrival: two requests in flight at once must never share
	// a number (a behaviour keyed on N would answer both alike).
	s.seen++
	n := s.seen
	switch {
	case sub == nil:
		ans = NotFound
	case len(sub.answers) > 0:
		ans = sub.answers[0]
		sub.answers = sub.answers[1:]
	case s.behaviour != nil:
		ans = s.behaviour(Request{Subscription: token, N: n})
	default:
		ans = Created
	}
	if ans.Status == 0 {
		ans.Status = http.StatusCreated
	}
	trusted, maxBody, release, deferred := s.vapidKey, s.MaxBody, s.release, s.deferred
	s.mu.Unlock()

	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxBody)+1))
	if err != nil {
		s.record(Attempt{Subscription: token, Status: http.StatusBadRequest, Err: "read body: " + err.Error()}, nil, "")
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if sub == nil {
		s.record(Attempt{Subscription: token, Status: http.StatusNotFound}, nil, "")
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	slots, yield := s.checking, s.yield
	s.mu.Unlock()
	if slots != nil {
		slots <- struct{}{}
	}
	if yield != nil {
		_ = yield.Wait(r.Context(), yieldBound)
	}
	msg, status, verr := s.check(r, body, sub, trusted, maxBody, deferred)
	if slots != nil {
		<-slots
	}
	if verr != nil {
		s.record(Attempt{Subscription: token, Status: status, Err: verr.Error()}, nil, verr.Error())
		http.Error(w, verr.Error(), status)
		return
	}
	if ans.Hang {
		s.mu.Lock()
		s.hanging++
		s.attempts = append(s.attempts, Attempt{Subscription: token, At: time.Now()})
		s.notify()
		s.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
		s.mu.Lock()
		s.hanging--
		s.notify()
		s.mu.Unlock()
		http.Error(w, "released", http.StatusServiceUnavailable)
		return
	}
	var accepted *Message
	if ans.Status >= 200 && ans.Status < 300 {
		accepted = &msg
	}
	s.record(Attempt{Subscription: token, Status: ans.Status}, accepted, "")
	if ans.RetryAfter != "" {
		w.Header().Set("Retry-After", ans.RetryAfter)
	}
	if accepted != nil {
		w.Header().Set("Location", s.URL+"/message/"+token+"/"+strconv.Itoa(n))
		w.WriteHeader(ans.Status)
		return
	}
	http.Error(w, http.StatusText(ans.Status), ans.Status)
}

func (s *Service) record(a Attempt, m *Message, protoErr string) {
	a.At = time.Now()
	s.mu.Lock()
	s.attempts = append(s.attempts, a)
	if m != nil {
		m.At = a.At
		s.messages = append(s.messages, *m)
	}
	if protoErr != "" {
		s.errs = append(s.errs, protoErr)
	}
	s.notify()
	s.mu.Unlock()
}

// check validates the request as a push service must and decrypts it.
func (s *Service) check(r *http.Request, body []byte, sub *Subscription, trusted []byte, maxBody int, deferred bool) (Message, int, error) {
	m := Message{Subscription: sub.Token, BodyLen: len(body)}
	if len(body) > maxBody {
		return m, http.StatusRequestEntityTooLarge, fmt.Errorf("body of more than %d bytes", maxBody)
	}
	ttl := r.Header.Get("TTL")
	if ttl == "" {
		return m, http.StatusBadRequest, errors.New("missing TTL header")
	}
	n, err := strconv.Atoi(ttl)
	if err != nil || n < 0 {
		return m, http.StatusBadRequest, fmt.Errorf("bad TTL %q", ttl)
	}
	m.TTL = n
	m.Urgency = r.Header.Get("Urgency")
	switch m.Urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		return m, http.StatusBadRequest, fmt.Errorf("bad Urgency %q", m.Urgency)
	}
	m.Topic = r.Header.Get("Topic")
	if len(m.Topic) > 32 || strings.Trim(m.Topic, b64urlAlphabet) != "" {
		return m, http.StatusBadRequest, fmt.Errorf("bad Topic %q", m.Topic)
	}
	origin := s.URL
	sub2, err := checkVAPID(r.Header.Get("Authorization"), origin, trusted, time.Now())
	if err != nil {
		return m, http.StatusUnauthorized, err
	}
	m.Subject = sub2
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return m, http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q, want aes128gcm", ce)
	}
	if deferred {
		m.cipher, m.sub = body, sub
		return m, 0, nil
	}
	plain, err := decrypt(body, sub.priv, sub.auth)
	if err != nil {
		return m, http.StatusBadRequest, err
	}
	m.Payload = plain
	return m, 0, nil
}

const b64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
