package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Standalone is a FerretDB (SQLite handler) serving the MongoDB wire
// protocol on a loopback TCP port, for tests that run several server
// processes on one database the way production runs them on MongoDB. It is
// not atomic across its clients (see DESIGN.md, "Several processes").
type Standalone struct {
	// URI is the mongodb:// address the processes connect to.
	URI    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartStandalone starts a standalone FerretDB keeping its files in dir.
func StartStandalone(dir string, logger *slog.Logger) (*Standalone, error) {
	dbDir := filepath.Join(dir, "db")
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: standalone directory: %w", err)
	}
	// FerretDB wants an address, not a listener: take a free port and
	// hand it over. Nothing else on loopback races for it in a test.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("store: standalone port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	uri, cancel, done, err := runEngine(ferretdb.ListenerConfig{TCP: addr}, dbDir, logger)
	if err != nil {
		return nil, fmt.Errorf("store: start standalone database: %w", err)
	}
	s := &Standalone{URI: uri, cancel: cancel, done: done}
	if s.URI == "" {
		s.Stop()
		return nil, errors.New("store: standalone database has no address")
	}
	return s, nil
}

// Stop shuts the database down and waits for it.
func (s *Standalone) Stop() {
	s.cancel()
	<-s.done
}
