package hub

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
)

// What the writer sends next, when several things are due at once.
func TestWriterTakesTheRestOfAFrameFirst(t *testing.T) {
	rest := prepared{seq: 7, frame: []byte("rest of frame 7")}
	next := prepared{seq: 8, frame: []byte("frame 8")}
	closeMsg := []byte{3, 232}
	cases := []struct {
		name  string
		conn  *conn
		job   job
		frame []byte
	}{
		{"the rest of a frame before a pong", &conn{queue: []prepared{rest, next}, partial: true, pongDue: true, pongData: []byte("p")}, jobFrame, rest.frame},
		{"the rest of a frame before the close", &conn{queue: []prepared{rest}, partial: true, closing: true, closeMsg: closeMsg}, jobFrame, rest.frame},
		{"a pong before frames", &conn{queue: []prepared{next}, pongDue: true, pongData: []byte("p")}, jobPong, nil},
		{"the close before frames not begun", &conn{queue: []prepared{next}, closing: true, closeMsg: closeMsg}, jobClose, nil},
		{"frames before a ping", &conn{queue: []prepared{next}, pingDue: true}, jobFrame, next.frame},
		{"a ping", &conn{pingDue: true}, jobPing, nil},
		{"nothing after the close was sent", &conn{queue: []prepared{rest}, partial: true, closeSent: true}, jobNone, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j, p, _ := tc.conn.nextLocked()
			if j != tc.job || !bytes.Equal(p.frame, tc.frame) {
				t.Fatalf("got job %d with %q, want job %d with %q", j, p.frame, tc.job, tc.frame)
			}
			if j == jobFrame && tc.conn.partial {
				t.Fatal("the rest of the frame is on its way: partial must be cleared")
			}
		})
	}
}

// Closing drops the frames not begun, never the rest of one on the wire.
func TestCloseKeepsTheRestOfAFrame(t *testing.T) {
	rest := prepared{seq: 7, frame: []byte("rest")}
	c := &conn{queue: []prepared{rest, {seq: 8}, {seq: 9}}, partial: true}
	c.dropQueuedLocked()
	if len(c.queue) != 1 || c.queue[0].seq != 7 {
		t.Fatalf("after the drop: %+v", c.queue)
	}
	c = &conn{queue: []prepared{{seq: 8}, {seq: 9}}}
	c.dropQueuedLocked()
	if c.queue != nil {
		t.Fatalf("frames not begun kept: %+v", c.queue)
	}
}

// Writing a frame at once allocates nothing: the fan-out loop runs on the
// publisher's goroutine, and allocating there made it pay for the
// collector's work in the middle of a street's fan-out.
func TestDirectWriteAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer server.Close()
	go func() { _, _ = io.Copy(io.Discard, client) }()

	c := &conn{}
	if c.raw, err = server.(syscall.Conn).SyscallConn(); err != nil {
		t.Fatal(err)
	}
	c.writeFd = c.writeFdOnce
	frame := textFrame([]byte(`{"id":"1","type":"post.created"}`))
	allocs := testing.AllocsPerRun(1000, func() {
		if n := c.writeDirectLocked(frame); n != len(frame) {
			t.Fatalf("wrote %d of %d bytes", n, len(frame))
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per frame written", allocs)
	}
}
