package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"civico/internal/clock"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var errDown = errors.New("database down")

// down is a database that fails every operation.
type down struct{}

func (down) FindOneAndUpdate(context.Context, any, any, any, ...options.Lister[options.FindOneAndUpdateOptions]) error {
	return errDown
}

func (down) FindOne(context.Context, any, any, ...options.Lister[options.FindOneOptions]) error {
	return errDown
}

func (down) UpdateOne(context.Context, any, any, ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	return nil, errDown
}

// A failing database never refuses by itself: the process counts alone,
// and the error comes back to be logged.
func TestDatabaseDownCountsInThisProcess(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := &Limiter{coll: down{}, name: "login_ip", n: 2, per: time.Minute, clock: c, local: newWindow(2, time.Minute)}
	ctx := context.Background()
	steps := []struct {
		peek bool
		ok   bool
		wait time.Duration
	}{
		{peek: true, ok: true},
		{ok: true},
		{ok: true},
		{peek: true, wait: time.Minute},
		{wait: time.Minute},
	}
	for i, s := range steps {
		try := l.Allow
		if s.peek {
			try = l.Peek
		}
		ok, wait, err := try(ctx, "192.0.2.7")
		if !errors.Is(err, errDown) || ok != s.ok || wait != s.wait {
			t.Fatalf("step %d: ok=%v wait=%v err=%v, want ok=%v wait=%v and the error", i, ok, wait, err, s.ok, s.wait)
		}
	}
	if ok, _, _ := l.Allow(ctx, "192.0.2.8"); !ok {
		t.Fatal("another key is refused")
	}
	c.Advance(time.Minute)
	if ok, _, _ := l.Allow(ctx, "192.0.2.7"); !ok {
		t.Fatal("not released after the window")
	}
}
