package posts

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/store"
	"civico/internal/streets"
	"civico/internal/wording"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// checkLen also applies wording's rule, as every text checked here is
// shown to neighbours as someone's words: a title of zero-width spaces
// would show as nothing, a bidi override would turn a phone number round.
func checkLen(f fault.Fields, field, v string, required bool, maxLen int) {
	switch {
	case required && v == "":
		f.Add(field, "required")
	case utf8.RuneCountInString(v) > maxLen:
		f.Add(field, "too_long")
	default:
		if problem := wording.Problem(v); problem != "" {
			f.Add(field, problem)
		}
	}
}

func (s *Service) checkWhen(f fault.Fields, w *TimeWindow) {
	if w == nil {
		return
	}
	now := s.clock.Now()
	switch {
	case w.From.IsZero() || w.To.IsZero() || w.To.Before(w.From):
		f.Add("when", "invalid")
	case w.To.Sub(w.From) > MaxWhenSpan:
		f.Add("when", "too_long")
	case w.To.Before(now):
		f.Add("when", "in_past")
	case w.From.After(now.Add(MaxWhenAhead)):
		f.Add("when", "too_far")
	}
}

func normalizeWhen(w *TimeWindow) *TimeWindow {
	if w == nil {
		return nil
	}
	return &TimeWindow{From: w.From.UTC().Truncate(time.Second), To: w.To.UTC().Truncate(time.Second)}
}

// Create publishes a request or an offer in a street where the caller is an
// active member. With OnBehalf, the caller (a desk volunteer, whose role the
// portineria checks before calling) posts for a roster member: the post
// says so, replies reach the volunteer, and the street's audit log keeps
// who did it.
//
// With in.IdempotencyKey the post is made once per key (see idempotency.go).
func (s *Service) Create(ctx context.Context, p auth.Principal, streetID string, in NewPost) (Post, error) {
	post, _, err := s.create(ctx, p, streetID, in)
	return post, err
}

func (s *Service) create(ctx context.Context, p auth.Principal, streetID string, in NewPost) (Post, bool, error) {
	if err := CheckKey(in.IdempotencyKey); err != nil {
		return Post{}, false, err
	}
	in.Title, in.Body = wording.Line(in.Title), wording.Text(in.Body)
	f := fault.Fields{}
	f.Check(in.Kind != KindRequest && in.Kind != KindOffer, "kind", "invalid")
	f.Check(!categorySet[in.Category], "category", "invalid")
	checkLen(f, "title", in.Title, true, MaxTitleLen)
	checkLen(f, "body", in.Body, true, MaxBodyLen)
	s.checkWhen(f, in.When)
	var behalf *OnBehalf
	if in.OnBehalf != nil {
		b := OnBehalf{AssociationID: strings.TrimSpace(in.OnBehalf.AssociationID), MemberID: strings.TrimSpace(in.OnBehalf.MemberID),
			MemberName: wording.Line(in.OnBehalf.MemberName)}
		checkLen(f, "on_behalf.association_id", b.AssociationID, true, 64)
		checkLen(f, "on_behalf.member_id", b.MemberID, true, 64)
		checkLen(f, "on_behalf.member_name", b.MemberName, true, MaxNameLen)
		behalf = &b
	}
	in.Photos = s.checkPhotos(f, "photos", true, in.Photos, MaxPostPhotos)
	if err := f.Err(); err != nil {
		return Post{}, false, err
	}
	// Checked before the limit is charged: a stranger's attempts never
	// count against anyone. A ban that lands after this check is a ban
	// after the post, as it would be a moment later.
	m, err := s.streets.RequireActive(ctx, streetID, p.UserID)
	if err != nil {
		return Post{}, false, err
	}
	if in.IdempotencyKey == "" { // keyed: charged once per key (settlePost)
		if ok, wait := s.allowed(s.postLimit.Allow(ctx, p.UserID)); !ok {
			return Post{}, false, ErrPostRateLimited.WithRetry(wait)
		}
	}
	id := bson.NewObjectID()
	if in.IdempotencyKey != "" {
		defer s.lockKey(claimID(p.UserID, claimPost, in.IdempotencyKey))()
		var done *postDoc
		if id, done, err = s.settlePost(ctx, p, streetID, in, behalf); err != nil {
			return Post{}, false, err
		}
		if done != nil {
			return done.view(m), false, nil
		}
	}
	// The photos before the post: a post never names a photo that is not
	// its own. A keyed retry finds them attached to the same post id.
	target := "post:" + id.Hex()
	refs, err := s.attachPhotos(ctx, streetID, p.UserID, target, "photos", true, in.Photos)
	if err != nil {
		return Post{}, false, err
	}
	now := s.now()
	// The journal first: if the post's own write then fails, the journal
	// names a post that does not exist, which readers skip.
	pos, err := s.feedJ.Append(ctx, feedKey(streetID), id.Hex())
	if err != nil {
		s.releasePhotos(ctx, target, refs)
		return Post{}, false, err
	}
	d := &postDoc{ID: id, StreetID: streetID, Pos: pos, Kind: in.Kind, Category: in.Category, Title: in.Title, Body: in.Body,
		When: normalizeWhen(in.When), Status: StatusOpen, AuthorID: p.UserID, AuthorName: m.Name, OnBehalf: behalf,
		ReplyIDs: []string{}, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ExpiresAfter), Photos: refs}
	if _, err := s.posts.InsertOne(ctx, d); err != nil {
		s.releasePhotos(ctx, target, refs) // a retry takes them again
		return Post{}, false, err
	}
	s.scheduleExpiry(ctx, d) // no touch: the journal's length tells (feedHead)
	if behalf != nil {
		err := s.streets.Record(ctx, streetID, streets.AuditEntry{At: now, ActorID: p.UserID, ActorName: m.Name, Action: streets.ActionPostOnBehalf,
			TargetType: "post", TargetID: id.Hex(), TargetName: d.Title, Detail: behalf.MemberName + " (" + behalf.AssociationID + "/" + behalf.MemberID + ")"})
		if err != nil {
			s.log.Error("audit log write failed", "street", streetID, "err", err)
		}
	}
	s.publish(ctx, events.PostCreated, streetID, p.UserID, d.AuthorID, d.data())
	return d.view(m), true, nil
}

// errUnchanged tells mutate that there is nothing to write.
var errUnchanged = errors.New("posts: unchanged")

// errRaced says another write changed the post between its read and ours.
var errRaced = errors.New("posts: changed meanwhile")

// maxRaces bounds how often one change is decided again on a post that
// other writes keep changing.
const maxRaces = 20

// edit is a change to a post, made on a copy of its current state by a
// member at a time.
type edit func(d *postDoc, m streets.Member, now time.Time) error

// mutate applies fn to the post as the database has it now and writes the
// fields fn changed, only onto that version of the post: when another write
// (on this process or another) got there first, it reads the post again
// and decides again, so a refusal names the state that refused it. It
// publishes typ once the change is written.
func (s *Service) mutate(ctx context.Context, p auth.Principal, postID string, typ events.Type, fn edit) (*postDoc, streets.Member, error) {
	for race := 0; ; race++ {
		cur, m, err := s.access(ctx, p, postID)
		if err != nil {
			return nil, streets.Member{}, err
		}
		next, err := s.write(ctx, cur, func(d *postDoc, now time.Time) error { return fn(d, m, now) })
		switch {
		case errors.Is(err, errUnchanged):
			return cur, m, nil
		case errors.Is(err, errRaced) && race < maxRaces:
			continue
		case err != nil:
			return nil, streets.Member{}, err
		}
		s.publish(ctx, typ, next.StreetID, p.UserID, next.AuthorID, next.data())
		return next, m, nil
	}
}

// change is mutate for the service's own changes (desk notes, erasure):
// no member, no event; it tells whether the post changed.
func (s *Service) change(ctx context.Context, postID string, fn func(d *postDoc, now time.Time) error) (*postDoc, bool, error) {
	for race := 0; ; race++ {
		cur, err := s.load(ctx, postID)
		if err != nil {
			return nil, false, err
		}
		next, err := s.write(ctx, cur, fn)
		switch {
		case errors.Is(err, errUnchanged):
			return cur, false, nil
		case errors.Is(err, errRaced) && race < maxRaces:
			continue
		case err != nil:
			return nil, false, err
		}
		return next, true, nil
	}
}

// write runs fn on a copy of cur and writes the fields it changed, with
// updated_at, onto cur's version; errRaced when the post is no longer at
// that version.
func (s *Service) write(ctx context.Context, cur *postDoc, fn func(d *postDoc, now time.Time) error) (*postDoc, error) {
	next := cur.clone()
	now := s.now()
	if err := fn(next, now); err != nil {
		return nil, err
	}
	update, err := diff(cur, next)
	if err != nil {
		return nil, err
	}
	if update == nil {
		return nil, errUnchanged
	}
	set, _ := update["$set"].(bson.M)
	if set == nil {
		set = bson.M{}
		update["$set"] = set
	}
	if _, ok := set["updated_at"]; !ok && next.UpdatedAt.Equal(cur.UpdatedAt) {
		set["updated_at"] = now
	}
	update["$inc"] = bson.M{"version": int64(1)}
	filter := bson.M{"_id": cur.ID, "version": cur.Version}
	if cur.Version == 0 { // posts written before versions
		filter["version"] = bson.M{"$in": bson.A{int64(0), nil}}
	}
	var out postDoc
	err = s.posts.FindOneAndUpdate(ctx, filter, update, &out, options.FindOneAndUpdate().SetReturnDocument(options.After))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errRaced
	}
	if err != nil {
		return nil, err
	}
	s.touch(ctx, out.StreetID)
	return &out, nil
}

// noDiff are the fields a change never writes: replies change them with
// their own atomic update, and the version is incremented.
var noDiff = map[string]bool{"_id": true, "reply_ids": true, "reply_count": true, "first_reply_at": true, "version": true}

// diff is the update that turns cur into next, field by field: $set for
// what changed or appeared, $unset for what went; nil when nothing did.
func diff(cur, next *postDoc) (bson.M, error) {
	a, err := bson.Marshal(cur)
	if err != nil {
		return nil, err
	}
	b, err := bson.Marshal(next)
	if err != nil {
		return nil, err
	}
	old := map[string]bson.RawValue{}
	elems, err := bson.Raw(a).Elements()
	if err != nil {
		return nil, err
	}
	for _, e := range elems {
		old[e.Key()] = e.Value()
	}
	set, unset := bson.M{}, bson.M{}
	elems, err = bson.Raw(b).Elements()
	if err != nil {
		return nil, err
	}
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		if noDiff[k] {
			delete(old, k)
			continue
		}
		if o, ok := old[k]; !ok || o.Type != v.Type || !bytes.Equal(o.Value, v.Value) {
			set[k] = v
		}
		delete(old, k)
	}
	for k := range old {
		if !noDiff[k] {
			unset[k] = ""
		}
	}
	if len(set) == 0 && len(unset) == 0 {
		return nil, nil
	}
	update := bson.M{}
	if len(set) > 0 {
		update["$set"] = set
	}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	return update, nil
}

func authorOnly(d *postDoc, m streets.Member) error {
	if d.AuthorID != m.UserID {
		return ErrNotAuthor
	}
	return nil
}

// Changes are what an author may change; nil fields stay. Photos, when
// set, is the post's whole new list: photos kept (their alt text perhaps
// changed), new uploads, and those left out are deleted. PhotosWere, when
// set with Photos, are the photo ids the author's form started from: if
// the post's are no longer those (another device changed them), the
// change is ErrPhotosChanged rather than deleting photos unseen.
type Changes struct {
	Category, Title, Body *string
	When                  *TimeWindow
	Photos                *[]PhotoIn
	PhotosWere            *[]string
}

// Update changes an open or matched post (author).
func (s *Service) Update(ctx context.Context, p auth.Principal, postID string, ch Changes) (Post, error) {
	f := fault.Fields{}
	if ch.Title != nil {
		t := wording.Line(*ch.Title)
		ch.Title = &t
		checkLen(f, "title", t, true, MaxTitleLen)
	}
	if ch.Body != nil {
		b := wording.Text(*ch.Body)
		ch.Body = &b
		checkLen(f, "body", b, true, MaxBodyLen)
	}
	f.Check(ch.Category != nil && !categorySet[*ch.Category], "category", "invalid")
	s.checkWhen(f, ch.When)
	var pics []PhotoIn
	if ch.Photos != nil {
		pics = s.checkPhotos(f, "photos", true, *ch.Photos, MaxPostPhotos)
	}
	f.Check(ch.PhotosWere != nil && len(*ch.PhotosWere) > MaxPostPhotos, "photos_were", "too_many")
	if err := f.Err(); err != nil {
		return Post{}, err
	}
	// New photos are attached before the write names them. A photo the
	// post holds already is kept only when the version written names it,
	// or this call attached it on an earlier try: a photo another edit
	// dropped, and is deleting, is never named again. On failure the
	// photos this call attached go back (no other edit can have named
	// them); after the write, those it dropped are deleted.
	var target string
	var mine, gone []photoRef
	d, m, err := s.mutate(ctx, p, postID, events.PostUpdated, func(d *postDoc, m streets.Member, _ time.Time) error {
		gone = nil
		if err := authorOnly(d, m); err != nil {
			return err
		}
		if d.Status != StatusOpen && d.Status != StatusMatched {
			return ErrNotEditable
		}
		if ch.Title != nil {
			d.Title = *ch.Title
		}
		if ch.Body != nil {
			d.Body = *ch.Body
		}
		if ch.Category != nil {
			d.Category = *ch.Category
		}
		if ch.When != nil {
			d.When = normalizeWhen(ch.When)
		}
		if ch.Photos != nil {
			if ch.PhotosWere != nil && !slices.Equal(photoIDs(d.Photos), *ch.PhotosWere) {
				return ErrPhotosChanged
			}
			target = "post:" + d.ID.Hex()
			named := func(id string) bool { return hasPhoto(d.Photos, id) || hasPhoto(mine, id) }
			refs, fresh, err := s.attach(ctx, d.StreetID, m.UserID, target, "photos", true, pics, named)
			if err != nil {
				return err
			}
			mine = append(mine, fresh...)
			gone = dropped(d.Photos, refs)
			d.Photos = refs
		}
		return nil
	})
	if err != nil {
		s.releasePhotos(ctx, target, mine)
		return Post{}, err
	}
	s.deletePhotos(ctx, gone)
	return d.view(m), nil
}

// Remove takes a post down. Its author may, with or without a reason; an
// admin may, with a reason, and the street's audit log records it. The
// post's record stays; members no longer see it, its author sees why.
func (s *Service) Remove(ctx context.Context, p auth.Principal, postID, reason string) (Post, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxReasonLen {
		return Post{}, fault.Validation("reason", "too_long")
	}
	moderated := false
	var gone []photoRef // the post's images and its replies', deleted once it is down
	d, m, err := s.mutate(ctx, p, postID, events.PostRemoved, func(d *postDoc, m streets.Member, now time.Time) error {
		if d.Status == StatusRemoved {
			return ErrAlreadyRemoved
		}
		if d.AuthorID != m.UserID {
			if m.Role != streets.RoleAdmin {
				return ErrNotAllowed
			}
			if reason == "" {
				return fault.Validation("reason", "required")
			}
			moderated = true
		}
		d.Status, d.RemovedAt, d.RemovedBy, d.RemovalReason = StatusRemoved, &now, m.UserID, reason
		d.Pinned, d.PinnedAt = false, nil
		gone, d.Photos = d.Photos, nil
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	s.deletePhotos(ctx, append(gone, s.replyPhotos(ctx, d)...))
	if err := s.dropPin(ctx, d.StreetID, postID); err != nil {
		s.log.Error("pinned list not updated", "post", postID, "err", err)
	}
	if moderated {
		s.audit(ctx, d.StreetID, m, streets.ActionPostRemove, "post", d.ID.Hex(), d.Title, reason)
	}
	return d.view(m), nil
}

func (s *Service) audit(ctx context.Context, streetID string, actor streets.Member, action, targetType, targetID, targetName, reason string) {
	err := s.streets.Record(ctx, streetID, streets.AuditEntry{ActorID: actor.UserID, ActorName: actor.Name, Action: action,
		TargetType: targetType, TargetID: targetID, TargetName: targetName, Reason: reason})
	if err != nil {
		s.log.Error("audit log write failed", "street", streetID, "action", action, "err", err)
	}
}

// Accept matches an open post with one of its replies (author).
func (s *Service) Accept(ctx context.Context, p auth.Principal, postID, replyID string) (Post, error) {
	if _, ok := store.ID(replyID); !ok {
		return Post{}, fault.Validation("reply_id", "unknown")
	}
	d, m, err := s.mutate(ctx, p, postID, events.PostUpdated, func(d *postDoc, m streets.Member, now time.Time) error {
		if err := authorOnly(d, m); err != nil {
			return err
		}
		if d.Status != StatusOpen {
			return ErrNotOpen
		}
		if !slices.Contains(d.ReplyIDs, replyID) {
			return fault.Validation("reply_id", "unknown")
		}
		r, err := s.loadReply(ctx, replyID)
		if errors.Is(err, ErrReplyNotFound) || (err == nil && r.Removed) {
			return fault.Validation("reply_id", "unknown")
		}
		if err != nil {
			return err
		}
		if r.AuthorID == d.AuthorID {
			return fault.Validation("reply_id", "own_reply")
		}
		d.Status, d.MatchedAt, d.AcceptedReplyID, d.MatchedUserID = StatusMatched, &now, replyID, r.AuthorID
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	return d.view(m), nil
}

// Done marks a matched post done (author), with an optional thanks, and
// records the exchange it was.
func (s *Service) Done(ctx context.Context, p auth.Principal, postID, thanks string) (Post, error) {
	thanks = strings.TrimSpace(thanks)
	f := fault.Fields{}
	checkLen(f, "thanks", thanks, false, MaxThanksLen)
	if err := f.Err(); err != nil {
		return Post{}, err
	}
	var ex Exchange
	recorded := false // an exchange written here, to take back if the post is not done after all
	d, m, err := s.mutate(ctx, p, postID, events.PostUpdated, func(d *postDoc, m streets.Member, now time.Time) error {
		if err := authorOnly(d, m); err != nil {
			return err
		}
		switch d.Status {
		case StatusMatched:
		case StatusOpen:
			return ErrNotMatched
		default:
			return ErrNotEditable
		}
		ex = newExchange(d, now)
		fresh, err := s.recordExchange(ctx, ex)
		if err != nil {
			return err
		}
		recorded = recorded || fresh
		d.Status, d.DoneAt, d.Thanks = StatusDone, &now, thanks
		return nil
	})
	if err != nil {
		if recorded && !s.isDone(ctx, postID) {
			if _, derr := s.exchanges.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": ex.PostID}); derr != nil {
				s.log.Error("exchange of a post not done was kept", "post", postID, "err", derr)
			}
		}
		return Post{}, err
	}
	if _, err := s.exchangeJ.Append(ctx, exchangeKey(d.StreetID), ex); err != nil {
		s.log.Error("exchange journal write failed", "post", postID, "err", err)
	}
	return d.view(m), nil
}

// isDone tells whether the post is done now (a failed read says no).
func (s *Service) isDone(ctx context.Context, postID string) bool {
	d, err := s.load(context.WithoutCancel(ctx), postID)
	return err == nil && d.Status == StatusDone
}

// Close says an open or matched post is no longer needed (author).
func (s *Service) Close(ctx context.Context, p auth.Principal, postID string) (Post, error) {
	d, m, err := s.mutate(ctx, p, postID, events.PostUpdated, func(d *postDoc, m streets.Member, now time.Time) error {
		if err := authorOnly(d, m); err != nil {
			return err
		}
		if d.Status != StatusOpen && d.Status != StatusMatched {
			return ErrNotEditable
		}
		d.Status, d.ClosedAt, d.CloseReason = StatusClosed, &now, CloseNoLongerNeeded
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	return d.view(m), nil
}

// Renew keeps an open post for another 30 days, or reopens one that
// expired (author).
func (s *Service) Renew(ctx context.Context, p auth.Principal, postID string) (Post, error) {
	d, m, err := s.mutate(ctx, p, postID, events.PostUpdated, func(d *postDoc, m streets.Member, now time.Time) error {
		if err := authorOnly(d, m); err != nil {
			return err
		}
		switch {
		case d.Status == StatusOpen:
		case d.Status == StatusClosed && d.CloseReason == CloseExpired:
			d.Status, d.ClosedAt, d.CloseReason = StatusOpen, nil, ""
		default:
			return ErrNotRenewable
		}
		d.ExpiresAt = now.Add(ExpiresAfter)
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	s.scheduleExpiry(ctx, d)
	return d.view(m), nil
}

// Pin puts a post on top of the feed (admins).
func (s *Service) Pin(ctx context.Context, p auth.Principal, postID string) (Post, error) {
	return s.pin(ctx, p, postID, true)
}

// Unpin returns a pinned post to its place (admins).
func (s *Service) Unpin(ctx context.Context, p auth.Principal, postID string) (Post, error) {
	return s.pin(ctx, p, postID, false)
}

// pin pins or unpins a post. The street's pinned list and the post's flag
// are two documents: a post is added to the list (under the list's size
// guard) before it is flagged, and unflagged before it leaves the list, so
// a post flagged pinned is always listed, and the feed shows a listed post
// as pinned only while it is flagged.
func (s *Service) pin(ctx context.Context, p auth.Principal, postID string, on bool) (Post, error) {
	cur, m, err := s.access(ctx, p, postID)
	if err != nil {
		return Post{}, err
	}
	if m.Role != streets.RoleAdmin {
		return Post{}, streets.ErrNotAdmin
	}
	if on && cur.Status != StatusRemoved && !cur.Pinned {
		if err := s.addPin(ctx, cur.StreetID, postID); err != nil {
			return Post{}, err
		}
	}
	changed := false
	d, m, err := s.mutate(ctx, p, postID, events.PostUpdated, func(d *postDoc, m streets.Member, now time.Time) error {
		if m.Role != streets.RoleAdmin {
			return streets.ErrNotAdmin
		}
		if d.Status == StatusRemoved {
			return ErrAlreadyRemoved
		}
		if d.Pinned == on {
			return errUnchanged
		}
		if on {
			d.Pinned, d.PinnedAt = true, &now
		} else {
			d.Pinned, d.PinnedAt = false, nil
		}
		changed = true
		return nil
	})
	if (err != nil && on) || (err == nil && !on) {
		// Not pinned after all, or unpinned: out of the list.
		if derr := s.dropPin(ctx, cur.StreetID, postID); derr != nil && err == nil {
			return Post{}, derr
		}
	}
	if err != nil {
		return Post{}, err
	}
	if changed {
		action := streets.ActionPostPin
		if !on {
			action = streets.ActionPostUnpin
		}
		s.audit(ctx, d.StreetID, m, action, "post", d.ID.Hex(), d.Title, "")
	}
	return d.view(m), nil
}
