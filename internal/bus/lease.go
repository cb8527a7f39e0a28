package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The buckets. Their entries expire LeaseTTL after they were written, by
// the NATS server's clock alone: whether a process is alive or a leader
// never depends on two machines' clocks agreeing. They are in memory: a
// lease means nothing once the NATS holding it restarted, and every
// process writes its entries again within a renewal period.
const (
	processBucket = "civico_processes"
	leaseBucket   = "civico_leases"
	leaderKey     = "leader"
)

// ensureBuckets makes the buckets, or makes them again on a NATS that
// lost them; the handles, mere names, are kept from the first time.
func (b *Bus) ensureBuckets(ctx context.Context) error {
	for _, kv := range []struct {
		name string
		dst  *jetstream.KeyValue
	}{{processBucket, &b.procs}, {leaseBucket, &b.leases}} {
		h, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: kv.name, TTL: b.ttl, Storage: jetstream.MemoryStorage, Replicas: b.replicas,
		})
		if err != nil {
			return fmt.Errorf("bus: bucket %s: %w", kv.name, err)
		}
		if *kv.dst == nil {
			*kv.dst = h
		}
	}
	return nil
}

// heartbeat writes this process's entry in the registry.
func (b *Bus) heartbeat(ctx context.Context) error {
	_, err := b.procs.Put(ctx, b.self, []byte(b.self))
	return err
}

// Alive says whether the process id has heartbeated within the lease TTL
// (false once it closed its bus).
func (b *Bus) Alive(ctx context.Context, id string) (bool, error) {
	if !jetstreamKey(id) {
		return false, nil
	}
	_, err := b.procs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bus: alive %s: %w", id, err)
	}
	return true, nil
}

// Peers lists the other live processes: the keys of the registry, whose
// entries expire a lease TTL after their last heartbeat by the NATS
// server's clock, and are gone at once when their process closed its bus.
// A process killed less than a TTL ago is still listed. On an embedded
// NATS that takes no TCP clients it knows there is none, without asking.
func (b *Bus) Peers(ctx context.Context) ([]string, error) {
	if b.alone {
		return nil, nil
	}
	keys, err := b.procs.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: list the processes: %w", err)
	}
	return slices.DeleteFunc(keys, func(k string) bool { return k == b.self }), nil
}

// IsLeader says whether this process holds the leadership: it wrote the
// leader key less than a lease TTL ago (by its own clock, counted from
// before the write was sent, so it never outlasts the entry on the
// server), and it has not been disconnected since. Of all processes, at
// most one is leader at a time.
func (b *Bus) IsLeader() bool {
	// NATS tells of a disconnection through a callback that runs later:
	// until it has, the connection's own state says the lease may be lost.
	if b.nc.Status() != nats.CONNECTED {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leaderRev != 0 && time.Now().Before(b.leaderUntil)
}

// lead renews the leadership this process holds (a compare-and-set on the
// revision it wrote), or takes it when no one holds it: the key is
// missing once the holder's entry expired or was released.
func (b *Bus) lead(ctx context.Context) {
	b.mu.Lock()
	rev, gen := b.leaderRev, b.gen
	b.mu.Unlock()
	sent := time.Now()
	if rev != 0 {
		n, err := b.leases.Update(ctx, leaderKey, []byte(b.self), rev)
		if err == nil {
			b.setLeader(n, sent, gen)
			return
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			// Unknown: IsLeader turns false by itself when the
			// lease runs out unrenewed.
			b.log.Warn("renewing the leadership", "err", err)
			return
		}
		b.setLeader(0, time.Time{}, gen)
		b.log.Info("leadership lost", "process", b.self)
	}
	n, err := b.leases.Create(ctx, leaderKey, []byte(b.self))
	if err == nil {
		b.setLeader(n, sent, gen)
		b.log.Info("leader", "process", b.self)
		return
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		b.log.Debug("taking the leadership", "err", err)
		return
	}
	// An earlier write of ours may have landed after its reply timed out:
	// then the key holds our id at a revision we do not know.
	e, err := b.leases.Get(ctx, leaderKey)
	if err != nil || string(e.Value()) != b.self {
		return
	}
	sent = time.Now()
	if n, err := b.leases.Update(ctx, leaderKey, []byte(b.self), e.Revision()); err == nil {
		b.setLeader(n, sent, gen)
		b.log.Info("leader", "process", b.self)
	}
}

// setLeader records the outcome of a write sent at sent, unless the
// connection dropped since it was sent (gen moved on): then the write may
// have landed on a NATS that has since forgotten it.
func (b *Bus) setLeader(rev uint64, sent time.Time, gen uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.gen {
		return
	}
	b.leaderRev = rev
	b.leaderUntil = sent.Add(b.ttl)
}

// disconnected drops the leadership: while away the lease may be lost (a
// NATS that restarted forgot it, another process took it over), and
// leading again takes a write once reconnected.
func (b *Bus) disconnected() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.leaderRev = 0
}

// release gives the leadership up, if this process still holds it, so
// another takes it at its next try instead of after the TTL.
func (b *Bus) release(ctx context.Context) {
	b.mu.Lock()
	rev := b.leaderRev
	b.leaderRev = 0
	b.mu.Unlock()
	if rev == 0 {
		return
	}
	if err := b.leases.Delete(ctx, leaderKey, jetstream.LastRevision(rev)); err != nil {
		b.log.Debug("releasing the leadership", "err", err)
	}
}

// leaseLoop heartbeats and renews (or tries to take) the leadership every
// third of the TTL, and at once after a reconnect. After a reconnect or a
// failed heartbeat it first makes the buckets again: a NATS that
// restarted lost them.
func (b *Bus) leaseLoop(ctx context.Context) {
	period := b.ttl / 3
	t := time.NewTicker(period)
	defer t.Stop()
	ensure := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.kick:
			ensure = true
		}
		// Each step has a period to answer, so one that hangs does not
		// eat the lease's time.
		step := func(f func(context.Context) error) error {
			c, cancel := context.WithTimeout(ctx, period)
			defer cancel()
			return f(c)
		}
		var err error
		if ensure {
			err = step(b.ensureBuckets)
		}
		if err == nil {
			err = step(b.heartbeat)
		}
		if ctx.Err() != nil {
			return // closing
		}
		ensure = err != nil
		b.noteHeartbeat(err)
		_ = step(func(c context.Context) error { b.lead(c); return nil })
	}
}

// noteHeartbeat logs when the heartbeats start failing and when they are
// back, not at every one.
func (b *Bus) noteHeartbeat(err error) {
	b.mu.Lock()
	was := b.failing
	b.failing = err != nil
	b.mu.Unlock()
	switch {
	case err != nil && !was:
		b.log.Warn("process heartbeat failing", "err", err)
	case err == nil && was:
		b.log.Info("process heartbeat back")
	}
}

// jetstreamKey says whether id can be a key (others are no process's id).
func jetstreamKey(id string) bool {
	if id == "" {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
