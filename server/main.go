// Command server runs Civico: the API, the realtime channels, push, and the
// PWA, with the embedded database unless MONGODB_URI is set.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // quiet hours need time zones even in a bare container

	"civico/internal/app"
	"civico/internal/config"
	"civico/internal/store"
)

func main() {
	app.Tune(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "civico:", err)
		os.Exit(1)
	}
}

// digest asks the running server to send the email digests due now (for
// cron, and for checking a deployment): through its debug endpoint,
// CIVICO_DEBUG_ADDR, as the embedded database is that server's alone.
// Digests already sent for their period are not sent again.
func digest(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	addr := getenv("CIVICO_DEBUG_ADDR")
	if addr == "" {
		return errors.New("digest: set CIVICO_DEBUG_ADDR to the running server's debug address (e.g. 127.0.0.1:6060)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/actions/digests", nil)
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("digest: is the server running with CIVICO_DEBUG_ADDR=%s? %w", addr, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("digest: the server answered %s: %s", res.Status, body)
	}
	_, err = stdout.Write(body)
	return err
}

// run starts the server and blocks until ctx ends, then shuts down cleanly.
// With "backup" or "restore" first, it runs that command on the embedded
// database instead (store.Command).
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && (args[0] == "backup" || args[0] == "restore") {
		return store.Command(ctx, args, getenv, stdout)
	}
	if len(args) > 0 && args[0] == "digest" {
		return digest(ctx, getenv, stdout)
	}
	cfg, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	var handler slog.Handler = slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel})
	if cfg.LogFormat == "text" {
		handler = slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel})
	}
	log := slog.New(handler)
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = a.Shutdown(context.Background())
		return err
	}
	engine := "embedded FerretDB in " + cfg.DataDir
	if cfg.MongoURI != "" {
		engine = "MongoDB"
	}
	log.Info("civico listening", "addr", ln.Addr().String(), "database", engine)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-served:
		log.Error("server stopped", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if serr := a.Shutdown(sctx); serr != nil && !errors.Is(serr, context.Canceled) {
		return serr
	}
	log.Info("stopped")
	return err
}
