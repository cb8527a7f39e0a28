package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/config"
	"civico/internal/testutil"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

func withSecret(c *config.Config) { c.JWTSecret = []byte(testSecret) }

func TestRegisterLoginMe(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna Rossi")
	var me struct {
		ID, Email, Name, Locale string
	}
	s.Do(t, "GET", "/me", nil, u.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.ID != u.ID || me.Name != "Anna Rossi" || me.Locale != "it" || me.Email != u.Email {
		t.Fatalf("me = %+v", me)
	}
	var sess struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
	}
	r := s.Do(t, "POST", "/auth/login", map[string]string{"email": strings.ToUpper(u.Email), "password": u.Password}, "").Expect(t, http.StatusOK)
	r.JSON(t, &sess)
	if sess.AccessToken == "" || sess.RefreshToken == "" || sess.ExpiresIn != 900 {
		t.Fatalf("session = %+v", sess)
	}
	cookie := r.Header.Get("Set-Cookie")
	for _, want := range []string{"civico_refresh=", "HttpOnly", "SameSite=Strict", "path=/api/v1/auth"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("refresh cookie %q lacks %q", cookie, want)
		}
	}
}

func TestRegisterRefusals(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	long := strings.Repeat("x", 81)
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"duplicate email, other case", map[string]string{"email": strings.ToUpper(u.Email), "password": "password123", "name": "B"}, 409, "email_taken", ""},
		{"missing email", map[string]string{"password": "password123", "name": "B"}, 422, "validation_failed", "email"},
		{"bad email", map[string]string{"email": "not-an-email", "password": "password123", "name": "B"}, 422, "validation_failed", "email"},
		{"short password", map[string]string{"email": "b@example.org", "password": "short", "name": "B"}, 422, "validation_failed", "password"},
		{"long name", map[string]string{"email": "b@example.org", "password": "password123", "name": long}, 422, "validation_failed", "name"},
		{"bad locale", map[string]string{"email": "b@example.org", "password": "password123", "name": "B", "locale": "fr"}, 422, "validation_failed", "locale"},
		{"unknown field", `{"email":"b@example.org","password":"password123","name":"B","admin":true}`, 422, "validation_failed", "admin"},
		{"operator injection", `{"email":{"$ne":null},"password":"password123","name":"B"}`, 422, "validation_failed", "email"},
		{"malformed JSON", `{"email":`, 400, "bad_json", ""},
		{"trailing data", `{"email":"b@example.org"} {}`, 400, "bad_json", ""},
		{"empty body", ``, 400, "bad_json", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, "POST", "/auth/register", tc.body, "").ExpectError(t, tc.status, tc.code)
			if tc.field != "" && r.Fields()[tc.field] == "" {
				t.Fatalf("no field error for %s: %s", tc.field, r.Body)
			}
		})
	}
	// Nothing of the refused registrations exists.
	s.Do(t, "POST", "/auth/login", map[string]string{"email": "b@example.org", "password": "password123"}, "").
		ExpectError(t, 401, "invalid_credentials")
}

func TestBodyOver64KBIsRefused(t *testing.T) {
	s := testutil.Start(t)
	body := `{"email":"a@example.org","password":"password123","name":"` + strings.Repeat("a", 70*1024) + `"}`
	s.Do(t, "POST", "/auth/register", body, "").ExpectError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
}

func TestLoginAnswersWrongPasswordAndUnknownEmailAlike(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	wrong := s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": "not the password"}, "")
	unknown := s.Do(t, "POST", "/auth/login", map[string]string{"email": "nobody@example.org", "password": "not the password"}, "")
	wrong.ExpectError(t, 401, "invalid_credentials")
	if string(wrong.Body) != string(unknown.Body) || wrong.Status != unknown.Status {
		t.Fatalf("answers differ: %s vs %s", wrong.Body, unknown.Body)
	}
}

func TestLoginRateLimits(t *testing.T) {
	t.Run("per account", func(t *testing.T) {
		s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.LoginPerAccount = 3 }))
		u := s.Register(t, "Anna")
		for range 3 {
			s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": "wrong password"}, "").Expect(t, 401)
		}
		r := s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").ExpectError(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		// Another account from the same IP is not affected.
		v := s.Register(t, "Bruno")
		s.Do(t, "POST", "/auth/login", map[string]string{"email": v.Email, "password": v.Password}, "").Expect(t, 200)
	})
	t.Run("per IP", func(t *testing.T) {
		s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.LoginPerIP = 4 }))
		for i := range 4 {
			s.Do(t, "POST", "/auth/login", map[string]string{"email": fmt.Sprintf("x%d@example.org", i), "password": "whatever1"}, "").Expect(t, 401)
		}
		s.Do(t, "POST", "/auth/login", map[string]string{"email": "y@example.org", "password": "whatever1"}, "").ExpectError(t, 429, "rate_limited")
	})
	t.Run("registration per IP", func(t *testing.T) {
		s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.RegisterPerIP = 2 }))
		s.Register(t, "A")
		s.Register(t, "B")
		s.Do(t, "POST", "/auth/register", map[string]string{"email": "c@example.org", "password": "password123", "name": "C"}, "").
			ExpectError(t, 429, "rate_limited")
	})
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAccessTokenRefusals(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(withSecret))
	u := s.Register(t, "Anna")
	now := time.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"typ": "access", "iss": "civico", "aud": []string{"civico-api"}, "sub": u.ID,
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	key := []byte(testSecret)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good())
	cases := []struct {
		name, token, code string
	}{
		{"alg none", none, "invalid_token"},
		{"another algorithm (HS512)", sign(t, jwt.SigningMethodHS512, key, good()), "invalid_token"},
		{"another secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-another"), good()), "invalid_token"},
		{"no exp", sign(t, jwt.SigningMethodHS256, key, with("exp", nil)), "invalid_token"},
		{"no iat", sign(t, jwt.SigningMethodHS256, key, with("iat", nil)), "invalid_token"},
		{"expired", sign(t, jwt.SigningMethodHS256, key, with("exp", now.Add(-time.Minute).Unix())), "token_expired"},
		{"wrong aud", sign(t, jwt.SigningMethodHS256, key, with("aud", []string{"someone-else"})), "invalid_token"},
		{"wrong iss", sign(t, jwt.SigningMethodHS256, key, with("iss", "evil")), "invalid_token"},
		{"not an access token", sign(t, jwt.SigningMethodHS256, key, with("typ", "refresh")), "invalid_token"},
		{"refresh token as access token", u.RefreshToken, "invalid_token"},
		{"garbage", "abc.def.ghi", "invalid_token"},
	}
	// The control: a token made the same way but correct is accepted.
	s.Do(t, "GET", "/me", nil, sign(t, jwt.SigningMethodHS256, key, good())).Expect(t, 200)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.Do(t, "GET", "/me", nil, tc.token).ExpectError(t, 401, tc.code)
		})
	}
	t.Run("no token", func(t *testing.T) {
		s.Do(t, "GET", "/me", nil, "").ExpectError(t, 401, "unauthorized")
	})
}

// A 1 MB Authorization header is cut off at the read buffer: answered at
// once with 431, without the server holding the megabyte.
func TestHugeAuthorizationHeaderIsRefusedCheaply(t *testing.T) {
	s := testutil.Start(t)
	req := []byte("GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + strings.Repeat("a", 1<<20) + "\r\n\r\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 20
	for range n {
		conn, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = conn.Write(req) }()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", res.StatusCode)
		}
		res.Body.Close()
		conn.Close()
	}
	runtime.ReadMemStats(&after)
	// Reading each header whole would allocate at least n MB.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > n<<20/2 {
		t.Fatalf("server allocated %d bytes for %d oversized requests", grew, n)
	}
}

// A client sending its headers one byte at a time is cut off by the read
// timeout instead of holding a connection forever.
func TestSlowHeadersAreCutOff(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.ReadTimeout = 500 * time.Millisecond }))
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	header := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("s", 200) + "\r\n\r\n"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(header); i++ {
		select {
		case <-closed:
			return // cut off before the request was complete
		case <-tick.C:
			if _, err := conn.Write([]byte{header[i]}); err != nil {
				return
			}
		}
	}
	t.Fatal("the server waited for a whole slow request (10 s) instead of timing out")
}

func TestRefreshRotatesAndReuseRevokesFamily(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	var first, second struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": u.RefreshToken}, "").Expect(t, 200).JSON(t, &first)
	if first.RefreshToken == u.RefreshToken || first.AccessToken == "" {
		t.Fatal("refresh did not rotate")
	}
	s.Do(t, "GET", "/me", nil, first.AccessToken).Expect(t, 200)
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}, "").Expect(t, 200).JSON(t, &second)

	// The thief replays the first token: refused, and the whole family ends.
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": u.RefreshToken}, "").ExpectError(t, 401, "refresh_token_reused")
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": second.RefreshToken}, "").ExpectError(t, 401, "invalid_refresh_token")

	// Another session of the same user is untouched.
	var other struct {
		RefreshToken string `json:"refresh_token"`
	}
	s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").Expect(t, 200).JSON(t, &other)
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": other.RefreshToken}, "").Expect(t, 200)
}

func TestConcurrentRefreshExactlyOneWins(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	tokens := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": u.RefreshToken}, "")
			codes[i] = r.Status
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			_ = jsonUnmarshal(r.Body, &out)
			tokens[i] = out.RefreshToken
		}()
	}
	close(start)
	wg.Wait()
	ok, winner := 0, ""
	for i, c := range codes {
		if c == 200 {
			ok++
			winner = tokens[i]
		} else if c != 401 {
			t.Fatalf("unexpected status %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded: %v", ok, n, codes)
	}
	// The winner's new token still works: the race is no theft.
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": winner}, "").Expect(t, 200)
}

func TestRefreshByCookieAndLogout(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	cookie := "civico_refresh=" + u.RefreshToken
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	s.Do(t, "POST", "/auth/refresh", nil, "", "Cookie", cookie).Expect(t, 200).JSON(t, &out)
	s.Do(t, "POST", "/auth/logout", nil, "", "Cookie", "civico_refresh="+out.RefreshToken).Expect(t, 204)
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": out.RefreshToken}, "").ExpectError(t, 401, "invalid_refresh_token")
	s.Do(t, "POST", "/auth/refresh", nil, "").ExpectError(t, 401, "invalid_refresh_token")
}

func TestUpdateMe(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	var me struct{ Name, Locale string }
	s.Do(t, "PATCH", "/me", map[string]string{"name": "  Anna Bianchi ", "locale": "en"}, u.Token).Expect(t, 200).JSON(t, &me)
	if me.Name != "Anna Bianchi" || me.Locale != "en" {
		t.Fatalf("me = %+v", me)
	}
	s.Do(t, "PATCH", "/me", map[string]string{"locale": "xx"}, u.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "PATCH", "/me", map[string]string{"password": "new password 1"}, u.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "PATCH", "/me", map[string]string{"password": "new password 1", "current_password": "wrong one!"}, u.Token).
		ExpectError(t, 403, "wrong_password")
	s.Do(t, "PATCH", "/me", map[string]string{"password": "new password 1", "current_password": u.Password}, u.Token).Expect(t, 200)
	// A new password ends the other sessions and the old password.
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": u.RefreshToken}, "").Expect(t, 401)
	s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").Expect(t, 401)
	s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": "new password 1"}, "").Expect(t, 200)
	s.Do(t, "GET", "/me", nil, u.Token).Expect(t, 200).JSON(t, &me)
	if me.Name != "Anna Bianchi" {
		t.Fatalf("name lost: %+v", me)
	}
}

// Fiber reuses request buffers; strings kept past the handler must be
// copies. Many registrations at once must each keep their own values.
func TestConcurrentRequestsKeepTheirOwnValues(t *testing.T) {
	s := testutil.Start(t)
	const n = 24
	var wg sync.WaitGroup
	users := make([]*testutil.User, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			users[i] = s.Register(t, fmt.Sprintf("Vicino %02d", i))
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow() // a registration failed: its user is nil
	}
	for i, u := range users {
		var me struct{ Name, Email string }
		s.Do(t, "GET", "/me", nil, u.Token).Expect(t, 200).JSON(t, &me)
		if me.Name != fmt.Sprintf("Vicino %02d", i) || me.Email != u.Email {
			t.Fatalf("user %d reads %+v", i, me)
		}
	}
}

func TestSecureHeadersEverywhere(t *testing.T) {
	s := testutil.Start(t)
	for _, path := range []string{"/", "/healthz", "/api/v1/me", "/api/v1/nope", "/js/app.js"} {
		r := s.Do(t, "GET", path, nil, "")
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy"} {
			if r.Header.Get(h) == "" {
				t.Errorf("%s: no %s", path, h)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
}

func TestHealthAndUnknownAPIRoutes(t *testing.T) {
	s := testutil.Start(t)
	s.Do(t, "GET", "/healthz", nil, "").Expect(t, 200)
	s.Do(t, "GET", "/readyz", nil, "").Expect(t, 200)
	r := s.Do(t, "GET", "/api/v1/does-not-exist", nil, "", "Accept", "text/html").ExpectError(t, 404, "not_found")
	if strings.Contains(string(r.Body), "<html") {
		t.Fatal("an API path got the SPA shell")
	}
	shell := s.DoRaw(t, "GET", "/streets/some-deep-link", nil, "", "Accept", "text/html").Expect(t, 200)
	if !strings.Contains(string(shell.Body), "<html") {
		t.Fatal("a navigation did not get the shell")
	}
	s.Do(t, "GET", "/missing.js", nil, "").Expect(t, 404)
}

func TestExportAndDeleteAccount(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	var export struct {
		Account struct{ Email string } `json:"account"`
	}
	r := s.Do(t, "GET", "/me/export", nil, u.Token).Expect(t, 200)
	r.JSON(t, &export)
	if export.Account.Email != u.Email || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export = %s", r.Body)
	}
	s.Do(t, "DELETE", "/me", map[string]string{"password": "not mine!"}, u.Token).ExpectError(t, 403, "wrong_password")
	s.Do(t, "DELETE", "/me", map[string]string{"password": u.Password}, u.Token).Expect(t, 204)
	// Its access token is refused at once, though its signature and expiry are still good.
	s.Do(t, "GET", "/me", nil, u.Token).ExpectError(t, 401, "invalid_token")
	s.Do(t, "POST", "/auth/refresh", map[string]string{"refresh_token": u.RefreshToken}, "").Expect(t, 401)
	s.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").ExpectError(t, 401, "invalid_credentials")
	// The email is free again.
	s.Do(t, "POST", "/auth/register", map[string]string{"email": u.Email, "password": "password 123", "name": "Anna"}, "").Expect(t, 201)
}
