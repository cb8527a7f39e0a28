package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"civico/internal/store"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// cluster is the Civico processes this load test started: one with its
// embedded database and NATS, or several sharing a database and a NATS
// server that run in a child process of their own (so that their CPU and
// open files are neither the load generator's nor a node's).
type cluster struct {
	servers []*server
	shared  *shared
	tmp     string // removed at stop; "" when the data directory was given
}

// startCluster starts o.nodes servers from o.serverBin.
func startCluster(o options) (*cluster, error) {
	cl := &cluster{}
	root := o.dataDir
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "civico-loadtest-"); err != nil {
			return nil, err
		}
		cl.tmp = root
	}
	if o.nodes <= 1 {
		srv, err := startServer(o.serverBin, root, o.ping)
		if err != nil {
			cl.stop()
			return nil, err
		}
		cl.servers = append(cl.servers, srv)
		fmt.Printf("started %s on %s (debug %s, ping every %s)\n", o.serverBin, srv.base, srv.debug, o.ping)
		return cl, nil
	}
	sh, err := startShared(filepath.Join(root, "shared"))
	if err != nil {
		cl.stop()
		return nil, err
	}
	cl.shared = sh
	env := []string{"MONGODB_URI=" + sh.mongoURI, "CIVICO_DB=loadtest", "CIVICO_NATS_URL=" + sh.natsURL}
	// One after the other: the first creates what the database holds
	// once (indexes, the token signing secret), the others find it.
	for i := range o.nodes {
		dir := filepath.Join(root, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			cl.stop()
			return nil, err
		}
		srv, err := startServer(o.serverBin, dir, o.ping, env...)
		if err != nil {
			cl.stop()
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		cl.servers = append(cl.servers, srv)
	}
	fmt.Printf("started %d × %s on %s (debug %s, ping every %s), sharing the database %s and NATS %s (their process: pid %d, %s/debug/pprof/)\n",
		o.nodes, o.serverBin, strings.Join(cl.bases(), " "), strings.Join(cl.debugs(), " "), o.ping, sh.mongoURI, sh.natsURL,
		sh.cmd.Process.Pid, sh.debug)
	return cl, nil
}

func (cl *cluster) bases() []string {
	var b []string
	for _, s := range cl.servers {
		b = append(b, s.base)
	}
	return b
}

func (cl *cluster) debugs() []string {
	var d []string
	for _, s := range cl.servers {
		d = append(d, s.debug)
	}
	return d
}

// pids are the servers' processes and the shared database and NATS's.
func (cl *cluster) pids() []int {
	var p []int
	for _, s := range cl.servers {
		p = append(p, s.cmd.Process.Pid)
	}
	if cl.shared != nil {
		p = append(p, cl.shared.cmd.Process.Pid)
	}
	return p
}

// stop ends the servers, then what they share.
func (cl *cluster) stop() {
	for _, s := range cl.servers {
		s.stop()
	}
	if cl.shared != nil {
		cl.shared.stop()
	}
	if cl.tmp != "" {
		_ = os.RemoveAll(cl.tmp)
	}
}

// shared is the child process holding the database and NATS server the
// nodes share.
type shared struct {
	cmd               *exec.Cmd
	stdin             io.WriteCloser
	mongoURI, natsURL string
	debug             string // its /debug/pprof/, for profiling the database and NATS
}

// startShared runs this program with -shared-serve dir and reads the
// addresses it prints.
func startShared(dir string) (*shared, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-shared-serve", dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &shared{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 4 || f[0] != "shared" {
		s.stop()
		return nil, fmt.Errorf("the shared database and NATS did not start (%q): %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	s.mongoURI, s.natsURL, s.debug = f[1], f[2], f[3]
	return s, nil
}

// stop closes the child's stdin, which ends it, and waits.
func (s *shared) stop() {
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// serveShared runs a standalone database and a NATS server with
// JetStream in dir, prints "shared MONGODB_URI NATS_URL DEBUG_URL" (the
// last serving /debug/pprof/), and stops them when stdin closes: when the
// load test is done, or has died.
func serveShared(dir string) error {
	db, err := store.StartStandalone(dir, nil)
	if err != nil {
		return err
	}
	defer db.Stop()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: filepath.Join(dir, "nats"), NoSigs: true, NoLog: true})
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("nats: not ready within 10 s")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Printf("shared %s %s http://%s\n", db.URI, ns.ClientURL(), ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
