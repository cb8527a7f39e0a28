package journal_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"civico/internal/journal"
)

// Two journals on one store stand for two server processes writing one
// key: every append succeeds, no item is lost, no position is given twice,
// and each one reads what the other wrote.
func TestTwoWritersOnOneKeyLoseNothing(t *testing.T) {
	for _, size := range []int{4, 256} {
		t.Run(fmt.Sprintf("chunk %d", size), func(t *testing.T) {
			st := openStore(t)
			ctx := context.Background()
			js := []*journal.Journal[string]{journal.New[string](st, "lists", size), journal.New[string](st, "lists", size)}
			const per = 30
			type result struct {
				pos  int64
				item string
			}
			results := make([][]result, len(js))
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w, j := range js {
				for g := range 3 { // several callers per journal: group commits race too
					wg.Go(func() {
						for i := range per / 3 {
							item := fmt.Sprintf("w%d-g%d-%d", w, g, i)
							pos, err := j.Append(ctx, "k", item)
							if err != nil {
								t.Errorf("append %s: %v", item, err)
								return
							}
							mu.Lock()
							results[w] = append(results[w], result{pos, item})
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			for w, j := range js {
				got, err := j.All(ctx, "k")
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 2*per {
					t.Fatalf("journal %d reads %d items, want %d", w, len(got), 2*per)
				}
				seen := map[string]int64{}
				for i, it := range got {
					if _, dup := seen[it]; dup {
						t.Fatalf("%s listed twice", it)
					}
					seen[it] = int64(i)
				}
				for ww := range results {
					for _, r := range results[ww] {
						if seen[r.item] != r.pos {
							t.Fatalf("%s at %d, its append said %d", r.item, seen[r.item], r.pos)
						}
					}
				}
			}
		})
	}
}

// A journal reads what another one appended after it last looked, and a
// Rewrite through one reaches the other's items, in chunks and in pieces.
func TestRangeAndRewriteSeeAnotherWriter(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a, b := journal.New[entry](st, "lists", 4), journal.New[entry](st, "lists", 4)
	for i := range 3 {
		if _, err := a.Append(ctx, "k", entry{Who: "anna", N: i}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.Len(ctx, "k"); err != nil || n != 3 {
		t.Fatalf("b sees %d items (%v), want 3", n, err)
	}
	for i := 3; i < 7; i++ { // completes the first chunk, starts the second
		if _, err := b.Append(ctx, "k", entry{Who: "anna", N: i}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.Range(ctx, "k", 2, 10)
	if err != nil || len(got) != 5 || got[0].N != 2 || got[4].N != 6 {
		t.Fatalf("a reads %+v, %v; want items 2 to 6", got, err)
	}
	n, err := a.Rewrite(ctx, "k", func(e *entry) bool {
		if e.Who != "anna" {
			return false
		}
		e.Who = "deleted"
		return true
	})
	if err != nil || n != 7 {
		t.Fatalf("rewrite changed %d, %v; want 7", n, err)
	}
	for _, j := range []*journal.Journal[entry]{a, b, journal.New[entry](st, "lists", 4)} {
		all, err := j.All(ctx, "k")
		if err != nil || len(all) != 7 {
			t.Fatalf("all = %+v, %v", all, err)
		}
		for _, e := range all {
			if e.Who != "deleted" {
				t.Fatalf("a journal still reads the old name: %+v", all)
			}
		}
	}
	// The pieces a chunk was copied from are rewritten too: nothing of
	// the old name stays in the collection.
	if k, err := st.Collection("lists").Count(ctx, map[string]any{"$or": []any{
		map[string]any{"item.who": "anna"}, map[string]any{"items.who": "anna"}}}); err != nil || k != 0 {
		t.Fatalf("%d documents still hold the old name (%v)", k, err)
	}
}
