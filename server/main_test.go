package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"civico/internal/testutil"
)

// TestMain lets the test binary be the server: the process tests start it
// as a child, so SIGTERM and kill -9 hit a real server process.
func TestMain(m *testing.M) {
	if os.Getenv("CIVICO_TEST_AS_SERVER") == "1" {
		if n, err := strconv.ParseUint(os.Getenv("CIVICO_TEST_NOFILE"), 10, 64); err == nil {
			// A small open-file limit, as `ulimit -n` would set.
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
				fmt.Fprintln(os.Stderr, "civico: rlimit:", err)
				os.Exit(1)
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		err := run(ctx, nil, os.Getenv, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "civico:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type child struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	lines  chan string
	exited chan error
}

var addrRE = regexp.MustCompile(`"addr":"([^"]+)"`)

// startChild runs the server on dataDir and waits for its "listening" line.
// Extra environment variables (NAME=value) come last and win.
func startChild(t *testing.T, dataDir, db string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CIVICO_TEST_AS_SERVER=1", "CIVICO_ADDR=127.0.0.1:0", "CIVICO_DATA="+dataDir,
		"CIVICO_DB="+db, "CIVICO_REGISTER_PER_IP=100000", "CIVICO_LOGIN_PER_IP=100000", "CIVICO_LOGIN_PER_ACCOUNT=100000")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}, lines: make(chan string, 100), exited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "civico listening") {
				if m := addrRE.FindStringSubmatch(line); m != nil {
					listening <- m[1]
				}
			}
			select {
			case c.lines <- line:
			default:
			}
		}
		c.exited <- cmd.Wait()
		close(c.lines)
	}()
	select {
	case addr := <-listening:
		c.url = "http://" + addr
	case err := <-c.exited:
		t.Fatalf("server exited before listening: %v: %s", err, c.stderr)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-c.exited
		}
	})
	return c
}

func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.exited:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("server did not exit")
		return nil
	}
}

func post(url, path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	res, err := http.Post(url+"/api/v1"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

func register(url, email string) (int, error) {
	code, _, err := post(url, "/auth/register", map[string]string{"email": email, "password": "password 123", "name": "Vicino"})
	return code, err
}

func login(url, email string) (int, error) {
	code, _, err := post(url, "/auth/login", map[string]string{"email": email, "password": "password 123"})
	return code, err
}

func testDB() string {
	return "civico_proc_" + testutil.RandomHex(5)
}

func TestSIGTERMDrainsAndRestartKeepsUsers(t *testing.T) {
	dir, db := t.TempDir(), testDB()
	c := startChild(t, dir, db)
	if code, err := register(c.url, "first@example.org"); err != nil || code != 201 {
		t.Fatalf("register: %d %v", code, err)
	}
	// Registrations in flight when SIGTERM arrives: each one the server
	// acknowledged must survive; none may be cut off half-answered.
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []string
	firstDone := make(chan struct{})
	var once sync.Once
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("inflight%d@example.org", i)
			code, err := register(c.url, email)
			if err == nil && code == 201 {
				mu.Lock()
				acked = append(acked, email)
				mu.Unlock()
			}
			once.Do(func() { close(firstDone) })
		}()
	}
	<-firstDone
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := c.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v: %s", err, c.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ferretdb.sock")); db != "" && os.Getenv("MONGODB_URI") == "" && err == nil {
		t.Error("a clean shutdown left the socket behind")
	}
	c2 := startChild(t, dir, db)
	for _, email := range append([]string{"first@example.org"}, acked...) {
		if code, err := login(c2.url, email); err != nil || code != 200 {
			t.Fatalf("after restart %s: %d %v", email, code, err)
		}
	}
}

func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	dir, db := t.TempDir(), testDB()
	c := startChild(t, dir, db)
	var mu sync.Mutex
	var acked []string
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				email := fmt.Sprintf("w%d-%d@example.org", w, i)
				code, err := register(c.url, email)
				if err != nil {
					return // killed
				}
				if code == 201 {
					mu.Lock()
					acked = append(acked, email)
					if len(acked) >= 40 {
						once.Do(func() { close(enough) })
					}
					mu.Unlock()
				}
			}
		}()
	}
	<-enough
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	_ = c.wait(t)
	if os.Getenv("MONGODB_URI") == "" {
		if _, err := os.Stat(filepath.Join(dir, "ferretdb.sock")); err != nil {
			t.Logf("note: no stale socket after kill -9 (%v)", err)
		}
	}
	c2 := startChild(t, dir, db)
	mu.Lock()
	defer mu.Unlock()
	for _, email := range acked {
		if code, err := login(c2.url, email); err != nil || code != 200 {
			t.Fatalf("acknowledged %s lost after kill -9: %d %v", email, code, err)
		}
	}
	t.Logf("%d acknowledged registrations all found after kill -9", len(acked))
}

func TestSecondServerOnSameDataDirFails(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Skip("the data-directory lock guards the embedded database only")
	}
	dir := t.TempDir()
	startChild(t, dir, testDB())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CIVICO_TEST_AS_SERVER=1", "CIVICO_ADDR=127.0.0.1:0", "CIVICO_DATA="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("a second server started on a data directory in use")
	}
	if !strings.Contains(string(out), "in use by another Civico server") {
		t.Fatalf("unclear message: %s", out)
	}
}

func TestBadConfigurationIsRefused(t *testing.T) {
	cases := map[string][]string{
		"short secret":      {"CIVICO_JWT_SECRET=short"},
		"half a VAPID pair": {"CIVICO_VAPID_PUBLIC_KEY=abc"},
		"bad log level":     {"CIVICO_LOG_LEVEL=loud"},
		"bad public url":    {"CIVICO_PUBLIC_URL=ftp://x"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string {
				for _, kv := range env {
					if strings.HasPrefix(kv, k+"=") {
						return strings.TrimPrefix(kv, k+"=")
					}
				}
				return ""
			}
			err := run(context.Background(), []string{"-data", t.TempDir()}, getenv, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "config") {
				t.Fatalf("want a config error, got %v", err)
			}
		})
	}
}

var debugRE = regexp.MustCompile(`"msg":"debug endpoint listening","addr":"([^"]+)"`)

// `civico digest` asks the running server, through its debug endpoint, to
// send the digests due now; without the address it says what to set.
func TestDigestCommandReachesTheRunningServer(t *testing.T) {
	smtp := testutil.SMTP(t)
	c := startChild(t, t.TempDir(), testDB(), "CIVICO_DEBUG_ADDR=127.0.0.1:0", "CIVICO_SMTP_URL="+smtp.URL())
	var debug string
	for line := range c.lines {
		if m := debugRE.FindStringSubmatch(line); m != nil {
			debug = m[1]
			break
		}
	}
	if debug == "" {
		t.Fatalf("no debug endpoint: %s", c.stderr)
	}
	var out bytes.Buffer
	env := func(k string) string {
		if k == "CIVICO_DEBUG_ADDR" {
			return debug
		}
		return ""
	}
	if err := run(context.Background(), []string{"digest"}, env, &out); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Queued *int `json:"queued"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Queued == nil || *res.Queued != 0 {
		t.Fatalf("digest answered %q (%v): a new server has nothing to send", out.String(), err)
	}
	err := run(context.Background(), []string{"digest"}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "CIVICO_DEBUG_ADDR") {
		t.Fatalf("without the address: %v", err)
	}
}
