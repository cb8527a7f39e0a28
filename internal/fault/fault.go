// Package fault is the vocabulary of domain errors: a kind (which the api
// maps to an HTTP status, once), a stable snake_case code the PWA
// translates, and, for validation, a code per field.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a domain error.
type Kind int

// The kinds. The api maps each to one HTTP status.
const (
	Internal     Kind = iota // 500, never shown in detail
	BadRequest               // 400: malformed request
	Unauthorized             // 401: no or bad credentials
	Forbidden                // 403: known, but not allowed
	NotFound                 // 404: unknown, or hidden from the caller
	Conflict                 // 409: duplicate or state conflict
	TooLarge                 // 413
	Invalid                  // 422: validation failed
	RateLimited              // 429
	Unavailable              // 503: at capacity, try again soon
)

// Error is a domain error.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Fields maps a field name to its problem code (too_long, required, …).
	Fields map[string]string
	// RetryAfter, for RateLimited.
	RetryAfter time.Duration
	err        error
}

func (e *Error) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap gives the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is match two errors of the same kind and code, so a
// sentinel still matches after With or Wrap made a copy of it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Code == e.Code
}

// New makes a domain error.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap returns a copy of e caused by err.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.err = err
	return &c
}

// WithRetry returns a copy of e asking to retry after d.
func (e *Error) WithRetry(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// As finds the domain error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// KindOf returns err's kind, Internal when it carries none.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}

// Fields collects per-field validation problems.
type Fields map[string]string

// Add records problem for field unless the field already has one.
func (f Fields) Add(field, problem string) {
	if _, ok := f[field]; !ok {
		f[field] = problem
	}
}

// Check records problem for field when bad is true.
func (f Fields) Check(bad bool, field, problem string) {
	if bad {
		f.Add(field, problem)
	}
}

// Err is nil when no problem was recorded, else a validation error.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Code: "validation_failed", Message: "some fields are not valid", Fields: f}
}

// Validation returns a validation error for one field.
func Validation(field, problem string) error {
	return Fields{field: problem}.Err()
}
