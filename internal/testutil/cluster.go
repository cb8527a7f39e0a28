package testutil

import (
	"net"
	"os"
	"testing"

	"civico/internal/store"

	natsserver "github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
)

// SharedDatabase returns the mongodb:// address several server processes
// of one test share: MONGODB_URI when set (each test then names a database
// of its own), else a standalone FerretDB on a loopback port, stopped when
// the test ends. FerretDB is not atomic across clients: a test never races
// two processes on one document.
func SharedDatabase(tb testing.TB) string {
	tb.Helper()
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		return uri
	}
	s, err := store.StartStandalone(tb.TempDir(), nil)
	if err != nil {
		tb.Fatalf("shared database: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s.URI
}

// NATS is a NATS server with JetStream for the processes of one test.
type NATS struct {
	// URL is the nats:// address to give as CIVICO_NATS_URL.
	URL  string
	srv  *natsserver.Server
	opts natsserver.Options
}

// StartNATS starts a NATS server with JetStream on a loopback port, its
// store in a temp dir, shut down when the test ends.
func StartNATS(tb testing.TB) *NATS {
	tb.Helper()
	opts := natstest.DefaultTestOptions
	opts.Port = natsserver.RANDOM_PORT
	opts.JetStream = true
	opts.StoreDir = tb.TempDir()
	n := &NATS{opts: opts}
	n.srv = natstest.RunServer(&n.opts)
	// Keep the port, so that a restart comes back where clients reconnect.
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	n.URL = n.srv.ClientURL()
	tb.Cleanup(n.Stop)
	return n
}

// Stop shuts the server down (clients see NATS unreachable).
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// Restart starts the server again on the same port and store.
func (n *NATS) Restart() {
	n.Stop()
	n.srv = natstest.RunServer(&n.opts)
}
