// Package listener guards the server's TCP listener against clients that
// hold connections without using them. fasthttp reads the first byte of a
// connection with no deadline, and treats every accept error but a timeout
// as fatal: a few thousand silent connections would fill the process's
// open files, and the next accept (EMFILE) would stop the server. Here a
// connection must send its first byte within a deadline, the connections
// (in all and per address) are capped below the open-file limit, and
// running out of descriptors waits for some to close instead of failing.
package listener

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits are what the listener enforces; a zero field enforces nothing.
type Limits struct {
	// FirstByte is how long a new connection may stay silent: the read
	// deadline set at accept, which the HTTP server replaces with its
	// own once the request starts.
	FirstByte time.Duration
	// MaxConns caps the connections open at once (websockets included);
	// a connection over it is closed at once.
	MaxConns int
	// MaxPerIP caps the connections of one address, except the exempt.
	MaxPerIP int
	// Exempt names addresses with many clients behind them (the trusted
	// proxies, loopback): they count toward MaxConns only.
	Exempt func(netip.Addr) bool
}

// Listener is a guarded net.Listener.
type Listener struct {
	net.Listener
	lim Limits
	log *slog.Logger

	open, shed atomic.Int64
	// perIP counts this process's own connections: per process by nature,
	// as the descriptors it protects are.
	mu    sync.Mutex
	perIP map[netip.Addr]int
	// lastWarn spaces out the accept-error warnings (one a minute).
	lastWarn atomic.Int64
}

// Guard wraps ln with lim.
func Guard(ln net.Listener, lim Limits, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, lim: lim, log: log, perIP: map[netip.Addr]int{}}
}

// Stats are the listener's counters.
type Stats struct {
	// Open is the connections open now; Shed those closed at accept
	// because a cap was reached.
	Open, Shed int64
}

// Stats returns the counters.
func (l *Listener) Stats() Stats { return Stats{Open: l.open.Load(), Shed: l.shed.Load()} }

// Accept returns the next admitted connection. Out of descriptors, it
// waits (5 ms, doubling to 1 s) as net/http does: connections close (the
// silent ones within FirstByte) and the ones waiting in the kernel's queue
// are then served.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !temporary(err) {
				return nil, err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.warn("accept failed; retrying", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		addr := remoteAddr(c)
		if !l.admit(addr) {
			l.shed.Add(1)
			_ = c.Close()
			continue
		}
		if l.lim.FirstByte > 0 {
			_ = c.SetReadDeadline(time.Now().Add(l.lim.FirstByte))
		}
		return &conn{Conn: c, l: l, addr: addr}, nil
	}
}

func (l *Listener) admit(addr netip.Addr) bool {
	if n := l.open.Add(1); l.lim.MaxConns > 0 && n > int64(l.lim.MaxConns) {
		l.open.Add(-1)
		l.warn("connection refused: the server holds its maximum of connections", nil)
		return false
	}
	if !l.counted(addr) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[addr] >= l.lim.MaxPerIP {
		l.open.Add(-1)
		return false
	}
	l.perIP[addr]++
	return true
}

func (l *Listener) release(addr netip.Addr) {
	l.open.Add(-1)
	if !l.counted(addr) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.perIP[addr] - 1; n > 0 {
		l.perIP[addr] = n
	} else {
		delete(l.perIP, addr)
	}
}

func (l *Listener) counted(addr netip.Addr) bool {
	return l.lim.MaxPerIP > 0 && addr.IsValid() && (l.lim.Exempt == nil || !l.lim.Exempt(addr))
}

// warn logs at most once a minute: under an attack every accept would.
func (l *Listener) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(time.Minute) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	if err != nil {
		l.log.Warn(msg, "err", err, "open", l.open.Load())
		return
	}
	l.log.Warn(msg, "open", l.open.Load(), "max", l.lim.MaxConns)
}

// temporary tells the accept errors that pass: out of descriptors or
// memory, and a connection reset before it was accepted.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// conn releases its place once, however often it is closed; it keeps the
// TCP connection's raw access (the hub writes frames with it directly) and
// its buffer setting.
type conn struct {
	net.Conn
	l      *Listener
	addr   netip.Addr
	closed atomic.Bool
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.addr)
	}
	return err
}

// SyscallConn gives the TCP connection's raw access.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("listener: not a system connection")
	}
	return sc.SyscallConn()
}

// SetWriteBuffer sets the kernel send buffer of the TCP connection.
func (c *conn) SetWriteBuffer(n int) error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.SetWriteBuffer(n)
	}
	return nil
}

// Budget splits the process's open files: files is the limit (0: read it
// from the process), maxConns the operator's cap on connections (0:
// derived). It keeps a reserve for the database, NATS, push and mail
// connections and the engine's files, and gives the live sockets all but
// a share kept for API requests, so that a flood of sockets never locks
// people out of signing in or posting.
func Budget(files, maxConns int) (conns, sockets int) {
	if files <= 0 {
		files = openFileLimit()
	}
	conns = maxConns
	if conns <= 0 {
		conns = files - min(1024, files/4)
	}
	sockets = conns - max(64, conns/16)
	return conns, max(sockets, 1)
}

func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<20 {
		return 1 << 20
	}
	return int(r.Cur)
}
