package diag_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"civico/internal/diag"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// The endpoint reports the runtime's memory and the services' counters (what
// the load test divides by the open sockets), and serves pprof.
func TestDebugEndpointServesVarsAndPprof(t *testing.T) {
	s, err := diag.Start("127.0.0.1:0", diag.Vars{"hub": func() any { return map[string]int{"conns": 3} }}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	base := "http://" + s.Addr()

	for _, path := range []string{"/debug/vars", "/debug/vars?gc=1"} {
		status, body := get(t, base+path)
		var v struct {
			Mem diag.Mem       `json:"mem"`
			Hub map[string]int `json:"hub"`
		}
		if status != http.StatusOK {
			t.Fatalf("%s: status %d", path, status)
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v in %s", path, err, body)
		}
		if v.Mem.Go == 0 || v.Mem.HeapInuse == 0 || v.Mem.Goroutines == 0 || v.Hub["conns"] != 3 {
			t.Fatalf("%s: mem %+v, hub %v", path, v.Mem, v.Hub)
		}
	}
	if status, body := get(t, base+"/debug/pprof/"); status != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("pprof index: %d", status)
	}
	if status, body := get(t, base+"/debug/pprof/heap"); status != http.StatusOK || len(body) == 0 {
		t.Fatalf("heap profile: %d, %d bytes", status, len(body))
	}
	if status, _ := get(t, base+"/nothing"); status != http.StatusNotFound {
		t.Fatalf("unknown path: %d", status)
	}
}

// An action runs on POST only and answers its result as JSON; a GET
// changes nothing.
func TestActionsRunOnPost(t *testing.T) {
	runs := 0
	s, err := diag.Start("127.0.0.1:0", nil, nil, diag.Actions{"digests": func(context.Context) (any, error) {
		runs++
		return map[string]int{"queued": 7}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	url := "http://" + s.Addr() + "/actions/digests"
	if status, _ := get(t, url); status == http.StatusOK || runs != 0 {
		t.Fatalf("GET: status %d, %d runs", status, runs)
	}
	res, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]int
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != http.StatusOK || v["queued"] != 7 || runs != 1 {
		t.Fatalf("POST: status %d, %v, %v, %d runs", res.StatusCode, v, err, runs)
	}
}
