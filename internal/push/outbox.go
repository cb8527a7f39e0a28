package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The outbox on disk:
//   push_jobs             one document per event to fan out, deleted once expanded
//   push_buckets          the hourly buckets in use
//   push_out_<hour>       deliveries, one per (event, subscription), _id = hash of both
//   push_done_<hour>      one marker per finished delivery (sent, gone or dropped)
// A bucket is dropped whole when every delivery in it has its marker and
// no unexpanded job may still add to it.

type deliveryDoc struct {
	ID        string    `bson:"_id"`
	JobID     string    `bson:"job_id"`
	SubID     string    `bson:"sub_id"`
	UserID    string    `bson:"user_id"`
	Endpoint  string    `bson:"endpoint"`
	P256dh    string    `bson:"p256dh"`
	Auth      string    `bson:"auth"`
	Payload   string    `bson:"payload"`
	Topic     string    `bson:"topic"`
	TTL       int       `bson:"ttl"`
	Urgency   string    `bson:"urgency"`
	DueAt     time.Time `bson:"due_at"`
	Expires   time.Time `bson:"expires"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d *delivery) doc() deliveryDoc {
	return deliveryDoc{ID: d.ID, JobID: d.JobID, SubID: d.SubID, UserID: d.UserID, Endpoint: d.Endpoint, P256dh: d.P256dh,
		Auth: d.Auth, Payload: string(d.Payload), Topic: d.Topic, TTL: d.TTL, Urgency: d.Urgency, DueAt: d.DueAt,
		Expires: d.Expires, CreatedAt: d.CreatedAt}
}

func (d deliveryDoc) delivery(bucket string) *delivery {
	return &delivery{ID: d.ID, Bucket: bucket, JobID: d.JobID, SubID: d.SubID, UserID: d.UserID, Endpoint: d.Endpoint,
		P256dh: d.P256dh, Auth: d.Auth, Payload: []byte(d.Payload), Topic: d.Topic, TTL: d.TTL, Urgency: d.Urgency,
		DueAt: d.DueAt.UTC(), Expires: d.Expires.UTC(), CreatedAt: d.CreatedAt.UTC()}
}

type markerDoc struct {
	ID      string    `bson:"_id"`
	Outcome string    `bson:"outcome"`
	At      time.Time `bson:"at"`
}

// Outcomes of a delivery.
const (
	outcomeSent    = "sent"
	outcomeGone    = "gone"
	outcomeDropped = "dropped"
)

type doneItem struct {
	bucket, id, outcome string
	at                  time.Time
}

// deliveryID is idempotent per (event, subscription): expanding a job
// again never makes a second delivery.
func deliveryID(jobID, subID string) string {
	sum := sha256.Sum256([]byte(jobID + "|" + subID))
	return hex.EncodeToString(sum[:16])
}

func bucketName(t time.Time) string { return t.UTC().Format("2006010215") }

func (s *Service) outColl(bucket string) *store.Collection {
	return s.st.Collection("push_out_" + bucket)
}
func (s *Service) doneColl(bucket string) *store.Collection {
	return s.st.Collection("push_done_" + bucket)
}

// buckets tracks, per bucket, the deliveries not yet finished and the jobs
// that may still add to it.
type buckets struct {
	mu      sync.Mutex
	m       map[string]*bucketState
	current string
}

type bucketState struct {
	pending, jobs int
	registered    bool
	dropping      bool
}

func newBuckets() *buckets { return &buckets{m: map[string]*bucketState{}} }

func (b *buckets) get(name string) *bucketState {
	st := b.m[name]
	if st == nil {
		st = &bucketState{}
		b.m[name] = st
	}
	return st
}

// currentLocked is the bucket new jobs go to; it never moves backwards,
// even if the clock does.
func (b *buckets) currentLocked(now time.Time) string {
	if n := bucketName(now); n > b.current {
		b.current = n
	}
	return b.current
}

// pinNew gives a new job its bucket and pins it there.
func (b *buckets) pinNew(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	name := b.currentLocked(now)
	b.get(name).jobs++
	return name
}

// pin pins a recovered job to its bucket.
func (b *buckets) pin(name string) {
	b.mu.Lock()
	b.get(name).jobs++
	b.mu.Unlock()
}

func (b *buckets) unpin(name string) {
	b.mu.Lock()
	b.get(name).jobs--
	b.mu.Unlock()
}

func (b *buckets) add(name string, n int) {
	b.mu.Lock()
	b.get(name).pending += n
	b.mu.Unlock()
}

func (b *buckets) finish(name string, n int) {
	b.mu.Lock()
	b.get(name).pending -= n
	b.mu.Unlock()
}

// needsRegistering tells whether the bucket's registry entry is still to write.
func (b *buckets) needsRegistering(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.get(name).registered
}

func (b *buckets) registered(name string) {
	b.mu.Lock()
	b.get(name).registered = true
	b.mu.Unlock()
}

// idle marks and returns the buckets that can be dropped: past, with
// nothing pending and no job pinning them.
func (b *buckets) idle(now time.Time) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.currentLocked(now)
	var out []string
	for name, st := range b.m {
		if name != cur && st.pending <= 0 && st.jobs <= 0 && !st.dropping {
			st.dropping = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (b *buckets) dropped(name string, ok bool) {
	b.mu.Lock()
	if ok {
		delete(b.m, name)
	} else if st := b.m[name]; st != nil {
		st.dropping = false
	}
	b.mu.Unlock()
}

// register writes the bucket's registry entry before its first delivery,
// so a restart finds the bucket.
func (s *Service) register(ctx context.Context, bucket string) error {
	if !s.buckets.needsRegistering(bucket) {
		return nil
	}
	_, err := s.registry.InsertOne(ctx, bson.M{"_id": bucket, "created_at": s.clock.Now()})
	if err != nil && !store.IsDuplicate(err) {
		return err
	}
	s.buckets.registered(bucket)
	return nil
}

// insertDeliveries stores a batch and queues what is new. On a duplicate
// (a job expanded again after a failure or a restart) it goes one by one:
// a delivery that already exists is queued only if this process does not
// hold it and no marker says it is done.
func (s *Service) insertDeliveries(ctx context.Context, bucket string, ds []*delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	docs := make([]any, len(ds))
	for i, d := range ds {
		docs[i] = d.doc()
	}
	out := s.outColl(bucket)
	err := out.InsertMany(ctx, docs)
	if err == nil {
		return s.enqueue(bucket, ds), nil
	}
	if !store.IsDuplicate(err) {
		return 0, err
	}
	var fresh, existing []*delivery
	for i, d := range ds {
		_, err := out.InsertOne(ctx, docs[i])
		switch {
		case err == nil:
			fresh = append(fresh, d)
		case store.IsDuplicate(err):
			existing = append(existing, d)
		default:
			return s.enqueue(bucket, fresh), err
		}
	}
	if len(existing) > 0 {
		ids := make([]string, len(existing))
		for i, d := range existing {
			ids[i] = d.ID
		}
		var markers []markerDoc
		if err := s.doneColl(bucket).FindAll(ctx, bson.M{"_id": bson.M{"$in": ids}}, &markers,
			options.Find().SetProjection(bson.M{"_id": 1})); err != nil {
			return s.enqueue(bucket, fresh), err
		}
		finished := make(map[string]bool, len(markers))
		for _, m := range markers {
			finished[m.ID] = true
		}
		for _, d := range existing {
			if !finished[d.ID] {
				fresh = append(fresh, d)
			}
		}
	}
	return s.enqueue(bucket, fresh), nil
}

// enqueue hands deliveries to the scheduler; those this process already
// holds are skipped.
func (s *Service) enqueue(bucket string, ds []*delivery) int {
	n := 0
	for _, d := range ds {
		s.buckets.add(bucket, 1)
		if s.sched.add(d) {
			n++
		} else {
			s.buckets.add(bucket, -1)
		}
	}
	s.stats.deliveries.Add(int64(n))
	return n
}

// finish records a delivery's outcome: the committer writes its marker.
func (s *Service) finish(d *delivery, outcome string) {
	switch outcome {
	case outcomeSent:
		s.stats.sent.Add(1)
	case outcomeGone:
		s.stats.gone.Add(1)
	default:
		s.stats.dropped.Add(1)
	}
	s.done <- doneItem{bucket: d.Bucket, id: d.ID, outcome: outcome, at: s.clock.Now()}
}

// maxMarkerBatch bounds one write of done-markers: the write holds the
// embedded engine's only writer, and a request's write may wait behind it.
const maxMarkerBatch = 100

// commitLoop writes done-markers in batches: whatever finished while the
// previous batch was being written goes in the next one. It ends when the
// done channel is closed, after writing everything.
func (s *Service) commitLoop() {
	for first := range s.done {
		batch := []doneItem{first}
	drain:
		for len(batch) < maxMarkerBatch {
			select {
			case it, ok := <-s.done:
				if !ok {
					break drain
				}
				batch = append(batch, it)
			default:
				break drain
			}
		}
		s.writeMarkers(batch)
	}
}

func (s *Service) writeMarkers(batch []doneItem) {
	by := map[string][]doneItem{}
	for _, it := range batch {
		by[it.bucket] = append(by[it.bucket], it)
	}
	for bucket, items := range by {
		docs := make([]any, len(items))
		ids := make([]string, len(items))
		for i, it := range items {
			docs[i] = markerDoc{ID: it.id, Outcome: it.outcome, At: it.at}
			ids[i] = it.id
		}
		var err error
		for attempt := range 3 {
			ctx, cancel := context.WithTimeout(store.Background(context.Background()), 10*time.Second)
			err = s.insertMarkers(ctx, bucket, docs)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		}
		if err != nil {
			// The deliveries stay pending on disk: a restart would send
			// them again. Nothing better to do; say so.
			s.log.Error("push: done-markers not written", "bucket", bucket, "n", len(items), "err", err)
		}
		s.buckets.finish(bucket, len(items))
		s.sched.forget(ids)
	}
}

func (s *Service) insertMarkers(ctx context.Context, bucket string, docs []any) error {
	c := s.doneColl(bucket)
	err := c.InsertMany(ctx, docs)
	if err == nil || !store.IsDuplicate(err) {
		return err
	}
	for _, d := range docs {
		if _, err := c.InsertOne(ctx, d); err != nil && !store.IsDuplicate(err) {
			return err
		}
	}
	return nil
}

// dropIdleBuckets drops the buckets whose deliveries are all done.
func (s *Service) dropIdleBuckets(ctx context.Context) error {
	var errs []error
	for _, name := range s.buckets.idle(s.clock.Now()) {
		err := s.outColl(name).Drop(ctx)
		if err == nil {
			err = s.doneColl(name).Drop(ctx)
		}
		if err == nil {
			_, err = s.registry.DeleteOne(ctx, bson.M{"_id": name})
		}
		s.buckets.dropped(name, err == nil)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// recover reads back what a previous run left: every delivery without a
// marker is queued again (those whose subscription was deleted, moved or
// re-keyed meanwhile are dropped), then the jobs not yet expanded.
func (s *Service) recover(ctx context.Context) error {
	var regs []struct {
		ID string `bson:"_id"`
	}
	if err := s.registry.FindAll(ctx, bson.M{}, &regs); err != nil {
		return err
	}
	gen := s.revGen.Load()
	var pending []*delivery
	for _, r := range regs {
		var markers []markerDoc
		if err := s.doneColl(r.ID).FindAll(ctx, bson.M{}, &markers, options.Find().SetProjection(bson.M{"_id": 1})); err != nil {
			return err
		}
		finished := make(map[string]bool, len(markers))
		for _, m := range markers {
			finished[m.ID] = true
		}
		var docs []deliveryDoc
		if err := s.outColl(r.ID).FindAll(ctx, bson.M{}, &docs); err != nil {
			return err
		}
		for _, d := range docs {
			if !finished[d.ID] {
				pending = append(pending, d.delivery(r.ID))
			}
		}
		s.buckets.registered(r.ID)
	}
	if len(pending) > 0 {
		userIDs := map[string]bool{}
		for _, d := range pending {
			userIDs[d.UserID] = true
		}
		subs, err := s.subscriptionsOf(ctx, keys(userIDs))
		if err != nil {
			return err
		}
		current := make(map[string]subscriptionDoc, len(subs))
		for _, sub := range subs {
			current[sub.ID] = sub
		}
		for _, d := range pending {
			d.gen = gen
			sub, ok := current[d.SubID]
			s.buckets.add(d.Bucket, 1)
			if !ok || sub.UserID != d.UserID || sub.P256dh != d.P256dh || sub.Auth != d.Auth {
				s.sched.claim(d.ID)
				s.finish(d, outcomeDropped)
				continue
			}
			if !s.sched.add(d) {
				s.buckets.add(d.Bucket, -1)
			}
		}
	}
	s.recovered.Store(true)
	return s.requeueJobs(ctx)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
