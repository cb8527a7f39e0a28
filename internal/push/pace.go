package push

import (
	"context"
	"strconv"
	"sync"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// pacer spreads sends over time: bursts of up to burst go at once, the
// rest follow at rate per second. A street of thousands would otherwise
// have every core encrypting for its push while the street's live sockets
// and requests wait; push services, for their part, answer bursts from one
// sender with 429. It is a virtual-scheduling token bucket (GCRA): tat is
// when the bucket would be full again.
type pacer struct {
	interval time.Duration // 0: no pacing
	tau      time.Duration // how far ahead of now tat may run: (burst-1) intervals

	mu  sync.Mutex
	tat time.Time

	shared *budget // on MongoDB, where processes share the rate
}

func newPacer(rate, burst int) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	interval := time.Second / time.Duration(rate)
	return &pacer{interval: interval, tau: time.Duration(max(burst, 1)-1) * interval}
}

// reserve takes a slot for a send at now and says how long to wait for it.
// A nil pacer never waits.
func (p *pacer) reserve(now time.Time) time.Duration {
	if p == nil || p.interval <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tat.Before(now) {
		p.tat = now
	}
	wait := p.tat.Sub(now) - p.tau
	p.tat = p.tat.Add(p.interval)
	return max(wait, 0)
}

// wait blocks until the caller may send, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	if err := sleep(ctx, p.reserve(time.Now())); err != nil {
		return err
	}
	if p != nil && p.shared != nil {
		return p.shared.take(ctx)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// budget makes the rate cluster-wide: the sends of each second are counted
// in one document of rate_limits (_id "push:<unix second>", swept by
// internal/ratelimit), which processes take from in batches of a tenth of
// the rate. N processes then send at most rate a second together (a batch
// not used in its second is lost, never passed on). A database error lets
// the send go: the process's own pace still holds.
type budget struct {
	coll        *store.Collection
	rate, batch int64

	mu     sync.Mutex
	second int64 // of left
	left   int64 // sends this process holds in second; -1: the second's budget is spent
}

func newBudget(coll *store.Collection, rate int) *budget {
	return &budget{coll: coll, rate: int64(rate), batch: max(int64(rate)/10, 1)}
}

// take waits until this process holds a send of the current second.
func (b *budget) take(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		now := time.Now()
		if sec := now.Unix(); sec != b.second || b.left == 0 {
			var doc struct {
				N int64 `bson:"n"`
			}
			err := b.coll.FindOneAndUpdate(ctx, bson.M{"_id": "push:" + strconv.FormatInt(sec, 10)},
				bson.M{"$inc": bson.M{"n": b.batch}, "$setOnInsert": bson.M{"expires_at": time.Unix(sec+2, 0)}},
				&doc, options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After))
			if err != nil {
				return ctx.Err() // nil: the send goes
			}
			b.second, b.left = sec, min(b.batch, b.rate-(doc.N-b.batch))
		}
		if b.left > 0 {
			b.left--
			return nil
		}
		b.left = -1
		if err := sleep(ctx, time.Unix(b.second+1, 0).Sub(now)); err != nil {
			return err
		}
	}
}
