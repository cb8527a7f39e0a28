package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// debugAddr waits for the child's "debug endpoint listening" line.
func debugAddr(t *testing.T, c *child) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("the server exited: %s", c.stderr)
			}
			if strings.Contains(line, "debug endpoint listening") {
				var l struct {
					Addr string `json:"addr"`
				}
				if err := json.Unmarshal([]byte(line), &l); err != nil {
					t.Fatalf("log line %q is not JSON: %v", line, err)
				}
				return l.Addr
			}
		case <-deadline:
			t.Fatal("no debug endpoint")
		}
	}
}

// An operator's Prometheus scrapes the debug address: requests by route
// and status, rate-limit refusals, database commands and live sockets are
// there; every answer carries a request id, and the logs are JSON lines.
func TestMetricsRequestIDsAndJSONLogs(t *testing.T) {
	c := startChild(t, t.TempDir(), testDB(), "CIVICO_DEBUG_ADDR=127.0.0.1:0", "CIVICO_LOGIN_PER_IP=2")
	debug := debugAddr(t, c)
	if code, err := register(c.url, "anna@example.org"); err != nil || code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, err)
	}
	limited := 0
	for range 3 {
		if code, err := login(c.url, "anna@example.org"); err != nil {
			t.Fatal(err)
		} else if code == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("the login limit of 2 let 3 through")
	}
	res, err := http.Get(c.url + "/api/v1/streets/" + strings.Repeat("0", 24))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if id := res.Header.Get("X-Request-Id"); len(id) < 8 {
		t.Fatalf("X-Request-Id %q", id)
	}

	res, err = http.Get("http://" + debug + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	for _, want := range []string{
		`civico_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1`,
		`civico_http_requests_total{method="POST",route="/api/v1/auth/login",status="429"} ` + string(rune('0'+limited)),
		`civico_rate_limited_total{route="/api/v1/auth/login"} ` + string(rune('0'+limited)),
		`civico_http_request_duration_seconds_count{method="POST",route="/api/v1/auth/login"} 3`,
		`civico_ws_sockets 0`,
		`civico_connections_open `,
		`civico_push_outbox_pending `,
		`civico_fanout_write_seconds_bucket{le="+Inf"} `,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !regexp.MustCompile(`civico_db_command_duration_seconds_count\{collection="[a-z_]+",command="(insert|find)"\} [1-9]`).Match(body) {
		t.Error("no database command timed by collection")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
	// Every log line so far is one JSON object.
	for {
		select {
		case line := <-c.lines:
			if !json.Valid([]byte(line)) {
				t.Errorf("log line is not JSON: %s", line)
			}
			continue
		default:
		}
		break
	}
}
