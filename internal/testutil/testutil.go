// Package testutil starts the whole Civico server for tests: the embedded
// database in a temp dir (or MONGODB_URI, with a database of its own), real
// HTTP on a random loopback port, and helpers to call the API as a user.
package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/api"
	"civico/internal/app"
	"civico/internal/config"
	"civico/pwa"

	"github.com/gofiber/fiber/v2"
)

// Server is a running Civico for one test.
type Server struct {
	URL    string
	Addr   string
	App    *app.App
	Config config.Config
	Opts   app.Options
	Client *http.Client

	tb      testing.TB
	stopped bool
	served  chan struct{}
}

// Option changes the server's configuration before it starts.
type Option func(*config.Config, *app.Options)

// WithConfig lets a test change any setting.
func WithConfig(fn func(*config.Config)) Option {
	return func(c *config.Config, _ *app.Options) { fn(c) }
}

// WithAppOptions lets a test replace what app.Options holds (a fake clock…).
func WithAppOptions(fn func(*app.Options)) Option {
	return func(_ *config.Config, o *app.Options) { fn(o) }
}

// Config returns the configuration tests start from: a fresh data
// directory, or MONGODB_URI with a database of its own, and limits generous
// enough that only tests about limits meet them.
func Config(tb testing.TB) config.Config {
	tb.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = tb.TempDir()
	cfg.LogLevel = slog.LevelError
	cfg.LoginPerAccount, cfg.LoginPerIP, cfg.RegisterPerIP, cfg.PostsPerHour = 1000, 10000, 10000, 10000
	cfg.PushAllowInsecure = true
	cfg.ShutdownTimeout = 10 * time.Second
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		cfg.MongoURI = uri
		cfg.Database = "civico_test_" + RandomHex(6)
	}
	return cfg
}

// Start starts a server and stops it when the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	cfg := Config(tb)
	var ao app.Options
	for _, o := range opts {
		o(&cfg, &ao)
	}
	s := &Server{Config: cfg, Opts: ao, tb: tb}
	s.start(tb)
	tb.Cleanup(func() {
		s.Stop()
		if cfg.MongoURI != "" {
			s.dropDatabase()
		}
	})
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CIVICO_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := s.Opts
	if opts.PWA == nil && opts.Static == nil {
		h, err := embeddedApp()
		if err != nil {
			tb.Fatalf("the app's files: %v", err)
		}
		opts.Static = h
	}
	a, err := app.New(context.Background(), s.Config, log, opts)
	if err != nil {
		tb.Fatalf("start civico: %v", err)
	}
	addr := s.Config.Addr
	if s.Addr != "" {
		addr = s.Addr // a restart keeps the port, as clients expect
	}
	ln, err := listen(addr)
	if err != nil {
		_ = a.Shutdown(context.Background())
		tb.Fatalf("listen: %v", err)
	}
	s.App, s.Addr, s.URL = a, ln.Addr().String(), "http://"+ln.Addr().String()
	if s.Client == nil {
		s.Client = &http.Client{Timeout: 30 * time.Second}
	}
	s.stopped = false
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = a.Serve(ln)
	}()
}

// embeddedApp is the embedded app's files as the server serves them,
// compressed once per test process: that takes seconds (most of a server's
// start under the race detector), and every server of the process serves
// the same files.
var embeddedApp = sync.OnceValues(func() (fiber.Handler, error) { return api.Static(pwa.FS()) })

// listen retries briefly: after a restart the old socket may linger.
func listen(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// Stop shuts the server down gracefully (as on SIGTERM).
func (s *Server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.App.Shutdown(ctx); err != nil {
		s.tb.Errorf("shutdown: %v", err)
	}
	<-s.served
	s.Client.CloseIdleConnections()
}

// Restart stops the server and starts it again on the same data and port.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	s.start(tb)
}

func (s *Server) dropDatabase() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := app.New(ctx, s.Config, slog.New(slog.DiscardHandler), s.Opts)
	if err != nil {
		return
	}
	_ = a.Store().Database().Drop(ctx)
	_ = a.Shutdown(ctx)
}

// Response is an API answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %q: %v", r.Body, err)
	}
}

// ErrorCode is the API error code of the answer, "" when it is no error.
func (r *Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Fields is the per-field codes of a validation error.
func (r *Response) Fields() map[string]string {
	var e struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Fields
}

// Expect fails the test unless the status is want.
func (r *Response) Expect(tb testing.TB, want int) *Response {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
	return r
}

// ExpectError fails the test unless the answer is status with code.
func (r *Response) ExpectError(tb testing.TB, status int, code string) *Response {
	tb.Helper()
	if r.Status != status || r.ErrorCode() != code {
		tb.Fatalf("got %d %q, want %d %q: %s", r.Status, r.ErrorCode(), status, code, r.Body)
	}
	return r
}

// Do calls the API: a path not starting with /api/ gets the /api/v1 prefix
// (except /healthz, /readyz, / and file names). body may be nil, a string or
// []byte (sent as-is), or a value sent as JSON; token, when set, goes in the
// Authorization header; headers are name, value pairs.
func (s *Server) Do(tb testing.TB, method, path string, body any, token string, headers ...string) *Response {
	tb.Helper()
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if !strings.HasPrefix(path, "/api/") && path != "/healthz" && path != "/readyz" && !strings.Contains(path, ".") && path != "/" {
		path = "/api/v1" + path
	}
	return s.DoRaw(tb, method, path, body, token, headers...)
}

// DoRaw is Do without the path prefix, for the PWA's own paths.
func (s *Server) DoRaw(tb testing.TB, method, path string, body any, token string, headers ...string) *Response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := s.Client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return checked(tb, method, path, &Response{Status: res.StatusCode, Header: res.Header, Body: b})
}

// User is a registered, signed-in test user.
type User struct {
	ID           string
	Email        string
	Name         string
	Password     string
	Token        string
	RefreshToken string
}

var userSeq atomic.Int64

// Register creates a user with a unique email and signs them in.
func (s *Server) Register(tb testing.TB, name string) *User {
	tb.Helper()
	u := &User{Name: name, Password: "correct horse battery",
		Email: fmt.Sprintf("%s.%d.%s@example.org", strings.ToLower(strings.ReplaceAll(name, " ", "")), userSeq.Add(1), RandomHex(3))}
	r := s.Do(tb, "POST", "/auth/register", map[string]string{"email": u.Email, "password": u.Password, "name": name}, "")
	r.Expect(tb, http.StatusCreated)
	var out struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	r.JSON(tb, &out)
	u.ID, u.Token, u.RefreshToken = out.User.ID, out.AccessToken, out.RefreshToken
	return u
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
