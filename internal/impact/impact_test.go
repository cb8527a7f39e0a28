package impact_test

import (
	"fmt"
	"testing"
	"time"

	"civico/internal/activities"
	"civico/internal/impact"
	"civico/internal/referrals"
)

var base = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func at(days, hours, minutes int) time.Time {
	return base.Add(time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute)
}

func tp(t time.Time) *time.Time { return &t }

// A crafted street: October has 4 requests among 6 people; one exchange
// pair (anna–bruno) already helped each other in September.
func facts() impact.Facts {
	return impact.Facts{
		Requests: []impact.Request{
			{ID: "r1", AuthorID: "anna", Category: "repairs", CreatedAt: at(1, 0, 0), FirstReply: tp(at(1, 0, 10)), DoneAt: tp(at(1, 10, 0)), ReplierIDs: []string{"bruno"}},
			{ID: "r2", AuthorID: "carla", Category: "company", CreatedAt: at(2, 0, 0), FirstReply: tp(at(2, 0, 30)), DoneAt: tp(at(3, 0, 0)), ReplierIDs: []string{"dario", "elena"}},
			{ID: "r3", AuthorID: "dario", Category: "lending", CreatedAt: at(5, 0, 0), FirstReply: tp(at(5, 1, 0)), ReplierIDs: []string{"carla"}},
			{ID: "r4", AuthorID: "fabio", Category: "errands", CreatedAt: at(6, 0, 0)},
			// November: outside the October period.
			{ID: "r5", AuthorID: "anna", Category: "repairs", CreatedAt: at(40, 0, 0)},
		},
		Exchanges: []impact.Exchange{
			{GiverID: "anna", ReceiverID: "bruno", Category: "lending", At: at(-10, 0, 0)}, // September
			{GiverID: "bruno", ReceiverID: "anna", Category: "repairs", At: at(1, 10, 0)},
			{GiverID: "dario", ReceiverID: "carla", Category: "company", At: at(3, 0, 0)},
			{GiverID: "carla", ReceiverID: "dario", Category: "lending", At: at(7, 0, 0)},
		},
	}
}

func TestFiguresOnACraftedStreet(t *testing.T) {
	r := impact.Compute(facts(), base, base.AddDate(0, 1, 0))
	f := r.Figures
	if f.Suppressed {
		t.Fatal("suppressed with 6 people")
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"people", float64(*f.People), 6}, // anna bruno carla dario elena fabio
		{"requests", float64(*f.Requests), 4},
		{"answered", float64(*f.RequestsAnswered), 3},
		{"done", float64(*f.RequestsDone), 2},
		{"answered share", *f.AnsweredShare, 0.75},
		{"done share", *f.DoneShare, 0.5},
		{"median first reply (10, 30, 60 min)", *f.MedianFirstReplyMinute, 30},
		{"median done (10 h, 24 h)", *f.MedianDoneHours, 17},
		{"exchanges", float64(*f.Exchanges), 3},
		{"helpers (bruno, dario, carla)", float64(*f.Helpers), 3},
		{"helped (anna, carla, dario)", float64(*f.Helped), 3},
		{"reciprocity (carla, dario of 4)", *f.Reciprocity, 0.5},
		{"new pairs (carla–dario; anna–bruno is old)", float64(*f.NewPairs), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if f.ExchangesByCategory["repairs"] != 1 || f.ExchangesByCategory["company"] != 1 || f.ExchangesByCategory["lending"] != 1 {
		t.Errorf("by category %v", f.ExchangesByCategory)
	}
	if len(r.Monthly) != 1 || r.Monthly[0].Month != "2026-10" || *r.Monthly[0].Requests != 4 {
		t.Fatalf("monthly %+v", r.Monthly)
	}
}

func TestFewerThanFivePeopleAreSuppressed(t *testing.T) {
	// The first two days involve anna, bruno, carla, dario, elena (5): shown.
	r := impact.Compute(facts(), base, at(3, 0, 0))
	if r.Suppressed || *r.People != 5 {
		t.Fatalf("5 people: suppressed=%v", r.Suppressed)
	}
	// The first day alone involves anna and bruno: suppressed, no figures.
	r = impact.Compute(facts(), base, at(2, 0, 0))
	if !r.Suppressed || r.People != nil || r.Requests != nil || r.ExchangesByCategory != nil {
		t.Fatalf("2 people not suppressed: %+v", r.Figures)
	}
}

func TestMonthlySeriesSplitsThePeriod(t *testing.T) {
	r := impact.Compute(facts(), at(-15, 0, 0), at(45, 0, 0)) // mid-September to mid-November
	months := []string{}
	for _, m := range r.Monthly {
		months = append(months, m.Month)
	}
	if len(months) != 3 || months[0] != "2026-09" || months[2] != "2026-11" {
		t.Fatalf("months %v", months)
	}
	if !r.Monthly[0].Suppressed || r.Monthly[1].Suppressed || !r.Monthly[2].Suppressed {
		t.Fatalf("suppression per month: %v %v %v", r.Monthly[0].Suppressed, r.Monthly[1].Suppressed, r.Monthly[2].Suppressed)
	}
	// Over the longer period the September exchange is inside it: anna–bruno
	// is a new pair again, since they had not exchanged before mid-September.
	if *r.NewPairs != 2 {
		t.Fatalf("new pairs %d", *r.NewPairs)
	}
}

// The desk's referrals count like the other figures: fewer than five
// people referred in the period tell nothing; from five, made, followed up
// and helped; referrals outside the period are left out.
func TestReferralFigures(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	in := from.Add(24 * time.Hour)
	var facts []referrals.Fact
	for i := range 4 {
		facts = append(facts, referrals.Fact{Person: fmt.Sprint("member:", i), At: in, FollowedUp: i < 3, Helped: i < 2})
	}
	facts = append(facts, referrals.Fact{Person: "member:late", At: to, FollowedUp: true, Helped: true})
	if f := impact.ReferralFiguresOf(facts, from, to); !f.Suppressed || f.Made != nil {
		t.Fatalf("4 people: %+v", f)
	}
	facts = append(facts, referrals.Fact{Person: "user:x", At: in}, referrals.Fact{Person: "user:x", At: in, FollowedUp: true, Helped: true})
	f := impact.ReferralFiguresOf(facts, from, to)
	if f.Suppressed || *f.People != 5 || *f.Made != 6 || *f.FollowedUp != 4 || *f.Helped != 3 {
		t.Fatalf("5 people: %+v", f)
	}
}

// Gatherings count once they ended in the period, not cancelled (the
// facts hold only those); fewer than five people who came tell nothing.
func TestEventFigures(t *testing.T) {
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	dinner := activities.Fact{EventID: "a", StartsAt: from.Add(48 * time.Hour), EndsAt: from.Add(51 * time.Hour), People: 3}
	if f := impact.EventFiguresOf([]activities.Fact{dinner}, from, to); !f.Suppressed || f.Held != nil {
		t.Fatalf("3 people: %+v", f)
	}
	apero := activities.Fact{EventID: "b", StartsAt: from.Add(96 * time.Hour), EndsAt: from.Add(98 * time.Hour), People: 4}
	later := activities.Fact{EventID: "c", StartsAt: to.Add(-time.Hour), EndsAt: to.Add(time.Hour), People: 20}
	f := impact.EventFiguresOf([]activities.Fact{dinner, apero, later}, from, to)
	if f.Suppressed || *f.Held != 2 || *f.People != 7 {
		t.Fatalf("two events, 7 people: %+v", f)
	}
}
