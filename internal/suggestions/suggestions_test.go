package suggestions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/fault"
	"civico/internal/locator"
	"civico/internal/suggestions"
	"civico/internal/testutil"
)

var ctx = context.Background()

type env struct {
	*testutil.Desks
	places *locator.Service
	svc    *suggestions.Service
}

// setup gives each test its own embedded database with the real auth,
// portineria and locator services and a fake clock.
func setup(t *testing.T, opts suggestions.Options) *env {
	t.Helper()
	e := &env{Desks: testutil.NewDesks(t)}
	var err error
	if e.places, err = locator.New(ctx, e.Store, e.Portineria, e.Auth, e.Clock, nil, locator.Options{}); err != nil {
		t.Fatal(err)
	}
	e.svc = e.service(t, opts)
	return e
}

// service is another suggestions service over the same database, as
// another process would have.
func (e *env) service(t *testing.T, opts suggestions.Options) *suggestions.Service {
	t.Helper()
	svc, err := suggestions.New(ctx, e.Store, e.places, e.Portineria, e.Auth, e.Clock, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func str(s string) *string { return &s }

func (e *env) place(t *testing.T, who testutil.Person, aid, name string) locator.Place {
	t.Helper()
	pl, err := e.places.Create(ctx, who.P, aid, locator.Input{Name: str(name), Kind: str("library"), Address: str("Via Tibaldi 17"),
		Area: str("Bolognina"), Contacts: &locator.Contacts{Phone: "051 111111"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func (e *env) suggest(t *testing.T, who testutil.Person, in suggestions.NewSuggestion) suggestions.Suggestion {
	t.Helper()
	s, err := e.svc.Suggest(ctx, who.P, in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) queue(t *testing.T, who testutil.Person, aid, status string) []suggestions.Suggestion {
	t.Helper()
	items, _, err := e.svc.Queue(ctx, who.P, aid, suggestions.Query{Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// The story of the issue: a resident reports that the library's phone
// changed; a volunteer sees the report in the queue (by the author's first
// name and initial, never their email), accepts it; the entry has the new
// phone, and its history says who changed it, when, and from which
// suggestion; the author sees their report accepted.
func TestAcceptedReportChangesTheEntryAndItsHistory(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, vol, maria := e.User("Clara Neri"), e.User("Vito Bianchi"), e.User("Maria Rossi Verdi")
	aid := e.Association(coord, vol)
	pl := e.place(t, coord, aid, "Biblioteca Lame")

	s := e.suggest(t, maria, suggestions.NewSuggestion{PlaceID: pl.ID, Text: "Il numero è cambiato",
		Changes: &locator.Input{Contacts: &locator.Contacts{Phone: "051 222222"}}})
	if s.Kind != suggestions.KindReport || s.AssociationID != aid || s.PlaceName != "Biblioteca Lame" || s.Status != suggestions.StatusPending {
		t.Fatalf("filed: %+v", s)
	}

	q := e.queue(t, vol, aid, suggestions.StatusPending)
	if len(q) != 1 || q[0].ID != s.ID || q[0].Author != "Maria V." || q[0].Text != "Il numero è cambiato" {
		t.Fatalf("queue: %+v", q)
	}
	raw, _ := json.Marshal(q)
	if strings.Contains(string(raw), maria.Email) || strings.Contains(string(raw), maria.P.UserID) || strings.Contains(string(raw), "Rossi") {
		t.Fatalf("the queue shows more of the author than a first name and initial: %s", raw)
	}

	e.Clock.Advance(time.Hour)
	d, err := e.svc.Accept(ctx, vol.P, s.ID, suggestions.Decision{Reason: "Grazie!"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Suggestion.Status != suggestions.StatusAccepted || d.Place == nil || d.Place.Contacts.Phone != "051 222222" {
		t.Fatalf("accepted: %+v", d)
	}
	got, err := e.places.Get(ctx, pl.ID)
	if err != nil || got.Contacts.Phone != "051 222222" || got.Name != "Biblioteca Lame" {
		t.Fatalf("the entry after the accept: %+v, %v", got, err)
	}
	hist, _, err := e.places.History(ctx, coord.P, pl.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Via != s.ID || hist[0].UserID != vol.P.UserID || !hist[0].At.Equal(e.Clock.Now().Truncate(time.Millisecond)) {
		t.Fatalf("history: %+v", hist)
	}

	mine, _, err := e.svc.Mine(ctx, maria.P, suggestions.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].Status != suggestions.StatusAccepted || mine[0].Reason != "Grazie!" || mine[0].DecidedAt == nil || mine[0].Author != "" {
		t.Fatalf("the author's list: %+v", mine)
	}
	if len(e.queue(t, vol, aid, suggestions.StatusPending)) != 0 || len(e.queue(t, vol, aid, suggestions.StatusAccepted)) != 1 {
		t.Fatal("the accepted suggestion is still pending in the queue")
	}
}

// A new place goes to the association named; accepting it creates the
// entry from the author's changes, or from the volunteer's when given;
// with neither there is nothing to create.
func TestAcceptedNewPlaceCreatesTheEntry(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, anna := e.User("Clara Neri"), e.User("Anna Verdi")
	aid := e.Association(coord)

	bare := e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: aid, Text: "C'è un nuovo orto condiviso in via Fioravanti"})
	_, err := e.svc.Accept(ctx, coord.P, bare.ID, suggestions.Decision{})
	testutil.WantField(t, err, "changes", "required")
	d, err := e.svc.Accept(ctx, coord.P, bare.ID, suggestions.Decision{Changes: &locator.Input{Name: str("Orto Fioravanti"), Kind: str("green_space")}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Place == nil || d.Place.AssociationID != aid || d.Suggestion.PlaceID != d.Place.ID || d.Suggestion.PlaceName != "Orto Fioravanti" {
		t.Fatalf("accepted with the volunteer's changes: %+v", d)
	}

	s := e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: aid, Text: "Sportello anziani al centro civico",
		Changes: &locator.Input{Name: str("Sportello anziani"), Kind: str("elderly"), Address: str("Via Albani 3")}})
	if s.Kind != suggestions.KindNewPlace || string(s.Changes) != `{"address":"Via Albani 3","kind":"elderly","name":"Sportello anziani"}` {
		t.Fatalf("filed: %+v %s", s, s.Changes)
	}
	d, err = e.svc.Accept(ctx, coord.P, s.ID, suggestions.Decision{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.places.Get(ctx, d.Suggestion.PlaceID)
	if err != nil || got.Name != "Sportello anziani" || got.Kind != "elderly" || got.Address != "Via Albani 3" {
		t.Fatalf("the new entry: %+v, %v", got, err)
	}
	hist, _, err := e.places.History(ctx, coord.P, got.ID, "", 10)
	if err != nil || len(hist) != 1 || hist[0].Via != s.ID {
		t.Fatalf("history of the new entry: %+v, %v", hist, err)
	}
}

// A report accepted with nothing to change is marked accepted and leaves
// the entry as it was (not even verified: that is the locator's verify).
// Changes the locator refuses leave the suggestion pending.
func TestAcceptWithNothingToChangeAndRefusedChanges(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, anna := e.User("Clara Neri"), e.User("Anna Verdi")
	aid := e.Association(coord)
	pl := e.place(t, coord, aid, "Biblioteca Lame")

	s := e.suggest(t, anna, suggestions.NewSuggestion{PlaceID: pl.ID, Text: "Il sabato è chiusa"})
	e.Clock.Advance(time.Hour)
	d, err := e.svc.Accept(ctx, coord.P, s.ID, suggestions.Decision{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.places.Get(ctx, pl.ID)
	if d.Suggestion.Status != suggestions.StatusAccepted || d.Place != nil || d.Suggestion.Applied != nil ||
		got.Version != pl.Version || !got.VerifiedAt.Equal(pl.VerifiedAt) {
		t.Fatalf("accepted with nothing to change: %+v; entry %+v", d, got)
	}

	s = e.suggest(t, anna, suggestions.NewSuggestion{PlaceID: pl.ID, Text: "Nome sbagliato"})
	_, err = e.svc.Accept(ctx, coord.P, s.ID, suggestions.Decision{Changes: &locator.Input{Name: str(strings.Repeat("x", locator.MaxNameLen+1))}})
	testutil.WantField(t, err, "name", "too_long")
	if q := e.queue(t, coord, aid, suggestions.StatusPending); len(q) != 1 || q[0].ID != s.ID {
		t.Fatalf("after a refused change the suggestion is not pending: %+v", q)
	}
	if _, err := e.svc.Accept(ctx, coord.P, s.ID, suggestions.Decision{Changes: &locator.Input{Name: str("Biblioteca delle Lame")}}); err != nil {
		t.Fatal(err)
	}
}

// Declining needs a reason, which the author reads; a decided suggestion
// cannot be decided again.
func TestDeclineNeedsAReason(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, anna := e.User("Clara Neri"), e.User("Anna Verdi")
	aid := e.Association(coord)
	s := e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: aid, Text: "Il bar sotto casa"})

	for _, reason := range []string{"", "   ", "\u200b"} {
		_, err := e.svc.Decline(ctx, coord.P, s.ID, reason)
		if err == nil {
			t.Fatalf("declined with reason %q", reason)
		}
	}
	_, err := e.svc.Decline(ctx, coord.P, s.ID, strings.Repeat("r", suggestions.MaxReasonLen+1))
	testutil.WantField(t, err, "reason", "too_long")

	d, err := e.svc.Decline(ctx, coord.P, s.ID, "  Non è un servizio per il quartiere ")
	if err != nil {
		t.Fatal(err)
	}
	if d.Suggestion.Status != suggestions.StatusDeclined || d.Suggestion.Reason != "Non è un servizio per il quartiere" {
		t.Fatalf("declined: %+v", d)
	}
	mine, _, _ := e.svc.Mine(ctx, anna.P, suggestions.Query{})
	if len(mine) != 1 || mine[0].Status != suggestions.StatusDeclined || mine[0].Reason != "Non è un servizio per il quartiere" {
		t.Fatalf("the author's list: %+v", mine)
	}
	_, err = e.svc.Accept(ctx, coord.P, s.ID, suggestions.Decision{Changes: &locator.Input{Name: str("Bar"), Kind: str("shop")}})
	testutil.WantCode(t, err, "suggestion_decided")
	_, err = e.svc.Decline(ctx, coord.P, s.ID, "ancora")
	testutil.WantCode(t, err, "suggestion_decided")
}

// Only the association's volunteers see its queue and decide; to anyone
// else, the author included, the association and the suggestion do not
// exist.
func TestOnlyVolunteersSeeTheQueue(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, vol, anna, other := e.User("Clara Neri"), e.User("Vito Bianchi"), e.User("Anna Verdi"), e.User("Ugo Gialli")
	aid := e.Association(coord, vol)
	otherAid := e.Association(other)
	s := e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: aid, Text: "Una nuova palestra"})

	cases := []struct {
		name string
		who  testutil.Person
		aid  string
		code string
	}{
		{"coordinator", coord, aid, ""},
		{"volunteer", vol, aid, ""},
		{"the author", anna, aid, "association_not_found"},
		{"coordinator of another association", other, aid, "association_not_found"},
		{"unknown association", coord, "65f1c0ffee0000000000abcd", "association_not_found"},
		{"malformed id", coord, "nope", "association_not_found"},
		{"no suggestions yet", other, otherAid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, _, err := e.svc.Queue(ctx, c.who.P, c.aid, suggestions.Query{})
			if c.code != "" {
				testutil.WantCode(t, err, c.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{aid: 1, otherAid: 0}[c.aid]; len(items) != want {
				t.Fatalf("%d items, want %d", len(items), want)
			}
		})
	}
	for _, who := range []testutil.Person{anna, other} {
		_, err := e.svc.Accept(ctx, who.P, s.ID, suggestions.Decision{Changes: &locator.Input{Name: str("Palestra"), Kind: str("sport")}})
		testutil.WantCode(t, err, "suggestion_not_found")
		_, err = e.svc.Decline(ctx, who.P, s.ID, "no")
		testutil.WantCode(t, err, "suggestion_not_found")
	}
	_, err := e.svc.Accept(ctx, vol.P, "65f1c0ffee0000000000abcd", suggestions.Decision{})
	testutil.WantCode(t, err, "suggestion_not_found")
}

// Two volunteers deciding one suggestion at once, each in a process of
// their own: exactly one wins, the other is told it was decided, and the
// entry changes once.
func TestTwoDecisionsAtOnceOneWins(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, vol, anna := e.User("Clara Neri"), e.User("Vito Bianchi"), e.User("Anna Verdi")
	aid := e.Association(coord, vol)
	pl := e.place(t, coord, aid, "Biblioteca Lame")
	other := e.service(t, suggestions.Options{})

	const rounds = 6
	for i := range rounds {
		s := e.suggest(t, anna, suggestions.NewSuggestion{PlaceID: pl.ID, Text: fmt.Sprintf("Orario %d", i),
			Changes: &locator.Input{Description: str(fmt.Sprintf("Aperta %d", i))}})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k, svc := range []*suggestions.Service{e.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who := []testutil.Person{coord, vol}[k]
				if i%2 == 1 && k == 1 { // odd rounds: an accept against a decline
					_, errs[k] = svc.Decline(ctx, who.P, s.ID, "già fatto")
					return
				}
				_, errs[k] = svc.Accept(ctx, who.P, s.ID, suggestions.Decision{})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			testutil.WantCode(t, err, "suggestion_decided")
		}
		if won != 1 {
			t.Fatalf("round %d: %d decisions won (%v)", i, won, errs)
		}
	}
	hist, _, err := e.places.History(ctx, coord.P, pl.ID, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	accepted := len(e.queue(t, coord, aid, suggestions.StatusAccepted))
	if len(hist) != 1+accepted || accepted < rounds/2 {
		t.Fatalf("%d accepted, history %+v", accepted, hist)
	}
}

// An accept whose process died after claiming the suggestion leaves it
// pending to everyone's eyes; others are refused until the claim runs
// out, then any volunteer can decide it.
func TestAClaimLeftByADeadProcessRunsOut(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, anna := e.User("Clara Neri"), e.User("Anna Verdi")
	aid := e.Association(coord)
	s := e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: aid, Text: "Una nuova scuola"})
	if err := e.svc.ClaimOnly(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if q := e.queue(t, coord, aid, suggestions.StatusPending); len(q) != 1 || q[0].Status != suggestions.StatusPending {
		t.Fatalf("a claimed suggestion: %+v", q)
	}
	_, err := e.svc.Decline(ctx, coord.P, s.ID, "no")
	testutil.WantCode(t, err, "suggestion_decided")
	e.Clock.Advance(suggestions.ClaimFor + time.Second)
	if _, err := e.svc.Decline(ctx, coord.P, s.ID, "non è nel quartiere"); err != nil {
		t.Fatal(err)
	}
}

// What a resident sends is checked before it is filed, with a code per
// field, and refused input changes nothing.
func TestSuggestValidation(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, other, anna := e.User("Clara Neri"), e.User("Ugo Gialli"), e.User("Anna Verdi")
	aid := e.Association(coord)
	otherAid := e.Association(other)
	pl := e.place(t, coord, aid, "Biblioteca Lame")
	lat := 91.0

	cases := []struct {
		name         string
		in           suggestions.NewSuggestion
		code, field  string
		fieldProblem string
	}{
		{"no text", suggestions.NewSuggestion{AssociationID: aid, Text: "  "}, "validation_failed", "text", "required"},
		{"text too long", suggestions.NewSuggestion{AssociationID: aid, Text: strings.Repeat("è", suggestions.MaxTextLen+1)}, "validation_failed", "text", "too_long"},
		{"hidden characters", suggestions.NewSuggestion{AssociationID: aid, Text: "ok\u202e"}, "validation_failed", "text", "invisible_characters"},
		{"neither place nor association", suggestions.NewSuggestion{Text: "dove?"}, "validation_failed", "association_id", "required"},
		{"unknown place", suggestions.NewSuggestion{PlaceID: "65f1c0ffee0000000000abcd", Text: "x"}, "place_not_found", "", ""},
		{"malformed place", suggestions.NewSuggestion{PlaceID: "x", Text: "x"}, "place_not_found", "", ""},
		{"unknown association", suggestions.NewSuggestion{AssociationID: "65f1c0ffee0000000000abcd", Text: "x"}, "association_not_found", "", ""},
		{"place of another association", suggestions.NewSuggestion{PlaceID: pl.ID, AssociationID: otherAid, Text: "x"}, "validation_failed", "association_id", "mismatch"},
		{"unknown kind", suggestions.NewSuggestion{AssociationID: aid, Text: "x", Changes: &locator.Input{Kind: str("bar")}}, "validation_failed", "changes.kind", "invalid"},
		{"unknown target", suggestions.NewSuggestion{AssociationID: aid, Text: "x", Changes: &locator.Input{Targets: &[]string{"cats"}}}, "validation_failed", "changes.targets", "invalid"},
		{"off the Earth", suggestions.NewSuggestion{AssociationID: aid, Text: "x", Changes: &locator.Input{Lat: &lat}}, "validation_failed", "changes.lat", "out_of_range"},
		{"changes too large", suggestions.NewSuggestion{AssociationID: aid, Text: "x", Changes: &locator.Input{Description: str(strings.Repeat("d", suggestions.MaxChangesBytes))}}, "validation_failed", "changes", "too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.Suggest(ctx, anna.P, c.in)
			if c.field != "" {
				testutil.WantField(t, err, c.field, c.fieldProblem)
				return
			}
			testutil.WantCode(t, err, c.code)
		})
	}
	if q := e.queue(t, coord, aid, ""); len(q) != 0 {
		t.Fatalf("refused suggestions were filed: %+v", q)
	}
	// The same place, named with its association in capitals, is fine.
	if _, err := e.svc.Suggest(ctx, anna.P, suggestions.NewSuggestion{PlaceID: pl.ID, AssociationID: strings.ToUpper(aid), Text: "ok"}); err != nil {
		t.Fatal(err)
	}
}

// Twenty suggestions a day per person, counted across every process:
// what one process allowed, another does not allow again.
func TestSuggestionsPerDayAcrossProcesses(t *testing.T) {
	e := setup(t, suggestions.Options{PerDay: 3})
	coord, anna, bruno := e.User("Clara Neri"), e.User("Anna Verdi"), e.User("Bruno Gialli")
	aid := e.Association(coord)
	other := e.service(t, suggestions.Options{PerDay: 3})
	in := suggestions.NewSuggestion{AssociationID: aid, Text: "Un posto"}
	for i, svc := range []*suggestions.Service{e.svc, other, e.svc} {
		if _, err := svc.Suggest(ctx, anna.P, in); err != nil {
			t.Fatalf("suggestion %d: %v", i+1, err)
		}
	}
	for _, svc := range []*suggestions.Service{e.svc, other} {
		_, err := svc.Suggest(ctx, anna.P, in)
		testutil.WantCode(t, err, "rate_limited")
		if fe, _ := faultOf(err); fe <= 0 {
			t.Fatalf("no Retry-After: %v", err)
		}
	}
	if _, err := other.Suggest(ctx, bruno.P, in); err != nil {
		t.Fatalf("another person is limited too: %v", err)
	}
	e.Clock.Advance(24*time.Hour + time.Minute)
	if _, err := other.Suggest(ctx, anna.P, in); err != nil {
		t.Fatalf("a day later: %v", err)
	}
	if n := len(e.queue(t, coord, aid, "")); n != 5 {
		t.Fatalf("%d suggestions filed, want 5", n)
	}
}

// The queue pages newest first; the status filter is applied to the
// queue's order; a cursor is good for its own list only.
func TestQueuePagesNewestFirst(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, other, anna := e.User("Clara Neri"), e.User("Ugo Gialli"), e.User("Anna Verdi")
	aid := e.Association(coord)
	otherAid := e.Association(other)
	e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: otherAid, Text: "altrove"})
	var ids []string
	for i := range 7 {
		s := e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: aid, Text: fmt.Sprintf("n. %d", i)})
		ids = append(ids, s.ID)
		e.Clock.Advance(time.Minute)
	}
	for _, i := range []int{1, 4} {
		if _, err := e.svc.Decline(ctx, coord.P, ids[i], "no"); err != nil {
			t.Fatal(err)
		}
	}

	pages := func(status string, limit int) ([]string, int) {
		var got []string
		cur, n := "", 0
		for {
			items, next, err := e.svc.Queue(ctx, coord.P, aid, suggestions.Query{Status: status, Cursor: cur, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			n++
			for _, it := range items {
				got = append(got, it.Text)
			}
			if next == "" {
				return got, n
			}
			cur = next
		}
	}
	if got, n := pages("", 3); strings.Join(got, ",") != "n. 6,n. 5,n. 4,n. 3,n. 2,n. 1,n. 0" || n != 3 {
		t.Fatalf("all, by 3: %v in %d pages", got, n)
	}
	if got, _ := pages("pending", 2); strings.Join(got, ",") != "n. 6,n. 5,n. 3,n. 2,n. 0" {
		t.Fatalf("pending: %v", got)
	}
	if got, _ := pages("declined,accepted", 10); strings.Join(got, ",") != "n. 4,n. 1" {
		t.Fatalf("decided: %v", got)
	}

	_, next, err := e.svc.Queue(ctx, coord.P, aid, suggestions.Query{Limit: 2})
	if err != nil || next == "" {
		t.Fatalf("first page: %q, %v", next, err)
	}
	_, _, err = e.svc.Queue(ctx, other.P, otherAid, suggestions.Query{Cursor: next})
	testutil.WantCode(t, err, "bad_cursor")
	_, _, err = e.svc.Mine(ctx, anna.P, suggestions.Query{Cursor: next})
	testutil.WantCode(t, err, "bad_cursor")
	_, _, err = e.svc.Queue(ctx, coord.P, aid, suggestions.Query{Cursor: next + "x"})
	testutil.WantCode(t, err, "bad_cursor")
	_, _, err = e.svc.Queue(ctx, coord.P, aid, suggestions.Query{Status: "open"})
	testutil.WantField(t, err, "status", "invalid")

	mine, _, err := e.svc.Mine(ctx, anna.P, suggestions.Query{Limit: 100})
	if err != nil || len(mine) != 8 || mine[0].Text != "n. 6" || mine[7].Text != "altrove" {
		t.Fatalf("the author's list: %d items, %v", len(mine), err)
	}
}

// The author's data: exported as they see it; on deleting the account,
// every suggestion loses its author, a decided one keeps its text (why the
// entry changed), a pending one is withdrawn with its words, and the
// author's list is emptied.
func TestExportAndErase(t *testing.T) {
	e := setup(t, suggestions.Options{})
	coord, anna, bruno := e.User("Clara Neri"), e.User("Anna Verdi"), e.User("Bruno Gialli")
	aid := e.Association(coord)
	pl := e.place(t, coord, aid, "Biblioteca Lame")
	decided := e.suggest(t, anna, suggestions.NewSuggestion{PlaceID: pl.ID, Text: "Il telefono è cambiato",
		Changes: &locator.Input{Contacts: &locator.Contacts{Phone: "051 333333"}}})
	pending := e.suggest(t, anna, suggestions.NewSuggestion{AssociationID: aid, Text: "Abito sopra, chiamatemi al 333 1234567",
		Changes: &locator.Input{Name: str("Cortile"), Kind: str("green_space")}})
	brunos := e.suggest(t, bruno, suggestions.NewSuggestion{AssociationID: aid, Text: "Di Bruno"})
	if _, err := e.svc.Accept(ctx, coord.P, decided.ID, suggestions.Decision{}); err != nil {
		t.Fatal(err)
	}

	exp, err := e.svc.Export(ctx, anna.P.UserID)
	if err != nil {
		t.Fatal(err)
	}
	items := exp.([]suggestions.Suggestion)
	if len(items) != 2 || items[0].ID != decided.ID || items[0].Status != suggestions.StatusAccepted || items[1].ID != pending.ID {
		t.Fatalf("export: %+v", items)
	}

	if err := e.svc.Erase(ctx, anna.P.UserID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Erase(ctx, anna.P.UserID); err != nil { // again: nothing left to do
		t.Fatal(err)
	}
	byID := map[string]suggestions.Suggestion{}
	for _, s := range e.queue(t, coord, aid, "") {
		byID[s.ID] = s
	}
	if s := byID[decided.ID]; s.Author != "" || s.Text != "Il telefono è cambiato" || s.Status != suggestions.StatusAccepted {
		t.Fatalf("the decided suggestion after erasing: %+v", s)
	}
	if s := byID[pending.ID]; s.Author != "" || s.Text != "" || s.Changes != nil || s.Status != suggestions.StatusWithdrawn {
		t.Fatalf("the pending suggestion after erasing: %+v", s)
	}
	if s := byID[brunos.ID]; s.Author != "Bruno G." || s.Text != "Di Bruno" || s.Status != suggestions.StatusPending {
		t.Fatalf("someone else's suggestion after erasing: %+v", s)
	}
	if mine, _, err := e.svc.Mine(ctx, anna.P, suggestions.Query{}); err != nil || len(mine) != 0 {
		t.Fatalf("the erased author's list: %+v, %v", mine, err)
	}
	if exp, err := e.svc.Export(ctx, anna.P.UserID); err != nil || len(exp.([]suggestions.Suggestion)) != 0 {
		t.Fatalf("export after erasing: %+v, %v", exp, err)
	}
	_, err = e.svc.Accept(ctx, coord.P, pending.ID, suggestions.Decision{})
	testutil.WantCode(t, err, "suggestion_decided")
}

// faultOf is the Retry-After of a domain error.
func faultOf(err error) (time.Duration, bool) {
	fe, ok := fault.As(err)
	if !ok {
		return 0, false
	}
	return fe.RetryAfter, true
}
