package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"civico/internal/events"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// jobDoc is an event waiting to be turned into deliveries.
type jobDoc struct {
	ID        string `bson:"_id"` // street:seq:time, one per event
	Type      string `bson:"type"`
	StreetID  string `bson:"street_id"`
	Seq       int64  `bson:"seq"`
	Payload   string `bson:"payload"`
	ActorID   string `bson:"actor_id,omitempty"`
	SubjectID string `bson:"subject_id,omitempty"`
	Bucket    string `bson:"bucket"`
	// Owner is the process holding the job's deliveries (Owners.Self);
	// missing on jobs written before there were several.
	Owner     string    `bson:"owner"`
	At        time.Time `bson:"at"`
	CreatedAt time.Time `bson:"created_at"`
}

// jobState is what this process knows of a job it owns. A job stays on
// disk until every delivery it made has its done-marker: the deliveries
// themselves live only in memory, and whoever takes the job over (a
// restart, or another process once this one is gone) expands it again,
// skipping what the markers say is done (see outbox.go).
//
// Nothing else of a held delivery needs persisting for a takeover: its
// due time (quiet hours) and expiry count from the job's created_at, so
// expanding the job again holds it until the same time. Only a backoff is
// lost: the new owner tries at once.
type jobState struct {
	doc      jobDoc // to queue it again when its expansion failed
	bucket   string
	writing  bool  // OnEvent or Notify is inserting it: theirs to queue
	queued   bool  // in the expand queue or being expanded
	expanded bool  // its deliveries are queued
	fromDisk bool  // claimed from disk: some deliveries may be done
	claim    int64 // when it was claimed from disk (Service.claims)
	pending  int   // deliveries queued and not yet marked done
	retiring bool
}

// jobInsertTimeout bounds the one insert OnEvent does on the publisher's
// goroutine.
const jobInsertTimeout = 3 * time.Second

// maxJobAge is how long a job that keeps failing to expand is retried.
const maxJobAge = 48 * time.Hour

// notifies tells whether events of type t may cause pushes.
func notifies(t events.Type) bool {
	switch t {
	case events.PostCreated, events.ReplyCreated, events.MemberApproved, events.ReportCreated:
		return true
	}
	return false // notes (typeDirect) are queued by Notify, never by an event
}

// OnEvent is the event-bus subscriber. It runs on the publisher's
// goroutine, so it only persists one job (a single insert: a crash right
// after the event still delivers it) and queues it for the expander.
func (s *Service) OnEvent(e events.Event) {
	if !notifies(e.Type) {
		return
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	// The event's time joins street and sequence: a street whose log was
	// trimmed empty starts its sequence again.
	j := jobDoc{ID: e.StreetID + ":" + e.ID() + ":" + strconv.FormatInt(e.At.UnixMilli(), 36), Type: string(e.Type), StreetID: e.StreetID, Seq: e.Seq,
		Payload: string(e.Payload), ActorID: e.ActorID, SubjectID: e.SubjectID, At: e.At, CreatedAt: now, Owner: s.owners.Self()}
	if s.nobodyToNotify(j) {
		s.stats.skipped.Add(1)
		return
	}
	s.mu.Lock()
	if _, ok := s.jobs[j.ID]; ok {
		s.mu.Unlock()
		return
	}
	j.Bucket = s.buckets.pinNew(now)
	st := &jobState{doc: j, bucket: j.Bucket, writing: true}
	s.jobs[j.ID] = st
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), jobInsertTimeout)
	_, err := s.jobColl.InsertOne(ctx, j)
	cancel()
	if store.IsDuplicate(err) {
		// Another process (or a previous run) queued this event: its
		// owner sends it.
		s.forgetJob(j.ID)
		return
	}
	if err != nil {
		// Still sent from memory; only a crash before then would lose it.
		s.log.Error("push: job not persisted", "job", j.ID, "err", err)
	}
	s.written(st)
	if !s.started.Load() || s.closed.Load() {
		return // persisted: the next start expands it
	}
	s.queueJob(j, st)
}

// nobodyToNotify tells that j would make no delivery: it has no
// recipient, or none of them has a device (from memory). Then OnEvent
// writes no job (a post in a street where nobody turned notifications on
// costs the outbox nothing). It says false whenever it cannot tell
// cheaply: on MongoDB, or while the copy of the devices is stale.
func (s *Service) nobodyToNotify(j jobDoc) bool {
	if !s.st.Embedded() {
		return false
	}
	u := s.userData
	u.mu.Lock()
	subs := u.subs
	current := u.loaded == u.gen
	u.mu.Unlock()
	if current && len(subs) == 0 {
		return true // no device anywhere: no need to read who is in the street
	}
	ctx, cancel := context.WithTimeout(context.Background(), jobInsertTimeout)
	defer cancel()
	recipients, err := s.recipients(ctx, j)
	if err != nil {
		return false
	}
	if len(recipients) == 0 {
		return true // a street of one: no copy needed to tell
	}
	if !current {
		return false
	}
	for _, id := range recipients {
		if len(subs[id]) > 0 {
			return false
		}
	}
	return true
}

// queueJob hands j to the expander without blocking; when the queue is
// full the job waits on disk for the sweep.
func (s *Service) queueJob(j jobDoc, st *jobState) {
	s.mu.Lock()
	if st.queued {
		s.mu.Unlock()
		return
	}
	st.queued = true
	s.mu.Unlock()
	select {
	case s.expandQ <- j:
	default:
		s.mu.Lock()
		st.queued = false
		s.mu.Unlock()
	}
}

// written says the insert of a job OnEvent or Notify registered is done:
// from now on tidy may queue it again.
func (s *Service) written(st *jobState) {
	s.mu.Lock()
	st.writing = false
	s.mu.Unlock()
}

// forgetJob undoes the registration of a job this process did not write
// after all.
func (s *Service) forgetJob(id string) {
	s.mu.Lock()
	if st, ok := s.jobs[id]; ok {
		delete(s.jobs, id)
		s.buckets.unpin(st.bucket)
	}
	s.mu.Unlock()
}

// readJobs reads the outbox's jobs, oldest first. The jobs collection
// holds only the jobs with deliveries still to make or to finish, so
// reading it whole stays cheap.
func (s *Service) readJobs(ctx context.Context) ([]jobDoc, error) {
	var docs []jobDoc
	if err := s.jobColl.FindAll(ctx, bson.M{}, &docs); err != nil {
		return nil, err
	}
	slices.SortFunc(docs, func(a, b jobDoc) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return docs, nil
}

// claimJobs takes over, and queues for expansion, the jobs of docs that
// this process does not hold and no live process does: left by a previous
// run, by a process that is gone, or written before jobs had owners. A
// claim is a conditional update on the owner the job was read with, so of
// several processes sweeping at once one gets each job. The jobs of live
// owners are left alone: their deliveries are in those processes' memory.
func (s *Service) claimJobs(ctx context.Context, docs []jobDoc) error {
	self := s.owners.Self()
	alive := map[string]bool{"": false}
	var errs []error
	var claimed []*jobState
	for _, j := range docs {
		s.mu.Lock()
		_, known := s.jobs[j.ID]
		s.mu.Unlock()
		if known {
			continue // ours: tidy queues it again if its expansion failed
		}
		if j.Owner != self { // self: left by a previous run under the same id
			live, asked := alive[j.Owner]
			if !asked {
				var err error
				if live, err = s.owners.Alive(ctx, j.Owner); err != nil {
					errs = append(errs, fmt.Errorf("push: is %s alive: %w", j.Owner, err))
					live = true // unknown: leave its jobs until the next sweep
				}
				alive[j.Owner] = live
			}
			if live {
				continue
			}
			ok, err := s.claim(ctx, j)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok {
				continue // another process claimed it, or it is finished
			}
			j.Owner = self
		}
		st := &jobState{doc: j, bucket: j.Bucket, fromDisk: true}
		s.mu.Lock()
		if _, known := s.jobs[j.ID]; !known {
			s.jobs[j.ID] = st
			s.buckets.pin(j.Bucket)
			claimed = append(claimed, st)
		}
		s.mu.Unlock()
	}
	if len(claimed) == 0 {
		return errors.Join(errs...)
	}
	// Numbered once all are claimed, so one read of a bucket's markers
	// after this serves every job claimed here (recoveredDone).
	gen := s.claims.Add(1)
	s.mu.Lock()
	for _, st := range claimed {
		st.claim = gen
	}
	s.mu.Unlock()
	cutoff := s.clock.Now().Add(-maxJobAge)
	for _, st := range claimed {
		if st.doc.CreatedAt.Before(cutoff) {
			s.log.Error("push: giving up a job that never expanded", "job", st.doc.ID)
			s.retireJob(ctx, st.doc.ID)
			continue
		}
		s.queueJob(st.doc, st)
	}
	return errors.Join(errs...)
}

// claim makes this process the owner of j if j still has the owner it was
// read with; false when another process got there first or j is gone.
func (s *Service) claim(ctx context.Context, j jobDoc) (bool, error) {
	filter := bson.M{"_id": j.ID, "owner": j.Owner}
	if j.Owner == "" {
		filter = bson.M{"_id": j.ID, "owner": bson.M{"$in": bson.A{nil, ""}}} // null matches a missing field
	}
	res, err := s.jobColl.UpdateOne(ctx, filter, bson.M{"$set": bson.M{"owner": s.owners.Self()}})
	if err != nil {
		return false, fmt.Errorf("push: claim job %s: %w", j.ID, err)
	}
	return res.ModifiedCount == 1, nil
}

// retryOwnJobs queues again the jobs of this process whose expansion
// failed, and gives up those that kept failing for maxJobAge.
func (s *Service) retryOwnJobs(ctx context.Context) {
	var again []*jobState
	s.mu.Lock()
	for _, st := range s.jobs {
		if !st.expanded && !st.queued && !st.retiring && !st.writing {
			again = append(again, st)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(again, func(a, b *jobState) int { return a.doc.CreatedAt.Compare(b.doc.CreatedAt) })
	cutoff := s.clock.Now().Add(-maxJobAge)
	for _, st := range again {
		if st.doc.CreatedAt.Before(cutoff) {
			s.log.Error("push: giving up a job that never expanded", "job", st.doc.ID)
			s.retireJob(ctx, st.doc.ID)
			continue
		}
		s.queueJob(st.doc, st)
	}
}

// expandLoop expands queued jobs one at a time until ctx ends.
func (s *Service) expandLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.expandQ:
			if err := s.expand(ctx, j); err != nil {
				if ctx.Err() == nil {
					s.log.Error("push: fan-out failed; the sweep retries", "job", j.ID, "err", err)
				}
				s.mu.Lock()
				if st := s.jobs[j.ID]; st != nil {
					st.queued = false
				}
				s.mu.Unlock()
			}
			if len(s.expandQ) == 0 {
				// The claimed jobs queued together are expanded: the
				// markers read for them are of no further use.
				clear(s.doneCache)
			}
		}
	}
}

// retireJob unpins a job whose deliveries are all done from its bucket and
// deletes it: forgotten first, so that once the job has left the disk
// nothing of it holds the bucket here. Only while this process owns it: a job
// another process took over is that process's to finish.
func (s *Service) retireJob(ctx context.Context, id string) {
	s.forgetJob(id)
	if _, err := s.jobColl.DeleteOne(ctx, bson.M{"_id": id, "owner": s.owners.Self()}); err != nil && ctx.Err() == nil {
		// Expanding it again after a restart sends nothing: the markers
		// say every delivery is done. (Shutting down ends here too.)
		s.log.Warn("push: delete finished job", "job", id, "err", err)
	}
}

// settle records that n more of the job's deliveries are finished and
// says whether the job now is, and should be retired; only one caller ever
// gets true.
func (s *Service) settle(id string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.jobs[id]
	if st == nil {
		return false
	}
	st.pending -= n
	if st.expanded && st.pending <= 0 && !st.retiring {
		st.retiring = true
		return true
	}
	return false
}

// expand turns a job into deliveries: who, by their settings, on which
// devices, in which language, and when (quiet hours). It reads everything
// first and queues all the deliveries at once, or none: a failed expansion
// leaves nothing in flight, so trying it again cannot send anything twice.
func (s *Service) expand(ctx context.Context, j jobDoc) error {
	s.mu.Lock()
	st := s.jobs[j.ID]
	var fromDisk bool
	var claim int64
	if st != nil {
		fromDisk, claim = st.fromDisk, st.claim
	}
	s.mu.Unlock()
	if st == nil {
		return nil // not this process's job (any more)
	}
	ds, err := s.deliveries(ctx, j)
	if err != nil {
		return err
	}
	if fromDisk && len(ds) > 0 {
		// Markers written by whoever held the job before: read after it
		// was claimed, so none it wrote is missed.
		done, err := s.recoveredDone(ctx, j.Bucket, claim)
		if err != nil {
			return err
		}
		ds = slices.DeleteFunc(ds, func(d *delivery) bool { return done[d.ID] })
	}
	if len(ds) > 0 {
		if err := s.register(ctx, j.Bucket); err != nil {
			return err
		}
	}
	s.mu.Lock()
	st.pending += len(ds)
	st.expanded = true
	s.mu.Unlock()
	n := s.enqueue(j.Bucket, ds)
	s.stats.jobs.Add(1)
	if s.settle(j.ID, len(ds)-n) { // those not queued (already held) count as done here
		s.retireJob(ctx, j.ID)
	}
	return nil
}

// deliveries computes the job's deliveries. Times count from the job's
// creation, not from now: a job expanded again after a restart gets the
// same quiet hours and expiry as it had the first time.
func (s *Service) deliveries(ctx context.Context, j jobDoc) ([]*delivery, error) {
	gen := s.revGen.Load()
	recipients, err := s.recipients(ctx, j)
	if err != nil || len(recipients) == 0 {
		return nil, err
	}
	prefsByUser, err := s.prefsOf(ctx, recipients)
	if err != nil {
		return nil, err
	}
	recipients, err = s.wanted(j, recipients, prefsByUser)
	if err != nil || len(recipients) == 0 {
		return nil, err
	}
	// Devices first: only recipients with one need their account read.
	subs, err := s.subscriptionsOf(ctx, recipients)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	accounts, err := s.accounts.Users(ctx, usersOf(subs))
	if err != nil {
		return nil, err
	}
	street := ""
	// A note may concern no street (a referral of a member met at a desk).
	if s.dir != nil && j.StreetID != "" {
		if street, err = s.dir.StreetName(ctx, j.StreetID); err != nil {
			s.log.Warn("push: street name", "street", j.StreetID, "err", err)
			street = ""
		}
	}
	base := j.CreatedAt.UTC()
	byLocale := map[string]message{}
	zones := map[string]*time.Location{}
	out := make([]*delivery, 0, len(subs))
	for _, sub := range subs {
		acc, ok := accounts[sub.UserID]
		if !ok {
			continue // deleted account
		}
		m, ok := byLocale[acc.Locale]
		if !ok {
			if m, ok = compose(j, acc.Locale, street); !ok {
				return nil, nil // a payload we cannot read: nothing to send
			}
			byLocale[acc.Locale] = m
		}
		due := base
		if !m.urgent {
			loc := zones[acc.TimeZone]
			if loc == nil {
				loc = loadLocation(acc.TimeZone)
				zones[acc.TimeZone] = loc
			}
			due = quietUntil(base, loc, prefsByUser[sub.UserID].quiet)
		}
		out = append(out, &delivery{ID: deliveryID(j.ID, sub.ID), Bucket: j.Bucket, JobID: j.ID, SubID: sub.ID,
			UserID: sub.UserID, Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth, Payload: m.payload,
			Topic: m.topic, TTL: m.ttl, Urgency: m.urgency, DueAt: due, CreatedAt: base,
			Expires: due.Add(time.Duration(m.ttl) * time.Second), gen: gen})
	}
	return out, nil
}

// recipients are the users an event concerns, before their settings.
func (s *Service) recipients(ctx context.Context, j jobDoc) ([]string, error) {
	var ids []string
	switch events.Type(j.Type) {
	case events.PostCreated:
		if s.dir == nil {
			return nil, nil
		}
		members, err := s.dir.ActiveMemberIDs(ctx, j.StreetID)
		if err != nil {
			return nil, err
		}
		// Neither the author nor whoever posted for them (a volunteer).
		var d events.PostData
		_ = json.Unmarshal([]byte(j.Payload), &d)
		ids = without(members, j.ActorID, j.SubjectID, d.AuthorID)
	case events.ReplyCreated:
		// SubjectID is the post's author; no push for answering oneself.
		if j.SubjectID != "" && j.SubjectID != j.ActorID {
			ids = []string{j.SubjectID}
		}
	case events.MemberApproved, typeDirect:
		if j.SubjectID != "" {
			ids = []string{j.SubjectID}
		}
	case events.ReportCreated:
		if s.dir == nil {
			return nil, nil
		}
		admins, err := s.dir.AdminIDs(ctx, j.StreetID)
		if err != nil {
			return nil, err
		}
		ids = without(admins, j.ActorID)
	}
	return ids, nil
}

// usersOf lists the owners of subs, once each.
func usersOf(subs []subscriptionDoc) []string {
	seen := make(map[string]bool, len(subs))
	out := make([]string, 0, len(subs))
	for _, sub := range subs {
		if !seen[sub.UserID] {
			seen[sub.UserID] = true
			out = append(out, sub.UserID)
		}
	}
	return out
}

func without(ids []string, drop ...string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" || seen[id] || slices.Contains(drop, id) {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

// wanted keeps the recipients whose settings ask for this event.
func (s *Service) wanted(j jobDoc, ids []string, by map[string]prefs) ([]string, error) {
	switch events.Type(j.Type) {
	case events.PostCreated:
		var d events.PostData
		if err := json.Unmarshal([]byte(j.Payload), &d); err != nil {
			return nil, nil // unreadable: nothing to send, nothing to retry
		}
		return slices.DeleteFunc(ids, func(id string) bool {
			sp := by[id].street(j.StreetID)
			kindOn := (d.Kind == "request" && sp.Requests) || (d.Kind == "offer" && sp.Offers)
			return !kindOn || !slices.Contains(sp.Categories, d.Category)
		}), nil
	case events.ReplyCreated:
		return slices.DeleteFunc(ids, func(id string) bool { return !by[id].street(j.StreetID).Replies }), nil
	}
	return ids, nil
}

// smallLookup is the recipient count below which settings and
// subscriptions are looked up by $in on MongoDB; above it the collection is
// read once and filtered here. (The embedded engine, which evaluates $in
// document by document, uses the copy in memory: userdata.go.)
const smallLookup = 200

// prefsOf reads the settings of ids; users without a document get the defaults.
func (s *Service) prefsOf(ctx context.Context, ids []string) (map[string]prefs, error) {
	if s.st.Embedded() {
		_, all, err := s.userCopy(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]prefs, len(ids))
		for _, id := range ids {
			if p, ok := all[id]; ok {
				out[id] = p
			}
		}
		return out, nil
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[string]prefs, len(ids))
	collect := func(d settingsDoc) {
		if want[d.UserID] {
			out[d.UserID] = d.prefs()
		}
	}
	if err := s.scanOrIn(ctx, s.settings, "_id", ids, func(raw bson.Raw) error {
		var d settingsDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		collect(d)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// subscriptionsOf reads the subscriptions of users ids.
func (s *Service) subscriptionsOf(ctx context.Context, ids []string) ([]subscriptionDoc, error) {
	if s.st.Embedded() {
		all, _, err := s.userCopy(ctx)
		if err != nil {
			return nil, err
		}
		var out []subscriptionDoc
		for _, id := range ids {
			out = append(out, all[id]...)
		}
		return out, nil
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []subscriptionDoc
	err := s.scanOrIn(ctx, s.subs, "user_id", ids, func(raw bson.Raw) error {
		var d subscriptionDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if want[d.UserID] {
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// scanOrIn streams the documents of c whose field is one of ids.
func (s *Service) scanOrIn(ctx context.Context, c *store.Collection, field string, ids []string, fn func(bson.Raw) error) error {
	filter := bson.M{}
	if len(ids) <= smallLookup {
		filter = bson.M{field: bson.M{"$in": ids}}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := c.Each(ctx, filter, fn)
	if errors.Is(err, context.DeadlineExceeded) {
		return errf("reading %s took too long: %w", field, err)
	}
	return err
}
