package push

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"civico/internal/store"

	webpush "github.com/SherClockHolmes/webpush-go"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// errForbiddenAddress refuses to dial internal addresses: an endpoint is
// a URL any user can send us, and must not make the server POST into its
// own network.
var errForbiddenAddress = errors.New("push: endpoint resolves to a non-public address")

// newHTTPClient is the client every send uses: bounded in time (webpush-go's
// default client has no timeout), no redirects, public addresses only
// (loopback too when insecure endpoints are allowed).
func newHTTPClient(o Options) *http.Client {
	dialer := &net.Dialer{
		Timeout:   5 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			// address is what DNS resolution gave, so a name pointing
			// inside is caught here, whatever it looked like when subscribed.
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !dialable(ip, o.AllowInsecure) {
				return errForbiddenAddress
			}
			return nil
		},
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   max(o.Workers, 2),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: o.HTTPTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       o.HTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// worker sends deliveries until ctx ends.
func (s *Service) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.sched.Work():
			s.deliver(ctx, d)
		}
	}
}

// deliver sends d once and decides what follows: done, retry later, or
// give up.
func (s *Service) deliver(ctx context.Context, d *delivery) {
	if s.isRevoked(d) {
		s.finish(d, outcomeDropped)
		return
	}
	now := s.clock.Now()
	if !d.Expires.IsZero() && now.After(d.Expires) {
		s.finish(d, outcomeDropped)
		return
	}
	switch current, err := s.stillSubscribed(ctx, d); {
	case ctx.Err() != nil:
		return // shutting down: it stays in the outbox
	case err != nil:
		s.log.Warn("push: reading the subscription before a send", "delivery", d.ID, "err", err)
		s.retry(d, 0)
		return
	case !current:
		s.finish(d, outcomeGone)
		return
	}
	status, retryAfter, err := s.send(ctx, d, now)
	if ctx.Err() != nil {
		// Shutting down: the delivery stays in the outbox for the next start.
		return
	}
	switch {
	case err != nil:
		s.log.Debug("push: send failed", "delivery", d.ID, "err", err)
		s.retry(d, 0)
	case status >= 200 && status < 300:
		s.finish(d, outcomeSent)
	case status == http.StatusNotFound || status == http.StatusGone:
		// The browser unsubscribed or the subscription expired: never
		// again. Only these two; a 5xx or 429 is temporary.
		s.removeGone(context.WithoutCancel(ctx), d.SubID)
		s.finish(d, outcomeGone)
	case status == http.StatusTooManyRequests || status >= 500:
		s.retry(d, retryAfter)
	default:
		// 400 (bad headers), 401/403 (VAPID refused), 413 (too large): a
		// retry would get the same answer.
		s.log.Warn("push: refused by the push service", "status", status, "delivery", d.ID, "host", hostOf(d.Endpoint))
		s.finish(d, outcomeDropped)
	}
}

// stillSubscribed reads d's subscription and tells whether it is still
// the one d was made from: same user, same endpoint and keys. Another
// process may have moved the device to another user (a shared tablet),
// re-keyed it or deleted it since, and its revocations are not in this
// process's memory; a push made for the previous owner must not reach it.
func (s *Service) stillSubscribed(ctx context.Context, d *delivery) (bool, error) {
	var sub subscriptionDoc
	err := s.subs.FindOne(ctx, bson.M{"_id": d.SubID}, &sub)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sub.UserID == d.UserID && sub.Endpoint == d.Endpoint && sub.P256dh == d.P256dh && sub.Auth == d.Auth, nil
}

// send encrypts and posts one push. Every call gets its own copy of the
// payload: webpush-go pads into the slice it is given.
func (s *Service) send(ctx context.Context, d *delivery, now time.Time) (int, time.Duration, error) {
	msg := make([]byte, len(d.Payload))
	copy(msg, d.Payload)
	if err := s.pace.wait(ctx); err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.HTTPTimeout)
	defer cancel()
	// Encrypting and signing hold a CPU slot; waiting for the push
	// service does not.
	select {
	case s.cpu <- struct{}{}:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	client := &slotClient{c: s.client, slot: s.cpu}
	defer client.release()
	if err := s.opts.Foreground.Wait(ctx, yieldBound); err != nil {
		return 0, 0, err
	}
	res, err := webpush.SendNotificationWithContext(ctx, msg,
		&webpush.Subscription{Endpoint: d.Endpoint, Keys: webpush.Keys{P256dh: d.P256dh, Auth: d.Auth}},
		&webpush.Options{
			HTTPClient:      client,
			RecordSize:      recordSize(len(msg)),
			Subscriber:      s.subscriber,
			Topic:           d.Topic,
			TTL:             d.TTL,
			Urgency:         webpush.Urgency(d.Urgency),
			VAPIDPublicKey:  s.vapidPublic,
			VAPIDPrivateKey: s.vapidPrivate,
		})
	if err != nil {
		return 0, 0, err
	}
	// Drain a little so the connection can be reused, and always close.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 16<<10))
	_ = res.Body.Close()
	return res.StatusCode, parseRetryAfter(res.Header.Get("Retry-After"), now), nil
}

// yieldBound is how long one send waits for the foreground to be quiet: on
// a server that never is, pushes still go (one slot: 200 a second at least).
const yieldBound = 5 * time.Millisecond

// slotClient gives the CPU slot back when webpush-go, done encrypting and
// signing, hands the request to the network.
type slotClient struct {
	c        *http.Client
	slot     chan struct{}
	released bool
}

func (c *slotClient) Do(req *http.Request) (*http.Response, error) {
	c.release()
	return c.c.Do(req)
}

func (c *slotClient) release() {
	if !c.released {
		c.released = true
		<-c.slot
	}
}

// retry holds d for another attempt: after Retry-After when the push
// service gave one, else an exponential backoff with jitter; or gives up
// after MaxAttempts or when the push would arrive expired.
func (s *Service) retry(d *delivery, after time.Duration) {
	d.attempts++
	if d.attempts >= s.opts.MaxAttempts {
		s.log.Warn("push: giving up after retries", "delivery", d.ID, "attempts", d.attempts, "host", hostOf(d.Endpoint))
		s.finish(d, outcomeDropped)
		return
	}
	wait := after
	if wait <= 0 {
		wait = s.opts.RetryBase << (d.attempts - 1)
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1)) // jitter, so retries do not arrive in step
	}
	wait = min(wait, s.opts.RetryMax)
	d.DueAt = s.clock.Now().Add(wait)
	if !d.Expires.IsZero() && d.DueAt.After(d.Expires) {
		s.finish(d, outcomeDropped)
		return
	}
	s.stats.retried.Add(1)
	s.sched.Requeue(d)
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// hostOf names the push service in logs without the endpoint's secret path.
func hostOf(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Host
	}
	return ""
}
