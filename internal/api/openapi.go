package api

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// openAPIDocument describes every route of the API in OpenAPI 3.1: edit
// openapi.json by hand, it is the one source of truth. openapi_test.go
// checks it against the router (every route described, nothing described
// that is not routed) and every JSON answer the api tests get against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the description. It changes only with the binary, so
// clients revalidate (no-cache) and a matching ETag answers 304. The ETag is
// weak: the compress middleware may encode the body.
func openAPI() fiber.Handler {
	sum := sha256.Sum256(openAPIDocument)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, etag)
		if etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
			return c.SendStatus(http.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(openAPIDocument)
	}
}

// etagMatches is If-None-Match's weak comparison: any listed tag (or *)
// equal to etag once W/ prefixes are dropped.
func etagMatches(header, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
