package locator_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/hours"
	"civico/internal/locator"
	"civico/internal/testutil"
)

var ctx = context.Background()

type env struct {
	*testutil.Desks
	svc *locator.Service
}

// setup gives each test its own database, the real auth and portineria
// services and a fake clock on Tuesday 10 March 2026 at noon in Rome.
func setup(t *testing.T) *env {
	t.Helper()
	d := testutil.NewDesks(t)
	svc, err := locator.New(ctx, d.Store, d.Portineria, d.Auth, d.Clock, nil, locator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{Desks: d, svc: svc}
}

func str(s string) *string          { return &s }
func num(f float64) *float64        { return &f }
func list(v ...string) *[]string    { return &v }
func week(w hours.Week) *hours.Week { return &w }

// Piazza dell'Unità, Bologna, and points north of it.
const baseLat, baseLng = 44.5075, 11.3514

// north is the latitude m metres north of the base.
func north(m float64) float64 { return baseLat + m/111_195 }

func (e *env) place(t *testing.T, who testutil.Person, aid string, in locator.Input) locator.Place {
	t.Helper()
	p, err := e.svc.Create(ctx, who.P, aid, in, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) search(t *testing.T, sp locator.SearchParams) ([]locator.Place, string) {
	t.Helper()
	items, next, err := e.svc.Search(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	return items, next
}

func names(items []locator.Place) []string {
	out := []string{}
	for _, p := range items {
		out = append(out, p.Name)
	}
	return out
}

func TestNearFindsWithinTheRadiusOnly(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	e.place(t, vol, aid, locator.Input{Name: str("Casa della salute"), Kind: str("health"), Lat: num(north(400)), Lng: num(baseLng)})
	e.place(t, vol, aid, locator.Input{Name: str("Poliambulatorio lontano"), Kind: str("health"), Lat: num(north(4000)), Lng: num(baseLng)})
	e.place(t, vol, aid, locator.Input{Name: str("Ambulatorio senza indirizzo"), Kind: str("health")})

	items, _ := e.search(t, locator.SearchParams{Near: fmt.Sprintf("%f,%f", baseLat, baseLng), RadiusM: "1000"})
	if got := names(items); !slices.Equal(got, []string{"Casa della salute"}) {
		t.Fatalf("within 1 km: %v", got)
	}
	if d := items[0].DistanceM; d == nil || *d < 390 || *d > 410 {
		t.Fatalf("distance %v, want about 400 m", d)
	}
	items, _ = e.search(t, locator.SearchParams{Near: fmt.Sprintf("%f,%f", baseLat, baseLng), RadiusM: "5000"})
	if got := names(items); !slices.Equal(got, []string{"Casa della salute", "Poliambulatorio lontano"}) {
		t.Fatalf("within 5 km, nearest first: %v", got)
	}
	for _, bad := range []locator.SearchParams{{Near: "44.5"}, {Near: "95,11"}, {Near: "44.5,11.3", RadiusM: "10"}, {RadiusM: "1000"}} {
		if _, _, err := e.svc.Search(ctx, bad); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
}

func TestOpenAt(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	iv := func(o, c string) []hours.Interval { return []hours.Interval{{Open: o, Close: c}} }
	var night hours.Week
	night.Days[0] = iv("20:00", "02:00") // Monday evening into Tuesday
	e.place(t, vol, aid, locator.Input{Name: str("Dormitorio notturno"), Kind: str("social_services"), Hours: week(night)})
	var office hours.Week
	office.Days[4] = iv("09:00", "12:00") // Friday
	office.Days[6] = iv("09:00", "12:00") // Sunday
	office.Exceptions = []hours.Exception{{Date: "2026-12-25", Closed: true, Note: "Natale"}}
	e.place(t, vol, aid, locator.Input{Name: str("Sportello sociale"), Kind: str("social_services"), Hours: week(office)})
	e.place(t, vol, aid, locator.Input{Name: str("Orari sconosciuti"), Kind: str("social_services")})

	cases := []struct {
		name string
		at   string
		want []string
	}{
		{"monday night", "2026-03-16T23:30:00+01:00", []string{"Dormitorio notturno"}},
		{"after midnight, still monday's night", "2026-03-17T01:30:00+01:00", []string{"Dormitorio notturno"}},
		{"tuesday's small hours past closing", "2026-03-17T03:00:00+01:00", []string{}},
		{"tuesday night, only monday opens at night", "2026-03-17T23:30:00+01:00", []string{}},
		{"a friday morning", "2026-12-18T10:00:00+01:00", []string{"Sportello sociale"}},
		{"christmas friday, closed", "2026-12-25T10:00:00+01:00", []string{}},
		// 29 March 2026: clocks go forward at 02:00 in Rome. 10:30 UTC is
		// 12:30 there (closed), though it would be 11:30 in winter time.
		{"summer time begins: 09:30 local", "2026-03-29T07:30:00Z", []string{"Sportello sociale"}},
		{"summer time begins: 12:30 local", "2026-03-29T10:30:00Z", []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, _ := e.search(t, locator.SearchParams{OpenAt: c.at})
			if got := names(items); !slices.Equal(got, c.want) {
				t.Fatalf("open at %s: %v, want %v", c.at, got, c.want)
			}
			for _, p := range items {
				if p.OpenNow == nil || !*p.OpenNow {
					t.Fatalf("%s not marked open", p.Name)
				}
			}
		})
	}
	// Open now: the fake clock says Tuesday 10 March at 12:00 in Rome.
	e.Clock.Set(time.Date(2026, 3, 13, 9, 30, 0, 0, time.UTC)) // Friday 10:30 in Rome
	items, _ := e.search(t, locator.SearchParams{OpenNow: "1"})
	if got := names(items); !slices.Equal(got, []string{"Sportello sociale"}) {
		t.Fatalf("open now: %v", got)
	}
}

func TestFilters(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	other := e.Association(e.User("Bruno Neri"))
	e.place(t, vol, aid, locator.Input{Name: str("Biblioteca Nicolò Tommaseo"), Kind: str("library"), Area: str("Bolognina"),
		Targets: list("everyone"), Description: str("Prestito di libri, corsi di italiano")})
	e.place(t, vol, aid, locator.Input{Name: str("Centro diurno Il Melograno"), Kind: str("elderly"), Area: str("Bolognina"),
		Targets: list("elderly", "carers"), Address: str("Via Albani 3")})
	e.place(t, vol, aid, locator.Input{Name: str("Ludoteca Scubidù"), Kind: str("families"), Area: str("Navile"),
		Targets: list("children", "families")})
	b, err := e.svc.Create(ctx, e.User("Nobody").P, other, locator.Input{Name: str("x"), Kind: str("other")}, "")
	testutil.WantCode(t, err, "association_not_found")
	_ = b

	cases := []struct {
		name string
		sp   locator.SearchParams
		want []string
	}{
		{"everything, by name", locator.SearchParams{}, []string{"Biblioteca Nicolò Tommaseo", "Centro diurno Il Melograno", "Ludoteca Scubidù"}},
		{"kind", locator.SearchParams{Kind: "elderly"}, []string{"Centro diurno Il Melograno"}},
		{"area, case and accents aside", locator.SearchParams{Area: "bolognina"}, []string{"Biblioteca Nicolò Tommaseo", "Centro diurno Il Melograno"}},
		{"target, and places for everyone", locator.SearchParams{Target: "elderly"}, []string{"Biblioteca Nicolò Tommaseo", "Centro diurno Il Melograno"}},
		{"target children", locator.SearchParams{Target: "children"}, []string{"Biblioteca Nicolò Tommaseo", "Ludoteca Scubidù"}},
		{"text without accents", locator.SearchParams{Q: "nicolo"}, []string{"Biblioteca Nicolò Tommaseo"}},
		{"word prefixes, every word", locator.SearchParams{Q: "SCUBI lud"}, []string{"Ludoteca Scubidù"}},
		{"description", locator.SearchParams{Q: "italiano"}, []string{"Biblioteca Nicolò Tommaseo"}},
		{"address", locator.SearchParams{Q: "albani"}, []string{"Centro diurno Il Melograno"}},
		{"no word inside a word", locator.SearchParams{Q: "grano"}, []string{}},
		{"association", locator.SearchParams{AssociationID: other}, []string{}},
		{"kind and area", locator.SearchParams{Kind: "families", Area: "Bolognina"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, _ := e.search(t, c.sp)
			if got := names(items); !slices.Equal(got, c.want) {
				t.Fatalf("%v, want %v", got, c.want)
			}
		})
	}
	_, _, err = e.svc.Search(ctx, locator.SearchParams{Kind: "bar"})
	testutil.WantField(t, err, "kind", "unknown")
}

func TestPagination(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("Parco %c", 'A'+i)
		want = append(want, name)
		e.place(t, vol, aid, locator.Input{Name: str(name), Kind: str("green_space"), Lat: num(north(float64(700 - 100*i))), Lng: num(baseLng)})
	}
	pages := func(sp locator.SearchParams) []string {
		var got []string
		for n := 0; ; n++ {
			items, next := e.search(t, sp)
			if len(items) > 3 || n > 5 {
				t.Fatalf("page of %d", len(items))
			}
			got = append(got, names(items)...)
			if next == "" {
				return got
			}
			sp.Cursor = next
		}
	}
	if got := pages(locator.SearchParams{Limit: 3}); !slices.Equal(got, want) {
		t.Fatalf("by name: %v", got)
	}
	// Near the base, Parco G (100 m) comes first.
	got := pages(locator.SearchParams{Limit: 3, Near: fmt.Sprintf("%f,%f", baseLat, baseLng), RadiusM: "1000"})
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Fatalf("by distance: %v", got)
	}
	_, next := e.search(t, locator.SearchParams{Limit: 3})
	_, _, err := e.svc.Search(ctx, locator.SearchParams{Limit: 3, Cursor: next, Near: "44.5,11.3"})
	testutil.WantCode(t, err, "bad_cursor") // a cursor by name is no cursor by distance
	_, _, err = e.svc.Search(ctx, locator.SearchParams{Cursor: next[:len(next)-2] + "xx"})
	testutil.WantCode(t, err, "bad_cursor")
}

func TestStaleAfterAYear(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	p := e.place(t, vol, aid, locator.Input{Name: str("Farmacia comunale"), Kind: str("health")})
	if p.Stale || !p.VerifiedAt.Equal(e.Clock.Now()) {
		t.Fatalf("new place: stale %v, verified %v", p.Stale, p.VerifiedAt)
	}
	e.Clock.Advance(364 * 24 * time.Hour)
	if got, _ := e.svc.Get(ctx, p.ID); got.Stale {
		t.Fatal("stale before a year")
	}
	e.Clock.Advance(2 * 24 * time.Hour)
	got, _ := e.svc.Get(ctx, p.ID)
	items, _ := e.search(t, locator.SearchParams{})
	if !got.Stale || len(items) != 1 || !items[0].Stale {
		t.Fatal("not stale after a year")
	}
	v, err := e.svc.Verify(ctx, vol.P, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Stale || !v.VerifiedAt.Equal(e.Clock.Now()) {
		t.Fatalf("verified: stale %v at %v", v.Stale, v.VerifiedAt)
	}
	items, _ = e.search(t, locator.SearchParams{})
	if items[0].Stale || !items[0].VerifiedAt.Equal(e.Clock.Now()) {
		t.Fatal("search shows the old verification")
	}
}

func TestOnlyVolunteersKeepPlaces(t *testing.T) {
	e := setup(t)
	coord, vol, stranger := e.User("Carla Rossi"), e.User("Dario Bianchi"), e.User("Elena Verdi")
	aid := e.Association(coord, vol)
	p := e.place(t, vol, aid, locator.Input{Name: str("Centro sociale"), Kind: str("culture")})

	_, err := e.svc.Create(ctx, stranger.P, aid, locator.Input{Name: str("Mio posto"), Kind: str("other")}, "")
	testutil.WantCode(t, err, "association_not_found")
	_, err = e.svc.Create(ctx, auth.Principal{}, aid, locator.Input{Name: str("Mio posto"), Kind: str("other")}, "")
	testutil.WantCode(t, err, "association_not_found")
	_, err = e.svc.Update(ctx, stranger.P, p.ID, locator.Input{Name: str("Preso")}, "")
	testutil.WantCode(t, err, "place_not_found")
	_, err = e.svc.Verify(ctx, stranger.P, p.ID)
	testutil.WantCode(t, err, "place_not_found")
	testutil.WantCode(t, e.svc.Delete(ctx, stranger.P, p.ID), "place_not_found")
	_, _, err = e.svc.History(ctx, stranger.P, p.ID, "", 10)
	testutil.WantCode(t, err, "place_not_found")
	testutil.WantCode(t, e.svc.CanKeep(ctx, stranger.P, aid), "association_not_found")
	if err := e.svc.CanKeep(ctx, vol.P, aid); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.Get(ctx, p.ID); got.Name != "Centro sociale" || got.Version != 1 {
		t.Fatalf("changed by a stranger: %+v", got)
	}
	if err := e.svc.Delete(ctx, coord.P, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Get(ctx, p.ID)
	testutil.WantCode(t, err, "place_not_found")
	if items, _ := e.search(t, locator.SearchParams{}); len(items) != 0 {
		t.Fatalf("deleted place found: %v", names(items))
	}
}

func TestValidation(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	cases := []struct {
		in           locator.Input
		field, probl string
	}{
		{locator.Input{Kind: str("health")}, "name", "required"},
		{locator.Input{Name: str("x")}, "kind", "required"},
		{locator.Input{Name: str("x"), Kind: str("bar")}, "kind", "unknown"},
		{locator.Input{Name: str(strings.Repeat("a", 121)), Kind: str("health")}, "name", "too_long"},
		{locator.Input{Name: str("x"), Kind: str("health"), Lat: num(44)}, "lng", "required"},
		{locator.Input{Name: str("x"), Kind: str("health"), Lat: num(91), Lng: num(11)}, "lat", "out_of_range"},
		{locator.Input{Name: str("x"), Kind: str("health"), Targets: list("aliens")}, "targets", "unknown"},
		{locator.Input{Name: str("x"), Kind: str("health"), Languages: list("italiano")}, "languages", "invalid"},
		{locator.Input{Name: str("x"), Kind: str("health"), TimeZone: str("Mars/Olympus")}, "time_zone", "invalid"},
		{locator.Input{Name: str("x"), Kind: str("health"), Contacts: &locator.Contacts{Email: "nope"}}, "contacts.email", "invalid"},
		{locator.Input{Name: str("x"), Kind: str("health"), Contacts: &locator.Contacts{Web: "javascript:alert(1)"}}, "contacts.web", "invalid"},
		{locator.Input{Name: str("x"), Kind: str("health"), Contacts: &locator.Contacts{Phone: "chiamami"}}, "contacts.phone", "invalid"},
	}
	for _, c := range cases {
		_, err := e.svc.Create(ctx, vol.P, aid, c.in, "")
		testutil.WantField(t, err, c.field, c.probl)
	}
	p := e.place(t, vol, aid, locator.Input{Name: str("  Casa   di quartiere "), Kind: str("culture"), Languages: list("IT", "en", "it"),
		Contacts: &locator.Contacts{Web: "www.casadiquartiere.it", Email: "Info@Casa.it"}})
	if p.Name != "Casa di quartiere" || !slices.Equal(p.Languages, []string{"it", "en"}) || p.Contacts.Web != "https://www.casadiquartiere.it" ||
		p.Contacts.Email != "info@casa.it" || p.TimeZone != "Europe/Rome" {
		t.Fatalf("cleaned: %+v", p)
	}
}

func TestConcurrentUpdatesBothApply(t *testing.T) {
	e := setup(t)
	vol, other := e.User("Carla Rossi"), e.User("Dario Bianchi")
	aid := e.Association(vol, other)
	p := e.place(t, vol, aid, locator.Input{Name: str("Palestra popolare"), Kind: str("sport")})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, in := range []locator.Input{{Description: str("Corsi gratuiti")}, {Address: str("Via Fioravanti 24")}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := []testutil.Person{vol, other}[i]
			_, errs[i] = e.svc.Update(ctx, who.P, p.ID, in, "")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := e.svc.Get(ctx, p.ID)
	if got.Description != "Corsi gratuiti" || got.Address != "Via Fioravanti 24" || got.Version != 3 {
		t.Fatalf("after two updates: %+v", got)
	}
	items, _ := e.search(t, locator.SearchParams{Q: "fioravanti gratuiti"})
	if len(items) != 1 {
		t.Fatal("the search record lost one of the changes")
	}
}

func TestHistoryExportErase(t *testing.T) {
	e := setup(t)
	coord, vol := e.User("Carla Rossi"), e.User("Dario Bianchi")
	aid := e.Association(coord, vol)
	p := e.place(t, vol, aid, locator.Input{Name: str("Centro per le famiglie"), Kind: str("families")})
	e.Clock.Advance(time.Hour)
	if _, err := e.svc.Update(ctx, coord.P, p.ID, locator.Input{Kind: str("social_services"), Address: str("Via Gorki 10")}, "650000000000000000000001"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Hour)
	if _, err := e.svc.Update(ctx, vol.P, p.ID, locator.Input{Address: str("Via Gorki 10")}, ""); err != nil {
		t.Fatal(err)
	}
	h, next, err := e.svc.History(ctx, coord.P, p.ID, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || next == "" || h[0].Action != "verified" || h[0].UserName != "Dario Bianchi" ||
		h[1].Action != "updated" || !slices.Equal(h[1].Fields, []string{"kind", "address"}) || h[1].Via != "650000000000000000000001" ||
		h[1].UserName != "Carla Rossi" {
		t.Fatalf("newest first: %+v", h)
	}
	older, next, err := e.svc.History(ctx, coord.P, p.ID, next, 2)
	if err != nil || len(older) != 1 || next != "" || older[0].Action != "created" || older[0].UserID != vol.P.UserID {
		t.Fatalf("oldest: %+v %q %v", older, next, err)
	}
	// The kind moved the place to another shard: found there only.
	if items, _ := e.search(t, locator.SearchParams{Kind: "families"}); len(items) != 0 {
		t.Fatal("found under its old kind")
	}
	if items, _ := e.search(t, locator.SearchParams{Kind: "social_services"}); len(items) != 1 {
		t.Fatal("not found under its new kind")
	}

	x, err := e.svc.Export(ctx, vol.P.UserID)
	if err != nil {
		t.Fatal(err)
	}
	mine := x.([]locator.MyChange)
	if len(mine) != 2 || mine[0].PlaceID != p.ID || mine[0].Action != "created" {
		t.Fatalf("export: %+v", mine)
	}
	if err := e.svc.Erase(ctx, vol.P.UserID); err != nil {
		t.Fatal(err)
	}
	all, _, _ := e.svc.History(ctx, coord.P, p.ID, "", 10)
	for _, c := range all {
		if c.UserID == vol.P.UserID {
			t.Fatalf("erased user still in the history: %+v", c)
		}
	}
	if all[1].UserID != coord.P.UserID || all[0].UserID != "" || all[0].UserName != "" {
		t.Fatalf("after erasure: %+v", all)
	}
	x, _ = e.svc.Export(ctx, vol.P.UserID)
	if len(x.([]locator.MyChange)) != 0 {
		t.Fatal("erased user still has changes to export")
	}
}

func TestCSVRoundTrip(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	var w hours.Week
	w.Days[0] = []hours.Interval{{Open: "09:00", Close: "12:30"}, {Open: "15:00", Close: "18:00"}}
	w.Exceptions = []hours.Exception{{Date: "2026-12-25", Closed: true}}
	ins := []locator.Input{
		{Name: str("Caffè \"Il Ritrovo\", Bolognina"), Kind: str("culture"), Description: str("Letture, musica\ne \"tè\" per tutti, ogni giorno"),
			Address: str("Via dell'Arcoveggio 5, Bologna"), Area: str("Bolognina"), Lat: num(44.51), Lng: num(11.34),
			Targets: list("everyone", "elderly"), Hours: week(w), Languages: list("it", "en"),
			Contacts:      &locator.Contacts{Phone: "+39 051 123456", Email: "info@ritrovo.it", Web: "https://ritrovo.it/?a=1,2"},
			Accessibility: str("Rampa d'accesso; bagno accessibile")},
		{Name: str("=HYPERLINK(\"http://evil\")"), Kind: str("other"), Description: str("-2+3"), Address: str("@SUM(A1)"),
			Accessibility: str("'=già tra apici")},
	}
	for _, in := range ins {
		e.place(t, vol, aid, in)
	}
	out, err := e.svc.ExportCSV(ctx, vol.P, aid)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 || !slices.Equal(recs[0], locator.CSVHeader) {
		t.Fatalf("csv: %v %q", err, out)
	}
	for _, rec := range recs[1:] {
		for i, cell := range rec {
			if t0 := strings.TrimLeft(cell, " "); t0 != "" && strings.ContainsRune("=+-@\t\r", rune(t0[0])) {
				t.Fatalf("column %s exported as a formula: %q", recs[0][i], cell)
			}
		}
	}

	// Into another association: the same places, created.
	coord2 := e.User("Bruno Neri")
	aid2 := e.Association(coord2)
	res, err := e.svc.ImportCSV(ctx, coord2.P, aid2, out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 2 || res.Updated != 0 {
		t.Fatalf("import: %+v", res)
	}
	before, _ := e.search(t, locator.SearchParams{AssociationID: aid})
	after, _ := e.search(t, locator.SearchParams{AssociationID: aid2})
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("%d and %d places", len(before), len(after))
	}
	for i := range before {
		a, b := before[i], after[i]
		if a.ID == b.ID {
			t.Fatal("the other association's id was reused")
		}
		a.ID, a.AssociationID, a.VerifiedAt, a.CreatedAt, a.UpdatedAt = b.ID, b.AssociationID, b.VerifiedAt, b.CreatedAt, b.UpdatedAt
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("round trip:\n%s\n%s", ja, jb)
		}
	}
	// Into the same association: nothing changes, nothing is re-verified.
	e.Clock.Advance(time.Hour)
	res, err = e.svc.ImportCSV(ctx, vol.P, aid, out)
	if err != nil || res.Unchanged != 2 || res.Created+res.Updated != 0 {
		t.Fatalf("re-import: %+v %v", res, err)
	}
	// An edited row updates its place.
	edited := bytes.Replace(out, []byte("Bolognina\","), []byte("Navile\","), 1)
	res, err = e.svc.ImportCSV(ctx, vol.P, aid, edited)
	if err != nil || res.Updated != 1 {
		t.Fatalf("edited import: %+v %v", res, err)
	}
}

func TestCSVImportAllOrNothing(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	body := "name;kind;targets;lat;lng;hours\n" +
		"Biblioteca Lame;library;everyone|youth;44,52;11,33;mon 09:00-13:00\n" +
		"Senza tipo;;;;;\n" +
		"Orari strani;library;;;;lunedì mattina\n" +
		"Lontano;sport;aliens;;;\n"
	_, err := e.svc.ImportCSV(ctx, vol.P, aid, []byte(body))
	testutil.WantCode(t, err, "csv_invalid")
	testutil.WantField(t, err, "row_3.kind", "required")
	testutil.WantField(t, err, "row_4.hours", "invalid")
	testutil.WantField(t, err, "row_5.targets", "unknown")
	if items, _ := e.search(t, locator.SearchParams{}); len(items) != 0 {
		t.Fatalf("imported despite errors: %v", names(items))
	}
	_, err = e.svc.ImportCSV(ctx, vol.P, aid, []byte("name,colour\nx,red\n"))
	testutil.WantField(t, err, "header.colour", "unknown")
	res, err := e.svc.ImportCSV(ctx, vol.P, aid, []byte(strings.SplitN(body, "\n", 3)[0]+"\n"+strings.SplitN(body, "\n", 3)[1]+"\n"))
	if err != nil || res.Created != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	items, _ := e.search(t, locator.SearchParams{Near: "44.52,11.33", RadiusM: "100", Target: "youth"})
	if len(items) != 1 || items[0].Hours.Empty() {
		t.Fatalf("semicolons and decimal commas: %+v", items)
	}
	stranger := e.User("Elena Verdi")
	_, err = e.svc.ImportCSV(ctx, stranger.P, aid, []byte(body))
	testutil.WantCode(t, err, "association_not_found")
}

func TestGeoJSON(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	e.place(t, vol, aid, locator.Input{Name: str("Giardino Guido Fanti"), Kind: str("green_space"), Lat: num(44.5123), Lng: num(11.3456)})
	e.place(t, vol, aid, locator.Input{Name: str("Senza coordinate"), Kind: str("green_space")})
	e.place(t, vol, aid, locator.Input{Name: str("Scuola Testoni"), Kind: str("school"), Lat: num(44.51), Lng: num(11.35)})
	b, err := e.svc.GeoJSON(ctx, aid, "green_space")
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type     string `json:"type"`
			Geometry struct {
				Type        string    `json:"type"`
				Coordinates []float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 1 {
		t.Fatalf("%s", b)
	}
	f := fc.Features[0]
	if f.Type != "Feature" || f.Geometry.Type != "Point" || !slices.Equal(f.Geometry.Coordinates, []float64{11.3456, 44.5123}) ||
		f.Properties["name"] != "Giardino Guido Fanti" || f.Properties["kind"] != "green_space" {
		t.Fatalf("%s", b)
	}
	b, _ = e.svc.GeoJSON(ctx, "", "")
	if err := json.Unmarshal(b, &fc); err != nil || len(fc.Features) != 2 {
		t.Fatalf("all: %s", b)
	}
}

// A large import lands every place in search and in its history, and a
// second import moving some of them to another kind moves them there.
func TestCSVImportLarge(t *testing.T) {
	e := setup(t)
	vol := e.User("Carla Rossi")
	aid := e.Association(vol)
	kinds := []string{"health", "health", "library", "sport", "elderly"}
	want := map[string]int{}
	var b strings.Builder
	b.WriteString("name,kind,description,lat,lng,hours\n")
	const n = 2000
	for i := range n {
		k := kinds[i%len(kinds)]
		want[k]++
		fmt.Fprintf(&b, "Luogo %04d,%s,Sportello numero %d,%.5f,%.5f,mon 09:00-12:00\n", i, k, i, north(float64(i)), baseLng)
	}
	res, err := e.svc.ImportCSV(ctx, vol.P, aid, []byte(b.String()))
	if err != nil || res.Created != n {
		t.Fatalf("import: %+v %v", res, err)
	}
	byKind := func() map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for k := range want {
			raw, err := e.svc.GeoJSON(ctx, aid, k)
			if err != nil {
				t.Fatal(err)
			}
			var fc locator.FeatureCollection
			if err := json.Unmarshal(raw, &fc); err != nil {
				t.Fatal(err)
			}
			for _, f := range fc.Features {
				if f.Properties.Kind != k {
					t.Fatalf("a place of kind %s found as %s", f.Properties.Kind, k)
				}
				out[k] = append(out[k], f.ID)
			}
		}
		return out
	}
	found := byKind()
	all := map[string]bool{}
	for k, ids := range found {
		if len(ids) != want[k] {
			t.Fatalf("%s: %d places found, %d imported", k, len(ids), want[k])
		}
		for _, id := range ids {
			all[id] = true
		}
	}
	if len(all) != n {
		t.Fatalf("%d places found, %d imported", len(all), n)
	}
	// Every place's history has the import, by whom, and the user's list
	// has every place (Export reads both).
	x, err := e.svc.Export(ctx, vol.P.UserID)
	if err != nil {
		t.Fatal(err)
	}
	mine := x.([]locator.MyChange)
	if len(mine) != n {
		t.Fatalf("%d changes exported, want %d", len(mine), n)
	}
	for _, c := range mine {
		if !all[c.PlaceID] || c.Action != "imported" || len(c.Fields) == 0 {
			t.Fatalf("exported: %+v", c)
		}
		delete(all, c.PlaceID)
	}
	h, _, err := e.svc.History(ctx, vol.P, found["sport"][0], "", 10)
	if err != nil || len(h) != 1 || h[0].Action != "imported" || h[0].UserName != "Carla Rossi" {
		t.Fatalf("history: %+v %v", h, err)
	}

	// Thirty health places become libraries, one is renamed only.
	e.Clock.Advance(time.Hour)
	moved := found["health"][:30]
	b.Reset()
	b.WriteString("id,kind\n")
	for _, id := range moved {
		fmt.Fprintf(&b, "%s,library\n", id)
	}
	fmt.Fprintf(&b, "%s,sport\n", found["sport"][0])
	res, err = e.svc.ImportCSV(ctx, vol.P, aid, []byte(b.String()))
	if err != nil || res.Updated != 30 || res.Unchanged != 1 || res.Created != 0 {
		t.Fatalf("second import: %+v %v", res, err)
	}
	want["health"] -= 30
	want["library"] += 30
	for k, ids := range byKind() {
		if len(ids) != want[k] {
			t.Fatalf("after moving: %s has %d places, want %d", k, len(ids), want[k])
		}
	}
	h, _, err = e.svc.History(ctx, vol.P, moved[0], "", 10)
	if err != nil || len(h) != 2 || h[0].Action != "imported" || !slices.Equal(h[0].Fields, []string{"kind"}) {
		t.Fatalf("history after moving: %+v %v", h, err)
	}
}
