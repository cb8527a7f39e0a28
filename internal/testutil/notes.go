package testutil

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"civico/internal/push"
)

// Notes records the pushes services queue (their push notifier), from any
// number of goroutines and services.
type Notes struct {
	mu   sync.Mutex
	sent []push.Note
	fail bool
}

// Notify records note, or fails while Fail(true) is in force.
func (n *Notes) Notify(_ context.Context, note push.Note) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return errors.New("push outbox unavailable")
	}
	n.sent = append(n.sent, note)
	return nil
}

// Fail makes the next Notify calls fail (true) or record again (false).
func (n *Notes) Fail(fail bool) {
	n.mu.Lock()
	n.fail = fail
	n.mu.Unlock()
}

// All returns every note recorded, oldest first.
func (n *Notes) All() []push.Note {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.sent)
}

// To returns the notes recorded for userID whose Italian title begins with
// prefix ("" for all of them).
func (n *Notes) To(userID, prefix string) []push.Note {
	var out []push.Note
	for _, x := range n.All() {
		if x.UserID == userID && strings.HasPrefix(x.Texts["it"].Title, prefix) {
			out = append(out, x)
		}
	}
	return out
}
