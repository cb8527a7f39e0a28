// Package moderation owns reports: members flag a post, a reply or a user
// with a reason; a street's admins see the open reports and resolve them by
// dismissing, removing what was reported or banning its author. Every
// resolution goes to the street's audit log.
//
// Reports are few next to posts: the service reads them all into memory at
// first use (one scan) and keeps that copy current, so listing a street's
// open reports never scans the database.
package moderation

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/cursor"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/keylock"
	"civico/internal/posts"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// What a report may point at.
const (
	TargetPost  = "post"
	TargetReply = "reply"
	TargetUser  = "user"
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
	ID           string     `json:"id"`
	StreetID     string     `json:"street_id"`
	Target       string     `json:"target"`
	TargetID     string     `json:"target_id"`
	PostID       string     `json:"post_id,omitempty"`
	TargetName   string     `json:"target_name"`
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
		AuthorID: d.AuthorID, AuthorName: d.AuthorName, ReporterID: d.ReporterID, ReporterName: d.ReporterName, Reason: d.Reason,
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

	loadMu sync.Mutex
	loaded atomic.Bool

	mu       sync.RWMutex
	byID     map[string]*reportDoc
	byStreet map[string][]*reportDoc // newest last
	locks    keylock.Map
}

// New returns the service.
func New(ctx context.Context, st *store.Store, bus events.Bus, c clock.Clock, sts *streets.Service, ps *posts.Service, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs, err := cursor.New(ctx, st)
	if err != nil {
		return nil, err
	}
	return &Service{reports: st.Collection("reports"), streets: sts, posts: ps, bus: bus, clock: c, cursors: cs, log: log,
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

// Indexes are this package's indexes (for MongoDB tools; reads go by memory).
func Indexes() []store.Index {
	return []store.Index{{Collection: "reports", Name: "street_status", Keys: bson.D{{Key: "street_id", Value: 1}, {Key: "status", Value: 1}}}}
}

func (s *Service) ensure(ctx context.Context) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	byID := map[string]*reportDoc{}
	byStreet := map[string][]*reportDoc{}
	err := s.reports.Each(ctx, bson.M{}, func(raw bson.Raw) error {
		var d reportDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		byID[d.ID.Hex()] = &d
		byStreet[d.StreetID] = append(byStreet[d.StreetID], &d)
		return nil
	})
	if err != nil {
		return err
	}
	for _, list := range byStreet {
		sort.Slice(list, func(i, j int) bool { return older(list[i], list[j]) })
	}
	s.mu.Lock()
	s.byID, s.byStreet = byID, byStreet
	s.mu.Unlock()
	s.loaded.Store(true)
	return nil
}

func older(a, b *reportDoc) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID.Hex() < b.ID.Hex()
}

// lock serialises report writes in one street.
func (s *Service) lock(streetID string) func() { return s.locks.Lock(streetID) }

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
	f.Check(in.Target != TargetPost && in.Target != TargetReply && in.Target != TargetUser, "target", "invalid")
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
	}
	if d.AuthorID == p.UserID {
		return Report{}, fault.Validation("id", "own")
	}
	if err := s.ensure(ctx); err != nil {
		return Report{}, err
	}
	unlock := s.lock(d.StreetID)
	defer unlock()
	reporter, err := s.streets.RequireActive(ctx, d.StreetID, p.UserID)
	if err != nil {
		return Report{}, err
	}
	s.mu.RLock()
	for _, r := range s.byStreet[d.StreetID] {
		if r.Status == StatusOpen && r.ReporterID == p.UserID && r.Target == d.Target && r.TargetID == d.TargetID {
			s.mu.RUnlock()
			return Report{}, ErrAlreadyReported
		}
	}
	s.mu.RUnlock()
	if ok, wait := s.allowed(s.limit.Allow(ctx, p.UserID)); !ok {
		return Report{}, ErrRateLimited.WithRetry(wait)
	}
	d.ID, d.ReporterName, d.CreatedAt = bson.NewObjectID(), reporter.Name, s.now()
	if _, err := s.reports.InsertOne(ctx, d); err != nil {
		return Report{}, err
	}
	s.mu.Lock()
	s.byID[d.ID.Hex()] = &d
	s.byStreet[d.StreetID] = append(s.byStreet[d.StreetID], &d)
	s.mu.Unlock()
	s.publish(ctx, events.ReportCreated, d, p.UserID)
	return d.view(), nil
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
	if err := s.ensure(ctx); err != nil {
		return nil, "", err
	}
	limit = cursor.Limit(limit, 20)
	var atMS int64 = 1<<63 - 1
	fromID := ""
	if after != "" {
		c, ok := s.cursors.Decode(after, 5)
		if !ok || c[0] != "rep" || c[1] != streetID || c[2] != status {
			return nil, "", ErrBadCursor
		}
		n, err := strconv.ParseInt(c[3], 10, 64)
		if err != nil {
			return nil, "", ErrBadCursor
		}
		atMS, fromID = n, c[4]
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.byStreet[streetID]
	out := []Report{}
	for i := len(list) - 1; i >= 0; i-- {
		d := list[i]
		ms := d.CreatedAt.UnixMilli()
		if ms > atMS || (ms == atMS && d.ID.Hex() >= fromID && fromID != "") || d.Status != status {
			continue
		}
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
	if err := s.ensure(ctx); err != nil {
		return Report{}, err
	}
	s.mu.RLock()
	d := s.byID[reportID]
	s.mu.RUnlock()
	if d == nil {
		return Report{}, ErrReportNotFound
	}
	if _, err := s.streets.RequireAdmin(ctx, d.StreetID, p.UserID); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return Report{}, ErrReportNotFound
		}
		return Report{}, err
	}
	if action == ActionRemove && d.Target == TargetUser {
		return Report{}, fault.Validation("action", "invalid")
	}
	unlock := s.lock(d.StreetID)
	defer unlock()
	admin, err := s.streets.RequireAdmin(ctx, d.StreetID, p.UserID)
	if err != nil {
		return Report{}, err
	}
	s.mu.RLock()
	d = s.byID[reportID]
	s.mu.RUnlock()
	if d.Status != StatusOpen {
		return Report{}, ErrResolved
	}
	if err := s.act(ctx, p, *d, action, reason); err != nil {
		return Report{}, err
	}
	now := s.now()
	var resolved reportDoc
	s.mu.RLock()
	same := []*reportDoc{}
	for _, r := range s.byStreet[d.StreetID] {
		if r.Status == StatusOpen && r.Target == d.Target && r.TargetID == d.TargetID {
			same = append(same, r)
		}
	}
	s.mu.RUnlock()
	for _, r := range same {
		next := *r
		next.Status, next.Action, next.Resolution, next.ResolvedBy, next.ResolvedAt = StatusResolved, action, reason, p.UserID, &now
		if _, err := s.reports.ReplaceOne(ctx, bson.M{"_id": next.ID}, next); err != nil {
			return Report{}, err
		}
		s.mu.Lock()
		*r = next
		s.mu.Unlock()
		if r.ID.Hex() == reportID {
			resolved = next
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
