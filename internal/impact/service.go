package impact

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"civico/internal/activities"
	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/referrals"
	"civico/internal/streets"
)

// Periods: by default the last 12 calendar months (this one included); at
// most MaxSpan, so that the monthly series stays small.
const (
	DefaultMonths = 12
	MaxSpan       = 5 * 366 * 24 * time.Hour
	// MaxStreets bounds the streets one association's figures read.
	MaxStreets = 50
)

// Linker tells which streets are linked to an association (handoff.Service).
type Linker interface {
	LinkedStreets(ctx context.Context, aid string) ([]string, error)
}

// Referrals lists an association's referrals to places (referrals.Service).
type Referrals interface {
	Facts(ctx context.Context, aid string, end time.Time) ([]referrals.Fact, error)
}

// Events lists a street's gatherings (activities.Service).
type Events interface {
	Facts(ctx context.Context, streetID string, end time.Time) ([]activities.Fact, error)
}

// Service gathers facts from storage and computes the figures.
//
// Cost: a street's figures read the street's post journal and each post by
// _id, the street's exchange journal, and scan the replies collection once
// (replies have no journal; on the embedded engine any filter but _id is a
// full scan). That is one scan per report: fine for an admin's page, not
// for a hot path. An association's figures do this for each linked street.
type Service struct {
	posts   *posts.Service
	streets *streets.Service
	desks   *portineria.Service
	links   Linker
	refs    Referrals
	events  Events
	clock   clock.Clock
}

// New returns the service; refs and events may be nil (no referral or
// event figures).
func New(ps *posts.Service, sts *streets.Service, desks *portineria.Service, links Linker, refs Referrals, events Events, c clock.Clock) *Service {
	return &Service{posts: ps, streets: sts, desks: desks, links: links, refs: refs, events: events, clock: c}
}

// eventFigures counts the events of the streets in [from, to); nil
// without an events source.
func (s *Service) eventFigures(ctx context.Context, streetIDs []string, from, to time.Time) (*EventFigures, error) {
	if s.events == nil {
		return nil, nil
	}
	var all []activities.Fact
	for _, sid := range streetIDs {
		facts, err := s.events.Facts(ctx, sid, to)
		if err != nil {
			return nil, err
		}
		all = append(all, facts...)
	}
	f := EventFiguresOf(all, from, to)
	return &f, nil
}

// Period parses from and to: a day (2026-03-01), a month (2026-03) or an
// RFC 3339 time. A day or month given as "to" includes that whole day or
// month. Empty values default to the last DefaultMonths calendar months.
func (s *Service) Period(from, to string) (time.Time, time.Time, error) {
	f := fault.Fields{}
	now := s.clock.Now().UTC()
	end := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
	if to != "" {
		t, ok := parseBound(to, true)
		f.Check(!ok, "to", "invalid")
		end = t
	}
	start := end.AddDate(0, -DefaultMonths, 0)
	if from != "" {
		t, ok := parseBound(from, false)
		f.Check(!ok, "from", "invalid")
		start = t
	}
	if err := f.Err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	switch {
	case !start.Before(end):
		return time.Time{}, time.Time{}, fault.Validation("to", "before_from")
	case end.Sub(start) > MaxSpan:
		return time.Time{}, time.Time{}, fault.Validation("from", "period_too_long")
	case start.Year() < 2000 || end.Year() > 9999:
		return time.Time{}, time.Time{}, fault.Validation("from", "out_of_range")
	}
	return start, end, nil
}

func parseBound(v string, end bool) (time.Time, bool) {
	if len(v) > 40 {
		return time.Time{}, false
	}
	if t, err := time.Parse("2006-01", v); err == nil {
		if end {
			t = t.AddDate(0, 1, 0)
		}
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t.UTC(), true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// Street computes a street's figures for its admins; members get
// Forbidden, anyone else NotFound.
func (s *Service) Street(ctx context.Context, p auth.Principal, streetID, from, to string) (Report, error) {
	if _, err := s.streets.RequireAdmin(ctx, streetID, p.UserID); err != nil {
		return Report{}, err
	}
	start, end, err := s.Period(from, to)
	if err != nil {
		return Report{}, err
	}
	facts, err := s.StreetFacts(ctx, streetID, end)
	if err != nil {
		return Report{}, err
	}
	r := Compute(facts, start, end)
	if r.Events, err = s.eventFigures(ctx, []string{streetID}, start, end); err != nil {
		return Report{}, err
	}
	return r, nil
}

// Association computes the figures of the streets linked to the
// association (see handoff: both sides agreed), for its staff; anyone else
// gets NotFound. People are counted once across streets.
func (s *Service) Association(ctx context.Context, p auth.Principal, aid, from, to string) (Report, error) {
	role, err := s.desks.RoleOf(ctx, aid, p.UserID)
	if err != nil {
		return Report{}, err
	}
	if role == "" {
		return Report{}, portineria.ErrAssociationNotFound
	}
	start, end, err := s.Period(from, to)
	if err != nil {
		return Report{}, err
	}
	sids, err := s.links.LinkedStreets(ctx, aid)
	if err != nil {
		return Report{}, err
	}
	if len(sids) > MaxStreets {
		sids = sids[:MaxStreets]
	}
	var all Facts
	for _, sid := range sids {
		f, err := s.StreetFacts(ctx, sid, end)
		if err != nil {
			return Report{}, err
		}
		all.Requests = append(all.Requests, f.Requests...)
		all.Exchanges = append(all.Exchanges, f.Exchanges...)
	}
	r := Compute(all, start, end)
	if r.Events, err = s.eventFigures(ctx, sids, start, end); err != nil {
		return Report{}, err
	}
	if s.refs != nil {
		facts, err := s.refs.Facts(ctx, aid, end)
		if err != nil {
			return Report{}, err
		}
		rf := ReferralFiguresOf(facts, start, end)
		r.Referrals = &rf
	}
	return r, nil
}

// StreetFacts reads what the figures need of a street: its requests (not
// removed) with their repliers, and its exchanges before end. A post
// written by a desk volunteer for a roster member counts the member
// ("member:<id>"), not the volunteer, as the one who asked or offered.
func (s *Service) StreetFacts(ctx context.Context, streetID string, end time.Time) (Facts, error) {
	var f Facts
	index := map[string]int{}
	err := s.posts.EachPost(ctx, streetID, func(r posts.PostRecord) error {
		if r.Kind != posts.KindRequest || r.Status == posts.StatusRemoved || !r.CreatedAt.Before(end) {
			return nil
		}
		author := r.AuthorID
		if r.OnBehalf != nil {
			author = "member:" + r.OnBehalf.MemberID
		}
		index[r.ID] = len(f.Requests)
		f.Requests = append(f.Requests, Request{ID: r.ID, AuthorID: author, Category: r.Category, CreatedAt: r.CreatedAt,
			FirstReply: r.FirstReplyAt, DoneAt: r.DoneAt})
		return nil
	})
	if err != nil {
		return Facts{}, err
	}
	if len(index) > 0 {
		err = s.posts.EachReplyAuthor(ctx, streetID, func(postID, authorID string) error {
			if i, ok := index[postID]; ok {
				f.Requests[i].ReplierIDs = append(f.Requests[i].ReplierIDs, authorID)
			}
			return nil
		})
		if err != nil {
			return Facts{}, err
		}
	}
	err = s.posts.EachExchange(ctx, streetID, func(e posts.Exchange) error {
		if !e.At.Before(end) {
			return nil
		}
		giver, receiver := e.GiverID, e.ReceiverID
		if e.OnBehalf != nil {
			member := "member:" + e.OnBehalf.MemberID
			if e.Kind == posts.KindRequest {
				receiver = member
			} else {
				giver = member
			}
		}
		f.Exchanges = append(f.Exchanges, Exchange{GiverID: giver, ReceiverID: receiver, Category: e.Category, At: e.At})
		return nil
	})
	if err != nil {
		return Facts{}, err
	}
	return f, nil
}

// CSVHeader is the header row of impact.csv: one row per month, then the
// whole period ("total"); suppressed rows have only month, period and the flag.
func CSVHeader() []string {
	h := []string{"month", "from", "to", "suppressed", "people", "requests", "requests_answered", "requests_done",
		"answered_share", "done_share", "median_first_reply_minutes", "median_done_hours", "exchanges", "helpers",
		"helped", "reciprocity", "new_pairs"}
	for _, c := range posts.Categories {
		h = append(h, "exchanges_"+c)
	}
	return h
}

// CSV renders a report as CSV.
func CSV(r Report) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(CSVHeader()); err != nil {
		return nil, err
	}
	for _, m := range r.Monthly {
		if err := w.Write(csvRow(m.Month, m.Figures)); err != nil {
			return nil, err
		}
	}
	if err := w.Write(csvRow("total", r.Figures)); err != nil {
		return nil, err
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func csvRow(label string, f Figures) []string {
	row := []string{label, f.From.UTC().Format(time.RFC3339), f.To.UTC().Format(time.RFC3339), strconv.FormatBool(f.Suppressed)}
	if f.Suppressed {
		return append(row, make([]string, len(CSVHeader())-len(row))...)
	}
	row = append(row, itoa(f.People), itoa(f.Requests), itoa(f.RequestsAnswered), itoa(f.RequestsDone),
		ftoa(f.AnsweredShare), ftoa(f.DoneShare), ftoa(f.MedianFirstReplyMinute), ftoa(f.MedianDoneHours),
		itoa(f.Exchanges), itoa(f.Helpers), itoa(f.Helped), ftoa(f.Reciprocity), itoa(f.NewPairs))
	for _, c := range posts.Categories {
		row = append(row, strconv.Itoa(f.ExchangesByCategory[c]))
	}
	return row
}

func itoa(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func ftoa(p *float64) string {
	if p == nil {
		return ""
	}
	return strings.TrimSuffix(strconv.FormatFloat(*p, 'f', 2, 64), ".00")
}
