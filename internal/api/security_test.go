package api_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"civico/internal/config"
	"civico/internal/testutil"
)

// loginFrom signs in with a wrong password as if from behind the given
// X-Forwarded-For (none when empty), and returns the status.
func loginFrom(t *testing.T, s *testutil.Server, xff string) int {
	t.Helper()
	var headers []string
	if xff != "" {
		headers = []string{"X-Forwarded-For", xff}
	}
	return s.Do(t, "POST", "/auth/login", map[string]string{"email": "nobody@example.org", "password": "whatever1"}, "", headers...).Status
}

// Security finding 2: the per-IP limit keys on the client the trusted proxy
// saw (the right-most address it is not itself), never on what the client
// wrote in the header.
func TestLoginPerIPLimitKeysOnTheRealClient(t *testing.T) {
	const limit = 3
	cases := []struct {
		name    string
		trusted []string
		// xff is the header of the i-th request; all come from one client.
		xff func(i int) string
	}{
		{"trusted proxy - the client varies the left part", []string{"127.0.0.1"},
			func(i int) string { return fmt.Sprintf("10.9.%d.1, 198.51.100.7", i) }},
		{"trusted proxies as CIDRs - a chain of them", []string{"127.0.0.0/8", "192.0.2.0/24"},
			func(i int) string { return fmt.Sprintf("10.9.%d.1, 198.51.100.7, 192.0.2.10", i) }},
		{"trusted proxy - the client writes garbage", []string{"127.0.0.1"},
			func(i int) string { return fmt.Sprintf("not-an-ip-%d, 198.51.100.7", i) }},
		{"no trusted proxy - the header is ignored", nil,
			func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) {
				c.LoginPerIP = limit
				c.TrustedProxies = tc.trusted
			}))
			for i := range limit {
				if st := loginFrom(t, s, tc.xff(i)); st != http.StatusUnauthorized {
					t.Fatalf("attempt %d: status %d, want 401", i+1, st)
				}
			}
			if st := loginFrom(t, s, tc.xff(limit)); st != http.StatusTooManyRequests {
				t.Fatalf("attempt %d: status %d, want 429", limit+1, st)
			}
			if tc.trusted != nil {
				// Another client behind the same proxy is not limited.
				if st := loginFrom(t, s, "10.9.0.1, 198.51.100.8"); st != http.StatusUnauthorized {
					t.Fatalf("another client: status %d, want 401", st)
				}
			}
		})
	}
}

// Security finding 3: another site cannot sign a browser in or out through
// a simple form post (text/plain JSON, or any cross-site request), and a
// request with no session never clears the cookie.
func TestAuthRefusesCrossSiteAndNonJSON(t *testing.T) {
	const allowed = "https://app.civico.example"
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.AllowedOrigins = []string{allowed} }))
	u := s.Register(t, "Anna")
	login := fmt.Sprintf(`{"email":%q,"password":%q}`, u.Email, u.Password)
	cases := []struct {
		name, path string
		body       any
		headers    []string
		status     int
		code       string
		// cookie: whether the answer may set (or clear) the refresh cookie.
		cookie bool
	}{
		{"text/plain form with a JSON body", "/auth/login", login, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", false},
		{"url-encoded form", "/auth/login", login, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", false},
		{"no content type", "/auth/login", login, []string{"Content-Type", ""}, 415, "unsupported_media_type", false},
		{"JSON-looking media type", "/auth/login", login, []string{"Content-Type", "application/json-patch+json"}, 415, "unsupported_media_type", false},
		{"register as text/plain", "/auth/register", `{"email":"c@example.org","password":"password123","name":"C"}`,
			[]string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", false},
		{"refresh as text/plain", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, u.RefreshToken),
			[]string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", false},
		{"foreign origin", "/auth/login", login, []string{"Origin", "https://evil.example"}, 403, "cross_site_request", false},
		{"opaque origin", "/auth/login", login, []string{"Origin", "null"}, 403, "cross_site_request", false},
		{"cross-site fetch metadata", "/auth/login", login, []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross_site_request", false},
		{"same-site fetch metadata", "/auth/login", login, []string{"Sec-Fetch-Site", "same-site"}, 403, "cross_site_request", false},
		{"foreign origin on register", "/auth/register", map[string]string{"email": "d@example.org", "password": "password123", "name": "D"},
			[]string{"Origin", "https://evil.example"}, 403, "cross_site_request", false},
		{"foreign origin on refresh by cookie", "/auth/refresh", nil,
			[]string{"Origin", "https://evil.example", "Cookie", "civico_refresh=" + u.RefreshToken}, 403, "cross_site_request", false},
		{"cross-site logout by cookie", "/auth/logout", nil,
			[]string{"Sec-Fetch-Site", "cross-site", "Cookie", "civico_refresh=" + u.RefreshToken}, 403, "cross_site_request", false},
		{"logout with no token", "/auth/logout", nil, nil, 204, "", false},
		{"logout with an empty form", "/auth/logout", "", []string{"Content-Type", "text/plain"}, 204, "", false},
		{"refresh with no token", "/auth/refresh", nil, nil, 401, "invalid_refresh_token", false},
		{"the PWA itself", "/auth/login", login, []string{"Origin", s.URL, "Sec-Fetch-Site", "same-origin"}, 200, "", true},
		{"an allowed origin", "/auth/login", login, []string{"Origin", allowed}, 200, "", true},
		{"JSON with a charset", "/auth/login", login, []string{"Content-Type", "application/json; charset=utf-8"}, 200, "", true},
		{"typed in the address bar", "/auth/login", login, []string{"Sec-Fetch-Site", "none"}, 200, "", true},
		{"a non-browser client", "/auth/login", login, nil, 200, "", true},
		{"refresh with a bad cookie clears it", "/auth/refresh", nil, []string{"Cookie", "civico_refresh=spent"}, 401, "invalid_refresh_token", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, "POST", tc.path, tc.body, "", tc.headers...)
			if tc.code != "" {
				r.ExpectError(t, tc.status, tc.code)
			} else {
				r.Expect(t, tc.status)
			}
			if got := r.Header.Get("Set-Cookie"); (got != "") != tc.cookie {
				t.Fatalf("Set-Cookie %q, want one: %v", got, tc.cookie)
			}
		})
	}
	// The session the refused requests aimed at is still alive.
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": u.RefreshToken}, "").Expect(t, 200)
}

// Every JSON endpoint, not only sign-in, refuses a body that is not
// declared as JSON: a cross-site form cannot post to it without a preflight.
func TestBodiesMustBeJSON(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	s.Do(t, "PATCH", "/me", `{"name":"Mallory"}`, u.Token, "Content-Type", "text/plain").ExpectError(t, 415, "unsupported_media_type")
	s.Do(t, "PATCH", "/me", `{"name":"Anna B"}`, u.Token, "Content-Type", "Application/JSON; charset=UTF-8").Expect(t, 200)
}

// Security finding 9: the answers given before any middleware runs (413 by
// Fiber, 431 by fasthttp) carry the security headers too.
func TestSecurityHeadersOnEarlyErrors(t *testing.T) {
	s := testutil.Start(t)
	cases := []struct {
		name   string
		status int
		send   func(t *testing.T) http.Header
	}{
		{"body over 64 KB", http.StatusRequestEntityTooLarge, func(t *testing.T) http.Header {
			body := `{"name":"` + strings.Repeat("a", 70*1024) + `"}`
			return s.Do(t, "POST", "/auth/register", body, "").Expect(t, http.StatusRequestEntityTooLarge).Header
		}},
		{"headers over 8 KB", http.StatusRequestHeaderFieldsTooLarge, func(t *testing.T) http.Header {
			return rawRequest(t, s, "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 9*1024)+"\r\n\r\n",
				http.StatusRequestHeaderFieldsTooLarge)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.send(t)
			for _, name := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
				"Permissions-Policy", "X-Frame-Options"} {
				if h.Get(name) == "" {
					t.Errorf("%d answer has no %s", tc.status, name)
				}
			}
		})
	}
}

// rawRequest writes req on a connection of its own and returns the
// answer's headers, failing unless its status is want.
func rawRequest(t *testing.T, s *testutil.Server, req string, want int) http.Header {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = conn.Write([]byte(req)) }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("status %d, want %d", res.StatusCode, want)
	}
	return res.Header
}
