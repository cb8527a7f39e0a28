package journal_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"civico/internal/journal"
)

// Concurrent appends are written in batches (group commit): every caller
// must still get the position of its own items, across chunk boundaries,
// and what a fresh journal reads back must match.
func TestGroupedAppendsReturnTheirOwnPositions(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[string](st, "lists", 5)
	const callers = 60
	type result struct {
		pos   int64
		items []string
	}
	results := make([]result, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var its []string
			for k := range 1 + i%3 { // 1 to 3 items per call
				its = append(its, fmt.Sprintf("c%d-%d", i, k))
			}
			pos, err := j.Append(ctx, "k", its...)
			if err != nil {
				t.Error(err)
			}
			results[i] = result{pos, its}
		}()
	}
	wg.Wait()
	fresh := journal.New[string](st, "lists", 5)
	total := 0
	for _, r := range results {
		total += len(r.items)
		got, err := fresh.Range(ctx, "k", r.pos, r.pos+int64(len(r.items)))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(r.items) {
			t.Fatalf("at %d: got %v, want the caller's %v", r.pos, got, r.items)
		}
	}
	if n, err := fresh.Len(ctx, "k"); err != nil || n != int64(total) {
		t.Fatalf("len %d (err %v), want %d", n, err, total)
	}
}

// A caller whose context is already cancelled fails alone, never the
// others whose items it may carry in its batch.
func TestCancelledCallerDoesNotFailOthers(t *testing.T) {
	st := openStore(t)
	j := journal.New[string](st, "lists", 16)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if i%2 == 0 {
				ctx = cancelled
			}
			_, errs[i] = j.Append(ctx, "k", fmt.Sprint(i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 && err != nil {
			t.Fatalf("caller %d with a live context failed: %v", i, err)
		}
	}
}
