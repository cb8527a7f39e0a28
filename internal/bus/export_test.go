package bus

import "net"

// Abandon stops b as kill -9 would its process: no release of the
// leadership, no unregistering.
func Abandon(b *Bus) { b.abandon() }

// ListenAddr is the embedded server's TCP listener address, nil when it
// has none.
func ListenAddr(b *Bus) net.Addr {
	if b.srv == nil {
		return nil
	}
	return b.srv.Addr()
}
