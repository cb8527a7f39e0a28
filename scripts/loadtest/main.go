// Command loadtest measures Civico's street channels: it opens N
// authenticated websockets over M streets through the public API, posts at
// a given rate, and prints connections held, handshakes/s, deliveries/s,
// fan-out latency (event accepted → frame received) p50/p99/p99.9/max,
// frames lost, and the server's memory per connection from its debug
// endpoint. In the same run it measures a bare fasthttp/websocket broadcast
// server (a child process) with the same sockets and rate, and prints our
// p99 over its p99.
//
// Everything runs on loopback, bounded in sockets, rate and time. Build the
// server and run, for instance:
//
//	go build -o /tmp/civico ./server && go run ./scripts/loadtest -server-bin /tmp/civico -scenario all
//
// Scenarios: fanout (10 000 sockets, 100 streets, 200 posts/s), idle
// (17 000 idle sockets, memory per connection), storm (10 000 clients
// dropped at once, reconnecting with since while posts go on).
//
// With -nodes N the server is N processes sharing one database and one
// NATS server (a child process of the load test): each street's sockets
// and posts are spread over the nodes, and the fan-out figures come with
// the frames each node's sockets missed of the posts sent through each
// node, and the latency split by the post going through the socket's own
// node or another.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"civico/internal/diag"
	"civico/internal/hub"
)

type options struct {
	scenario           string
	nodes              int
	serverBin, dataDir string
	url, debug         string
	streets, perStreet int
	perUser            int
	sockets            int
	rate               float64
	duration           time.Duration
	idleSockets        int
	idleHold           time.Duration
	stormSockets       int
	stormRate          float64
	stormJitter        time.Duration
	baseline           bool
	ips, dialPar       int
	workers            int
	ping               time.Duration
	maxTime            time.Duration
	cpuProfile         string
	rounds             int
}

func main() {
	var o options
	var serveBaselineAddr, serveSharedDir string
	flag.StringVar(&serveBaselineAddr, "baseline-serve", "", "internal: run the bare baseline server on this address")
	flag.StringVar(&serveSharedDir, "shared-serve", "", "internal: run the nodes' shared database and NATS in this directory")
	flag.StringVar(&o.scenario, "scenario", "all", "fanout, idle, storm or all (comma separated)")
	flag.StringVar(&o.serverBin, "server-bin", "", "start this Civico binary (built from ./server) on loopback")
	flag.StringVar(&o.dataDir, "data", "", "data directory for the started server (default: a new temp dir)")
	flag.IntVar(&o.nodes, "nodes", 1, "Civico processes (with -server-bin), sharing one database and one NATS when more than one")
	flag.StringVar(&o.url, "url", "", "or: the base URL of a running Civico (with raised limits); several nodes' comma separated")
	flag.StringVar(&o.debug, "debug", "", "and its debug endpoint, e.g. http://127.0.0.1:6060; several nodes' comma separated, in the same order")
	flag.IntVar(&o.streets, "streets", 100, "streets")
	flag.IntVar(&o.perStreet, "members", 10, "members per street")
	flag.IntVar(&o.perUser, "streets-per-user", 5, "streets each user is a member of")
	flag.IntVar(&o.sockets, "sockets", 10000, "fanout: sockets")
	flag.Float64Var(&o.rate, "rate", 200, "fanout: posts per second, over all streets")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "fanout: how long to post")
	flag.IntVar(&o.idleSockets, "idle-sockets", 17000, "idle: sockets (the server keeps 1/16 of its connections for API requests)")
	flag.DurationVar(&o.idleHold, "idle-hold", 30*time.Second, "idle: how long to hold them (pings included)")
	flag.IntVar(&o.stormSockets, "storm-sockets", 10000, "storm: clients")
	flag.Float64Var(&o.stormRate, "storm-rate", 100, "storm: posts per second meanwhile")
	flag.DurationVar(&o.stormJitter, "storm-jitter", 2*time.Second, "storm: clients come back spread over this window")
	flag.BoolVar(&o.baseline, "baseline", true, "also measure the bare fasthttp/websocket baseline")
	flag.IntVar(&o.rounds, "rounds", 1, "fanout: measure baseline and Civico this many times, alternating, and compare the medians")
	flag.IntVar(&o.ips, "ips", 8, "loopback source addresses 127.0.0.1..N for client sockets")
	flag.IntVar(&o.dialPar, "dial-par", 64, "concurrent handshakes")
	flag.IntVar(&o.workers, "workers", 32, "concurrent post requests")
	flag.DurationVar(&o.ping, "ping", 10*time.Second, "server ping interval (started server only)")
	flag.DurationVar(&o.maxTime, "max-time", 20*time.Minute, "stop everything after this long")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write this load generator's CPU profile here (the server's: its debug endpoint)")
	flag.Parse()
	if serveBaselineAddr != "" {
		if err := serveBaseline(serveBaselineAddr); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		return
	}
	if serveSharedDir != "" {
		if err := serveShared(serveSharedDir); err != nil {
			fmt.Fprintln(os.Stderr, "shared:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	time.AfterFunc(o.maxTime, func() {
		fmt.Fprintln(os.Stderr, "loadtest: -max-time reached, stopping")
		os.Exit(2)
	})
	ctx := context.Background()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("loadtest on %d CPUs (%s), GOMAXPROCS %d, started %s\n", runtime.NumCPU(), runtime.GOARCH,
		runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	if o.nodes < 1 {
		return fmt.Errorf("-nodes %d: at least 1", o.nodes)
	}
	bases, debugs := splitList(o.url), splitList(o.debug)
	var pids []int
	if o.serverBin != "" {
		cl, err := startCluster(o)
		if err != nil {
			return err
		}
		defer cl.stop()
		bases, debugs, pids = cl.bases(), cl.debugs(), cl.pids()
	}
	if len(bases) == 0 || len(debugs) == 0 {
		return fmt.Errorf("give -server-bin, or -url and -debug")
	}
	if len(bases) != len(debugs) {
		return fmt.Errorf("%d base URLs but %d debug endpoints", len(bases), len(debugs))
	}
	if o.serverBin == "" && o.nodes > 1 && o.nodes != len(bases) {
		return fmt.Errorf("-nodes %d but %d base URLs", o.nodes, len(bases))
	}
	c := newCivico(bases, debugs)
	c.serverPids = pids
	t0 := time.Now()
	if err := c.setup(ctx, o.streets, o.perStreet, o.perUser); err != nil {
		return err
	}
	fmt.Printf("setup: %d users, %d streets × %d members, through the API in %s\n\n", len(c.users), o.streets, o.perStreet,
		time.Since(t0).Round(time.Millisecond))
	for _, sc := range strings.Split(o.scenario, ",") {
		if sc == "all" {
			sc = "fanout,idle,storm"
		}
		for _, s := range strings.Split(sc, ",") {
			if err := c.freshTokens(ctx); err != nil {
				return err
			}
			var err error
			switch strings.TrimSpace(s) {
			case "fanout":
				err = fanout(ctx, o, c)
			case "idle":
				err = idle(ctx, o, c)
			case "storm":
				err = storm(ctx, o, c)
			default:
				err = fmt.Errorf("unknown scenario %q", s)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// result is one fan-out run.
type result struct {
	name                 string
	held, sockets        int
	handshakes           float64
	failedAttempts       int64
	failed               int64
	posted, postFailed   int64
	postErrs             string
	deliveries           float64
	lost, dups, extra    int64
	lat, e2e             *hist
	tooSlow, serverConns int64
	tl                   *timeline
	// cores used while posting, by the server and by this load generator
	serverCores, genCores float64
	// With several nodes: the latency of posts through the socket's own
	// node and through another, and per socket node k and post node j
	// the frames expected (want[k][j]) and missing (missing[k][j]); and
	// the sockets each node held.
	nodes              int
	latLocal, latCross *hist
	want, missing      [][]int64
	heldOn             []int
}

func (r result) print() {
	fmt.Printf("  %-26s %d/%d sockets held, %.0f handshakes/s (%d failed attempts, %d failed)\n", r.name+":", r.held, r.sockets,
		r.handshakes, r.failedAttempts, r.failed)
	fmt.Printf("  %-26s %d posts accepted (%d failed), %.0f deliveries/s, frames lost %d, duplicated %d, unexpected %d\n", "",
		r.posted, r.postFailed, r.deliveries, r.lost, r.dups, r.extra)
	if r.postErrs != "" {
		fmt.Printf("  %-26s posts failed with:\n%s", "", r.postErrs)
	}
	fmt.Printf("  %-26s fan-out latency (event time → frame received): %s\n", "", r.lat)
	fmt.Printf("  %-26s end to end (post sent → frame received):       %s\n", "", r.e2e)
	fmt.Printf("  %-26s fan-out p99 per second (ms, power-of-two buckets):%s\n", "", r.tl)
	if r.genCores > 0 {
		who := "server"
		if r.nodes > 1 {
			who = "servers, database and NATS"
		}
		fmt.Printf("  %-26s CPU while posting: %s %.2f cores, load generator %.2f cores\n", "", who, r.serverCores, r.genCores)
	}
	if r.nodes > 1 {
		r.printNodes()
	}
}

// printNodes tells the figures of several nodes apart: the latency of a
// post's frames on its own node and on the others, and which node's
// sockets missed the frames of which node's posts.
func (r result) printNodes() {
	fmt.Printf("  %-26s sockets held per node:%s\n", "", intList(r.heldOn))
	fmt.Printf("  %-26s fan-out latency, post through the socket's node: %s\n", "", r.latLocal)
	fmt.Printf("  %-26s fan-out latency, post through another node:      %s\n", "", r.latCross)
	for k := range r.want {
		var want, miss int64
		var parts []string
		for j := range r.want[k] {
			want += r.want[k][j]
			miss += r.missing[k][j]
			parts = append(parts, fmt.Sprintf("posted through node %d: %d of %d", j, r.missing[k][j], r.want[k][j]))
		}
		fmt.Printf("  %-26s node %d's sockets missed %d of %d frames (%s)\n", "", k, miss, want, strings.Join(parts, ", "))
	}
}

func int64List(v []int64) string {
	var sb strings.Builder
	for _, n := range v {
		fmt.Fprintf(&sb, " %d", n)
	}
	return sb.String()
}

func intList(v []int) string {
	var sb strings.Builder
	for _, n := range v {
		fmt.Fprintf(&sb, " %d", n)
	}
	return sb.String()
}

// measure connects n sockets to t, posts at rate for d, and counts.
func measure(ctx context.Context, o options, t target, n int, rate float64, d time.Duration) (result, *fleet) {
	f := newFleet(t, n, o.ips)
	start := time.Now()
	fa, fl := f.connect(ctx, f.socks, o.dialPar, false, 0)
	r := result{name: t.name(), sockets: n, failedAttempts: fa, failed: fl, lat: f.lat, e2e: f.e2e,
		nodes: t.nodes(), latLocal: f.latLocal, latCross: f.latCross}
	r.handshakes = float64(n-int(fl)) / time.Since(start).Seconds()
	r.held = f.open()
	pstart := time.Now()
	f.tl = newTimeline(pstart, d+5*time.Second)
	r.tl = f.tl
	f.live.Store(true)
	if r.nodes > 1 {
		r.heldOn = make([]int, r.nodes)
		for _, s := range f.socks {
			if s.done != nil {
				select {
				case <-s.done:
				default:
					r.heldOn[s.node]++
				}
			}
		}
	}
	cpu := startCPU(t.pids())
	pctx, cancel := context.WithTimeout(ctx, d)
	p := post(pctx, t, rate, o.workers)
	<-pctx.Done()
	cancel()
	<-p.done
	posting := time.Since(pstart)
	r.serverCores, r.genCores = cpu.cores()
	// Every accepted post must reach every socket of its street.
	var want int64
	for _, s := range f.socks {
		if s.done != nil {
			want += p.perStreet[s.street].Load()
		}
	}
	// Bounded: frames that never come (a node the event did not reach)
	// end the wait after 3 s without any, and are counted as lost.
	settle(f, want)
	f.live.Store(false)
	r.held = min(r.held, f.open())
	f.close()
	r.posted, r.postFailed, r.postErrs = p.accepted.Load(), p.failed.Load(), p.errs()
	var got int64
	for _, s := range f.socks {
		if s.done == nil {
			continue
		}
		got += s.posts
		r.dups += s.dups
		if miss := p.perStreet[s.street].Load() - s.posts; miss > 0 {
			r.lost += miss
		} else {
			r.extra -= miss
		}
	}
	r.deliveries = float64(got) / posting.Seconds()
	if r.nodes > 1 {
		r.want, r.missing = make([][]int64, r.nodes), make([][]int64, r.nodes)
		for k := range r.nodes {
			r.want[k], r.missing[k] = make([]int64, r.nodes), make([]int64, r.nodes)
		}
		for _, s := range f.socks {
			if s.done == nil {
				continue
			}
			for j := range r.nodes {
				w := p.perStreetNode[s.street*p.nodes+j].Load()
				r.want[s.node][j] += w
				r.missing[s.node][j] += max(0, w-s.from[j])
			}
		}
	}
	return r, f
}

// settle waits until want frames arrived, or nothing arrived for 3 s.
func settle(f *fleet, want int64) {
	last, still := f.frames.Load(), time.Now()
	for f.frames.Load() < want && time.Since(still) < 3*time.Second {
		time.Sleep(50 * time.Millisecond)
		if n := f.frames.Load(); n != last {
			last, still = n, time.Now()
		}
	}
}

func fanout(ctx context.Context, o options, c *civico) error {
	fmt.Printf("== fanout: %d sockets over %d streets, %.0f posts/s for %s (%.0f deliveries/s expected)\n", o.sockets,
		o.streets, o.rate, o.duration, o.rate*float64(o.sockets)/float64(o.streets))
	var bases, ours []time.Duration
	for round := range max(1, o.rounds) {
		if o.rounds > 1 {
			fmt.Printf("  -- round %d of %d\n", round+1, o.rounds)
		}
		if round > 0 {
			if err := c.freshTokens(ctx); err != nil {
				return err
			}
		}
		b, r, err := fanoutRound(ctx, o, c)
		if err != nil {
			return err
		}
		if b != nil {
			bases = append(bases, b.lat.quantile(0.99))
		}
		ours = append(ours, r.lat.quantile(0.99))
	}
	if len(ours) > 1 {
		fmt.Printf("  over %d rounds: civico p99 %s, median %s", len(ours), msList(ours), ms(median(ours)))
		if len(bases) > 0 {
			fmt.Printf("; baseline p99 %s, median %s; median ÷ median: %.2f", msList(bases), ms(median(bases)),
				float64(median(ours))/float64(median(bases)))
		}
		fmt.Println()
	}
	fmt.Println()
	return nil
}

// fanoutRound measures the baseline (when asked) and then Civico once.
func fanoutRound(ctx context.Context, o options, c *civico) (*result, result, error) {
	var base *result
	if o.baseline {
		b, err := startBaseline(o.streets)
		if err != nil {
			return nil, result{}, err
		}
		r, _ := measure(ctx, o, b, o.sockets, o.rate, o.duration)
		b.stop()
		r.print()
		base = &r
	}
	mems0, nodeStats0, err := c.nodeVars(true)
	if err != nil {
		return nil, result{}, err
	}
	r, _ := measure(ctx, o, c, o.sockets, o.rate, o.duration)
	mems, nodeStats, err := c.nodeVars(false)
	if err != nil {
		return nil, result{}, err
	}
	m0, st0 := sumVars(mems0, nodeStats0)
	m1, st := sumVars(mems, nodeStats)
	r.print()
	fmt.Printf("  %-26s hub: %d events, %d deliveries, %d too slow, %d dead; server goroutines before %d, GCs while measured %d\n", "",
		st.Events-st0.Events, st.Deliveries-st0.Deliveries, st.TooSlow-st0.TooSlow, st.Dead-st0.Dead, m0.Goroutines, m1.NumGC-m0.NumGC)
	if c.nodes() > 1 {
		// Per node, to see each hub get every event (the others' too).
		for i := range c.nodes() {
			a, b := nodeStats0[i], nodeStats[i]
			fmt.Printf("  %-26s hub of node %d: %d events, %d deliveries, %d too slow, %d dead\n", "", i,
				b.Events-a.Events, b.Deliveries-a.Deliveries, b.TooSlow-a.TooSlow, b.Dead-a.Dead)
		}
	}
	fmt.Printf("  %-26s of which before the hub (event time → hub, server side): %s\n", "", lagQuantiles(st0.Lag, st.Lag, "events"))
	fmt.Printf("  %-26s and in the hub (hub → frame written to its socket):      %s\n", "", lagQuantiles(st0.WriteLag, st.WriteLag, "frames"))
	ratio(r, base)
	// When Civico accepted posts more slowly than asked (its posting path,
	// not its sockets, is the limit), the baseline also runs at the rate
	// Civico sustained, so that the two fan-outs compare at the same load.
	if got := float64(r.posted) / o.duration.Seconds(); o.baseline && got < 0.9*o.rate && got > 0 {
		fmt.Printf("  civico sustained %.0f posts/s of %.0f asked: the baseline again at that rate\n", got, o.rate)
		b, err := startBaseline(o.streets)
		if err != nil {
			return nil, result{}, err
		}
		br, _ := measure(ctx, o, b, o.sockets, got, o.duration)
		b.stop()
		br.print()
		ratio(r, &br)
		base = &br
	}
	return base, r, nil
}

func sumVars(mems []diag.Mem, stats []hub.Stats) (diag.Mem, hub.Stats) {
	var m diag.Mem
	var st hub.Stats
	for i := range mems {
		m, st = addMem(m, mems[i]), addStats(st, stats[i])
	}
	return m, st
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func msList(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = ms(d)
	}
	return strings.Join(parts, " ")
}

// lagQuantiles reads the hub's lag histogram (log2 ms buckets) over a run.
func lagQuantiles(before, after [hub.LagBuckets]int64, what string) string {
	var n int64
	var d [hub.LagBuckets]int64
	for i := range d {
		d[i] = after[i] - before[i]
		n += d[i]
	}
	if n == 0 {
		return "no " + what
	}
	q := func(p float64) string {
		var seen int64
		for i, c := range d {
			if seen += c; float64(seen) >= p*float64(n) {
				if i == len(d)-1 {
					return fmt.Sprintf("≥ %d ms", 1<<(i-1))
				}
				return fmt.Sprintf("< %d ms", 1<<i)
			}
		}
		return "?"
	}
	return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s  (%d %s)", q(0.5), q(0.99), q(0.999), n, what)
}

func ratio(r result, base *result) {
	if base != nil && base.lat.quantile(0.99) > 0 {
		fmt.Printf("  p99 civico ÷ p99 baseline: %.2f (%s ÷ %s)\n", float64(r.lat.quantile(0.99))/float64(base.lat.quantile(0.99)),
			ms(r.lat.quantile(0.99)), ms(base.lat.quantile(0.99)))
	}
}

func idle(ctx context.Context, o options, c *civico) error {
	fmt.Printf("== idle: %d sockets over %d streets, held %s (server pings every %s)\n", o.idleSockets, o.streets, o.idleHold, o.ping)
	if o.baseline {
		b, err := startBaseline(o.streets)
		if err != nil {
			return err
		}
		before, err := b.mem(true)
		if err != nil {
			return err
		}
		f := newFleet(b, o.idleSockets, o.ips)
		_, fl := f.connect(ctx, f.socks, o.dialPar, false, 0)
		after, err := b.mem(true)
		if err != nil {
			return err
		}
		printMem("bare fasthttp/websocket", f.open(), int(fl), before, after)
		f.close()
		b.stop()
	}
	before, _, err := c.vars(true)
	if err != nil {
		return err
	}
	f := newFleet(c, o.idleSockets, o.ips)
	start := time.Now()
	fa, fl := f.connect(ctx, f.socks, o.dialPar, false, 0)
	hs := float64(o.idleSockets-int(fl)) / time.Since(start).Seconds()
	time.Sleep(o.idleHold)
	after, st, err := c.vars(true)
	if err != nil {
		return err
	}
	fmt.Printf("  %-26s %.0f handshakes/s (%d failed attempts, %d failed); after %s: %d held, hub counts %d, %d dropped as dead\n",
		"civico:", hs, fa, fl, o.idleHold, f.open(), st.Conns, st.Dead)
	printMem("civico", int(st.Conns), 0, before, after)
	f.close()
	fmt.Println()
	return nil
}

func printMem(name string, held, failed int, before, after diag.Mem) {
	if held == 0 {
		fmt.Printf("  %-26s no socket held\n", name+":")
		return
	}
	per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(held) / 1024 }
	fmt.Printf("  %-26s %d sockets (%d failed): %.1f KB/conn of Go memory (heap %.1f, stacks %.1f), %.1f KB/conn RSS; "+
		"%.2f goroutines/conn; %d open files\n", name+":", held, failed, per(after.Go, before.Go), per(after.HeapInuse, before.HeapInuse),
		per(after.StackInuse, before.StackInuse), per(after.RSS, before.RSS),
		float64(after.Goroutines-before.Goroutines)/float64(held), after.OpenFiles)
}

func storm(ctx context.Context, o options, c *civico) error {
	fmt.Printf("== storm: %d clients over %d streets, %.0f posts/s; all dropped at once, back with since within %s\n",
		o.stormSockets, o.streets, o.stormRate, o.stormJitter)
	f := newFleet(c, o.stormSockets, o.ips)
	fa, fl := f.connect(ctx, f.socks, o.dialPar, false, 0)
	if fl > 0 {
		return fmt.Errorf("storm: %d clients could not connect at all (%d failed attempts)", fl, fa)
	}
	_, st0, err := c.vars(false)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := post(pctx, c, o.stormRate, o.workers)
	time.Sleep(3 * time.Second)
	f.drop()
	dropped := time.Now()
	fa, fl = f.connect(ctx, f.socks, 4*o.dialPar, true, o.stormJitter)
	back := time.Since(dropped)
	time.Sleep(3 * time.Second)
	cancel()
	<-p.done
	last, still := f.frames.Load(), time.Now()
	for time.Since(still) < 2*time.Second {
		time.Sleep(100 * time.Millisecond)
		if n := f.frames.Load(); n != last {
			last, still = n, time.Now()
		}
	}
	_, st1, err := c.vars(false)
	if err != nil {
		return err
	}
	f.close()
	// Each street's events during the run are its posts: every client must
	// hold an unbroken run of ids up to the street's last one.
	first := make([]int64, c.streets())
	lastID := make([]int64, c.streets())
	var gaps, dups, resets, behind int64
	for _, s := range f.socks {
		if first[s.street] == 0 || s.first < first[s.street] {
			first[s.street] = s.first
		}
		lastID[s.street] = max(lastID[s.street], s.last)
		gaps += s.gaps
		dups += s.dups
		resets += s.resets
	}
	var short int64
	lostOn := make([]int64, c.nodes())
	for _, s := range f.socks {
		behind += lastID[s.street] - s.last
		lostOn[s.node] += s.gaps + lastID[s.street] - s.last
	}
	for i := range c.streets() {
		if n := lastID[i] - first[i] + 1; first[i] > 0 && n < p.perStreet[i].Load() {
			short += p.perStreet[i].Load() - n
		}
	}
	fmt.Printf("  all %d back %s after the drop (%.0f handshakes/s): %d failed attempts, %d failed after backoff\n",
		o.stormSockets, back.Round(time.Millisecond), float64(o.stormSockets)/back.Seconds(), fa, fl)
	fmt.Printf("  %d posts accepted (%d failed); frames lost %d (gaps %d, behind at the end %d, missing everywhere %d), "+
		"duplicated %d, resets %d\n", p.accepted.Load(), p.failed.Load(), gaps+behind+short, gaps, behind, short, dups, resets)
	if e := p.errs(); e != "" {
		fmt.Printf("  posts failed with:\n%s", e)
	}
	if c.nodes() > 1 {
		fmt.Printf("  frames lost by the sockets of each node (gaps and behind):%s\n", int64List(lostOn))
	}
	fmt.Printf("  hub: %d replayed, %d resets, %d accepted sockets during the storm\n\n", st1.Replayed-st0.Replayed,
		st1.Resets-st0.Resets, st1.Accepted-st0.Accepted)
	return nil
}
