// Package impact measures what a street (or an association) gains in
// relationships: requests answered and done, how fast, who helped whom, how
// reciprocal the help is, and how many neighbours met for the first time.
//
// Figures are computed from facts (requests and recorded exchanges) in a
// period; a period with fewer than MinPeople people involved is suppressed,
// so that no one can be singled out.
package impact

import (
	"sort"
	"time"

	"civico/internal/activities"
	"civico/internal/referrals"
)

// MinPeople is the smallest number of people a published figure may cover.
const MinPeople = 5

// Request is what the figures need of one request.
type Request struct {
	ID         string
	AuthorID   string
	Category   string
	CreatedAt  time.Time
	FirstReply *time.Time
	DoneAt     *time.Time
	ReplierIDs []string
}

// Exchange is a help given, recorded when a post is marked done.
type Exchange struct {
	GiverID    string
	ReceiverID string
	Category   string
	At         time.Time
}

// Facts are a street's requests created in the period and all its
// exchanges up to the period's end (earlier ones tell which pairs are new).
type Facts struct {
	Requests  []Request
	Exchanges []Exchange
}

// Figures are the period's results; with Suppressed, only the period and
// the flag are filled.
type Figures struct {
	From                   time.Time      `json:"from"`
	To                     time.Time      `json:"to"`
	Suppressed             bool           `json:"suppressed"`
	People                 *int           `json:"people,omitempty"`
	Requests               *int           `json:"requests,omitempty"`
	RequestsAnswered       *int           `json:"requests_answered,omitempty"`
	RequestsDone           *int           `json:"requests_done,omitempty"`
	AnsweredShare          *float64       `json:"answered_share,omitempty"`
	DoneShare              *float64       `json:"done_share,omitempty"`
	MedianFirstReplyMinute *float64       `json:"median_first_reply_minutes,omitempty"`
	MedianDoneHours        *float64       `json:"median_done_hours,omitempty"`
	ExchangesByCategory    map[string]int `json:"exchanges_by_category,omitempty"`
	Exchanges              *int           `json:"exchanges,omitempty"`
	Helpers                *int           `json:"helpers,omitempty"`
	Helped                 *int           `json:"helped,omitempty"`
	Reciprocity            *float64       `json:"reciprocity,omitempty"`
	NewPairs               *int           `json:"new_pairs,omitempty"`
}

// Report is the figures of the period and of each calendar month in it;
// an association's report adds its desk's referrals to places.
type Report struct {
	Figures
	Monthly   []Month          `json:"monthly"`
	Events    *EventFigures    `json:"events,omitempty"`
	Referrals *ReferralFigures `json:"referrals,omitempty"`
}

// EventFigures count the street's gatherings that ended in the period
// (not cancelled) and the people who said they would come, guests
// included. Suppressed, like the other figures, under MinPeople people.
type EventFigures struct {
	Suppressed bool `json:"suppressed"`
	Held       *int `json:"held,omitempty"`
	People     *int `json:"people,omitempty"`
}

// EventFiguresOf counts the events that ended in [from, to).
func EventFiguresOf(facts []activities.Fact, from, to time.Time) EventFigures {
	held, people := 0, 0
	for _, f := range facts {
		if f.EndsAt.Before(from) || !f.EndsAt.Before(to) {
			continue
		}
		held++
		people += f.People
	}
	if people < MinPeople {
		return EventFigures{Suppressed: true}
	}
	return EventFigures{Held: ptr(held), People: ptr(people)}
}

// ReferralFigures count the desk's referrals made in the period: how many
// were followed up (the person, or the volunteer, said how it went) and how
// many helped. Suppressed, like the other figures, when fewer than
// MinPeople people were referred: "3 referrals, 1 helped" would point at
// someone a volunteer knows.
type ReferralFigures struct {
	Suppressed bool `json:"suppressed"`
	People     *int `json:"people,omitempty"`
	Made       *int `json:"made,omitempty"`
	FollowedUp *int `json:"followed_up,omitempty"`
	Helped     *int `json:"helped,omitempty"`
}

// ReferralFiguresOf counts the referrals made in [from, to).
func ReferralFiguresOf(facts []referrals.Fact, from, to time.Time) ReferralFigures {
	people := map[string]bool{}
	var made, followed, helped int
	for _, f := range facts {
		if f.At.Before(from) || !f.At.Before(to) {
			continue
		}
		people[f.Person] = true
		made++
		if f.FollowedUp {
			followed++
		}
		if f.Helped {
			helped++
		}
	}
	if len(people) < MinPeople {
		return ReferralFigures{Suppressed: true}
	}
	return ReferralFigures{People: ptr(len(people)), Made: ptr(made), FollowedUp: ptr(followed), Helped: ptr(helped)}
}

// Month is one month's figures.
type Month struct {
	Month string `json:"month"`
	Figures
}

// Compute returns the report for [from, to). Months are calendar months in
// UTC, clipped to the period.
func Compute(f Facts, from, to time.Time) Report {
	r := Report{Figures: figures(f, from, to), Monthly: []Month{}}
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); m.Before(to); m = m.AddDate(0, 1, 0) {
		start, end := maxTime(m, from), minTime(m.AddDate(0, 1, 0), to)
		r.Monthly = append(r.Monthly, Month{Month: m.Format("2006-01"), Figures: figures(f, start, end)})
	}
	return r
}

func figures(f Facts, from, to time.Time) Figures {
	out := Figures{From: from, To: to}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	people := map[string]bool{}

	var requests, answered, done int
	var replyMinutes, doneHours []float64
	for _, r := range f.Requests {
		if !in(r.CreatedAt) {
			continue
		}
		requests++
		people[r.AuthorID] = true
		for _, id := range r.ReplierIDs {
			people[id] = true
		}
		if r.FirstReply != nil {
			answered++
			replyMinutes = append(replyMinutes, r.FirstReply.Sub(r.CreatedAt).Minutes())
		}
		if r.DoneAt != nil {
			done++
			doneHours = append(doneHours, r.DoneAt.Sub(r.CreatedAt).Hours())
		}
	}

	// Pairs that exchanged before the period are not new.
	seenBefore := map[[2]string]bool{}
	for _, e := range f.Exchanges {
		if e.At.Before(from) {
			seenBefore[pair(e.GiverID, e.ReceiverID)] = true
		}
	}
	byCategory := map[string]int{}
	givers, receivers := map[string]bool{}, map[string]bool{}
	newPairs := map[[2]string]bool{}
	exchanges := 0
	for _, e := range f.Exchanges {
		if !in(e.At) {
			continue
		}
		exchanges++
		byCategory[e.Category]++
		givers[e.GiverID], receivers[e.ReceiverID] = true, true
		people[e.GiverID], people[e.ReceiverID] = true, true
		if p := pair(e.GiverID, e.ReceiverID); !seenBefore[p] {
			newPairs[p] = true
		}
	}

	if len(people) < MinPeople {
		out.Suppressed = true
		return out
	}
	both, either := 0, len(givers)
	for id := range receivers {
		if givers[id] {
			both++
		} else {
			either++
		}
	}
	out.People = ptr(len(people))
	out.Requests, out.RequestsAnswered, out.RequestsDone = ptr(requests), ptr(answered), ptr(done)
	if requests > 0 {
		out.AnsweredShare = ptr(round(float64(answered) / float64(requests)))
		out.DoneShare = ptr(round(float64(done) / float64(requests)))
	}
	out.MedianFirstReplyMinute = median(replyMinutes)
	out.MedianDoneHours = median(doneHours)
	out.ExchangesByCategory = byCategory
	out.Exchanges = ptr(exchanges)
	out.Helpers, out.Helped = ptr(len(givers)), ptr(len(receivers))
	if either > 0 {
		out.Reciprocity = ptr(round(float64(both) / float64(either)))
	} else {
		out.Reciprocity = ptr(0.0)
	}
	out.NewPairs = ptr(len(newPairs))
	return out
}

// pair is an unordered pair of neighbours.
func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	m = round(m)
	return &m
}

func round(x float64) float64 {
	return float64(int64(x*100+0.5)) / 100
}

func ptr[T any](v T) *T { return &v }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
