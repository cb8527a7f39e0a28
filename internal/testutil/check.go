package testutil

import (
	"sync"
	"testing"
)

// ResponseCheck looks at an answer Do or DoRaw read: method and path (with
// its query) of the request, and the response. It reports what is wrong
// with tb.Errorf.
type ResponseCheck func(tb testing.TB, method, path string, r *Response)

// responseChecks are the checks of this test binary, set up by its
// package's init or TestMain before any test runs.
var responseChecks struct {
	mu  sync.RWMutex
	fns []ResponseCheck
}

// CheckResponses makes every answer of Do and DoRaw in this test binary go
// through fn (the api tests check each one against the OpenAPI document).
func CheckResponses(fn ResponseCheck) {
	responseChecks.mu.Lock()
	defer responseChecks.mu.Unlock()
	responseChecks.fns = append(responseChecks.fns, fn)
}

// checked runs the checks on r and returns it.
func checked(tb testing.TB, method, path string, r *Response) *Response {
	tb.Helper()
	responseChecks.mu.RLock()
	fns := responseChecks.fns
	responseChecks.mu.RUnlock()
	for _, fn := range fns {
		fn(tb, method, path, r)
	}
	return r
}
