package mail

import (
	"context"
	"errors"
	"strings"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Timing of the workers.
const (
	// idleClose is how long a worker keeps its SMTP connection with no
	// mail to send.
	idleClose = 2 * time.Second
	// yieldBound is how long one mail waits for the foreground to be
	// quiet: on a server that never is, mails still go.
	yieldBound = 20 * time.Millisecond
	// maxAge is how long a mail is retried from when it was first due.
	maxAge = 3 * 24 * time.Hour
)

// backoff is the wait after the n-th temporary failure (n from 1).
func backoff(n int) time.Duration {
	steps := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}
	if n >= 1 && n <= len(steps) {
		return steps[n-1]
	}
	return 12 * time.Hour
}

// worker sends mails until Close, over one session it keeps open while
// mails follow each other.
func (s *Service) worker() {
	sess := s.transport.session()
	defer sess.close()
	idle := time.NewTimer(idleClose)
	defer idle.Stop()
	for {
		select { // Close first: no new mail once it is called
		case <-s.stop:
			return
		default:
		}
		select {
		case <-s.stop:
			return
		case it := <-s.sched.Work():
			s.deliver(sess, it)
			idle.Reset(idleClose)
		case <-idle.C:
			sess.close()
		}
	}
}

// deliver sends one mail and settles what follows: finished (sent,
// bounced, dropped) or retried later.
func (s *Service) deliver(sess session, it *item) {
	// Waits before the send give up at Close; the mail stays in the
	// outbox, held by this process until it is gone.
	ctx := s.waitCtx
	doc := it.doc
	if doc == nil || !s.st.Solo() {
		if doc = s.current(ctx, it); doc == nil {
			return
		}
	}
	if err := s.pace.wait(ctx); err != nil {
		return
	}
	if err := s.opts.Foreground.Wait(ctx, yieldBound); err != nil {
		return
	}
	now := s.clock.Now()
	msg, err := s.build(doc, now)
	if err != nil {
		s.log.Error("mail: cannot build the mail; dropped", "key", it.key, "kind", doc.Kind, "err", err)
		s.finish(it, outcomeDropped)
		return
	}
	// From here the send runs to its end, also through Close: its outcome
	// and marker are what a clean restart relies on.
	sendCtx, sendCancel := context.WithTimeout(context.WithoutCancel(ctx), 2*sendTimeout)
	err = sess.send(sendCtx, msg, doc, now)
	sendCancel()
	if err == nil {
		s.finish(it, outcomeSent)
		return
	}
	switch v, code := classify(err); v {
	case bounce:
		s.log.Warn("mail: the relay refused the address; it is marked as bouncing", "key", it.key, "kind", doc.Kind, "code", code)
		bctx, bcancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.markBounce(bctx, doc.To, code); err != nil {
			s.log.Error("mail: bounce not recorded", "err", err)
		}
		bcancel()
		s.finish(it, outcomeBounced)
	case refused:
		s.log.Error("mail: the relay refused the mail; dropped", "key", it.key, "kind", doc.Kind, "code", code, "err", err)
		s.finish(it, outcomeDropped)
	default:
		var de *dialError
		if errors.As(err, &de) {
			s.log.Warn("mail: cannot reach the SMTP relay; retrying later", "err", err)
		} else {
			s.log.Info("mail: temporary failure; retrying later", "key", it.key, "code", code, "err", err)
		}
		s.retry(it, doc, err)
	}
}

// current reads the mail as the outbox has it now and returns it, or nil
// when it is not to be sent by this process now (settled here). Gone
// means finished elsewhere, another owner means taken over (this process
// was thought gone). A mail held since Queue (it.doc) is sent from memory:
// only its owner is read, and only with several processes; alone on its
// database, nobody else can finish or take it. A mail read back from the
// outbox may have its marker: its previous owner stopped before removing
// it.
func (s *Service) current(ctx context.Context, it *item) *outboxDoc {
	var cur outboxDoc
	var opts []options.Lister[options.FindOneOptions]
	if it.doc != nil {
		opts = append(opts, options.FindOne().SetProjection(bson.M{"owner": 1}))
	}
	err := s.outbox.FindOne(ctx, bson.M{"_id": it.key}, &cur, opts...)
	switch {
	case ctx.Err() != nil:
		return nil
	case errors.Is(err, store.ErrNotFound) || (err == nil && cur.Owner != s.owners.Self()):
		s.release(it)
		s.sched.Forget(it.key)
		return nil
	case err != nil:
		s.log.Warn("mail: reading a mail before its send", "key", it.key, "err", err)
		s.retry(it, nil, err)
		return nil
	}
	if it.doc != nil {
		return it.doc
	}
	done, err := s.finished(ctx, it.key)
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		s.log.Warn("mail: reading the marker before a send", "key", it.key, "err", err)
		s.retry(it, nil, err)
		return nil
	case done:
		s.release(it)
		s.remove(it.key)
		s.sched.Forget(it.key)
		return nil
	}
	return &cur
}

// retry holds the mail for another attempt after its backoff, or gives it
// up once it has been due for maxAge. The new attempt count and due time
// are written with a conditional update on the owner: a process that lost
// the mail to another (it was thought gone) lets it go.
func (s *Service) retry(it *item, doc *outboxDoc, cause error) {
	var attempts int
	since := it.due
	if doc != nil {
		doc.Attempts++
		attempts, since = doc.Attempts, doc.Since
	} else {
		attempts = 1 // the mail was not read: a bounded first step
	}
	now := s.clock.Now()
	if doc != nil && now.Sub(since) >= maxAge {
		s.log.Error("mail: giving up after retries", "key", it.key, "kind", doc.Kind, "attempts", attempts, "err", cause)
		s.finish(it, outcomeDropped)
		return
	}
	it.due = now.Add(backoff(attempts))
	s.stats.retried.Add(1)
	if doc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := s.outbox.UpdateOne(ctx, bson.M{"_id": it.key, "owner": s.owners.Self()},
			bson.M{"$set": bson.M{"attempts": attempts, "due_at": it.due, "last_error": truncate(cause.Error(), 300)}})
		cancel()
		switch {
		case err != nil:
			// Memory has the attempt: only a restart would forget it.
			s.log.Warn("mail: retry not recorded", "key", it.key, "err", err)
		case res.MatchedCount == 0:
			s.release(it)
			s.sched.Forget(it.key)
			s.notify()
			return
		}
	}
	s.sched.Requeue(it)
	s.notify()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
