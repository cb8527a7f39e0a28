package push

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// allowed adapts the address check to a string, for the tables below.
func allowed(s string, allowLoopback bool) bool {
	ip, err := netip.ParseAddr(s)
	return err == nil && dialable(ip, allowLoopback)
}

// Every special-purpose range is refused, including IPv4 addresses hidden
// in IPv6 forms; public unicast passes.
func TestDialableAddresses(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		// Public.
		{"142.250.0.1", true},
		{"17.188.128.1", true},
		{"1.1.1.1", true},
		{"2a00:1450::1", true},
		{"2606:4700::1111", true},
		{"::ffff:142.250.0.1", true},
		{"64:ff9b::8efa:1", true}, // NAT64 of 142.250.0.1
		{"2002:8efa:1::1", true},  // 6to4 of 142.250.0.1

		// IPv4 special-purpose.
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"100.64.0.1", false},
		{"100.100.100.200", false},
		{"100.127.255.254", false},
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"169.254.169.254", false},
		{"172.16.0.1", false},
		{"172.31.255.254", false},
		{"192.0.0.1", false},
		{"192.0.0.170", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.168.1.1", false},
		{"198.18.0.1", false},
		{"198.19.255.254", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.254", false},
		{"255.255.255.255", false},

		// IPv6 special-purpose.
		{"::", false},
		{"::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"100::1", false},
		{"2001::1", false},             // Teredo
		{"2001:0:4136:e378::1", false}, // Teredo
		{"2001:2::1", false},           // benchmarking
		{"2001:20::1", false},          // ORCHIDv2
		{"2001:db8::1", false},         // documentation
		{"3fff::1", false},             // documentation
		{"5f00::1", false},             // SRv6 SIDs

		// IPv4 in IPv6 clothing.
		{"::ffff:10.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:100.100.100.200", false},
		{"::10.0.0.1", false},         // IPv4-compatible
		{"::142.250.0.1", false},      // IPv4-compatible, deprecated even when public
		{"::ffff:0:a00:1", false},     // SIIT IPv4-translated
		{"64:ff9b::a00:1", false},     // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", false},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"64:ff9b::6464:64c8", false}, // NAT64 of 100.100.100.200
		{"64:ff9b:1::a00:1", false},   // local-use NAT64
		{"64:ff9b:1:a00:1::8efa:1", false},
		{"2002:a00:1::1", false},     // 6to4 of 10.0.0.1
		{"2002:7f00:1::1", false},    // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", false}, // 6to4 of 169.254.169.254
		{"2002:c000:201::1", false},  // 6to4 of 192.0.2.1
	}
	for _, c := range cases {
		if got := allowed(c.addr, false); got != c.want {
			t.Errorf("%s: allowed %v, want %v", c.addr, got, c.want)
		}
	}
}

// Insecure mode (tests, development) lets loopback through, and only
// loopback: not what a NAT64 or 6to4 gateway would reach.
func TestDialableLoopbackWhenInsecure(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1":        true,
		"127.8.9.10":       true,
		"::1":              true,
		"::ffff:127.0.0.1": true,
		"10.0.0.1":         false,
		"100.64.0.1":       false,
		"64:ff9b::7f00:1":  false,
		"2002:7f00:1::1":   false,
		"142.250.0.1":      true,
	} {
		if got := allowed(addr, true); got != want {
			t.Errorf("%s: allowed %v, want %v", addr, got, want)
		}
	}
}

// The check runs on the address actually dialled, and insecure mode still
// reaches a local push service.
func TestClientRefusesNonPublicAddresses(t *testing.T) {
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer local.Close()
	secure := newHTTPClient(Options{HTTPTimeout: 5 * time.Second})
	for _, u := range []string{"https://100.64.0.1/x", "https://198.18.0.1/x", "https://192.0.0.1/x", local.URL} {
		if _, err := secure.Get(u); !errors.Is(err, errForbiddenAddress) {
			t.Errorf("%s: %v, want %v", u, err, errForbiddenAddress)
		}
	}
	res, err := newHTTPClient(Options{HTTPTimeout: 5 * time.Second, AllowInsecure: true}).Get(local.URL)
	if err != nil {
		t.Fatalf("insecure mode, loopback: %v", err)
	}
	_ = res.Body.Close()
}
