// Package ratelimit bounds login, registration, posting and the like per
// key (an account, an IP, a member) over a sliding window, with the counts
// kept in the database so that every process of a cluster shares them:
// N processes allow what one allows (DESIGN.md, "Limits are cluster-wide").
//
// # Counting
//
// The window of length per is approximated by two fixed windows, as
// Cloudflare does: the documents of collection rate_limits, reached by _id
// only ("<limiter>:<key hash>:<window index>"), each count the events of one
// fixed window and keep the first and last time one came. An event is one
// atomic upsert ({$inc: {n: 1}, $min: {first}, $max: {last}}) returning the
// document as it was (MongoDB applies it atomically; on the embedded engine
// the store serialises the updates of one document), then a point read of
// the previous window. The estimate is
//
//	cur.n + prev.n × the share of prev's events still inside (now−per, now]
//
// where prev's events are taken to be spread evenly between its first and
// last (Cloudflare spreads them over the whole window: a burst at 9:00
// would then still count at 10:20 for a per-hour limit; here it is gone at
// 10:00, as with an exact window). Increment first, then decide: over the
// limit, the event is undone with {$inc: {n: -1}} (its last time too, when
// nothing was counted since) and refused with the time until the estimate
// leaves room for one more, at least a second. Concurrent attempts thus
// allow exactly what is left, on every process.
//
// Keys are hashed (SHA-256, truncated to 128 bits) into the _id, so the
// collection does not list emails or IPs. Documents carry expires_at (the
// end of their window plus per, when they stop counting); the store's
// indexes have no TTL (the embedded engine has none), so Sweep deletes the
// expired ones and the app runs it with its other sweeps.
//
// # A process alone
//
// A process that holds the database's solo mark (store.Solo: it runs its
// own NATS and refuses every other process) is the whole cluster: its
// limiters count in memory, with the sliding window below, and spare the
// database a write and a read per limited action (on the embedded engine,
// that write queues behind every other). The counts start again at a
// restart.
//
// # When the database fails
//
// A database error never refuses anyone. Allow and Peek then decide from a
// per-process sliding window (the limits of before: for as long as the
// database fails, N processes allow N times as much) and return the error
// with that decision for the caller to log. This holds for login as for
// posting: every limited action reads and writes the same database right
// after, so a counter that fails usually means the action fails too, and
// refusing on a counter's error would lock people out on every hiccup (a
// timeout under load) while the per-process window still bounds an
// attacker per process.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"civico/internal/clock"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection holds the counts of every limiter.
const Collection = "rate_limits"

// Indexes are this package's indexes: the sweep's filter.
func Indexes() []store.Index {
	return []store.Index{{Collection: Collection, Name: "expires", Keys: bson.D{{Key: "expires_at", Value: 1}}}}
}

// Sweep deletes the counts that no longer count, of every limiter.
func Sweep(ctx context.Context, st *store.Store, c clock.Clock) error {
	_, err := st.Collection(Collection).DeleteMany(ctx, bson.M{"expires_at": bson.M{"$lt": c.Now()}})
	return err
}

// counts is what a limiter needs of its collection (a *store.Collection).
type counts interface {
	FindOneAndUpdate(ctx context.Context, filter, update, out any, opts ...options.Lister[options.FindOneAndUpdateOptions]) error
	FindOne(ctx context.Context, filter, out any, opts ...options.Lister[options.FindOneOptions]) error
	UpdateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error)
}

// Limiter allows at most n events per key in any window of length per,
// counted across every process that names it alike over one database.
type Limiter struct {
	coll  counts
	name  string
	n     int
	per   time.Duration
	clock clock.Clock
	local *window // while the database fails
}

// New returns the limiter called name (processes share the counts of a
// name) of n events per per; n <= 0 disables it.
func New(st *store.Store, name string, n int, per time.Duration, c clock.Clock) *Limiter {
	l := &Limiter{name: name, n: n, per: per, clock: c, local: newWindow(n, per)}
	if !st.Solo() {
		l.coll = st.Collection(Collection)
	}
	return l
}

// count is one fixed window's document.
type count struct {
	N     int64     `bson:"n"`
	First time.Time `bson:"first"`
	Last  time.Time `bson:"last"`
}

// Allow records an event for key when the limit allows it; otherwise it
// records nothing and says how long until the next event would be
// allowed. A non-nil error means the database failed: ok is still the
// decision to follow (see the package doc), and the error is for the log.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if l == nil || l.n <= 0 {
		return true, 0, nil
	}
	now := l.clock.Now().Truncate(time.Millisecond) // what the database keeps
	k, win := hashKey(key), l.index(now)
	if l.coll == nil {
		ok, wait := l.local.allow(k, now)
		return ok, wait, nil
	}
	id := l.id(k, win)
	before, err := l.count(ctx, id, now, win)
	if err != nil {
		ok, wait := l.local.allow(k, now)
		return ok, wait, l.fail(err)
	}
	cur := before.with(now)
	var prev count
	var errs []error
	if cur.N <= int64(l.n) { // over it anyway otherwise
		if err := l.read(ctx, l.id(k, win-1), &prev); err != nil {
			errs = append(errs, err) // decide from this window alone
		}
	}
	if l.fits(l.estimate(prev, cur, now)) {
		return true, 0, l.fail(errors.Join(errs...))
	}
	if err := l.undo(ctx, id, before, now); err != nil {
		errs = append(errs, err)
	}
	return false, l.retryAfter(prev, before, now), l.fail(errors.Join(errs...))
}

// count adds an event at now to window win's document id and returns the
// document as it was before (zero when this event created it).
func (l *Limiter) count(ctx context.Context, id string, now time.Time, win int64) (count, error) {
	update := bson.M{"$inc": bson.M{"n": 1}, "$min": bson.M{"first": now}, "$max": bson.M{"last": now},
		"$setOnInsert": bson.M{"expires_at": l.start(win + 2)}}
	var before count
	err := l.coll.FindOneAndUpdate(ctx, bson.M{"_id": id}, update, &before,
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before))
	if store.IsDuplicate(err) { // two first events racing to insert: the loser updates
		err = l.coll.FindOneAndUpdate(ctx, bson.M{"_id": id}, update, &before,
			options.FindOneAndUpdate().SetReturnDocument(options.Before))
	}
	if errors.Is(err, store.ErrNotFound) {
		return count{}, nil // inserted
	}
	return before, err
}

// undo takes a refused event at now back out of document id, which was
// before when the event was counted. When the event moved the window's last
// time and nothing was counted since, the time goes back too, so that
// trying while refused does not keep the estimate up.
func (l *Limiter) undo(ctx context.Context, id string, before count, now time.Time) error {
	ctx = context.WithoutCancel(ctx) // a request that ends must not leave its event counted
	if before.Last.Before(now) {
		restore := bson.M{"$inc": bson.M{"n": -1}, "$set": bson.M{"last": before.Last}}
		if before.Last.IsZero() { // this event made the window's times
			restore = bson.M{"$inc": bson.M{"n": -1}, "$unset": bson.M{"first": "", "last": ""}}
		}
		r, err := l.coll.UpdateOne(ctx, bson.M{"_id": id, "n": before.N + 1, "last": now}, restore)
		if err != nil || r.MatchedCount == 1 {
			return err
		}
	}
	_, err := l.coll.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$inc": bson.M{"n": -1}})
	return err
}

// Peek says whether an event for key would be allowed, without recording
// it; errors as for Allow.
func (l *Limiter) Peek(ctx context.Context, key string) (bool, time.Duration, error) {
	if l == nil || l.n <= 0 {
		return true, 0, nil
	}
	now := l.clock.Now().Truncate(time.Millisecond)
	k, win := hashKey(key), l.index(now)
	if l.coll == nil {
		ok, wait := l.local.peek(k, now)
		return ok, wait, nil
	}
	var cur, prev count
	err := l.read(ctx, l.id(k, win), &cur)
	if err == nil {
		err = l.read(ctx, l.id(k, win-1), &prev)
	}
	if err != nil {
		ok, wait := l.local.peek(k, now)
		return ok, wait, l.fail(err)
	}
	if l.fits(l.estimate(prev, cur, now) + 1) {
		return true, 0, nil
	}
	return false, l.retryAfter(prev, cur, now), nil
}

// with is c once an event at now is counted.
func (c count) with(now time.Time) count {
	c.N++
	if c.First.IsZero() || now.Before(c.First) {
		c.First = now
	}
	if now.After(c.Last) {
		c.Last = now
	}
	return c
}

// read reads one count; a missing one is zero.
func (l *Limiter) read(ctx context.Context, id string, out *count) error {
	err := l.coll.FindOne(ctx, bson.M{"_id": id}, out)
	if errors.Is(err, store.ErrNotFound) {
		*out = count{}
		return nil
	}
	return err
}

// estimate is how many events the window (now−per, now] holds.
func (l *Limiter) estimate(prev, cur count, now time.Time) float64 {
	return float64(cur.N) + float64(prev.N)*inside(prev, now.Add(-l.per))
}

// fits tells whether an estimate is within the limit; the slack absorbs
// rounding, so that an event at its Retry-After is allowed.
func (l *Limiter) fits(estimate float64) bool { return estimate <= float64(l.n)+1e-9 }

// inside is the share of c's events after from, taking them to be spread
// evenly between c's first and last.
func inside(c count, from time.Time) float64 {
	switch {
	case c.N <= 0 || !c.Last.After(from):
		return 0
	case !c.First.Before(from):
		return 1
	}
	return float64(c.Last.Sub(from)) / float64(c.Last.Sub(c.First))
}

// retryAfter is how long until one more event fits, the current window
// holding cur (this attempt not counted) and the previous one prev.
func (l *Limiter) retryAfter(prev, cur count, now time.Time) time.Duration {
	var at time.Time
	if room := int64(l.n) - cur.N - 1; room >= 0 {
		// This window has room: wait for the previous one to fade enough
		// (a refusal means prev.N > room here).
		at = l.fade(prev, room, prev.N)
	} else {
		// Wait until this window is the previous one and has faded
		// enough; that is after its end, since first >= its start.
		at = l.fade(cur, int64(l.n-1), cur.N)
	}
	return max(at.Sub(now), time.Second)
}

// fade is when the share of c's events inside the window falls to
// q = num/den < 1: inside(c, t−per) = (last − t + per) / (last − first) <= q.
// Rounding makes it later, never earlier.
func (l *Limiter) fade(c count, num, den int64) time.Time {
	return c.Last.Add(l.per - time.Duration(float64(c.Last.Sub(c.First))*float64(num)/float64(den)))
}

func (l *Limiter) index(t time.Time) int64 { return t.UnixNano() / int64(l.per) }

func (l *Limiter) start(index int64) time.Time { return time.Unix(0, index*int64(l.per)).UTC() }

func (l *Limiter) id(hashed string, index int64) string {
	return l.name + ":" + hashed + ":" + strconv.FormatInt(index, 10)
}

func (l *Limiter) fail(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ratelimit %s: counting in this process: %w", l.name, err)
}

// hashKey keeps emails and IPs out of the database (and of memory).
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// window is the per-process sliding window: a solo process's counts, and
// everyone's while the database fails.
type window struct {
	n   int
	per time.Duration

	mu   sync.Mutex
	keys map[string][]time.Time
	ops  int
}

func newWindow(n int, per time.Duration) *window {
	return &window{n: n, per: per, keys: map[string][]time.Time{}}
}

func (w *window) allow(key string, now time.Time) (bool, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gc(now)
	times := prune(w.keys[key], now.Add(-w.per))
	if len(times) >= w.n {
		w.keys[key] = times
		return false, max(times[0].Add(w.per).Sub(now), time.Second)
	}
	w.keys[key] = append(times, now)
	return true, 0
}

func (w *window) peek(key string, now time.Time) (bool, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	times := prune(w.keys[key], now.Add(-w.per))
	if len(times) >= w.n {
		return false, max(times[0].Add(w.per).Sub(now), time.Second)
	}
	return true, 0
}

// gc drops idle keys now and then so the map stays bounded by activity.
func (w *window) gc(now time.Time) {
	w.ops++
	if w.ops < 1024 {
		return
	}
	w.ops = 0
	cutoff := now.Add(-w.per)
	for k, times := range w.keys {
		if len(times) == 0 || !times[len(times)-1].After(cutoff) {
			delete(w.keys, k)
		}
	}
}

func prune(times []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(cutoff) {
		i++
	}
	return times[i:]
}
