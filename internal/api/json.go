package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strconv"
	"strings"

	"civico/internal/fault"

	"github.com/gofiber/fiber/v2"
)

// decode reads the JSON body into v strictly: unknown fields, values of the
// wrong type (an object where a string is expected: operator injection
// attempts) and trailing data are refused. It decodes from a copy-free
// reader, and encoding/json allocates fresh strings, so nothing in v aliases
// Fiber's reused request buffer. The body must be declared as JSON (see
// errNotJSON).
func decode(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return errBadJSON
	}
	if !declaredJSON(c) {
		return errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBadJSON
	}
	return nil
}

// decodeOptional is decode for bodies that may be empty.
func decodeOptional(c *fiber.Ctx, v any) error {
	if len(bytes.TrimSpace(c.Body())) == 0 {
		return nil
	}
	return decode(c, v)
}

// declaredJSON tells whether Content-Type is application/json, parameters
// (a charset) allowed.
func declaredJSON(c *fiber.Ctx) bool {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	return err == nil && mt == fiber.MIMEApplicationJSON
}

func jsonError(err error) error {
	// A type's own decoder (opening hours) names the field and the problem.
	if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
		return e
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return errBadJSON
		}
		return fault.Validation(field, "invalid_type")
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		field, _ := strconv.Unquote(strings.TrimPrefix(msg, "json: unknown field "))
		return fault.Validation(field, "unknown_field")
	}
	return errBadJSON
}

// param returns a route parameter as a string the handler may keep.
func param(c *fiber.Ctx, name string) string {
	return strings.Clone(c.Params(name))
}

// query returns a query value as a string the handler may keep.
func query(c *fiber.Ctx, name string) string {
	return strings.Clone(c.Query(name))
}

// queryLimit parses ?limit= within 1..100, default def.
func queryLimit(c *fiber.Ctx, def int) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		return 0, fault.Validation("limit", "out_of_range")
	}
	return n, nil
}

// list is the shape of every paginated list.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: next}
}
