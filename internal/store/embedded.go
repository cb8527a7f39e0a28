package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// ErrDataDirInUse is returned when another process holds the data directory.
var ErrDataDirInUse = errors.New("store: data directory is in use by another Civico server")

// engineStart serialises ferretdb.New, which sets package-level state of
// FerretDB's own: two stores opened at once (parallel tests) would race.
var engineStart sync.Mutex

// embedded is a FerretDB running in this process on a Unix socket.
type embedded struct {
	uri    string
	sock   string
	dbDir  string
	lock   *os.File
	cancel context.CancelFunc
	done   chan struct{}
}

// startEmbedded takes the data directory's lock, clears a socket left by a
// crash (safe: holding the lock means no live server owns it), and starts
// FerretDB with its SQLite handler.
func startEmbedded(dir string, logger *slog.Logger) (*embedded, error) {
	if dir == "" {
		return nil, errors.New("store: no data directory for the embedded database")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	dbDir := filepath.Join(abs, "db")
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	lock, err := lockDataDir(abs)
	if err != nil {
		return nil, err
	}
	sock := socketPath(abs)
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		unlock(lock)
		return nil, fmt.Errorf("store: remove stale socket: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	uri, cancel, done, err := runEngine(ferretdb.ListenerConfig{Unix: sock}, dbDir, logger)
	if err != nil {
		unlock(lock)
		return nil, fmt.Errorf("store: start embedded database: %w", err)
	}
	e := &embedded{uri: uri, sock: sock, dbDir: dbDir, lock: lock, cancel: cancel, done: done}
	return e, nil
}

// runEngine starts FerretDB with its SQLite handler on dbDir, serving on
// l, and returns its address, how to stop it and when it has stopped.
func runEngine(l ferretdb.ListenerConfig, dbDir string, logger *slog.Logger) (string, context.CancelFunc, chan struct{}, error) {
	engineStart.Lock()
	f, err := ferretdb.New(&ferretdb.Config{Listener: l, Handler: "sqlite", SQLiteURL: "file:" + dbDir + "/", Logger: logger})
	engineStart.Unlock()
	if err != nil {
		return "", nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	return f.MongoDBURI(), cancel, done, nil
}

func (e *embedded) stop() {
	e.cancel()
	<-e.done
	_ = os.Remove(e.sock)
	unlock(e.lock)
}

// lockDataDir takes the data directory's lock (abs must exist), which a
// running server holds for its whole life and a restore while it works.
func lockDataDir(abs string) (*os.File, error) {
	lock, err := os.OpenFile(filepath.Join(abs, "civico.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s", ErrDataDirInUse, abs)
	}
	return lock, nil
}

func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_ = f.Close()
}

// socketPath keeps the socket inside the data directory unless the path is
// too long for a Unix socket (108 bytes), then it goes to the temp directory
// under a name derived from the data directory.
func socketPath(dir string) string {
	p := filepath.Join(dir, "ferretdb.sock")
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "civico-"+hex.EncodeToString(sum[:8])+".sock")
}
