package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/bus"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
)

// testTTL is short so that expiry and takeover are quick; renewals are a
// third of it.
const testTTL = 600 * time.Millisecond

// runNATS starts a NATS server with JetStream on a free port (port -1) or
// the given one, storing in dir.
func runNATS(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	opts := natstest.DefaultTestOptions
	opts.Port = port
	opts.JetStream = true
	opts.StoreDir = dir
	s := natstest.RunServer(&opts)
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

func start(t *testing.T, o bus.Options) *bus.Bus {
	t.Helper()
	if o.LeaseTTL == 0 {
		o.LeaseTTL = testTTL
	}
	b, err := bus.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// eventually polls cond until it holds or d has passed: what it waits for
// (an expiry on the NATS server, a reconnect) signals nothing here.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for !cond() {
		if time.Since(begin) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(begin)
}

func receive(t *testing.T, c <-chan string, want string) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("received %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q not received", want)
	}
}

func TestEmbeddedStoresInTheDataDirAndListensOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	b := start(t, bus.Options{DataDir: dir})
	if fi, err := os.Stat(filepath.Join(dir, "nats", "jetstream")); err != nil || !fi.IsDir() {
		t.Fatalf("no JetStream store in <data>/nats: %v", err)
	}
	if a := bus.ListenAddr(b); a != nil {
		t.Fatalf("the embedded NATS listens on %s though no listener was asked for", a)
	}
	if err := b.Ready(); err != nil {
		t.Fatal(err)
	}
	if !b.IsLeader() {
		t.Fatal("a single process is not the leader")
	}

	// With a listener, another client reaches the same server.
	listening := start(t, bus.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	addr := bus.ListenAddr(listening)
	if addr == nil {
		t.Fatal("no listener though one was asked for")
	}
	nc, err := nats.Connect("nats://" + addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got2 := make(chan string, 2)
	if _, err := listening.Subscribe("civico.test", func(d []byte) { got2 <- string(d) }); err != nil {
		t.Fatal(err)
	}
	// A process's own message reaches the others, never itself: the
	// server queues an echo before it hands the message on, so had there
	// been one it would come before the message from outside.
	outside := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe("civico.test", outside); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := listening.Publish("civico.test", []byte("own")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-outside:
		if string(m.Data) != "own" {
			t.Fatalf("the other client got %q", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other client never got the process's message")
	}
	if err := nc.Publish("civico.test", []byte("from outside")); err != nil {
		t.Fatal(err)
	}
	receive(t, got2, "from outside")
}

func TestUnreachableNATSFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://user:secret@" + ln.Addr().String()
	ln.Close() // a port nobody listens on
	_, err = bus.Start(context.Background(), bus.Options{URL: url, LeaseTTL: testTTL})
	if err == nil {
		t.Fatal("started without NATS")
	}
	if msg := err.Error(); !strings.Contains(msg, "NATS unreachable at") || strings.Contains(msg, "secret") {
		t.Fatalf("error %q: should name the URL, without its password", msg)
	}
}

func TestMessagesGoBetweenProcessesInOrder(t *testing.T) {
	s := runNATS(t, -1, t.TempDir())
	a := start(t, bus.Options{URL: s.ClientURL()})
	b := start(t, bus.Options{URL: s.ClientURL()})
	if a.Self() == b.Self() || a.Self() == "" {
		t.Fatalf("ids %q and %q", a.Self(), b.Self())
	}
	got := make(chan string, 100)
	stop, err := b.Subscribe("civico.street.*", func(d []byte) { got <- string(d) })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := a.Publish(fmt.Sprintf("civico.street.s%d", i%3), fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		receive(t, got, fmt.Sprint(i))
	}
	stop()
	// After stop, nothing more arrives: a marker sent after a message on
	// the stopped subject arrives alone.
	marker := make(chan string, 1)
	if _, err := b.Subscribe("civico.marker", func(d []byte) { marker <- string(d) }); err != nil {
		t.Fatal(err)
	}
	_ = a.Publish("civico.street.s0", []byte("late"))
	_ = a.Publish("civico.marker", []byte("end"))
	receive(t, marker, "end")
	select {
	case m := <-got:
		t.Fatalf("received %q after stop", m)
	default:
	}
}

func TestReadyFollowsTheConnectionAndReconnectsResync(t *testing.T) {
	store := t.TempDir()
	s := runNATS(t, -1, store)
	port := s.Addr().(*net.TCPAddr).Port
	b := start(t, bus.Options{URL: s.ClientURL()})
	if err := b.Ready(); err != nil {
		t.Fatal(err)
	}
	resynced := make(chan struct{}, 1)
	b.OnReconnect(func() {
		select {
		case resynced <- struct{}{}:
		default:
		}
	})

	s.Shutdown()
	s.WaitForShutdown()
	eventually(t, 10*time.Second, "Ready errs without NATS", func() bool { return b.Ready() != nil })
	if b.IsLeader() {
		t.Fatal("still the leader while disconnected")
	}

	s2 := runNATS(t, port, store)
	select {
	case <-resynced:
	case <-time.After(20 * time.Second):
		t.Fatal("the OnReconnect callbacks did not run after NATS came back")
	}
	if err := b.Ready(); err != nil {
		t.Fatalf("Ready after reconnecting: %v", err)
	}
	// The restarted NATS forgot the in-memory buckets: the process
	// registers again and leads again.
	eventually(t, 10*time.Second, "registered and leader again", func() bool {
		alive, err := b.Alive(context.Background(), b.Self())
		return err == nil && alive && b.IsLeader()
	})

	// Messages flow again, to a second process too.
	c := start(t, bus.Options{URL: s2.ClientURL()})
	got := make(chan string, 1)
	if _, err := c.Subscribe("civico.after", func(d []byte) { got <- string(d) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("civico.after", []byte("back")); err != nil {
		t.Fatal(err)
	}
	receive(t, got, "back")
}

func TestAliveUntilClosedOrSilent(t *testing.T) {
	s := runNATS(t, -1, t.TempDir())
	a := start(t, bus.Options{URL: s.ClientURL()})
	closed := start(t, bus.Options{URL: s.ClientURL()})
	killed := start(t, bus.Options{URL: s.ClientURL()})
	ctx := context.Background()
	for _, id := range []string{a.Self(), closed.Self(), killed.Self()} {
		if alive, err := a.Alive(ctx, id); err != nil || !alive {
			t.Fatalf("%s alive: %v %v", id, alive, err)
		}
	}
	for _, id := range []string{"nobody", "", "a.b", "*"} {
		if alive, err := a.Alive(ctx, id); err != nil || alive {
			t.Fatalf("%q alive: %v %v", id, alive, err)
		}
	}
	// Still alive well past the TTL: the heartbeats keep it so.
	deadline := time.Now().Add(3 * testTTL)
	for time.Now().Before(deadline) {
		if alive, err := a.Alive(ctx, killed.Self()); err != nil || !alive {
			t.Fatalf("a live process seen dead: %v %v", alive, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	closed.Close()
	if alive, err := a.Alive(ctx, closed.Self()); err != nil || alive {
		t.Fatalf("closed process still alive: %v %v", alive, err)
	}

	bus.Abandon(killed)
	took := eventually(t, testTTL+testTTL/3+time.Second, "a killed process seen dead", func() bool {
		alive, err := a.Alive(ctx, killed.Self())
		return err == nil && !alive
	})
	t.Logf("killed process seen dead after %s (TTL %s)", took, testTTL)
}

// Peers lists the other live processes: neither this one nor one that
// closed its bus.
func TestPeersListsTheOtherLiveProcesses(t *testing.T) {
	s := runNATS(t, -1, t.TempDir())
	a := start(t, bus.Options{URL: s.ClientURL()})
	ctx := context.Background()
	if peers, err := a.Peers(ctx); err != nil || len(peers) != 0 {
		t.Fatalf("alone: peers %v, %v", peers, err)
	}
	b := start(t, bus.Options{URL: s.ClientURL()})
	closed := start(t, bus.Options{URL: s.ClientURL()})
	closed.Close()
	want := map[*bus.Bus][]string{a: {b.Self()}, b: {a.Self()}}
	for p, w := range want {
		if peers, err := p.Peers(ctx); err != nil || !slices.Equal(peers, w) {
			t.Fatalf("%s: peers %v, %v; want %v", p.Self(), peers, err, w)
		}
	}

	// An embedded NATS with a listener has the processes that reach it.
	host := start(t, bus.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	guest := start(t, bus.Options{URL: "nats://" + bus.ListenAddr(host).String()})
	if peers, err := host.Peers(ctx); err != nil || !slices.Equal(peers, []string{guest.Self()}) {
		t.Fatalf("embedded host: peers %v, %v; want the guest", peers, err)
	}
	// One without has none.
	lone := start(t, bus.Options{DataDir: t.TempDir()})
	if peers, err := lone.Peers(ctx); err != nil || len(peers) != 0 {
		t.Fatalf("embedded, no listener: peers %v, %v", peers, err)
	}
}

func TestOneLeaderAndTakeover(t *testing.T) {
	s := runNATS(t, -1, t.TempDir())
	var buses []*bus.Bus
	for range 3 {
		buses = append(buses, start(t, bus.Options{URL: s.ClientURL()}))
	}
	// leaders counts the leaders among the live buses, failing on two.
	leaders := func(live []*bus.Bus) *bus.Bus {
		t.Helper()
		var leader *bus.Bus
		for _, b := range live {
			if b.IsLeader() {
				if leader != nil {
					t.Fatalf("two leaders: %s and %s", leader.Self(), b.Self())
				}
				leader = b
			}
		}
		return leader
	}
	first := leaders(buses)
	if first == nil {
		t.Fatal("no leader")
	}
	// The leadership stays put while its holder renews.
	deadline := time.Now().Add(3 * testTTL)
	for time.Now().Before(deadline) {
		if l := leaders(buses); l != first {
			t.Fatalf("leadership moved from %s to %v", first.Self(), l)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// kill -9 of the leader: it releases nothing.
	live := without(buses, first)
	bus.Abandon(first)
	var second *bus.Bus
	took := eventually(t, testTTL+testTTL/3+time.Second, "a new leader after the leader died", func() bool {
		second = leaders(live)
		return second != nil
	})
	t.Logf("new leader %s after %s (TTL %s, renewal %s)", second.Self(), took, testTTL, testTTL/3)

	// A clean close hands over at the next try, without waiting the TTL.
	live = without(live, second)
	second.Close()
	took = eventually(t, testTTL/3+time.Second, "a new leader after the leader closed", func() bool {
		return leaders(live) != nil
	})
	t.Logf("new leader after a clean close in %s", took)
}

func without(bs []*bus.Bus, x *bus.Bus) []*bus.Bus {
	var out []*bus.Bus
	for _, b := range bs {
		if b != x {
			out = append(out, b)
		}
	}
	return out
}

func TestStartNeedsADataDirToEmbed(t *testing.T) {
	_, err := bus.Start(context.Background(), bus.Options{})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("started an embedded NATS with no data directory: %v", err)
	}
}
