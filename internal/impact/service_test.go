package impact_test

import (
	"context"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/impact"
	"civico/internal/posts"
	"civico/internal/testutil"
)

// street is a street with crafted history, written through the posts
// service at fake times, so the figures are read back from storage.
type street struct {
	t     *testing.T
	s     *testutil.Server
	fake  *clock.Fake
	sid   string
	users map[string]*testutil.User
}

func (st *street) p(name string) auth.Principal { return auth.Principal{UserID: st.users[name].ID} }

// exchange writes a post by author at `at`, a reply by helper after
// replyAfter, accepted and done after doneAfter (0: never answered).
func (st *street) exchange(at time.Time, kind, category, author, helper string, replyAfter, doneAfter time.Duration) string {
	st.t.Helper()
	ctx := context.Background()
	st.fake.Set(at)
	p, err := st.s.App.Posts.Create(ctx, st.p(author), st.sid, posts.NewPost{Kind: kind, Category: category, Title: category + " " + author, Body: "…"})
	if err != nil {
		st.t.Fatal(err)
	}
	if replyAfter == 0 {
		return p.ID
	}
	st.fake.Set(at.Add(replyAfter))
	r, err := st.s.App.Posts.Reply(ctx, st.p(helper), p.ID, "Io!")
	if err != nil {
		st.t.Fatal(err)
	}
	if _, err := st.s.App.Posts.Accept(ctx, st.p(author), p.ID, r.ID); err != nil {
		st.t.Fatal(err)
	}
	st.fake.Set(at.Add(doneAfter))
	if _, err := st.s.App.Posts.Done(ctx, st.p(author), p.ID, "Grazie"); err != nil {
		st.t.Fatal(err)
	}
	return p.ID
}

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }

// crafted builds: January: A's repairs request answered by B in 30 min,
// done in 10 h; B's errands request answered by A in 60 min, done in 20 h;
// C's company request never answered; D's lending offer taken by E.
// February: F's repairs request answered by C in 90 min, done in 4 h.
// March: B's repairs request done by A (an old pair), E's transport
// request done by D (an old pair). A removed request never counts.
func crafted(t *testing.T) *street {
	fake := clock.NewFake(day(1, 1))
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	st := &street{t: t, s: s, fake: fake, users: map[string]*testutil.User{}}
	for _, n := range []string{"A", "B", "C", "D", "E", "F", "X"} {
		st.users[n] = s.Register(t, "Vicino "+n)
	}
	st.sid = s.StreetWithMembers(t, st.users["A"], "Via Crafted", st.users["B"], st.users["C"], st.users["D"], st.users["E"], st.users["F"], st.users["X"])
	st.exchange(day(1, 5), "request", "repairs", "A", "B", 30*time.Minute, 10*time.Hour)
	st.exchange(day(1, 10), "request", "errands", "B", "A", 60*time.Minute, 20*time.Hour)
	st.exchange(day(1, 12), "request", "company", "C", "", 0, 0)
	st.exchange(day(1, 15), "offer", "lending", "D", "E", 15*time.Minute, 2*time.Hour)
	removed := st.exchange(day(1, 20), "request", "gardening", "X", "", 0, 0)
	if _, err := s.App.Posts.Remove(context.Background(), st.p("X"), removed, ""); err != nil {
		t.Fatal(err)
	}
	st.exchange(day(2, 3), "request", "repairs", "F", "C", 90*time.Minute, 4*time.Hour)
	st.exchange(day(3, 4), "request", "repairs", "B", "A", 10*time.Minute, 2*time.Hour)
	st.exchange(day(3, 6), "request", "transport", "E", "D", 20*time.Minute, 3*time.Hour)
	fake.Set(day(4, 1))
	return st
}

func iv(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func fv(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

type want struct {
	people, requests, answered, done, exchanges, helpers, helped, newPairs int
	medianReply, medianDone, reciprocity                                   float64
	byCategory                                                             map[string]int
}

func check(t *testing.T, label string, f impact.Figures, w want) {
	t.Helper()
	if f.Suppressed {
		t.Fatalf("%s: suppressed", label)
	}
	got := want{iv(f.People), iv(f.Requests), iv(f.RequestsAnswered), iv(f.RequestsDone), iv(f.Exchanges), iv(f.Helpers),
		iv(f.Helped), iv(f.NewPairs), fv(f.MedianFirstReplyMinute), fv(f.MedianDoneHours), fv(f.Reciprocity), f.ExchangesByCategory}
	if got.people != w.people || got.requests != w.requests || got.answered != w.answered || got.done != w.done ||
		got.exchanges != w.exchanges || got.helpers != w.helpers || got.helped != w.helped || got.newPairs != w.newPairs ||
		got.medianReply != w.medianReply || got.medianDone != w.medianDone || got.reciprocity != w.reciprocity {
		t.Fatalf("%s:\n got %+v\nwant %+v", label, got, w)
	}
	if len(got.byCategory) != len(w.byCategory) {
		t.Fatalf("%s: by category %v, want %v", label, got.byCategory, w.byCategory)
	}
	for c, n := range w.byCategory {
		if got.byCategory[c] != n {
			t.Fatalf("%s: by category %v, want %v", label, got.byCategory, w.byCategory)
		}
	}
}

// Every figure, read back from storage, on the crafted street, for
// periods with known answers; fewer than 5 people are suppressed.
func TestStreetFiguresFromStorage(t *testing.T) {
	st := crafted(t)
	ctx := context.Background()
	report := func(from, to string) impact.Report {
		t.Helper()
		r, err := st.s.App.Impact.Street(ctx, st.p("A"), st.sid, from, to)
		if err != nil {
			t.Fatalf("%s–%s: %v", from, to, err)
		}
		return r
	}

	// January: people A B C D E (X's removed post does not count).
	jan := report("2026-01", "2026-01")
	check(t, "january", jan.Figures, want{people: 5, requests: 3, answered: 2, done: 2, exchanges: 3, helpers: 3, helped: 3,
		newPairs: 2, medianReply: 45, medianDone: 15, reciprocity: 0.5, byCategory: map[string]int{"repairs": 1, "errands": 1, "lending": 1}})
	if len(jan.Monthly) != 1 || jan.Monthly[0].Month != "2026-01" {
		t.Fatalf("monthly %+v", jan.Monthly)
	}

	// February alone: F and C, suppressed, nothing else said.
	feb := report("2026-02-01", "2026-02-28")
	if !feb.Suppressed || feb.People != nil || feb.Requests != nil || feb.ExchangesByCategory != nil {
		t.Fatalf("february not suppressed: %+v", feb.Figures)
	}

	// January and February: six people; February suppressed in the series.
	janFeb := report("2026-01", "2026-02")
	check(t, "january-february", janFeb.Figures, want{people: 6, requests: 4, answered: 3, done: 3, exchanges: 4, helpers: 4,
		helped: 4, newPairs: 3, medianReply: 60, medianDone: 10, reciprocity: 0.33,
		byCategory: map[string]int{"repairs": 2, "errands": 1, "lending": 1}})
	if len(janFeb.Monthly) != 2 || janFeb.Monthly[0].Suppressed || !janFeb.Monthly[1].Suppressed {
		t.Fatalf("monthly %+v", janFeb.Monthly)
	}

	// February and March: A–B and D–E exchanged in January, so only C–F is new.
	febMar := report("2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z")
	check(t, "february-march", febMar.Figures, want{people: 6, requests: 3, answered: 3, done: 3, exchanges: 3, helpers: 3,
		helped: 3, newPairs: 1, medianReply: 20, medianDone: 3, reciprocity: 0,
		byCategory: map[string]int{"repairs": 2, "transport": 1}})

	// The default period is the last 12 months up to this one.
	def := report("", "")
	if !def.From.Equal(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)) || !def.To.Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) || len(def.Monthly) != 12 {
		t.Fatalf("default period %v–%v, %d months", def.From, def.To, len(def.Monthly))
	}
	check(t, "default", def.Figures, want{people: 6, requests: 6, answered: 5, done: 5, exchanges: 6, helpers: 4, helped: 4,
		newPairs: 3, medianReply: 30, medianDone: 4, reciprocity: 0.33,
		byCategory: map[string]int{"repairs": 3, "errands": 1, "lending": 1, "transport": 1}})
}

// Bad periods are refused with the field at fault; members may not see
// the figures, outsiders do not learn the street exists.
func TestStreetFiguresPeriodAndAccess(t *testing.T) {
	st := crafted(t)
	ctx := context.Background()
	cases := []struct {
		from, to, field, problem string
	}{
		{"yesterday", "", "from", "invalid"},
		{"", "2026-13", "to", "invalid"},
		{"2026-03", "2026-02", "to", "before_from"},
		{"2020-01", "2026-01", "from", "period_too_long"},
		{"1999-01", "1999-02", "from", "out_of_range"},
	}
	for _, c := range cases {
		_, err := st.s.App.Impact.Street(ctx, st.p("A"), st.sid, c.from, c.to)
		fe, ok := fault.As(err)
		if !ok || fe.Fields[c.field] != c.problem {
			t.Fatalf("%q–%q: %v, want %s %s", c.from, c.to, err, c.field, c.problem)
		}
	}
	if _, err := st.s.App.Impact.Street(ctx, st.p("B"), st.sid, "", ""); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("member: %v", err)
	}
	stranger := st.s.Register(t, "Estraneo")
	if _, err := st.s.App.Impact.Street(ctx, auth.Principal{UserID: stranger.ID}, st.sid, "", ""); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := st.s.App.Impact.Street(ctx, st.p("A"), "nothex", "", ""); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("bad id: %v", err)
	}
}

// An association's figures are those of its linked streets: none before
// the link (suppressed), the street's own once linked; its staff only.
func TestAssociationFiguresFollowLinkedStreets(t *testing.T) {
	st := crafted(t)
	ctx := context.Background()
	s := st.s
	coord, vol := s.Register(t, "Coordinatrice"), s.Register(t, "Volontario")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")
	pc, pv := auth.Principal{UserID: coord.ID}, auth.Principal{UserID: vol.ID}
	r, err := s.App.Impact.Association(ctx, pv, aid, "2026-01", "2026-02")
	if err != nil || !r.Suppressed {
		t.Fatalf("before the link: %+v %v", r.Figures, err)
	}
	if _, err := s.App.Handoff.LinkFromStreet(ctx, st.p("A"), st.sid, aid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Handoff.LinkFromAssociation(ctx, pc, aid, st.sid); err != nil {
		t.Fatal(err)
	}
	r, err = s.App.Impact.Association(ctx, pv, aid, "2026-01", "2026-02")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "association", r.Figures, want{people: 6, requests: 4, answered: 3, done: 3, exchanges: 4, helpers: 4,
		helped: 4, newPairs: 3, medianReply: 60, medianDone: 10, reciprocity: 0.33,
		byCategory: map[string]int{"repairs": 2, "errands": 1, "lending": 1}})
	if _, err := s.App.Impact.Association(ctx, st.p("B"), aid, "", ""); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("not staff: %v", err)
	}
}
