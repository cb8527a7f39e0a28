package bus

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startServer runs the embedded NATS with JetStream, its store in
// DataDir/nats, reachable in-process only unless Listen is set.
func startServer(o Options) (*server.Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("bus: the embedded NATS needs a data directory")
	}
	dir, err := filepath.Abs(filepath.Join(o.DataDir, "nats"))
	if err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	sum := sha256.Sum256([]byte(dir))
	opts := &server.Options{
		// Named for the data directory: the same across restarts, which
		// JetStream's store expects, and unlike another data dir's.
		ServerName: "civico-" + hex.EncodeToString(sum[:6]),
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		DontListen: o.Listen == "",
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("bus: NATS listen address %q: %w", o.Listen, err)
		}
		if opts.Port, err = strconv.Atoi(port); err != nil || opts.Port < 0 {
			return nil, fmt.Errorf("bus: NATS listen address %q: bad port", o.Listen)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT // NATS reads 0 as its 4222
		}
		opts.Host = host
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded NATS: %w", err)
	}
	s.SetLoggerV2(natsLogger{o.Logger.With("component", "nats")}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("bus: the embedded NATS did not start (listen %q, store %s)", o.Listen, dir)
	}
	return s, nil
}

// natsLogger passes the server's log to slog; its notices (a banner at
// each start) are debug.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
