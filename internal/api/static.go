package api

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

type asset struct {
	body        []byte
	etag        string
	contentType string
	cache       string
}

// noCache are the files a browser must revalidate on every load, so a new
// version is found: the service worker, the shell and the manifest.
var noCache = map[string]bool{"/sw.js": true, "/index.html": true, "/manifest.webmanifest": true}

// Static serves the PWA from fsys: every file with an ETag (a 304 costs no
// body), and navigations to unknown paths get the shell, so deep links work.
// Requests under /api never reach it.
func Static(fsys fs.FS) (fiber.Handler, error) {
	assets := map[string]asset{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := "/" + p
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".webmanifest":
			ct = "application/manifest+json"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".json":
			ct = "application/json; charset=utf-8"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		cache := "public, max-age=0, must-revalidate"
		if noCache[name] {
			cache = "no-cache"
		}
		assets[name] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, contentType: ct, cache: cache}
		return nil
	})
	if err != nil {
		return nil, err
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
		c.Set(fiber.HeaderETag, a.etag)
		c.Set(fiber.HeaderCacheControl, a.cache)
		if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && strings.Contains(match, a.etag) {
			return c.SendStatus(http.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, a.contentType)
		return c.Send(a.body)
	}, nil
}
