package main

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// silentConns opens n TCP connections to url's host that send nothing.
func silentConns(t *testing.T, url string, n int) []net.Conn {
	t.Helper()
	addr := url[len("http://"):]
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return conns
}

// allClosedByServer waits until the server has closed every connection
// (EOF or reset); one still open after the bound fails the test.
func allClosedByServer(t *testing.T, conns []net.Conn) {
	t.Helper()
	var wg sync.WaitGroup
	held := make(chan int, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
				held <- i
			}
		}()
	}
	wg.Wait()
	close(held)
	if n := len(held); n > 0 {
		t.Fatalf("%d of %d connections that never sent a byte are still open", n, len(conns))
	}
}

func healthy(t *testing.T, c *child) {
	t.Helper()
	select {
	case err := <-c.exited:
		t.Fatalf("the server exited: %v: %s", err, c.stderr)
	default:
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Get(c.url + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", res.StatusCode)
	}
}

func TestSilentConnectionsAreClosed(t *testing.T) {
	c := startChild(t, t.TempDir(), testDB(), "CIVICO_READ_TIMEOUT=1s")
	allClosedByServer(t, silentConns(t, c.url, 20))
	healthy(t, c)
}

// Out of open files, the server neither exits nor stays locked out: silent
// connections beyond the limit wait in the kernel's queue, are accepted
// as others close, and are closed in turn.
func TestRunningOutOfFilesNeitherStopsNorLocksOut(t *testing.T) {
	cases := []struct {
		name string
		env  []string
	}{
		// The derived cap sheds connections before descriptors run out.
		{"derived cap", nil},
		// No cap below the limit: accept fails with EMFILE, and waits.
		{"no cap", []string{"CIVICO_MAX_CONNS=100000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"CIVICO_TEST_NOFILE=256", "CIVICO_READ_TIMEOUT=1s"}, tc.env...)
			c := startChild(t, t.TempDir(), testDB(), env...)
			healthy(t, c)
			allClosedByServer(t, silentConns(t, c.url, 400))
			healthy(t, c)
		})
	}
}
