package followups_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/followups"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type check struct {
	ID   string    `bson:"_id"`
	At   time.Time `bson:"at"`
	Note string    `bson:"note"`
}

// Checks due are acted on once however many sweeps run at once; those not
// yet due wait; a failed one comes back only after its claim ran out.
func TestEachDueCheckIsActedOnOnce(t *testing.T) {
	ctx := context.Background()
	c := testutil.Store(t).Collection("followups_test")
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{now.Add(-time.Hour), now.Add(-time.Minute), now, now.Add(time.Minute)} {
		if _, err := c.InsertOne(ctx, check{ID: string(rune('a' + i)), At: at, Note: "n"}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	acted := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := followups.Sweep(ctx, c, now, func(_ context.Context, ch check) error {
				mu.Lock()
				defer mu.Unlock()
				if ch.Note != "n" {
					t.Errorf("check %s decoded without its fields: %+v", ch.ID, ch)
				}
				acted[ch.ID]++
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(acted) != 3 || acted["a"] != 1 || acted["b"] != 1 || acted["c"] != 1 {
		t.Fatalf("acted on %v, want a, b and c once each (d is not due)", acted)
	}
	if n, _ := c.Count(ctx, bson.M{}); n != 1 {
		t.Fatalf("%d checks left, want the one not due", n)
	}

	// d falls due; its action fails: it waits for its claim to run out.
	later := now.Add(2 * time.Minute)
	var tries atomic.Int32
	fail := func(context.Context, check) error { tries.Add(1); return errors.New("push service down") }
	if err := followups.Sweep(ctx, c, later, fail); err == nil || tries.Load() != 1 {
		t.Fatalf("failed action: err %v, %d tries", err, tries.Load())
	}
	if err := followups.Sweep(ctx, c, later.Add(followups.ClaimFor-time.Second), fail); err != nil || tries.Load() != 1 {
		t.Fatalf("tried again while claimed: err %v, %d tries", err, tries.Load())
	}
	ok := func(context.Context, check) error { tries.Add(1); return nil }
	if err := followups.Sweep(ctx, c, later.Add(followups.ClaimFor), ok); err != nil || tries.Load() != 2 {
		t.Fatalf("after the claim: err %v, %d tries", err, tries.Load())
	}
	if n, _ := c.Count(ctx, bson.M{}); n != 0 {
		t.Fatalf("%d checks left after acting on all", n)
	}
}
