package api

import (
	"log/slog"
	"net/netip"
	"testing"
)

// trustedFunc is what clientIP checks hops against, for the given list.
func trustedFunc(t *testing.T, list ...string) func(netip.Addr) bool {
	t.Helper()
	h := &handlers{proxies: parseProxies(list, slog.New(slog.DiscardHandler))}
	return h.trustedProxy
}

func TestForwardedClient(t *testing.T) {
	trusted := trustedFunc(t, "127.0.0.1", "10.0.0.0/8", "2001:db8:1::/48", "::ffff:192.0.2.1", "not a proxy")
	cases := []struct {
		name   string
		values []string
		want   string // "" when the peer must be used
	}{
		{"one client", []string{"198.51.100.7"}, "198.51.100.7"},
		{"the client's own entries are passed over", []string{"10.9.1.1, 6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"trusted hops are skipped", []string{"6.6.6.6, 198.51.100.7, 10.1.2.3, 127.0.0.1"}, "198.51.100.7"},
		{"several header lines, right-most last", []string{"6.6.6.6", "198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"a trusted proxy in the mapped form", []string{"198.51.100.7, 192.0.2.1"}, "198.51.100.7"},
		{"mapped client address", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"with a port", []string{"198.51.100.7:4711"}, "198.51.100.7"},
		{"IPv6 with a port", []string{"[2001:db8:2::7]:4711, 2001:db8:1::1"}, "2001:db8:2::7"},
		{"IPv6 in brackets", []string{"[2001:db8:2::7]"}, "2001:db8:2::7"},
		{"empty entries are nothing", []string{"198.51.100.7, , "}, "198.51.100.7"},
		{"only trusted hops", []string{"10.0.0.1, 127.0.0.1"}, ""},
		{"no header", nil, ""},
		{"empty header", []string{""}, ""},
		{"garbage where the proxy wrote", []string{"198.51.100.7, unknown"}, ""},
		{"garbage after a trusted hop", []string{"198.51.100.7, garbage, 10.0.0.1"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := make([][]byte, len(tc.values))
			for i, v := range tc.values {
				values[i] = []byte(v)
			}
			ip, ok := forwardedClient(values, trusted)
			got := ""
			if ok {
				got = ip.String()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
