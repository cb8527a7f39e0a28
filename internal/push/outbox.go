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
)

// The outbox on disk:
//   push_jobs             one document per event to fan out, kept until every
//                         delivery it made is done
//   push_buckets          the hourly buckets in use
//   push_done_<hour>      the done-markers of the hour's jobs: one document per
//                         batch of finished deliveries (sent, gone or dropped)
// Deliveries themselves live only in memory, in the process that owns the
// job: a job expands to the same delivery ids every time (deliveryID), so
// whoever takes it over (a restart, or another process once the owner is
// gone) expands it again and skips what a marker names. Writing a document
// per delivery cost the one SQLite writer ~7 ms per 100 and a marker per
// delivery ~4 ms per 100, while requests queued behind it; a marker batch
// as one document costs ~1 ms.
// A bucket is dropped whole once it is past and no job on disk refers to
// it: a job stays on disk until its deliveries are all marked, whichever
// process holds them.

// markerDoc is one batch of finished deliveries.
type markerDoc struct {
	ID  string    `bson:"_id"`
	IDs []string  `bson:"ids"`
	At  time.Time `bson:"at"`
}

// Outcomes of a delivery.
const (
	outcomeSent    = "sent"
	outcomeGone    = "gone"
	outcomeDropped = "dropped"
)

type doneItem struct {
	bucket, job, id string
}

// deliveryID is idempotent per (event, subscription): expanding a job
// again never makes a second delivery.
func deliveryID(jobID, subID string) string {
	sum := sha256.Sum256([]byte(jobID + "|" + subID))
	return hex.EncodeToString(sum[:16])
}

func bucketName(t time.Time) string { return t.UTC().Format("2006010215") }

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

// startDrop marks bucket name as being dropped, unless this process still
// has deliveries or jobs in it (or is dropping it already).
func (b *buckets) startDrop(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.m[name]
	if st == nil {
		st = &bucketState{registered: true} // another process's bucket
		b.m[name] = st
	}
	if st.pending > 0 || st.jobs > 0 || st.dropping {
		return false
	}
	st.dropping = true
	return true
}

// forgetIdle forgets the buckets before cutoff this process has nothing
// in: some other process's sweep drops them.
func (b *buckets) forgetIdle(cutoff string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, st := range b.m {
		if name < cutoff && st.pending <= 0 && st.jobs <= 0 && !st.dropping {
			delete(b.m, name)
		}
	}
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

// doneSnapshot is the markers of a bucket as read when Service.claims was
// gen.
type doneSnapshot struct {
	gen  int64
	done map[string]bool
}

// recoveredDone is doneIn for a job claimed from disk at claim (a
// Service.claims number). After a crash many claimed jobs share a bucket,
// so one read serves them all; it serves a job only if it was read after
// the job was claimed: the markers that matter to a job are those its
// previous owner wrote, all before the claim (the owner is gone), while a
// snapshot read earlier may miss some. The expand loop is its only caller,
// and empties the cache once its queue is.
func (s *Service) recoveredDone(ctx context.Context, bucket string, claim int64) (map[string]bool, error) {
	if c, ok := s.doneCache[bucket]; ok && c.gen >= claim {
		return c.done, nil
	}
	gen := s.claims.Load()
	done, err := s.doneIn(ctx, bucket)
	if err != nil {
		return nil, err
	}
	s.doneCache[bucket] = doneSnapshot{gen: gen, done: done}
	return done, nil
}

// doneIn reads which deliveries of bucket have their marker.
func (s *Service) doneIn(ctx context.Context, bucket string) (map[string]bool, error) {
	var markers []markerDoc
	if err := s.doneColl(bucket).FindAll(ctx, bson.M{}, &markers); err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, m := range markers {
		for _, id := range m.IDs {
			done[id] = true
		}
	}
	return done, nil
}

// enqueue hands deliveries to the scheduler; those this process already
// holds are skipped.
func (s *Service) enqueue(bucket string, ds []*delivery) int {
	n := 0
	for _, d := range ds {
		s.buckets.add(bucket, 1)
		if s.sched.Add(d) {
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
	s.done <- doneItem{bucket: d.Bucket, job: d.JobID, id: d.ID}
}

// maxMarkerBatch bounds one write of done-markers: the write holds the
// embedded engine's only writer, and a request's write may wait behind it.
const maxMarkerBatch = 100

// commitLoop writes done-markers in batches: what finished within
// markerDelay of the batch's first item, once the foreground is quiet
// (markerYield at most). A batch is one write on the embedded engine's
// one writer instead of one per push; a crash before it sends those pushes
// again (their Topic lets the phone show each once), so it takes its turn
// with the requests rather than after them. It ends when the done channel
// is closed, after writing everything.
func (s *Service) commitLoop() {
	for first := range s.done {
		batch := []doneItem{first}
		wait := time.NewTimer(markerDelay)
	collect:
		for len(batch) < maxMarkerBatch {
			select {
			case it, ok := <-s.done:
				if !ok {
					break collect
				}
				batch = append(batch, it)
			case <-wait.C:
				break collect
			}
		}
		wait.Stop()
		_ = s.opts.Foreground.Wait(context.Background(), markerYield)
		s.writeMarkers(batch)
	}
}

// markerDelay is how long finished deliveries wait to be marked together;
// markerYield how long a marker waits for the foreground to be quiet.
const (
	markerDelay = 50 * time.Millisecond
	markerYield = 20 * time.Millisecond
)

func (s *Service) writeMarkers(batch []doneItem) {
	by := map[string][]doneItem{}
	for _, it := range batch {
		by[it.bucket] = append(by[it.bucket], it)
	}
	perJob := map[string]int{}
	for bucket, items := range by {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.id
			perJob[it.job]++
		}
		// One id for every attempt: a write that committed although its
		// answer was lost is refused as a duplicate the next time.
		doc := markerDoc{ID: bson.NewObjectID().Hex(), IDs: ids, At: s.clock.Now()}
		var err error
		for attempt := range 3 {
			// Not background work: a marker that waits behind every
			// request is a push sent again after a crash, and under load
			// that was up to a second of them. One write per batch (50 ms
			// at least) costs the requests little.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err = s.doneColl(bucket).InsertOne(ctx, doc)
			cancel()
			if err == nil || store.IsDuplicate(err) {
				err = nil
				break
			}
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		}
		if err != nil {
			// The job stays on disk with these deliveries unmarked: a
			// restart would send them again. Nothing better to do; say so.
			s.log.Error("push: done-markers not written", "bucket", bucket, "n", len(items), "err", err)
		}
		s.buckets.finish(bucket, len(items))
		s.sched.Forget(ids...)
	}
	for job, n := range perJob {
		if s.settle(job, n) {
			// Not background either: the next batch of markers waits for
			// this loop.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.retireJob(ctx, job)
			cancel()
		}
	}
}

// bucketSkew is how long after its hour a bucket may still get new jobs:
// the processes' clocks differ a little.
const bucketSkew = 10 * time.Minute

// dropIdleBuckets drops the buckets (any process's: it reads the registry)
// that are past and that no job of docs, the jobs on disk, refers to. A
// job in a past bucket can only leave the disk, never come to it, so docs
// read earlier in the sweep are enough.
func (s *Service) dropIdleBuckets(ctx context.Context, docs []jobDoc) error {
	var regs []struct {
		ID string `bson:"_id"`
	}
	if err := s.registry.FindAll(ctx, bson.M{}, &regs); err != nil {
		return err
	}
	used := make(map[string]bool, len(docs))
	for _, j := range docs {
		used[j.Bucket] = true
	}
	cutoff := bucketName(s.clock.Now().Add(-bucketSkew))
	names := make([]string, 0, len(regs))
	for _, r := range regs {
		if r.ID < cutoff && !used[r.ID] {
			names = append(names, r.ID)
		}
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		if !s.buckets.startDrop(name) {
			continue
		}
		err := s.doneColl(name).Drop(ctx)
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

// recover, at start, claims the jobs on disk no live process holds, to be
// expanded again (expand skips the deliveries whose marker is written).
func (s *Service) recover(ctx context.Context) error {
	docs, err := s.readJobs(ctx)
	if err != nil {
		return err
	}
	s.recovered.Store(true)
	err = s.claimJobs(ctx, docs)
	s.retryOwnJobs(ctx) // those queued (OnEvent, Notify) before the start
	return err
}
