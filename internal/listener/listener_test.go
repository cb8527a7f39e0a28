package listener_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"civico/internal/listener"
)

const wait = 20 * time.Second // a bound for what should take milliseconds

// serve accepts on a guarded loopback listener and keeps every connection
// open, reading, until the peer or a deadline closes it.
func serve(t *testing.T, lim listener.Limits) (*listener.Listener, string) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := listener.Guard(tcp, lim, nil)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln, ln.Addr().String()
}

// closedByServer tells whether the server closed c (EOF or reset) before
// the bound; false means it still held it.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout()) && err != nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestSilentConnectionIsClosedAfterTheFirstByteDeadline(t *testing.T) {
	_, addr := serve(t, listener.Limits{FirstByte: 100 * time.Millisecond})
	if !closedByServer(t, dial(t, addr)) {
		t.Fatal("a connection that never sent a byte is still open")
	}
}

func TestCaps(t *testing.T) {
	everyone := func(netip.Addr) bool { return false }
	cases := []struct {
		name string
		lim  listener.Limits
		held int // connections the listener keeps of 4
	}{
		{"total", listener.Limits{MaxConns: 2}, 2},
		{"per address", listener.Limits{MaxPerIP: 3, Exempt: everyone}, 3},
		{"exempt address", listener.Limits{MaxPerIP: 1, Exempt: func(a netip.Addr) bool { return a.IsLoopback() }}, 4},
		{"none", listener.Limits{}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, addr := serve(t, tc.lim)
			var conns []net.Conn
			for range 4 {
				conns = append(conns, dial(t, addr))
			}
			// A connection over a cap is closed at accept; a held one sees
			// its own bytes go through (the server keeps reading).
			held := 0
			for _, c := range conns {
				_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if _, err := c.Read(make([]byte, 1)); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						held++
					}
				}
			}
			if held != tc.held {
				t.Fatalf("held %d of 4 connections, want %d", held, tc.held)
			}
			if st := ln.Stats(); st.Open != int64(tc.held) || st.Shed != int64(4-tc.held) {
				t.Fatalf("stats %+v, want open %d, shed %d", st, tc.held, 4-tc.held)
			}
		})
	}
}

func TestBudgetLeavesRoomForTheAPIAndTheDatabase(t *testing.T) {
	cases := []struct {
		files, max, conns, sockets int
	}{
		{20000, 0, 18976, 17790},
		{256, 0, 192, 128},
		{20000, 5000, 5000, 4688},
	}
	for _, tc := range cases {
		conns, sockets := listener.Budget(tc.files, tc.max)
		if conns != tc.conns || sockets != tc.sockets {
			t.Errorf("Budget(%d, %d) = %d, %d; want %d, %d", tc.files, tc.max, conns, sockets, tc.conns, tc.sockets)
		}
	}
	if conns, _ := listener.Budget(0, 0); conns <= 0 {
		t.Errorf("no budget from this process's limit (%d)", conns)
	}
}
