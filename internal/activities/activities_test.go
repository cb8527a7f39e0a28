package activities_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Rome on machines without a zone database

	"civico/internal/activities"
	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/posts"
	"civico/internal/testutil"

	ics "github.com/arran4/golang-ical"
)

var ctx = context.Background()

type env struct {
	*testutil.Services
	notes *testutil.Notes
	svc   *activities.Service
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{Services: testutil.NewServices(t, posts.Options{}), notes: &testutil.Notes{}}
	if err := e.Store.EnsureIndexes(ctx, activities.Indexes()...); err != nil {
		t.Fatal(err)
	}
	e.svc = e.service(t)
	return e
}

// service is another events service over the same database, as another
// process would have.
func (e *env) service(t *testing.T) *activities.Service {
	t.Helper()
	svc, err := activities.New(ctx, e.Store, e.Clock, activities.Deps{Streets: e.Streets, Bus: e.Log, Notifier: e.notes}, nil,
		activities.Options{PublicURL: "https://civico.example"})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// at is a time n hours after the fake clock's now, as RFC 3339 in Rome.
func (e *env) at(hours float64) string {
	rome, _ := time.LoadLocation("Europe/Rome")
	return e.Clock.Now().Add(time.Duration(hours * float64(time.Hour))).In(rome).Format(time.RFC3339)
}

func (e *env) propose(t *testing.T, who auth.Principal, sid, title string, startsIn float64, capacity *int) activities.Event {
	t.Helper()
	ev, err := e.svc.Create(ctx, who, sid, activities.NewEvent{Title: title, Description: "Portate qualcosa", Place: "Cortile del civico 12",
		StartsAt: e.at(startsIn), EndsAt: e.at(startsIn + 3), Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func intp(n int) *int { return &n }

func TestProposeValidatesAndShowsTheStreetsZone(t *testing.T) {
	e := setup(t)
	admin, anna, stranger := e.User("Admin"), e.User("Anna"), e.User("Sara")
	sid := e.Street(admin, anna)

	ev := e.propose(t, anna, sid, "Cena in strada", 72, intp(10))
	if ev.TimeZone != "Europe/Rome" || ev.Status != activities.StatusScheduled || *ev.Capacity != 10 || *ev.SeatsLeft != 10 ||
		!ev.CanEdit || ev.AuthorName != "Anna" || ev.MyAnswer != nil {
		t.Fatalf("proposed: %+v", ev)
	}
	if _, off := ev.StartsAt.Zone(); off != 3600 { // March in Rome: +01:00
		t.Fatalf("starts_at %v is not in the street's zone", ev.StartsAt)
	}
	cases := []struct {
		name, field, problem string
		in                   activities.NewEvent
	}{
		{"past", "starts_at", "in_the_past", activities.NewEvent{Title: "Cena", Place: "Qui", StartsAt: e.at(-1), EndsAt: e.at(2)}},
		{"ends before", "ends_at", "before_start", activities.NewEvent{Title: "Cena", Place: "Qui", StartsAt: e.at(5), EndsAt: e.at(4)}},
		{"too long", "ends_at", "too_long", activities.NewEvent{Title: "Cena", Place: "Qui", StartsAt: e.at(5), EndsAt: e.at(5 + 24*15)}},
		{"no place", "place", "required", activities.NewEvent{Title: "Cena", StartsAt: e.at(5), EndsAt: e.at(6)}},
		{"long title", "title", "too_long", activities.NewEvent{Title: strings.Repeat("a", 121), Place: "Qui", StartsAt: e.at(5), EndsAt: e.at(6)}},
		{"bad time", "starts_at", "invalid", activities.NewEvent{Title: "Cena", Place: "Qui", StartsAt: "domani", EndsAt: e.at(6)}},
		{"capacity", "capacity", "out_of_range", activities.NewEvent{Title: "Cena", Place: "Qui", StartsAt: e.at(5), EndsAt: e.at(6), Capacity: intp(-1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.Create(ctx, anna, sid, c.in)
			testutil.WantField(t, err, c.field, c.problem)
		})
	}
	_, err := e.svc.Create(ctx, stranger, sid, activities.NewEvent{Title: "Cena", Place: "Qui", StartsAt: e.at(5), EndsAt: e.at(6)})
	testutil.WantCode(t, err, "street_not_found")
	_, err = e.svc.Get(ctx, stranger, ev.ID)
	testutil.WantCode(t, err, "event_not_found")
	_, err = e.svc.Answer(ctx, stranger, ev.ID, "yes", 0)
	testutil.WantCode(t, err, "event_not_found")
	if got := e.Published(events.EventCreated); len(got) != 1 || got[0].StreetID != sid {
		t.Fatalf("live events: %+v", got)
	}
}

// The test: 30 neighbours say "I'll come" at once, through two
// processes, to a dinner with 10 places: exactly 10 seats are taken, the
// other 20 are told it is full.
func TestThirtyAnswersAtOnceLeaveTenPlaces(t *testing.T) {
	e := setup(t)
	admin := e.User("Admin")
	var people []auth.Principal
	for i := range 30 {
		people = append(people, e.User(fmt.Sprintf("Vicino %d", i)))
	}
	sid := e.Street(admin, people...)
	ev := e.propose(t, admin, sid, "Cena in strada", 48, intp(10))
	other := e.service(t)

	var wg sync.WaitGroup
	errs := make([]error, len(people))
	for i, p := range people {
		svc := e.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.Answer(ctx, p, ev.ID, "yes", 0)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		testutil.WantCode(t, err, "event_full")
	}
	got, err := e.svc.Get(ctx, admin, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok != 10 || got.SeatsTaken != 10 || got.Yes != 10 || *got.SeatsLeft != 0 {
		t.Fatalf("%d answers taken, event %+v", ok, got)
	}
}

// Changing one's answer or guests frees or takes seats.
func TestChangingAnAnswerMovesSeats(t *testing.T) {
	e := setup(t)
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	ev := e.propose(t, admin, sid, "Aperitivo", 24*5, intp(3))

	got, err := e.svc.Answer(ctx, anna, ev.ID, "yes", 2)
	if err != nil || got.SeatsTaken != 3 || got.MyAnswer == nil || got.MyAnswer.Guests != 2 {
		t.Fatalf("anna +2: %+v, %v", got, err)
	}
	_, err = e.svc.Answer(ctx, bruno, ev.ID, "yes", 0)
	testutil.WantCode(t, err, "event_full")
	_, err = e.svc.Answer(ctx, anna, ev.ID, "yes", 11)
	testutil.WantField(t, err, "guests", "out_of_range")
	if got, err = e.svc.Answer(ctx, anna, ev.ID, "yes", 1); err != nil || got.SeatsTaken != 2 {
		t.Fatalf("anna +1: %+v, %v", got, err)
	}
	if got, err = e.svc.Answer(ctx, bruno, ev.ID, "yes", 0); err != nil || got.SeatsTaken != 3 || *got.SeatsLeft != 0 {
		t.Fatalf("bruno: %+v, %v", got, err)
	}
	if got, err = e.svc.Answer(ctx, anna, ev.ID, "no", 0); err != nil || got.SeatsTaken != 1 || got.Yes != 1 || got.No != 1 ||
		got.MyAnswer.Answer != "no" {
		t.Fatalf("anna no: %+v, %v", got, err)
	}
	// The same answer again changes nothing.
	if got, err = e.svc.Answer(ctx, anna, ev.ID, "no", 0); err != nil || got.SeatsTaken != 1 || got.No != 1 {
		t.Fatalf("anna no again: %+v, %v", got, err)
	}
}

// A change of time needs a reason; everyone who answered (yes or no) is
// told, not the one who changed it nor those who did not answer; so is a
// cancellation, after which nobody can answer.
func TestEditAndCancelTellThoseWhoAnswered(t *testing.T) {
	e := setup(t)
	admin, author, anna, bruno, carla := e.User("Admin"), e.User("Autore"), e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(admin, author, anna, bruno, carla)
	ev := e.propose(t, author, sid, "Pulizia del giardino", 72, nil)
	if _, err := e.svc.Answer(ctx, anna, ev.ID, "yes", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Answer(ctx, bruno, ev.ID, "no", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Answer(ctx, author, ev.ID, "yes", 0); err != nil {
		t.Fatal(err)
	}

	later := e.at(96)
	_, err := e.svc.Update(ctx, author, ev.ID, activities.Change{StartsAt: &later, EndsAt: ptr(e.at(99))})
	testutil.WantField(t, err, "reason", "required")
	_, err = e.svc.Update(ctx, carla, ev.ID, activities.Change{Title: ptr("Altro")})
	testutil.WantCode(t, err, "event_not_allowed")

	up, err := e.svc.Update(ctx, author, ev.ID, activities.Change{StartsAt: &later, EndsAt: ptr(e.at(99)), Reason: "Pioggia prevista"})
	if err != nil {
		t.Fatal(err)
	}
	if up.Sequence != 1 || up.Reason != "Pioggia prevista" || up.StartsAt.Format(time.RFC3339) != later {
		t.Fatalf("updated: %+v", up)
	}
	for _, who := range []auth.Principal{anna, bruno} {
		n := e.notes.To(who.UserID, "Evento modificato")
		if len(n) != 1 || !strings.Contains(n[0].Texts["it"].Body, "Pioggia prevista") || n[0].URL != "/events/"+ev.ID ||
			!strings.HasPrefix(n[0].Texts["en"].Title, "Event changed") {
			t.Fatalf("change notes to %s: %+v", who.UserID, n)
		}
	}
	if len(e.notes.To(author.UserID, "")) != 0 || len(e.notes.To(carla.UserID, "")) != 0 {
		t.Fatalf("notes to the author or to someone who did not answer: %+v", e.notes.All())
	}

	// An admin cancels it.
	_, err = e.svc.Cancel(ctx, admin, ev.ID, "  ")
	testutil.WantField(t, err, "reason", "required")
	c, err := e.svc.Cancel(ctx, admin, ev.ID, "Il cortile è inagibile")
	if err != nil || c.Status != activities.StatusCancelled || c.Sequence != 2 {
		t.Fatalf("cancelled: %+v, %v", c, err)
	}
	for _, who := range []auth.Principal{anna, bruno, author} {
		if n := e.notes.To(who.UserID, "Evento annullato"); len(n) != 1 || !strings.Contains(n[0].Texts["it"].Body, "inagibile") {
			t.Fatalf("cancel notes to %s: %+v", who.UserID, n)
		}
	}
	_, err = e.svc.Cancel(ctx, author, ev.ID, "di nuovo")
	testutil.WantCode(t, err, "event_cancelled")
	_, err = e.svc.Answer(ctx, carla, ev.ID, "yes", 0)
	testutil.WantCode(t, err, "event_cancelled")
	if len(e.Published(events.EventUpdated)) != 1 || len(e.Published(events.EventCancelled)) != 1 {
		t.Fatalf("live events: %d updated, %d cancelled", len(e.Published(events.EventUpdated)), len(e.Published(events.EventCancelled)))
	}
}

func ptr(s string) *string { return &s }

// The reminder goes out once, the day before, to those who said yes,
// however many sweeps run; a cancelled event has none.
func TestReminderOnceTheDayBefore(t *testing.T) {
	e := setup(t)
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	ev := e.propose(t, admin, sid, "Cena in strada", 72, nil)
	gone := e.propose(t, admin, sid, "Mercatino", 72, nil)
	for _, id := range []string{ev.ID, gone.ID} {
		if _, err := e.svc.Answer(ctx, anna, id, "yes", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Answer(ctx, bruno, id, "no", 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Cancel(ctx, admin, gone.ID, "Annullato"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.notes.To(anna.UserID, "Domani"); len(n) != 0 {
		t.Fatalf("reminded three days ahead: %+v", n)
	}
	e.Clock.Advance(48*time.Hour + 30*time.Minute)
	other := e.service(t)
	for range 2 {
		for _, svc := range []*activities.Service{e.svc, other} {
			if err := svc.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := e.notes.To(anna.UserID, "Domani")
	if len(n) != 1 || n[0].Texts["it"].Title != "Domani: Cena in strada" || !strings.Contains(n[0].Texts["it"].Body, "Cortile") {
		t.Fatalf("reminders to anna: %+v", n)
	}
	if n := e.notes.To(bruno.UserID, "Domani"); len(n) != 0 {
		t.Fatalf("reminded someone who said no: %+v", n)
	}
	e.Clock.Advance(time.Hour)
	if err := e.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.notes.To(anna.UserID, "Domani"); len(n) != 1 {
		t.Fatalf("reminded again: %+v", n)
	}
}

// The list: events not ended, soonest first, over months, in pages; a
// non-member is told the street does not exist.
func TestListSoonestFirstInPages(t *testing.T) {
	e := setup(t)
	admin, anna, stranger := e.User("Admin"), e.User("Anna"), e.User("Sara")
	sid := e.Street(admin, anna)
	other := e.Street(anna)
	e.propose(t, anna, other, "Altrove", 5, nil)
	// Proposed out of order, across three months.
	hours := []float64{24 * 40, 2, 24 * 70, 24 * 10, 30}
	for i, h := range hours {
		e.propose(t, anna, sid, fmt.Sprintf("Evento %d", i), h, nil)
	}
	var titles []string
	cur := ""
	for page := 0; ; page++ {
		items, next, err := e.svc.List(ctx, admin, sid, activities.ListQuery{Cursor: cur, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			titles = append(titles, it.Title)
		}
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("the pages do not end")
		}
		cur = next
	}
	if got := strings.Join(titles, ","); got != "Evento 1,Evento 4,Evento 3,Evento 0,Evento 2" {
		t.Fatalf("order: %s", got)
	}
	// Four hours on, the first one is under way (shown), and once ended
	// it is gone.
	e.Clock.Advance(4 * time.Hour)
	items, _, err := e.svc.List(ctx, admin, sid, activities.ListQuery{})
	if err != nil || len(items) != 5 || items[0].Title != "Evento 1" {
		t.Fatalf("under way: %v %+v", err, items)
	}
	e.Clock.Advance(2 * time.Hour)
	if items, _, err = e.svc.List(ctx, admin, sid, activities.ListQuery{}); err != nil || len(items) != 4 {
		t.Fatalf("after it ended: %v %d", err, len(items))
	}
	// from= shows it again.
	if items, _, err = e.svc.List(ctx, admin, sid, activities.ListQuery{From: e.at(-5)}); err != nil || len(items) != 5 {
		t.Fatalf("from: %v %d", err, len(items))
	}
	_, _, err = e.svc.List(ctx, stranger, sid, activities.ListQuery{})
	testutil.WantCode(t, err, "street_not_found")
	_, _, err = e.svc.List(ctx, admin, sid, activities.ListQuery{Cursor: "bogus"})
	testutil.WantCode(t, err, "bad_cursor")
	_, next, _ := e.svc.List(ctx, anna, sid, activities.ListQuery{Limit: 1})
	_, _, err = e.svc.List(ctx, anna, other, activities.ListQuery{Cursor: next})
	testutil.WantCode(t, err, "bad_cursor")

	// Moved to another month, it is listed there once.
	items, _, _ = e.svc.List(ctx, anna, sid, activities.ListQuery{})
	first := items[0]
	if _, err := e.svc.Update(ctx, anna, first.ID, activities.Change{StartsAt: ptr(e.at(24 * 80)), EndsAt: ptr(e.at(24*80 + 2)), Reason: "Rinviato"}); err != nil {
		t.Fatal(err)
	}
	items, _, _ = e.svc.List(ctx, anna, sid, activities.ListQuery{})
	if len(items) != 4 || items[3].ID != first.ID {
		t.Fatalf("after the move: %+v", items)
	}
}

// The .ics of one event parses with a real parser, with the street's
// zone: TZID on the times, a VTIMEZONE for it, and the same instant.
func TestICSCarriesTheTimeZone(t *testing.T) {
	e := setup(t)
	admin := e.User("Admin")
	sid := e.Street(admin)
	// Across the change to summer time (29 March 2026, 02:00).
	ev, err := e.svc.Create(ctx, admin, sid, activities.NewEvent{Title: "Festa di primavera; con musica, e torte", Place: "Piazza",
		StartsAt: e.at(24 * 26), EndsAt: e.at(24 * 28)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.svc.ICS(ctx, admin, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	evs := cal.Events()
	if len(evs) != 1 || len(cal.Timezones()) != 1 {
		t.Fatalf("%d events, %d zones:\n%s", len(evs), len(cal.Timezones()), raw)
	}
	v := evs[0]
	start, err := v.GetStartAt()
	if err != nil || !start.Equal(ev.StartsAt) {
		t.Fatalf("DTSTART %v (%v), want %v", start, err, ev.StartsAt)
	}
	if p := v.GetProperty(ics.ComponentPropertyDtStart); p.ICalParameters["TZID"][0] != "Europe/Rome" {
		t.Fatalf("DTSTART without the zone: %+v", p)
	}
	if end, err := v.GetEndAt(); err != nil || !end.Equal(ev.EndsAt) || end.Format("-0700") != "+0200" {
		t.Fatalf("DTEND %v (%v), want %v in summer time", end, err, ev.EndsAt)
	}
	if got := v.GetProperty(ics.ComponentPropertySummary).Value; got != "Festa di primavera; con musica, e torte" {
		t.Fatalf("SUMMARY %q", got)
	}
	if v.Id() != ev.ID+"@civico.example" || v.GetProperty(ics.ComponentPropertySequence).Value != "0" ||
		v.GetProperty(ics.ComponentPropertyDtstamp) == nil {
		t.Fatalf("UID/SEQUENCE/DTSTAMP: %s", raw)
	}
	s := string(raw)
	for _, want := range []string{"BEGIN:VTIMEZONE\r\nTZID:Europe/Rome", "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200",
		"DTSTART:20260329T020000", "BEGIN:STANDARD", "STATUS:CONFIRMED"} {
		if !strings.Contains(s, want) {
			t.Fatalf("no %q in\n%s", want, s)
		}
	}
	_, err = e.svc.ICS(ctx, e.User("Sara"), ev.ID)
	testutil.WantCode(t, err, "event_not_found")
}

// The private feed: the events of all my streets, a cancelled one with
// STATUS:CANCELLED and a bumped SEQUENCE; rotating it makes the old URL
// unknown.
func TestCalendarFeedAndRotation(t *testing.T) {
	e := setup(t)
	admin, anna := e.User("Admin"), e.User("Anna")
	s1, s2, s3 := e.Street(admin, anna), e.Street(anna), e.Street(admin)
	a := e.propose(t, admin, s1, "Cena", 24, nil)
	b := e.propose(t, anna, s2, "Apéro", 48, nil)
	e.propose(t, admin, s3, "Non mia", 48, nil)
	if _, err := e.svc.Cancel(ctx, admin, a.ID, "Pioggia"); err != nil {
		t.Fatal(err)
	}

	url, err := e.svc.CalendarURL(ctx, anna)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := e.svc.CalendarURL(ctx, anna)
	if url != again || !strings.HasPrefix(url, "https://civico.example/api/v1/calendar/") || !strings.HasSuffix(url, ".ics") {
		t.Fatalf("feed URL %q, then %q", url, again)
	}
	tok := strings.TrimPrefix(url, "https://civico.example/api/v1/calendar/")
	raw, err := e.service(t).Feed(ctx, tok) // another process
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*ics.VEvent{}
	for _, v := range cal.Events() {
		got[v.GetProperty(ics.ComponentPropertySummary).Value] = v
	}
	if len(got) != 2 || got["Cena"] == nil || got["Apéro"] == nil {
		t.Fatalf("feed events: %s", raw)
	}
	if st := got["Cena"].GetProperty(ics.ComponentPropertyStatus).Value; st != "CANCELLED" ||
		got["Cena"].GetProperty(ics.ComponentPropertySequence).Value != "1" {
		t.Fatalf("cancelled event in the feed: %s", raw)
	}
	if got["Apéro"].Id() != b.ID+"@civico.example" || len(cal.Timezones()) != 1 {
		t.Fatalf("feed: %s", raw)
	}

	rotated, err := e.svc.RotateCalendar(ctx, anna)
	if err != nil || rotated == url {
		t.Fatalf("rotated %q, %v", rotated, err)
	}
	_, err = e.svc.Feed(ctx, tok)
	testutil.WantCode(t, err, "calendar_not_found")
	if _, err := e.svc.Feed(ctx, strings.TrimPrefix(rotated, "https://civico.example/api/v1/calendar/")); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Feed(ctx, "nope.ics")
	testutil.WantCode(t, err, "calendar_not_found")
}

// Facts count the events held and the people who came; deleting an
// account frees its seats and keeps its events under no name.
func TestFactsAndErase(t *testing.T) {
	e := setup(t)
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	held := e.propose(t, anna, sid, "Cena", 2, intp(10))
	dropped := e.propose(t, anna, sid, "Gita", 3, nil)
	later := e.propose(t, anna, sid, "Più avanti", 24*20, nil)
	for _, id := range []string{held.ID, later.ID} {
		if _, err := e.svc.Answer(ctx, bruno, id, "yes", 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Answer(ctx, admin, held.ID, "yes", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cancel(ctx, anna, dropped.ID, "Nessuno"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(24 * time.Hour)
	facts, err := e.svc.Facts(ctx, sid, e.Clock.Now())
	if err != nil || len(facts) != 1 || facts[0].EventID != held.ID || facts[0].People != 5 {
		t.Fatalf("facts %+v, %v", facts, err)
	}

	data, err := e.svc.Export(ctx, bruno.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if d := data.(activities.AccountData); len(d.Answers) != 2 || len(d.Proposed) != 0 {
		t.Fatalf("bruno's export: %+v", d)
	}
	if err := e.svc.Erase(ctx, bruno.UserID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Erase(ctx, anna.UserID); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(ctx, admin, later.ID)
	if err != nil || got.SeatsTaken != 0 || got.Yes != 0 || got.AuthorName != "" || !got.AuthorDeleted || got.AuthorID != "" ||
		got.Status != activities.StatusScheduled {
		t.Fatalf("after the erasures: %+v, %v", got, err)
	}
	if data, _ := e.svc.Export(ctx, bruno.UserID); len(data.(activities.AccountData).Answers) != 0 {
		t.Fatalf("erased answers still exported: %+v", data)
	}
}
