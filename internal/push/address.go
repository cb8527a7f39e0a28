package push

import "net/netip"

// An endpoint is a URL any user can send us: the server must not POST
// into its own network, its cloud's metadata service, or anywhere a
// translation gateway would forward to such a place. The lists follow
// IANA's IPv4 and IPv6 special-purpose address registries; a range there
// that is globally reachable (AS112, anycast relays) is refused too, since
// no push service lives in one.
var (
	refusedV4 = prefixes(
		"0.0.0.0/8",       // "this network"
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // shared (CGNAT); 100.100.100.200 is a cloud metadata service
		"127.0.0.0/8",     // loopback, allowed apart in insecure mode
		"169.254.0.0/16",  // link-local; 169.254.169.254 is a cloud metadata service
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments (DS-Lite, NAT64 discovery, …)
		"192.0.2.0/24",    // documentation
		"192.31.196.0/24", // AS112
		"192.52.193.0/24", // AMT
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // private
		"192.175.48.0/24", // AS112 direct delegation
		"198.18.0.0/15",   // benchmarking, often used for internal networks
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and the limited broadcast 255.255.255.255
	)

	// globalV6 is the only IPv6 block with public unicast: whatever lies
	// outside it (IPv4-compatible, SIIT, ULA, link- and site-local,
	// multicast, discard, local-use NAT64, SRv6) is refused without a list.
	globalV6 = netip.MustParsePrefix("2000::/3")

	refusedV6 = prefixes(
		"2001::/23",         // IETF protocol assignments: Teredo, benchmarking, ORCHID, …
		"2001:db8::/32",     // documentation
		"2620:4f:8000::/48", // AS112 direct delegation
		"3fff::/20",         // documentation
	)

	// nat64 is the well-known NAT64 prefix, which has a fixed length so
	// the IPv4 address is its last 32 bits. The local-use 64:ff9b:1::/48
	// is not unwrapped: its operator picks where the IPv4 sits, so a
	// reading of ours could differ from the gateway's; it lies outside
	// globalV6 and is refused whole.
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// dialable reports whether the server may connect to ip: a public unicast
// address, or loopback when insecure endpoints are allowed (tests,
// development dial a local push service over http).
func dialable(ip netip.Addr, allowLoopback bool) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		// A zone only scopes link-local and multicast addresses.
		return false
	}
	// The dialler itself treats an IPv4-mapped address as IPv4.
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return allowLoopback
	}
	if ip.Is4() {
		return !inAny(refusedV4, ip)
	}
	switch {
	case nat64.Contains(ip):
		// A gateway turns it into the IPv4 address it carries, loopback
		// included: that is the gateway's network, not ours to test with.
		b := ip.As16()
		return dialable(netip.AddrFrom4([4]byte(b[12:16])), false)
	case sixTo4.Contains(ip):
		b := ip.As16()
		return dialable(netip.AddrFrom4([4]byte(b[2:6])), false)
	}
	return globalV6.Contains(ip) && !inAny(refusedV6, ip)
}

func inAny(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
