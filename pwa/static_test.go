package pwa_test

import (
	"io"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"civico/internal/testutil"
	"civico/pwa"
)

func get(t *testing.T, srv *testutil.Server, p string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	// A transport that leaves Accept-Encoding alone, to see what was sent.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// TestShellServing: the server sends the app compressed and revalidatable
// (ETag, 304), the shell and the worker never from a stale cache, deep
// links to the shell, and never the shell for /api or for a missing file.
func TestShellServing(t *testing.T) {
	t.Parallel()
	srv := start(t)

	res, body := get(t, srv, "/js/app.js", "Accept-Encoding", "gzip, deflate, br")
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "br" || res.Header.Get("ETag") == "" {
		t.Fatalf("app.js: %d, encoding %q, etag %q", res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
	}
	if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("compressed answer without Vary: Accept-Encoding")
	}
	plain, _ := fs.ReadFile(pwa.FS(), "js/app.js")
	if len(body) >= len(plain) {
		t.Errorf("app.js compressed to %d bytes, plain %d", len(body), len(plain))
	}
	res2, body2 := get(t, srv, "/js/app.js", "Accept-Encoding", "br", "If-None-Match", res.Header.Get("ETag"))
	if res2.StatusCode != http.StatusNotModified || len(body2) != 0 {
		t.Errorf("revalidation: %d with %d bytes, want 304 and no body", res2.StatusCode, len(body2))
	}
	res3, _ := get(t, srv, "/js/app.js", "Accept-Encoding", "gzip")
	if res3.Header.Get("Content-Encoding") != "gzip" || res3.Header.Get("ETag") == res.Header.Get("ETag") {
		t.Errorf("gzip variant: encoding %q, etag %q (brotli's %q)", res3.Header.Get("Content-Encoding"), res3.Header.Get("ETag"), res.Header.Get("ETag"))
	}
	res4, body4 := get(t, srv, "/js/app.js")
	if res4.Header.Get("Content-Encoding") != "" || string(body4) != string(plain) {
		t.Errorf("identity variant: encoding %q, %d bytes", res4.Header.Get("Content-Encoding"), len(body4))
	}

	for _, p := range []string{"/sw.js", "/", "/manifest.webmanifest"} {
		res, _ := get(t, srv, p)
		if res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", p, res.Header.Get("Cache-Control"))
		}
	}

	_, sw := get(t, srv, "/sw.js")
	if strings.Contains(string(sw), "__CIVICO_VERSION__") || !regexp.MustCompile(`const VERSION = '[0-9a-f]{16}'`).Match(sw) {
		t.Errorf("sw.js has no version written in")
	}
	for _, want := range []string{`"/index.html"`, `"/js/app.js"`, `"/js/feed.js"`, `"/css/app.css"`, `"/i18n/it.json"`, `"/i18n/en.json"`} {
		if !strings.Contains(string(sw), want) {
			t.Errorf("sw.js does not precache %s", want)
		}
	}
	if strings.Contains(string(sw), `"/sw.js"`) {
		t.Errorf("sw.js precaches itself")
	}

	res, body = get(t, srv, "/streets/0123456789abcdef01234567", "Accept", "text/html")
	if res.StatusCode != 200 || !strings.Contains(string(body), `<main id="main"`) {
		t.Errorf("a deep link gets %d, want the shell", res.StatusCode)
	}
	for _, c := range []struct{ path, accept string }{
		{"/streets/0123456789abcdef01234567", "application/json"},
		{"/js/missing.js", "text/html"},
		{"/api/v1/nothing-here", "text/html"},
	} {
		res, body := get(t, srv, c.path, "Accept", c.accept)
		if res.StatusCode != 404 || strings.Contains(string(body), "<html") {
			t.Errorf("%s (Accept %s): %d %q, want a 404 that is not the shell", c.path, c.accept, res.StatusCode, body)
		}
	}
}

// staticImports are the modules a module loads before it runs (not the
// screens it imports on demand).
var staticImport = regexp.MustCompile(`(?m)^import\s+(?:[^'"]*from\s+)?'(\./[a-z]+\.js)';`)

// TestShellBudget: what the first visit downloads before the app can draw —
// the page, its stylesheet, the modules app.js imports (screens load on
// demand), the Italian strings, the manifest and the icon — is under 100 KB
// compressed, as the server sends it (brotli).
func TestShellBudget(t *testing.T) {
	t.Parallel()
	srv := start(t)
	files := []string{"/index.html", "/css/app.css", "/i18n/it.json", "/manifest.webmanifest", "/icons/icon-192.png"}
	seen := map[string]bool{}
	var walk func(p string)
	walk = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		files = append(files, p)
		b, err := fs.ReadFile(pwa.FS(), strings.TrimPrefix(p, "/"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range staticImport.FindAllStringSubmatch(string(b), -1) {
			walk(path.Join(path.Dir(p), m[1]))
		}
	}
	walk("/js/app.js")
	total := 0
	for _, f := range files {
		res, body := get(t, srv, f, "Accept-Encoding", "br")
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", f, res.StatusCode)
		}
		total += len(body)
	}
	all := 0
	_ = fs.WalkDir(pwa.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		_, body := get(t, srv, "/"+p, "Accept-Encoding", "br")
		all += len(body)
		return nil
	})
	t.Logf("first load: %d files, %d bytes compressed; the whole app: %d bytes compressed", len(files), total, all)
	if total >= 100*1024 {
		t.Errorf("the shell's first load is %d bytes compressed, over the 100 KB budget", total)
	}
}
