package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/gofiber/fiber/v2"
)

// variant is one encoding of a file: identity, gzip or brotli.
type variant struct {
	body []byte
	etag string
}

type asset struct {
	plain, gzip, br *variant
	contentType     string
	cache           string
}

// noCache are the files a browser must revalidate on every load, so a new
// version is found: the service worker, the shell and the manifest.
var noCache = map[string]bool{"/sw.js": true, "/index.html": true, "/manifest.webmanifest": true}

// The service worker's placeholders, filled in when it is loaded.
const (
	swVersion = "__CIVICO_VERSION__"
	swAssets  = "/*__CIVICO_ASSETS__*/"
)

// precached says whether the service worker keeps p in its shell cache: all
// of the app but the worker itself and the icons only the OS asks for.
func precached(p string) bool {
	if p == "/sw.js" {
		return false
	}
	if strings.HasPrefix(p, "/icons/") {
		return p == "/icons/icon-192.png" || p == "/icons/badge-72.png"
	}
	return true
}

// Static serves the PWA from fsys: every file with an ETag (a 304 costs no
// body) and compressed ahead of time (brotli or gzip, best level), and
// navigations to unknown paths get the shell, so deep links work. Requests
// under /api never reach it. The service worker gets the app's version (a
// hash of every file) and its precache list written in, so any change to the
// app installs a new worker.
func Static(fsys fs.FS) (fiber.Handler, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files["/"+p] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sw, ok := files["/sw.js"]; ok {
		files["/sw.js"] = serviceWorker(sw, files)
	}
	assets := map[string]asset{}
	for name, b := range files {
		a, err := newAsset(name, b)
		if err != nil {
			return nil, err
		}
		assets[name] = a
	}
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return errNotFound
		}
		p := c.Path()
		if p == "/" {
			p = "/index.html"
		}
		a, ok := assets[p]
		if !ok {
			if !strings.Contains(c.Get(fiber.HeaderAccept), "text/html") || path.Ext(p) != "" {
				return errNotFound
			}
			a = assets["/index.html"]
		}
		v := a.plain
		accept := c.Get(fiber.HeaderAcceptEncoding)
		switch {
		case a.br != nil && strings.Contains(accept, "br"):
			v = a.br
			c.Set(fiber.HeaderContentEncoding, "br")
		case a.gzip != nil && strings.Contains(accept, "gzip"):
			v = a.gzip
			c.Set(fiber.HeaderContentEncoding, "gzip")
		}
		if a.br != nil || a.gzip != nil {
			c.Vary(fiber.HeaderAcceptEncoding)
		}
		c.Set(fiber.HeaderETag, v.etag)
		c.Set(fiber.HeaderCacheControl, a.cache)
		if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && strings.Contains(match, v.etag) {
			c.Response().Header.Del(fiber.HeaderContentEncoding)
			return c.SendStatus(http.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, a.contentType)
		return c.Send(v.body)
	}, nil
}

// serviceWorker writes the version and the precache list into sw.js.
func serviceWorker(sw []byte, files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	var list []string
	for _, name := range names {
		h.Write([]byte(name))
		h.Write(files[name])
		if precached(name) {
			list = append(list, name)
		}
	}
	version := hex.EncodeToString(h.Sum(nil)[:8])
	quoted, _ := json.Marshal(list)
	out := bytes.ReplaceAll(sw, []byte(swVersion), []byte(version))
	return bytes.ReplaceAll(out, []byte(swAssets), bytes.Trim(quoted, "[]"))
}

func newAsset(name string, b []byte) (asset, error) {
	ext := path.Ext(name)
	ct := mime.TypeByExtension(ext)
	switch ext {
	case ".webmanifest":
		ct = "application/manifest+json"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".json":
		ct = "application/json; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	cache := "public, max-age=0, must-revalidate"
	if noCache[name] {
		cache = "no-cache"
	}
	sum := sha256.Sum256(b)
	tag := hex.EncodeToString(sum[:12])
	a := asset{plain: &variant{body: b, etag: `"` + tag + `"`}, contentType: ct, cache: cache}
	if !compressible(ct) {
		return a, nil
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return a, err
	}
	if _, err := zw.Write(b); err != nil {
		return a, err
	}
	if err := zw.Close(); err != nil {
		return a, err
	}
	if gz.Len() < len(b) {
		a.gzip = &variant{body: gz.Bytes(), etag: `"` + tag + `-gz"`}
	}
	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	if _, err := bw.Write(b); err != nil {
		return a, err
	}
	if err := bw.Close(); err != nil {
		return a, err
	}
	if br.Len() < len(b) {
		a.br = &variant{body: br.Bytes(), etag: `"` + tag + `-br"`}
	}
	return a, nil
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "javascript") ||
		strings.Contains(ct, "svg")
}
