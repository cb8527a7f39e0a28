// Package bus connects Civico's processes through NATS: core subjects carry
// what one process tells the others (events for their sockets, cache
// invalidations), and two JetStream key-value buckets say which processes
// are alive and which one is the leader that runs the periodic work.
//
// With no URL the process embeds its own NATS server (a single process
// needs nothing else); with one, every process connects to the same NATS
// cluster.
package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultLeaseTTL is how long a silent process still counts as alive, and
// its leadership as held: a killed leader is replaced within it plus one
// renewal period.
const DefaultLeaseTTL = 15 * time.Second

// Options configure Start.
type Options struct {
	// URL is the NATS to connect to, several comma separated for a
	// cluster; empty embeds a server in this process.
	URL string
	// DataDir holds the embedded server's JetStream store, in DataDir/nats.
	DataDir string
	// Listen, when set (host:port), opens the embedded server to TCP
	// clients; empty accepts only this process.
	Listen string
	Logger *slog.Logger
	// LeaseTTL is DefaultLeaseTTL unless set. All processes on one NATS
	// must agree: the last one started sets the buckets' expiry.
	LeaseTTL time.Duration
	// Replicas of the buckets on a NATS cluster (default 1).
	Replicas int
}

// Bus is this process's connection to the others. Its methods are safe for
// concurrent use.
type Bus struct {
	self     string
	log      *slog.Logger
	ttl      time.Duration
	replicas int
	srv      *server.Server // the embedded server, or nil
	// alone: the embedded server takes no TCP clients, so no other
	// process can be on it.
	alone  bool
	nc     *nats.Conn
	js     jetstream.JetStream
	procs  jetstream.KeyValue
	leases jetstream.KeyValue

	// closed is closed by the connection's ClosedHandler.
	closed chan struct{}
	// kick asks the lease loop to heartbeat and renew at once (after a
	// reconnect); resync asks for the OnReconnect callbacks to run.
	kick, resync chan struct{}
	stop         context.CancelFunc
	wg           sync.WaitGroup
	closeOnce    sync.Once

	mu          sync.Mutex
	onReconnect []func()
	// leaderRev is the revision of the leader key this process wrote last
	// (0: not the leader); leaderUntil, on this process's own clock, when
	// that write stops counting.
	leaderRev   uint64
	leaderUntil time.Time
	// gen counts the disconnections.
	gen uint64
	// failing notes the registry's writes are failing, to log once.
	failing bool
}

// Start connects to NATS (or embeds it), registers this process and takes
// part in the leader election. Close it.
func Start(ctx context.Context, o Options) (*Bus, error) {
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	self, err := newID()
	if err != nil {
		return nil, err
	}
	b := &Bus{self: self, log: o.Logger, ttl: o.LeaseTTL, replicas: o.Replicas,
		closed: make(chan struct{}), kick: make(chan struct{}, 1), resync: make(chan struct{}, 1)}
	opts := []nats.Option{
		nats.Name("civico " + self),
		// A process hands its own messages out itself (events.handOut):
		// the server echoing them back would only double the traffic of
		// the connection every publish waits on.
		nats.NoEcho(),
		// After boot the connection never gives up: a NATS restart or a
		// node going away only delays messages.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
		// A vanished peer (no TCP reset) is noticed within ~20 s, so
		// /readyz turns 503 in that time.
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DrainTimeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.disconnected()
			if err != nil {
				b.log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
			signal(b.kick)
			signal(b.resync)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.log.Warn("NATS error", "subject", subject, "err", err)
			if errors.Is(err, nats.ErrSlowConsumer) {
				// Messages were dropped: the receivers catch up from
				// the database as after a reconnect.
				signal(b.resync)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
	}
	target := o.URL
	if o.URL == "" {
		if b.srv, err = startServer(o); err != nil {
			return nil, err
		}
		b.alone = o.Listen == ""
		opts = append(opts, nats.InProcessServer(b.srv))
		target = b.srv.ClientURL()
	}
	if b.nc, err = nats.Connect(target, opts...); err != nil {
		b.shutdownServer()
		if o.URL == "" {
			return nil, fmt.Errorf("bus: connecting to the embedded NATS: %w", err)
		}
		return nil, fmt.Errorf("bus: NATS unreachable at %s: %w", redact(o.URL), err)
	}
	if err := b.open(ctx); err != nil {
		b.nc.Close()
		b.shutdownServer()
		return nil, err
	}
	loops, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.leaseLoop(loops)
	}()
	go func() {
		defer b.wg.Done()
		b.resyncLoop(loops)
	}()
	return b, nil
}

// open makes the buckets and registers this process at once, so a single
// process is the leader as soon as Start returns.
func (b *Bus) open(ctx context.Context) error {
	var err error
	if b.js, err = jetstream.New(b.nc); err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	if err := b.ensureBuckets(ctx); err != nil {
		return err
	}
	if err := b.heartbeat(ctx); err != nil {
		return fmt.Errorf("bus: registering the process: %w", err)
	}
	b.lead(ctx)
	return nil
}

// Self is this process's id, unique to this run of it.
func (b *Bus) Self() string { return b.self }

// Ready is nil while connected to NATS.
func (b *Bus) Ready() error {
	if s := b.nc.Status(); s != nats.CONNECTED {
		return fmt.Errorf("bus: NATS %s", strings.ToLower(s.String()))
	}
	return nil
}

// Publish sends data on subject to every other process subscribed: this
// one never receives its own messages. While reconnecting it is buffered;
// it is lost if no one listens.
func (b *Bus) Publish(subject string, data []byte) error {
	if err := b.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}

// Subscribe calls fn with each message on subject (wildcards allowed), one
// at a time and in order, on a goroutine of its own. When connected, the
// subscription is in place at the server when it returns. stop
// unsubscribes and waits for a call in progress, so fn must not call it.
func (b *Bus) Subscribe(subject string, fn func(data []byte)) (stop func(), err error) {
	var mu sync.Mutex
	stopped := false
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			fn(m.Data)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s: %w", subject, err)
	}
	// Generous: a burst (a busy street's fan-out) waits here rather than
	// being dropped; a drop resyncs the receivers (see OnReconnect).
	if err := sub.SetPendingLimits(1<<20, 256<<20); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("bus: subscribe %s: %w", subject, err)
	}
	if b.nc.IsConnected() {
		// Not fatal: if the connection drops meanwhile, the subscription
		// is sent again on reconnecting, and OnReconnect resyncs.
		_ = b.nc.FlushTimeout(5 * time.Second)
	}
	return func() {
		_ = sub.Unsubscribe()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}, nil
}

// OnReconnect registers fn to run after the connection to NATS came back,
// or after a subscription dropped messages it could not keep up with:
// either way messages were missed, and fn resyncs from the database. The
// callbacks run one at a time on a goroutine of the bus.
func (b *Bus) OnReconnect(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onReconnect = append(b.onReconnect, fn)
}

func (b *Bus) resyncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.resync:
			b.mu.Lock()
			fns := append([]func(){}, b.onReconnect...)
			b.mu.Unlock()
			for _, fn := range fns {
				fn()
			}
		}
	}
}

// Close releases the leadership, unregisters the process (others see it
// gone at once), drains the connection and stops the embedded server.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		b.stop()
		b.wg.Wait()
		if b.nc.IsConnected() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			b.release(ctx)
			if err := b.procs.Delete(ctx, b.self); err != nil {
				b.log.Debug("unregistering the process", "err", err)
			}
			cancel()
		}
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		<-b.closed
		b.shutdownServer()
	})
}

// abandon stops the bus as a killed process would: no release, no
// unregistering, the connection just gone.
func (b *Bus) abandon() {
	b.closeOnce.Do(func() {
		b.stop()
		b.wg.Wait()
		b.nc.Close()
		<-b.closed
		b.shutdownServer()
	})
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// newID is host-pid-random: readable in logs and NATS's connection list,
// and new at each start even where the pid is always 1 (containers).
func newID() (string, error) {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, host)
	if len(host) > 32 {
		host = host[:32]
	}
	if host == "" {
		host = "civico"
	}
	r := make([]byte, 6)
	if _, err := rand.Read(r); err != nil {
		return "", fmt.Errorf("bus: %w", err)
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(r)), nil
}

// redact hides passwords in the URLs, for messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// signal wakes a loop; a wake-up already pending covers this one.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
