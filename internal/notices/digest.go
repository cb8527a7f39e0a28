package notices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"civico/internal/auth"
	"civico/internal/mail"
	"civico/internal/posts"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Digest limits.
const (
	// digestListed posts are listed in one digest; the rest are counted.
	digestListed = 20
	// digestRead bounds the posts read of one street per run.
	digestRead = 500
	// digestHour is when, in the reader's time zone, a digest falls due:
	// every morning (daily) or Monday morning (weekly).
	digestHour = 8
	// bulkLookup: a street with more members than this has the settings
	// of all users read in one go (once per run) instead of one by one.
	bulkLookup = 100
)

// period is one digest period of one reader.
type period struct {
	key   string    // "2026-W10" or "2026-03-02": the mail's idempotency key
	since time.Time // the posts it covers were made from here on
	daily bool
}

// periodOf returns the period of a digest of frequency freq that is due at
// now in loc, false when none is due yet (before 08:00 of its first day).
// Times are local wall times, so a change to or from summer time moves
// nothing.
func periodOf(freq string, now time.Time, loc *time.Location) (period, bool) {
	local := now.In(loc)
	y, m, d := local.Date()
	switch freq {
	case DigestDaily:
		start := time.Date(y, m, d, digestHour, 0, 0, 0, loc)
		if local.Before(start) {
			return period{}, false
		}
		return period{key: start.Format("2006-01-02"), since: time.Date(y, m, d-1, digestHour, 0, 0, 0, loc).UTC(), daily: true}, true
	case DigestWeekly:
		back := (int(local.Weekday()) + 6) % 7 // days since Monday
		start := time.Date(y, m, d-back, digestHour, 0, 0, 0, loc)
		if local.Before(start) {
			return period{}, false
		}
		wy, w := start.ISOWeek()
		return period{key: fmt.Sprintf("%04d-W%02d", wy, w), since: time.Date(y, m, d-back-7, digestHour, 0, 0, 0, loc).UTC()}, true
	}
	return period{}, false
}

// loadLocation returns the named zone, Europe/Rome when unknown (as push).
func loadLocation(name string) *time.Location {
	if name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	if loc, err := time.LoadLocation("Europe/Rome"); err == nil {
		return loc
	}
	return time.UTC
}

// digestRun is what one run of Digests reads once for every street.
type digestRun struct {
	now   time.Time
	zones map[string]*time.Location
	all   map[string]settingsDoc // every user's settings, once a big street asked
}

func (r *digestRun) zone(name string) *time.Location {
	loc, ok := r.zones[name]
	if !ok {
		loc = loadLocation(name)
		r.zones[name] = loc
	}
	return loc
}

// Digests queues the digests due at now and returns how many it queued.
// For every street it reads the members, their settings and accounts (one
// call), and, when a digest is due for someone, the street's posts of the
// period once. A reader's digest is due from 08:00 in their time zone on
// each day (daily) or on Monday (weekly), once per period: the period is
// marked on the reader's settings after the mail is queued, and the
// outbox's idempotency key ("digest:<street>:<user>:<period>") makes a
// second queueing of the same mail (a crash before the mark, two runs at
// once) send nothing more. Running it twice queues nothing new.
// digestID is the outbox's key of r's digest of the street for its period.
func digestID(sid string, r *reader) string {
	return "digest:" + sid + ":" + r.acc.ID + ":" + r.per.key
}

// yieldBound is how long one digest waits for the foreground to be quiet:
// on a server that is never quiet the run still moves on. Measured with
// scripts/maildigest (3 000 readers, 200 live sockets): waiting 5 ms at
// most raised the sockets' p99 by 29% during the run, 50 ms left it as it
// was, for 8% fewer mails a second.
const yieldBound = 50 * time.Millisecond

func (s *Service) Digests(ctx context.Context, now time.Time) (int, error) {
	streets, err := s.dir.StreetIDs(ctx)
	if err != nil {
		return 0, err
	}
	run := &digestRun{now: now.UTC().Truncate(time.Millisecond), zones: map[string]*time.Location{}}
	queued := 0
	var errs []error
	for _, sid := range streets {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		n, err := s.streetDigests(ctx, run, sid)
		queued += n
		if err != nil {
			errs = append(errs, fmt.Errorf("notices: digests of street %s: %w", sid, err))
		}
	}
	return queued, errors.Join(errs...)
}

// reader is a member whose digest is due.
type reader struct {
	acc       auth.Account
	per       period
	since     time.Time
	withPosts bool     // the street's new posts (digest on), else replies only
	replies   []string // ids of the replies kept for this digest, oldest first
	pending   map[string]pendingReply
}

func (s *Service) streetDigests(ctx context.Context, run *digestRun, sid string) (int, error) {
	if _, ok := store.ID(sid); !ok {
		return 0, nil // not a street id we could key a mark with
	}
	members, err := s.dir.ActiveMemberIDs(ctx, sid)
	if err != nil || len(members) == 0 {
		return 0, err
	}
	docs, err := s.docsOf(ctx, run, members)
	if err != nil {
		return 0, err
	}
	// Who could get something, by their settings alone.
	candidates := make([]string, 0, len(members))
	for _, id := range members {
		d := docs[id]
		if d.public().Digest != DigestOff || (d.public().Replies == RepliesDigest && hasPending(d, sid)) {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		return 0, nil
	}
	accs, err := s.acc.Users(ctx, candidates)
	if err != nil {
		return 0, err
	}
	var due []*reader
	since := run.now
	for _, id := range candidates {
		acc, ok := accs[id]
		if !ok || !acc.EmailVerified || acc.Email == "" {
			continue
		}
		d := docs[id]
		set := d.public()
		freq, withPosts := set.Digest, set.Digest != DigestOff
		if !withPosts {
			freq = DigestWeekly // replies for the digest, with the digest off: weekly
		}
		per, ok := periodOf(freq, run.now, run.zone(acc.TimeZone))
		if !ok {
			continue
		}
		mark := d.Sent[sid]
		if mark.Period == per.key {
			continue // queued already
		}
		r := &reader{acc: acc, per: per, since: per.since, withPosts: withPosts, pending: d.Pending}
		if mark.At.After(r.since) {
			r.since = mark.At // the last digest (of another frequency) told up to here
		}
		if set.Replies == RepliesDigest {
			r.replies = pendingOf(d, sid)
		}
		if withPosts && r.since.Before(since) {
			since = r.since
		}
		due = append(due, r)
	}
	if len(due) == 0 {
		return 0, nil
	}
	var recent []posts.Post
	if since.Before(run.now) {
		if recent, err = s.feed.Recent(ctx, sid, since, digestRead); err != nil {
			return 0, err
		}
	}
	street, err := s.dir.StreetName(ctx, sid)
	if err != nil {
		return 0, err
	}
	queued := 0
	var errs []error
	for _, r := range due {
		if err := s.foreground.Wait(ctx, yieldBound); err != nil {
			return queued, errors.Join(append(errs, err)...)
		}
		var items []posts.Post
		if r.withPosts {
			items = itemsFor(recent, r.acc.ID, r.since, run.now)
		}
		if len(items) > 0 || len(r.replies) > 0 {
			told, err := s.out.Queued(ctx, digestID(sid, r))
			if err == nil && !told {
				var m Mail
				if m, err = s.digestMail(r, sid, street, items); err == nil {
					err = s.out.Queue(ctx, m)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("user %s: %w", r.acc.ID, err))
				continue // not marked: the next run tries again
			}
			if !told {
				queued++
			}
			if len(r.replies) == 0 {
				// The mail's own key keeps the period from being told
				// twice (Queued): no mark, one write fewer per reader,
				// which a run of thousands makes count.
				continue
			}
		}
		// Marked when there was nothing to tell: the period is done, and a
		// post made later in it waits for the next one. And when replies
		// were listed: they leave the reader's pending ones.
		if err := s.markSent(ctx, r, sid, run.now); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", r.acc.ID, err))
		}
	}
	return queued, errors.Join(errs...)
}

// markSent records r's digest of the street as queued and drops the
// replies it listed.
func (s *Service) markSent(ctx context.Context, r *reader, sid string, now time.Time) error {
	update := bson.M{"$set": bson.M{"sent." + sid: sentMark{Period: r.per.key, At: now}}}
	if len(r.replies) > 0 {
		unset := bson.M{}
		for _, id := range r.replies {
			unset["pending."+id] = ""
		}
		update["$unset"] = unset
	}
	return s.upsert(ctx, r.acc.ID, update)
}

// docsOf returns the settings of ids (an empty document for a user who
// has none): by _id for a small street, else from one read of them all.
func (s *Service) docsOf(ctx context.Context, run *digestRun, ids []string) (map[string]settingsDoc, error) {
	out := make(map[string]settingsDoc, len(ids))
	if len(ids) > bulkLookup && run.all == nil {
		all := map[string]settingsDoc{}
		err := s.settings.Each(ctx, bson.M{}, func(raw bson.Raw) error {
			var d settingsDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return err
			}
			all[d.UserID] = d
			return nil
		})
		if err != nil {
			return nil, err
		}
		run.all = all
	}
	for _, id := range ids {
		if run.all != nil {
			d, ok := run.all[id]
			if !ok {
				d = settingsDoc{UserID: id}
			}
			out[id] = d
			continue
		}
		d, err := s.doc(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = d
	}
	return out, nil
}

func hasPending(d settingsDoc, sid string) bool {
	for _, p := range d.Pending {
		if p.StreetID == sid {
			return true
		}
	}
	return false
}

// pendingOf lists the ids of d's replies kept for the street, oldest first.
func pendingOf(d settingsDoc, sid string) []string {
	var ids []string
	for id, p := range d.Pending {
		if p.StreetID == sid {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := d.Pending[a].At.Compare(d.Pending[b].At); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return ids
}

// itemsFor picks from recent (newest first) the open posts made in
// [since, until) by someone other than reader.
func itemsFor(recent []posts.Post, reader string, since, until time.Time) []posts.Post {
	var out []posts.Post
	for _, p := range recent {
		if p.Status != posts.StatusOpen || p.AuthorID == reader || p.CreatedAt.Before(since) || !p.CreatedAt.Before(until) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// arrange orders a digest's posts (newest first as they come): unanswered
// requests first, then the rest; at most digestListed are listed.
func arrange(items []posts.Post) (unanswered, others []posts.Post, more int) {
	for _, p := range items {
		if p.Kind == posts.KindRequest && p.ReplyCount == 0 {
			unanswered = append(unanswered, p)
		} else {
			others = append(others, p)
		}
	}
	if len(unanswered) > digestListed {
		unanswered = unanswered[:digestListed]
	}
	if room := digestListed - len(unanswered); len(others) > room {
		others = others[:room]
	}
	return unanswered, others, len(items) - len(unanswered) - len(others)
}

// digestMail composes r's digest of the street.
func (s *Service) digestMail(r *reader, sid, street string, items []posts.Post) (Mail, error) {
	t := textsFor(r.acc.Locale)
	if street == "" {
		street = t.Street
	}
	street = oneLine(street, maxTitle)
	v := digestView{T: t, Name: oneLine(r.acc.Name, maxTitle), Street: street, StreetURL: s.link("/streets/" + sid),
		SettingsURL: s.link("/settings")}
	subject, intro := t.DigestSubjectWeekly, t.IntroWeekly
	if r.per.daily {
		subject, intro = t.DigestSubjectDaily, t.IntroDaily
	}
	if len(items) == 0 {
		intro = t.IntroReplies
	}
	v.Subject, v.Intro = fill(subject, "street", street), fill(intro, "street", street)
	unanswered, others, more := arrange(items)
	for _, p := range unanswered {
		v.Unanswered = append(v.Unanswered, s.item(t, p))
	}
	for _, p := range others {
		v.Others = append(v.Others, s.item(t, p))
	}
	v.More = more
	for _, id := range r.replies {
		p := r.pending[id]
		author := p.AuthorName
		if author == "" {
			author = t.Someone
		}
		v.Replies = append(v.Replies, replyItemView{Author: author, Title: p.PostTitle, Body: p.Body, URL: s.link("/posts/" + p.PostID)})
	}
	unsubscribe := SettingReplies
	if r.withPosts {
		unsubscribe = SettingDigest
		v.StopDigestURL = s.UnsubscribeURL(r.acc.ID, SettingDigest)
	}
	if len(r.replies) > 0 {
		v.StopRepliesURL = s.UnsubscribeURL(r.acc.ID, SettingReplies)
	}
	text, html, err := render(digestText, digestHTML, v)
	if err != nil {
		return Mail{}, err
	}
	return Mail{ID: digestID(sid, r), Kind: mail.KindDigest, To: r.acc.Email, ToName: r.acc.Name,
		Locale: t.Lang, Subject: v.Subject, Text: text, HTML: html, Unsubscribe: s.UnsubscribeURL(r.acc.ID, unsubscribe)}, nil
}

// item is one post as a digest lists it.
func (s *Service) item(t texts, p posts.Post) itemView {
	author := p.AuthorName
	if p.OnBehalf != nil && p.OnBehalf.MemberName != "" {
		author = p.OnBehalf.MemberName
	}
	if p.AuthorDeleted || author == "" {
		author = t.Someone
	}
	return itemView{Kind: t.Labels.Kind(p.Kind), Title: oneLine(p.Title, maxTitle), Category: t.Labels.CategoryOr(p.Category), Author: oneLine(author, maxTitle),
		URL: s.link("/posts/" + p.ID)}
}
