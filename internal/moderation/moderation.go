// Package moderation owns reports: members flag a post, a reply or a user
// with a reason; a street's admins see the open reports and resolve them by
// dismissing, removing what was reported or banning its author. Every
// resolution goes to the street's audit log.
//
// Reports live in the database only, so that every server process sees the
// same ones at once: a street's reports are read through the street_status
// index, a report is resolved by one conditional update ({_id, status:
// "open"}) whose winner alone carries the action out, and a member has at
// most one open report on a target, by a claim whose _id names both (the
// first insert wins).
package moderation

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/conversations"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/posts"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// What a report may point at.
const (
	TargetPost  = "post"
	TargetReply = "reply"
	TargetUser  = "user"
	// TargetMessage is a private message the reporter received: the report
	// carries that one message (MessageBody), and nothing else of the
	// conversation, to the street's admins.
	TargetMessage = "message"
)

// Statuses of a report.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
)

// How an admin resolves a report.
const (
	ActionDismiss = "dismiss"
	ActionRemove  = "remove"
	ActionBan     = "ban"
)

// MaxReasonLen bounds reasons.
const MaxReasonLen = 500

// Errors of this package.
var (
	ErrReportNotFound  = fault.New(fault.NotFound, "report_not_found", "report not found")
	ErrAlreadyReported = fault.New(fault.Conflict, "already_reported", "you already reported this; the admins will look at it")
	ErrResolved        = fault.New(fault.Conflict, "report_resolved", "this report was already resolved")
	ErrBadCursor       = cursor.ErrInvalid
	ErrRateLimited     = fault.New(fault.RateLimited, "rate_limited", "too many reports, try again later")
)

// Report is a member's flag on a post, a reply or a user, as admins see it.
type Report struct {
	ID         string `json:"id"`
	StreetID   string `json:"street_id"`
	Target     string `json:"target"`
	TargetID   string `json:"target_id"`
	PostID     string `json:"post_id,omitempty"`
	TargetName string `json:"target_name"`
	// MessageBody is the reported private message (target "message").
	MessageBody  string     `json:"message_body,omitempty"`
	AuthorID     string     `json:"author_id"`
	AuthorName   string     `json:"author_name"`
	ReporterID   string     `json:"reporter_id"`
	ReporterName string     `json:"reporter_name"`
	Reason       string     `json:"reason"`
	Status       string     `json:"status"`
	Action       string     `json:"action,omitempty"`
	Resolution   string     `json:"resolution,omitempty"`
	ResolvedBy   string     `json:"resolved_by,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
}

type reportDoc struct {
	ID           bson.ObjectID `bson:"_id"`
	StreetID     string        `bson:"street_id"`
	Target       string        `bson:"target"`
	TargetID     string        `bson:"target_id"`
	PostID       string        `bson:"post_id,omitempty"`
	TargetName   string        `bson:"target_name"`
	MessageBody  string        `bson:"message_body,omitempty"`
	AuthorID     string        `bson:"author_id"`
	AuthorName   string        `bson:"author_name"`
	ReporterID   string        `bson:"reporter_id"`
	ReporterName string        `bson:"reporter_name"`
	Reason       string        `bson:"reason"`
	Status       string        `bson:"status"`
	Action       string        `bson:"action,omitempty"`
	Resolution   string        `bson:"resolution,omitempty"`
	ResolvedBy   string        `bson:"resolved_by,omitempty"`
	CreatedAt    time.Time     `bson:"created_at"`
	ResolvedAt   *time.Time    `bson:"resolved_at,omitempty"`
}

func (d reportDoc) view() Report {
	r := Report{ID: d.ID.Hex(), StreetID: d.StreetID, Target: d.Target, TargetID: d.TargetID, PostID: d.PostID, TargetName: d.TargetName,
		MessageBody: d.MessageBody, AuthorID: d.AuthorID, AuthorName: d.AuthorName, ReporterID: d.ReporterID, ReporterName: d.ReporterName, Reason: d.Reason,
		Status: d.Status, Action: d.Action, Resolution: d.Resolution, ResolvedBy: d.ResolvedBy, CreatedAt: d.CreatedAt.UTC()}
	if d.ResolvedAt != nil {
		t := d.ResolvedAt.UTC()
		r.ResolvedAt = &t
	}
	return r
}

// Service is reports and their resolution.
type Service struct {
	reports *store.Collection
	streets *streets.Service
	posts   *posts.Service
	bus     events.Bus
	clock   clock.Clock
	cursors *cursor.Signer
	log     *slog.Logger
	limit   *ratelimit.Limiter
	claims  *store.Collection
	// messages finds reported private messages; nil refuses their reports.
	messages Messages
}

// Messages finds a private message the caller received (conversations.Service).
type Messages interface {
	MessageTarget(ctx context.Context, p auth.Principal, messageID string) (conversations.Target, error)
}

// UseMessages lets members report private messages. The conversations are
// built after moderation (they need push), hence not in New.
func (s *Service) UseMessages(m Messages) { s.messages = m }

// claimDoc says that a member has an open report on a target: its _id
// (claimKey) is unique, so of two reports filed at once only one is
// written. Resolving the report deletes it.
type claimDoc struct {
	ID       string        `bson:"_id"`
	ReportID bson.ObjectID `bson:"report_id"`
	At       time.Time     `bson:"at"`
}

func claimKey(d reportDoc) string { return d.ReporterID + ":" + d.Target + ":" + d.TargetID }

// claimGrace is how long a claim whose report cannot be found is taken
// for a report being written.
const claimGrace = time.Minute

// New returns the service.
func New(ctx context.Context, st *store.Store, bus events.Bus, c clock.Clock, sts *streets.Service, ps *posts.Service, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	return &Service{reports: st.Collection("reports"), claims: st.Collection("report_claims"), streets: sts, posts: ps, bus: bus, clock: c, cursors: cs, log: log,
		limit: ratelimit.New(st, "report", 30, time.Hour, c)}, nil
}

// allowed follows a limiter's decision; a database failure, which never
// refuses (see internal/ratelimit), is logged.
func (s *Service) allowed(ok bool, wait time.Duration, err error) (bool, time.Duration) {
	if err != nil {
		s.log.Warn("moderation: rate limit", "err", err)
	}
	return ok, wait
}

// Indexes are this package's indexes: a street's reports are listed by
// street and status.
func Indexes() []store.Index {
	return []store.Index{{Collection: "reports", Name: "street_status", Keys: bson.D{{Key: "street_id", Value: 1}, {Key: "status", Value: 1}}}}
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// NewReport is what a member sends. StreetID is needed for a user, who may
// belong to several streets; a post or reply carries its own.
type NewReport struct {
	Target, ID, StreetID, Reason string
}

// Create files a report. The reporter must be an active member able to see
// what they report; anything else is NotFound.
func (s *Service) Create(ctx context.Context, p auth.Principal, in NewReport) (Report, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	f := fault.Fields{}
	f.Check(in.Target != TargetPost && in.Target != TargetReply && in.Target != TargetUser &&
		(in.Target != TargetMessage || s.messages == nil), "target", "invalid")
	f.Check(in.ID == "", "id", "required")
	f.Check(in.Target == TargetUser && in.StreetID == "", "street_id", "required")
	f.Check(in.Reason == "", "reason", "required")
	f.Check(utf8.RuneCountInString(in.Reason) > MaxReasonLen, "reason", "too_long")
	if err := f.Err(); err != nil {
		return Report{}, err
	}
	d := reportDoc{Target: in.Target, TargetID: in.ID, Reason: in.Reason, Status: StatusOpen, ReporterID: p.UserID}
	switch in.Target {
	case TargetPost, TargetReply:
		var t posts.Target
		var err error
		if in.Target == TargetPost {
			t, err = s.posts.PostTarget(ctx, p, in.ID)
		} else {
			t, err = s.posts.ReplyTarget(ctx, p, in.ID)
		}
		if err != nil {
			return Report{}, err
		}
		if in.StreetID != "" && in.StreetID != t.StreetID {
			return Report{}, fault.Validation("street_id", "invalid")
		}
		d.StreetID, d.PostID, d.AuthorID, d.AuthorName, d.TargetName = t.StreetID, t.PostID, t.AuthorID, t.AuthorName, t.Title
	case TargetUser:
		if _, err := s.streets.RequireActive(ctx, in.StreetID, p.UserID); err != nil {
			return Report{}, err
		}
		m, err := s.streets.Membership(ctx, in.StreetID, in.ID)
		if err != nil {
			return Report{}, err
		}
		d.StreetID, d.AuthorID, d.AuthorName, d.TargetName = in.StreetID, m.UserID, m.Name, m.Name
	case TargetMessage:
		t, err := s.messages.MessageTarget(ctx, p, in.ID)
		if err != nil {
			return Report{}, err
		}
		d.StreetID, d.AuthorID, d.AuthorName, d.TargetName, d.MessageBody = t.StreetID, t.AuthorID, t.AuthorName, t.AuthorName, t.Body
	}
	if d.AuthorID == p.UserID {
		return Report{}, fault.Validation("id", "own")
	}
	reporter, err := s.streets.RequireActive(ctx, d.StreetID, p.UserID)
	if err != nil {
		return Report{}, err
	}
	d.ID, d.ReporterName, d.CreatedAt = bson.NewObjectID(), reporter.Name, s.now()
	if err := s.claim(ctx, d); err != nil {
		return Report{}, err
	}
	if ok, wait := s.allowed(s.limit.Allow(ctx, p.UserID)); !ok {
		s.unclaim(ctx, d)
		return Report{}, ErrRateLimited.WithRetry(wait)
	}
	if _, err := s.reports.InsertOne(ctx, d); err != nil {
		s.unclaim(ctx, d)
		return Report{}, err
	}
	s.publish(ctx, events.ReportCreated, d, p.UserID)
	return d.view(), nil
}

// claim makes d its reporter's one open report on its target, or returns
// ErrAlreadyReported: the insert of the claim decides, on every process.
// A claim outliving its report (resolved, or never written) is cleared.
func (s *Service) claim(ctx context.Context, d reportDoc) error {
	c := claimDoc{ID: claimKey(d), ReportID: d.ID, At: d.CreatedAt}
	for attempt := 0; ; attempt++ {
		_, err := s.claims.InsertOne(ctx, c)
		if err == nil {
			return nil
		}
		if !store.IsDuplicate(err) {
			return err
		}
		if attempt > 0 {
			return ErrAlreadyReported
		}
		var old claimDoc
		err = s.claims.FindOne(ctx, bson.M{"_id": c.ID}, &old)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		var r reportDoc
		err = s.reports.FindOne(ctx, bson.M{"_id": old.ReportID}, &r)
		switch {
		case err == nil && r.Status == StatusOpen:
			return ErrAlreadyReported
		case errors.Is(err, store.ErrNotFound) && s.now().Sub(old.At) < claimGrace:
			return ErrAlreadyReported // being written right now
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		if _, err := s.claims.DeleteOne(ctx, bson.M{"_id": c.ID, "report_id": old.ReportID}); err != nil {
			return err
		}
	}
}

// unclaim drops d's claim, if it is still d's: its reporter may report the
// target again.
func (s *Service) unclaim(ctx context.Context, d reportDoc) {
	if _, err := s.claims.DeleteOne(ctx, bson.M{"_id": claimKey(d), "report_id": d.ID}); err != nil {
		// A claim left behind is cleared by the next report on the target.
		s.log.Warn("moderation: drop report claim", "report", d.ID.Hex(), "err", err)
	}
}

func (s *Service) publish(ctx context.Context, typ events.Type, d reportDoc, actorID string) {
	_, err := s.bus.Publish(ctx, events.Event{Type: typ, StreetID: d.StreetID, Audience: events.Admins, ActorID: actorID, SubjectID: d.AuthorID,
		Data: events.ReportData{ID: d.ID.Hex(), Target: d.Target, TargetID: d.TargetID, Reason: d.Reason, Status: statusIfResolved(d), Action: d.Action}})
	if err != nil {
		s.log.Warn("publish failed", "type", typ, "street", d.StreetID, "err", err)
	}
}

func statusIfResolved(d reportDoc) string {
	if d.Status == StatusResolved {
		return d.Status
	}
	return ""
}

// List shows a street's reports in a status, newest first (admins).
func (s *Service) List(ctx context.Context, p auth.Principal, streetID, status, after string, limit int) ([]Report, string, error) {
	if status == "" {
		status = StatusOpen
	}
	if status != StatusOpen && status != StatusResolved {
		return nil, "", fault.Validation("status", "invalid")
	}
	if _, err := s.streets.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, 20)
	filter := bson.M{"street_id": streetID, "status": status}
	if after != "" {
		c, ok := s.cursors.Decode(after, 5)
		if !ok || c[0] != "rep" || c[1] != streetID || c[2] != status {
			return nil, "", ErrBadCursor
		}
		ms, err := strconv.ParseInt(c[3], 10, 64)
		if err != nil {
			return nil, "", ErrBadCursor
		}
		from, ok := store.ID(c[4])
		if !ok {
			return nil, "", ErrBadCursor
		}
		at := time.UnixMilli(ms).UTC()
		filter["$or"] = bson.A{bson.M{"created_at": bson.M{"$lt": at}}, bson.M{"created_at": at, "_id": bson.M{"$lt": from}}}
	}
	var docs []reportDoc
	err := s.reports.FindAll(ctx, filter, &docs, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, "", err
	}
	out := []Report{}
	for _, d := range docs {
		if len(out) == limit {
			last := out[len(out)-1]
			return out, s.cursors.Encode("rep", streetID, status, strconv.FormatInt(last.CreatedAt.UnixMilli(), 10), last.ID), nil
		}
		out = append(out, d.view())
	}
	return out, "", nil
}

// Resolve closes a report (admins): dismiss it, remove what it points at,
// or ban its author. Removing and banning need a reason. Other open reports
// on the same target are resolved with it; the audit log keeps the decision.
func (s *Service) Resolve(ctx context.Context, p auth.Principal, reportID, action, reason string) (Report, error) {
	reason = strings.TrimSpace(reason)
	f := fault.Fields{}
	f.Check(action != ActionDismiss && action != ActionRemove && action != ActionBan, "action", "invalid")
	f.Check((action == ActionRemove || action == ActionBan) && reason == "", "reason", "required")
	f.Check(utf8.RuneCountInString(reason) > MaxReasonLen, "reason", "too_long")
	if err := f.Err(); err != nil {
		return Report{}, err
	}
	oid, ok := store.ID(reportID)
	if !ok {
		return Report{}, ErrReportNotFound
	}
	var d reportDoc
	if err := s.reports.FindOne(ctx, bson.M{"_id": oid}, &d); errors.Is(err, store.ErrNotFound) {
		return Report{}, ErrReportNotFound
	} else if err != nil {
		return Report{}, err
	}
	admin, err := s.streets.RequireAdmin(ctx, d.StreetID, p.UserID)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return Report{}, ErrReportNotFound
		}
		return Report{}, err
	}
	if action == ActionRemove && (d.Target == TargetUser || d.Target == TargetMessage) {
		return Report{}, fault.Validation("action", "invalid")
	}
	if d.Status != StatusOpen {
		return Report{}, ErrResolved
	}
	// The one whose update finds the report open resolves it, on whichever
	// process; only they carry the action out.
	now := s.now()
	set := bson.M{"status": StatusResolved, "action": action, "resolution": reason, "resolved_by": p.UserID, "resolved_at": now}
	r, err := s.reports.UpdateOne(ctx, bson.M{"_id": d.ID, "status": StatusOpen}, bson.M{"$set": set})
	if err != nil {
		return Report{}, err
	}
	if r.MatchedCount == 0 {
		return Report{}, ErrResolved
	}
	if err := s.act(ctx, p, d, action, reason); err != nil {
		// Not done: the report is open again, unless it changed meanwhile.
		_, rerr := s.reports.UpdateOne(ctx, bson.M{"_id": d.ID, "status": StatusResolved, "resolved_by": p.UserID, "resolved_at": now},
			bson.M{"$set": bson.M{"status": StatusOpen}, "$unset": bson.M{"action": "", "resolution": "", "resolved_by": "", "resolved_at": ""}})
		if rerr != nil {
			s.log.Error("moderation: reopen report", "report", reportID, "err", rerr)
		}
		return Report{}, err
	}
	resolved := d
	resolved.Status, resolved.Action, resolved.Resolution, resolved.ResolvedBy, resolved.ResolvedAt = StatusResolved, action, reason, p.UserID, &now
	s.unclaim(ctx, resolved)
	// Other open reports on the same target are resolved with it.
	var same []reportDoc
	if err := s.reports.FindAll(ctx, bson.M{"street_id": d.StreetID, "target": d.Target, "target_id": d.TargetID, "status": StatusOpen}, &same); err != nil {
		s.log.Error("moderation: reports on the same target", "report", reportID, "err", err)
	}
	for _, o := range same {
		r, err := s.reports.UpdateOne(ctx, bson.M{"_id": o.ID, "status": StatusOpen}, bson.M{"$set": set})
		if err != nil {
			s.log.Error("moderation: resolve a report on the same target", "report", o.ID.Hex(), "err", err)
			continue
		}
		if r.MatchedCount == 1 {
			s.unclaim(ctx, o)
		}
	}
	err = s.streets.Record(ctx, d.StreetID, streets.AuditEntry{ActorID: admin.UserID, ActorName: admin.Name, Action: streets.ActionReportResolve,
		TargetType: "report", TargetID: reportID, TargetName: resolved.TargetName, Reason: reason, Detail: action + " " + resolved.Target + " " + resolved.TargetID})
	if err != nil {
		s.log.Error("audit log write failed", "street", d.StreetID, "err", err)
	}
	s.publish(ctx, events.ReportResolved, resolved, p.UserID)
	return resolved.view(), nil
}

// act carries out the resolution; what is already done counts as done.
func (s *Service) act(ctx context.Context, p auth.Principal, d reportDoc, action, reason string) error {
	var err error
	switch action {
	case ActionRemove:
		if d.Target == TargetPost {
			_, err = s.posts.Remove(ctx, p, d.TargetID, reason)
			if errors.Is(err, posts.ErrAlreadyRemoved) {
				err = nil
			}
		} else {
			_, err = s.posts.RemoveReply(ctx, p, d.TargetID, reason)
			if errors.Is(err, posts.ErrReplyRemoved) {
				err = nil
			}
		}
	case ActionBan:
		_, err = s.streets.Ban(ctx, p, d.StreetID, d.AuthorID, reason)
		if errors.Is(err, streets.ErrAlreadyBanned) {
			err = nil
		}
	}
	return err
}
