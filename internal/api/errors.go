package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"civico/internal/fault"

	"github.com/gofiber/fiber/v2"
)

// errorBody is the one error shape of the API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// The catalogue of errors raised by the api layer itself; capability
// packages define their own with fault.New.
var (
	errBadJSON      = fault.New(fault.BadRequest, "bad_json", "the request body is not valid JSON")
	errNotFound     = fault.New(fault.NotFound, "not_found", "not found")
	errNoToken      = fault.New(fault.Unauthorized, "unauthorized", "sign in first")
	errTooLarge     = fault.New(fault.TooLarge, "payload_too_large", "the request is too large")
	errHeadersLarge = fault.New(fault.TooLarge, "headers_too_large", "the request headers are too large")
	errMethod       = fault.New(fault.NotFound, "not_found", "not found")
	errRateLimited  = fault.New(fault.RateLimited, "rate_limited", "too many requests, try again later")
	errTimeout      = fault.New(fault.BadRequest, "timeout", "the request took too long")
	errInternal     = fault.New(fault.Internal, "internal", "something went wrong on our side")
	errBadCursor    = fault.New(fault.BadRequest, "bad_cursor", "the cursor is not valid")
	errBadQuery     = fault.New(fault.Invalid, "validation_failed", "some parameters are not valid")
	// errNotJSON refuses bodies not declared as JSON: a form on another site
	// can send text/plain without asking, application/json needs a CORS
	// preflight the API never grants.
	errNotJSON   = fault.New(fault.BadRequest, "unsupported_media_type", "send the body as application/json")
	errCrossSite = fault.New(fault.Forbidden, "cross_site_request", "this request came from another site")
)

var statusOf = map[fault.Kind]int{
	fault.Internal:     http.StatusInternalServerError,
	fault.BadRequest:   http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized,
	fault.Forbidden:    http.StatusForbidden,
	fault.NotFound:     http.StatusNotFound,
	fault.Conflict:     http.StatusConflict,
	fault.TooLarge:     http.StatusRequestEntityTooLarge,
	fault.Invalid:      http.StatusUnprocessableEntity,
	fault.RateLimited:  http.StatusTooManyRequests,
	fault.Unavailable:  http.StatusServiceUnavailable,
}

// statusExceptions are the errors whose status is more precise than their
// kind's; fault's kinds stay few.
var statusExceptions = []struct {
	err    *fault.Error
	status int
}{
	{errHeadersLarge, http.StatusRequestHeaderFieldsTooLarge},
	{errNotJSON, http.StatusUnsupportedMediaType},
}

// errorHandler maps every error to the API's shape: domain errors by their
// kind, Fiber's own by status, anything else is logged and answered 500
// without detail. It sets the security headers itself (setHeaders): Fiber
// and fasthttp call it for the answers they give before any middleware
// runs (body or headers too large, malformed requests).
func errorHandler(log *slog.Logger, setHeaders func(*fiber.Ctx)) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		setHeaders(c)
		fe, ok := fault.As(err)
		if !ok {
			var fib *fiber.Error
			if errors.As(err, &fib) {
				fe = fiberFault(fib.Code)
			}
		}
		if fe == nil || fe.Kind == fault.Internal {
			log.Error("request failed", "request_id", requestID(c), "method", c.Method(), "path", c.Path(), "err", err)
			fe = errInternal
		}
		status := statusOf[fe.Kind]
		for _, x := range statusExceptions {
			if errors.Is(fe, x.err) {
				status = x.status
			}
		}
		if fe.RetryAfter > 0 {
			secs := int(fe.RetryAfter.Seconds() + 0.999)
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(secs, 1)))
		}
		return c.Status(status).JSON(errorBody{Error: errorDetail{Code: fe.Code, Message: fe.Message, Fields: fe.Fields}})
	}
}

func fiberFault(code int) *fault.Error {
	switch code {
	case http.StatusRequestEntityTooLarge:
		return errTooLarge
	case http.StatusRequestHeaderFieldsTooLarge:
		return errHeadersLarge
	case http.StatusNotFound:
		return errNotFound
	case http.StatusMethodNotAllowed:
		return errMethod
	case http.StatusTooManyRequests:
		return errRateLimited
	case http.StatusRequestTimeout:
		return errTimeout
	case http.StatusBadRequest:
		return errBadJSON
	case http.StatusUnauthorized:
		return errNoToken
	case http.StatusUnsupportedMediaType:
		return errNotJSON
	}
	if code >= 400 && code < 500 {
		return fault.New(fault.BadRequest, "bad_request", http.StatusText(code))
	}
	return nil
}
