package mail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// outboxDoc is a mail not yet finished.
type outboxDoc struct {
	ID          string    `bson:"_id"`    // mailKey(Message.ID)
	MsgID       string    `bson:"msg_id"` // Message.ID as given, for logs
	MessageID   string    `bson:"message_id"`
	Kind        string    `bson:"kind"`
	To          string    `bson:"to"`
	ToName      string    `bson:"to_name,omitempty"`
	Locale      string    `bson:"locale,omitempty"`
	Subject     string    `bson:"subject"`
	Text        string    `bson:"text"`
	HTML        string    `bson:"html,omitempty"`
	Unsubscribe string    `bson:"unsubscribe,omitempty"`
	Owner       string    `bson:"owner"`
	Attempts    int       `bson:"attempts"`
	DueAt       time.Time `bson:"due_at"`
	// Since is when the mail was first due: it is given up maxAge later.
	Since     time.Time `bson:"since"`
	CreatedAt time.Time `bson:"created_at"`
	LastError string    `bson:"last_error,omitempty"`
}

// markerDoc records that a mail is finished: it is never sent again.
type markerDoc struct {
	ID      string    `bson:"_id"`
	At      time.Time `bson:"at"`
	Outcome string    `bson:"outcome"`
}

// Outcomes of a mail.
const (
	outcomeSent    = "sent"
	outcomeBounced = "bounced"
	outcomeDropped = "dropped"
)

// Retention and limits of the outbox.
const (
	// markerLife is how long a finished mail's ID stays spent.
	markerLife = 30 * 24 * time.Hour
	// pruneEvery spaces the sweeps of old markers: each one reads the
	// whole collection on the embedded engine.
	pruneEvery = 6 * time.Hour
	// maxMemory bounds the bytes of mails held in memory; beyond it a
	// mail is read back from the outbox when its turn comes.
	maxMemory = 32 << 20
)

// mailKey is the outbox _id of the message ID: fixed length, whatever the
// caller's ID holds.
func mailKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// newMessageID is the random left part of a Message-ID: one per mail,
// kept across its retries, so a receiver that got it twice sees one mail.
func (s *Service) newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])) + "@" + s.domain
}

// Queue writes m into the outbox and returns once it is there: from then
// on it is sent, also if this process stops. A message whose ID was queued
// or sent before is not queued again (nil). A mail other than "reset" or
// "verify" to an address that bounces is not queued either (nil, counted
// in Stats.Suppressed). A bad recipient address is a validation error on
// field "to"; CR, LF and other control characters in ToName and Subject
// become spaces.
func (s *Service) Queue(ctx context.Context, m Message) error {
	m, err := prepare(m)
	if err != nil {
		return err
	}
	key := mailKey(m.ID)
	if m.Kind != KindReset && m.Kind != KindVerify {
		bouncing, err := s.Bouncing(ctx, m.To)
		if err != nil {
			return err
		}
		if bouncing {
			s.stats.suppressed.Add(1)
			s.log.Info("mail: not queued, the address bounces", "kind", m.Kind, "id", m.ID)
			return nil
		}
	}
	now := s.clock.Now()
	due := now
	if m.NotBefore.After(now) {
		due = m.NotBefore.UTC()
	}
	doc := &outboxDoc{
		ID: key, MsgID: m.ID, MessageID: s.newMessageID(), Kind: m.Kind, To: m.To, ToName: m.ToName, Locale: m.Locale,
		Subject: m.Subject, Text: m.Text, HTML: m.HTML, Unsubscribe: m.Unsubscribe,
		Owner: s.owners.Self(), DueAt: due, Since: due, CreatedAt: now,
	}
	defer s.queueingKey(key)()
	if _, err := s.outbox.InsertOne(ctx, doc); err != nil {
		if store.IsDuplicate(err) {
			s.stats.duplicates.Add(1)
			return nil
		}
		return fmt.Errorf("mail: queue: %w", err)
	}
	// The marker is looked for after the insert, not before: a mail is
	// finished by its marker and then its removal from the outbox, so an
	// insert that succeeded came after the removal, and this read sees
	// the marker of a mail finished as it was queued again. A mail held
	// past it needs no marker read before its send.
	done, err := s.finished(ctx, key)
	if done {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if _, err := s.outbox.DeleteOne(dctx, bson.M{"_id": key, "message_id": doc.MessageID}); err != nil {
			// Its marker stops it when it is taken over.
			s.log.Warn("mail: a finished mail queued again is left in the outbox", "key", key, "err", err)
		}
		cancel()
		s.stats.duplicates.Add(1)
		return nil
	}
	s.stats.queued.Add(1)
	if s.closed.Load() {
		return nil // it waits in the outbox for the next start
	}
	if err != nil {
		// Not known to be unfinished: it is read back, marker and all,
		// when its turn comes.
		s.log.Warn("mail: marker not read after queueing; read again before the send", "key", key, "err", err)
		s.sched.Add(&item{key: key, due: doc.DueAt})
		return nil
	}
	s.hold(doc)
	return nil
}

// queueingKey marks a Queue of key under way; the returned func ends it.
func (s *Service) queueingKey(key string) (done func()) {
	s.queueingMu.Lock()
	if s.queueing == nil {
		s.queueing = map[string]int{}
	}
	s.queueing[key]++
	s.queueingMu.Unlock()
	return func() {
		s.queueingMu.Lock()
		if s.queueing[key]--; s.queueing[key] <= 0 {
			delete(s.queueing, key)
		}
		s.queueingMu.Unlock()
	}
}

// beingQueued tells whether a Queue of key is under way.
func (s *Service) beingQueued(key string) bool {
	s.queueingMu.Lock()
	defer s.queueingMu.Unlock()
	return s.queueing[key] > 0
}

// Queued tells whether the mail id was queued already (waiting in the
// outbox, or sent within the last 30 days): a caller that composes many
// mails asks before composing one that would be a duplicate.
func (s *Service) Queued(ctx context.Context, id string) (bool, error) {
	key := mailKey(id)
	if done, err := s.finished(ctx, key); err != nil || done {
		return done, err
	}
	var d struct {
		ID string `bson:"_id"`
	}
	err := s.outbox.FindOne(ctx, bson.M{"_id": key}, &d, options.FindOne().SetProjection(bson.M{"_id": 1}))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mail: read outbox: %w", err)
	}
	return true, nil
}

// hold gives a queued mail to the scheduler, in memory while there is
// room.
func (s *Service) hold(doc *outboxDoc) {
	it := &item{key: doc.ID, due: doc.DueAt}
	size := int64(len(doc.Subject) + len(doc.Text) + len(doc.HTML) + len(doc.Unsubscribe) + 256)
	if s.mem.Add(size) <= maxMemory {
		it.doc, it.size = doc, size
	} else {
		s.mem.Add(-size)
	}
	if !s.sched.Add(it) {
		s.release(it)
	}
}

// release gives back the memory an item counted.
func (s *Service) release(it *item) {
	if it.size > 0 {
		s.mem.Add(-it.size)
		it.size = 0
	}
	it.doc = nil
}

// finished tells whether the mail key has its marker.
func (s *Service) finished(ctx context.Context, key string) (bool, error) {
	var m markerDoc
	err := s.sent.FindOne(ctx, bson.M{"_id": key}, &m)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("mail: read marker: %w", err)
	}
	return true, nil
}

// finish writes the mail's marker, then removes it from the outbox. The
// marker goes first: a crash between the two leaves a mail whose marker
// stops a second send. Neither write is cut short by Close.
func (s *Service) finish(it *item, outcome string) {
	switch outcome {
	case outcomeSent:
		s.stats.sent.Add(1)
	case outcomeBounced:
		s.stats.bounced.Add(1)
	default:
		s.stats.dropped.Add(1)
	}
	doc := markerDoc{ID: it.key, At: s.clock.Now(), Outcome: outcome}
	var err error
	for attempt := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = s.sent.InsertOne(ctx, doc)
		cancel()
		if err == nil || store.IsDuplicate(err) {
			err = nil
			break
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	s.release(it)
	defer s.notify()
	if err != nil {
		// This process keeps holding the key, so it never sends the mail
		// again; a restart would. Nothing better to do: say so.
		s.log.Error("mail: marker not written; a restart may send the mail again", "key", it.key, "outcome", outcome, "err", err)
		return
	}
	s.remove(it.key)
	s.sched.Forget(it.key)
}

// remove deletes a finished mail from the outbox.
func (s *Service) remove(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.outbox.DeleteOne(ctx, bson.M{"_id": key}); err != nil {
		// Its marker keeps it from going again; the next owner removes it.
		s.log.Warn("mail: finished mail not removed from the outbox", "key", key, "err", err)
	}
}

// recover takes over the mails in the outbox that no live process holds:
// left by a previous run, or by a process that is gone.
func (s *Service) recover(ctx context.Context) error {
	var docs []struct {
		ID    string    `bson:"_id"`
		Owner string    `bson:"owner"`
		DueAt time.Time `bson:"due_at"`
	}
	// Owners and due times only: the mails are read one by one when due.
	if err := s.outbox.FindAll(ctx, bson.M{}, &docs, options.Find().SetProjection(bson.M{"owner": 1, "due_at": 1})); err != nil {
		return fmt.Errorf("mail: read the outbox: %w", err)
	}
	self := s.owners.Self()
	alive := map[string]bool{}
	var errs []error
	taken := 0
	for _, d := range docs {
		if s.sched.Holds(d.ID) || s.beingQueued(d.ID) {
			continue // its Queue holds it
		}
		if d.Owner != self { // self: queued while closed, or by an earlier run with this id
			live, asked := alive[d.Owner]
			if !asked {
				var err error
				if live, err = s.owners.Alive(ctx, d.Owner); err != nil {
					errs = append(errs, fmt.Errorf("mail: is %s alive: %w", d.Owner, err))
					live = true // unknown: leave its mails to the next sweep
				}
				alive[d.Owner] = live
			}
			if live {
				continue
			}
			// A conditional update on the owner read: of several processes
			// sweeping at once, one gets the mail.
			res, err := s.outbox.UpdateOne(ctx, bson.M{"_id": d.ID, "owner": d.Owner}, bson.M{"$set": bson.M{"owner": self}})
			if err != nil {
				errs = append(errs, fmt.Errorf("mail: claim %s: %w", d.ID, err))
				continue
			}
			if res.ModifiedCount != 1 {
				continue // another process claimed it, or it is finished
			}
		}
		if s.sched.Add(&item{key: d.ID, due: d.DueAt}) {
			taken++
		}
	}
	if taken > 0 {
		s.log.Info("mail: took over mails from the outbox", "n", taken)
	}
	if len(errs) == 0 {
		s.recovered.Store(true)
	}
	return errors.Join(errs...)
}

// Sweep is the outbox's upkeep for the whole cluster, on the leader every
// 20 s: the mails of processes that are gone are taken over (within a
// minute of their end), and markers older than 30 days are dropped.
// Claims are settled by the database, so two sweeps at once do no harm.
func (s *Service) Sweep(ctx context.Context) error {
	if !s.started.Load() || s.closed.Load() {
		return nil
	}
	s.sweeping.Lock()
	defer s.sweeping.Unlock()
	var errs []error
	// A process alone on its database has nobody to take over from once
	// its start's recovery is done: no scan then.
	if !s.recovered.Load() || !s.st.Solo() {
		errs = append(errs, s.recover(ctx))
	}
	now := s.clock.Now()
	if s.lastPrune.IsZero() || now.Sub(s.lastPrune) >= pruneEvery {
		if _, err := s.sent.DeleteMany(ctx, bson.M{"at": bson.M{"$lt": now.Add(-markerLife)}}); err != nil {
			errs = append(errs, fmt.Errorf("mail: prune markers: %w", err))
		} else {
			s.lastPrune = now
		}
	}
	return errors.Join(errs...)
}
