package pwa_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"civico/internal/testutil"
)

// placeOut is a place as the API answers it.
type placeOut struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Area     string `json:"area"`
	Address  string `json:"address"`
	Contacts struct {
		Phone string `json:"phone"`
		Email string `json:"email"`
	} `json:"contacts"`
	Hours map[string]any `json:"hours"`
}

// newPlace creates a place of association aid through the API, as one of
// its volunteers, and returns its id.
func newPlace(t *testing.T, srv *testutil.Server, token, aid string, body map[string]any) string {
	t.Helper()
	var p placeOut
	srv.Do(t, "POST", "/associations/"+aid+"/places", body, token).Expect(t, http.StatusCreated).JSON(t, &p)
	return p.ID
}

// always is a week open at every hour: the afternoon's opening closes at
// midnight (a close before the opening crosses midnight), so "open now"
// holds whenever the test runs.
func always(exceptions ...map[string]any) map[string]any {
	day := [][]string{{"00:00", "12:00"}, {"12:00", "00:00"}}
	w := map[string]any{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		w[d] = day
	}
	if len(exceptions) > 0 {
		w["exceptions"] = exceptions
	}
	return w
}

// TestVisitorFindsServices: someone with no account opens "Servizi del
// quartiere" from the menu, looks for what is around Via Tibaldi, keeps
// the health services open now, and finds the nurses' clinic with its
// phone, email and a geo: link for the phone's own maps — not the family
// clinic (closed today for a holiday) nor the library (another kind).
// Focus moves to the results and their number is announced. Suggesting
// a place asks them to sign in first. The signal drops: the services
// screen opens all the same, with the last results and a note saying so,
// and so does the clinic's page.
func TestVisitorFindsServices(t *testing.T) {
	t.Parallel()
	srv := start(t)
	veraU := srv.Register(t, "Vera")
	aid := srv.Association(t, veraU, "Portinaio di rione Bolognina", 500)
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(rome)
	clinic := newPlace(t, srv, veraU.Token, aid, map[string]any{
		"name": "Ambulatorio infermieristico Tibaldi", "kind": "health", "area": "Bolognina", "address": "Via Tibaldi 17, Bologna",
		"lat": 44.5075, "lng": 11.3514, "targets": []string{"everyone", "elderly"}, "hours": always(),
		"contacts":  map[string]string{"phone": "051 555 0101", "email": "ambulatorio@example.org", "web": "ambulatorio.example.org"},
		"languages": []string{"it", "en"}, "accessibility": "Ingresso senza gradini",
	})
	newPlace(t, srv, veraU.Token, aid, map[string]any{
		"name": "Consultorio familiare Tibaldi", "kind": "health", "area": "Bolognina", "address": "Via Tibaldi 20, Bologna",
		"hours": always(
			map[string]any{"date": now.Format("2006-01-02"), "closed": true, "note": "festa"},
			map[string]any{"date": now.AddDate(0, 0, 1).Format("2006-01-02"), "closed": true}),
	})
	newPlace(t, srv, veraU.Token, aid, map[string]any{
		"name": "Biblioteca Tibaldi", "kind": "library", "area": "Bolognina", "hours": always(),
	})

	ugo := newTab(t, srv, "ugo")
	ugo.open("/signin")
	ugo.click(`#nav a[href="/places"]`)
	ugo.waitPath("/places")
	ugo.waitJS("first results", `document.querySelectorAll('#places .place').length === 3`)
	ugo.waitWorker()

	ugo.fill(`#places-search [name=q]`, "Tibaldi")
	ugo.click(`#places-more summary`)
	ugo.choose(`#places-search [name=kind]`, "health")
	ugo.click(`#places-search [name=open]`)
	ugo.click(`#places-go`)
	ugo.waitJS("one result", `document.querySelectorAll('#places .place').length === 1 && !document.querySelector('#places-search[aria-busy]')`)
	ugo.waitText(`#places .place[data-place-id="`+clinic+`"] h3`, "Ambulatorio infermieristico")
	var after struct {
		Focus string `json:"focus"`
		Live  string `json:"live"`
		URL   string `json:"url"`
	}
	ugo.eval(`({ focus: document.activeElement.id, live: document.getElementById('places-live').textContent, url: location.pathname + location.search })`, &after)
	if after.Focus != "places-results" || after.Live != "Trovato 1 luogo" {
		t.Errorf("after the search focus is on #%s and the live region says %q; want the results' heading focused and \"Trovato 1 luogo\"", after.Focus, after.Live)
	}
	if after.URL != "/places?q=Tibaldi&kind=health&open=1" {
		t.Errorf("the address is %q, want the filters in it to share or come back to", after.URL)
	}
	card := `#places .place[data-place-id="` + clinic + `"] `
	var links struct {
		Tel, Mail, Geo, Web, Open string
	}
	ugo.eval(`(() => { const c = document.querySelector('`+card+`'); const a = (s) => (c.querySelector(s) || {}).href || '';
	  return { tel: a('a.call'), mail: a('a.write'), geo: a('a.directions'), web: a('a.website'), open: (c.querySelector('.open-now') || {}).textContent || '' }; })()`, &links)
	want := struct{ Tel, Mail, Geo, Web, Open string }{"tel:0515550101", "mailto:ambulatorio@example.org",
		"geo:44.5075,11.3514?q=44.5075%2C11.3514(Ambulatorio%20infermieristico%20Tibaldi)", "https://ambulatorio.example.org/", "Aperto adesso"}
	if links != want {
		t.Errorf("the clinic's links: %+v\nwant %+v", links, want)
	}
	ugo.click(card + `.place-more summary`)
	ugo.waitText(card+`.place-facts`, "Ingresso senza gradini")
	ugo.waitText(card+`.hours-week`, "00:00–12:00, 12:00–00:00")
	var suggest string
	ugo.eval(`document.getElementById('suggest-place').getAttribute('href')`, &suggest)
	if suggest != "/signin?next=%2Fplaces%2Fsuggest" {
		t.Errorf("signed out, \"suggest a place\" leads to %q, want the sign-in screen first", suggest)
	}
	ugo.screen("places")

	ugo.setOffline(true)
	ugo.open("/places?q=Tibaldi&kind=health&open=1")
	ugo.waitJS("saved results", `!document.getElementById('places-saved').hidden && document.querySelector('#places .place[data-place-id="`+clinic+`"]')`)
	ugo.waitText("#places-saved", "offline")
	ugo.screen("places-offline")
	ugo.click(card + `h3 a`)
	ugo.waitPath("/places/" + clinic)
	ugo.waitText("main h1", "Ambulatorio infermieristico Tibaldi")
	ugo.waitJS("the saved entry, with its links", `document.querySelector('main .saved') && document.querySelector('#place-actions a[href^="tel:"]')`)
}

// TestDeskKeepsThePlaces: Vera, at the desk, adds the Tuesday market's
// help point through the form, with its week's hours and Christmas
// closed. Anna, a resident, suggests the community garden nobody listed;
// it waits in the desk's queue, where Vera accepts it, and it is on the
// map. Vera then refers Giuseppe, a member met at the counter, to the
// help point; the follow-up's link with ?answer=helped only picks the
// answer until she taps it.
func TestDeskKeepsThePlaces(t *testing.T) {
	t.Parallel()
	srv := start(t)
	veraU, annaU := srv.Register(t, "Vera"), srv.Register(t, "Anna")
	aid := srv.Association(t, veraU, "Portinaio di rione Bolognina", 500)
	giuseppe := srv.Member(t, veraU.Token, aid, map[string]any{"full_name": "Giuseppe Verdi", "phone": "051 555 1234"})

	vera := newTab(t, srv, "vera")
	vera.signIn(veraU)
	vera.open("/portineria/" + aid + "/places")
	vera.waitJS("no places yet", `document.querySelector('#assoc-places .state.empty')`)
	vera.click("#new-place")
	vera.waitPath("/portineria/" + aid + "/places/new")
	vera.fill(`#place-form [name=name]`, "Punto d'ascolto del mercato")
	vera.choose(`#place-form [name=kind]`, "social_services")
	vera.fill(`#place-form [name=address]`, "Piazza dell'Unità 4, Bologna")
	vera.fill(`#place-form [name=area]`, "Bolognina")
	vera.click(`#place-form input[name=targets][value=elderly]`)
	vera.fill(`#place-form [name="hours.tue"]`, "9-12.30, 15:00-18:00")
	vera.fill(`#place-form [name="hours.exceptions"]`, "2026-12-25 chiuso Natale")
	vera.fill(`#place-form [name="contacts.phone"]`, "051 555 0202")
	vera.click(`#place-form input[name=languages][value=ar]`)
	vera.screen("place-form")
	vera.click(`#place-form button[type=submit]`)
	vera.waitPath("/portineria/" + aid + "/places")
	vera.waitText("#my-places .place h3", "Punto d'ascolto del mercato")
	var id string
	vera.eval(`document.querySelector('#my-places .place').dataset.placeId`, &id)
	var got struct {
		Kind    string   `json:"kind"`
		Targets []string `json:"targets"`
		Hours   struct {
			Tue        [][]string `json:"tue"`
			Mon        [][]string `json:"mon"`
			Exceptions []struct {
				Date   string `json:"date"`
				Closed bool   `json:"closed"`
			} `json:"exceptions"`
		} `json:"hours"`
	}
	srv.Do(t, "GET", "/places/"+id, nil, "").Expect(t, http.StatusOK).JSON(t, &got)
	if got.Kind != "social_services" || fmt.Sprint(got.Targets) != "[elderly]" || fmt.Sprint(got.Hours.Tue) != "[[09:00 12:30] [15:00 18:00]]" ||
		len(got.Hours.Mon) != 0 || len(got.Hours.Exceptions) != 1 || got.Hours.Exceptions[0].Date != "2026-12-25" || !got.Hours.Exceptions[0].Closed {
		t.Errorf("the place as saved: %+v; want social services for the elderly, Tuesday 09:00-12:30 and 15:00-18:00, closed on 2026-12-25", got)
	}
	vera.screen("desk-places")

	// Anna suggests the garden.
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.open("/places")
	anna.click("#suggest-place")
	anna.waitPath("/places/suggest")
	anna.choose(`#suggest-form [name=association_id]`, aid)
	anna.fill(`#suggest-form [name=name]`, "Orto condiviso di via Fioravanti")
	anna.choose(`#suggest-form [name=kind]`, "green_space")
	anna.fill(`#suggest-form [name=area]`, "Bolognina")
	anna.fill(`#suggest-form [name=text]`, "Aperto a tutti il sabato mattina, si impara a coltivare.")
	anna.screen("suggest")
	anna.click(`#suggest-form button[type=submit]`)
	anna.waitJS("sent", `location.search === '?sent=1' && document.querySelector('main .notice.ok')`)
	anna.waitText("#my-suggestions", "Orto condiviso")

	vera.open("/portineria/" + aid + "/suggestions")
	vera.waitText("#suggestions .suggestion", "Orto condiviso di via Fioravanti")
	vera.screen("desk-suggestions")
	vera.click(`#suggestions .suggestion .accept-suggestion`)
	vera.waitJS("accepted", `document.querySelector('#suggestions .suggestion[data-status=done] .notice.ok')`)
	var found struct {
		Items []placeOut `json:"items"`
	}
	srv.Do(t, "GET", "/places?q=Fioravanti", nil, "").Expect(t, http.StatusOK).JSON(t, &found)
	if len(found.Items) != 1 || found.Items[0].Kind != "green_space" {
		t.Errorf("after accepting, a search for the garden finds %+v, want the garden, a green space", found.Items)
	}

	// A referral from the member's card, and its follow-up's link.
	vera.open("/portineria/" + aid + "/members/" + giuseppe.ID)
	vera.click(`#member-refer summary`)
	vera.fill(`#member-refer [name=q]`, "ascolto")
	vera.click(`#member-refer .find-place`)
	vera.waitJS("the help point offered", `document.querySelector('#member-refer input[name=place_id][value="`+id+`"]')`)
	vera.click(`#member-refer input[name=place_id][value="` + id + `"]`)
	vera.fill(`#member-refer [name=note]`, "Chiedere di Samira per la domanda di contributo affitto.")
	vera.click(`#member-refer button[type=submit]`)
	vera.waitJS("referred", `!document.querySelector('#member-refer details[open]') && !document.querySelector('#member-refer .form-error')`)
	var refs struct {
		Items []struct {
			ID       string `json:"id"`
			PlaceID  string `json:"place_id"`
			MemberID string `json:"member_id"`
			Outcome  string `json:"outcome"`
		} `json:"items"`
	}
	srv.Do(t, "GET", "/associations/"+aid+"/referrals", nil, veraU.Token).Expect(t, http.StatusOK).JSON(t, &refs)
	if len(refs.Items) != 1 || refs.Items[0].PlaceID != id || refs.Items[0].MemberID != giuseppe.ID {
		t.Fatalf("the desk's referrals: %+v, want Giuseppe sent to the help point", refs.Items)
	}
	rid := refs.Items[0].ID
	vera.open("/portineria/" + aid + "/referrals")
	vera.waitText(`#referrals [data-referral-id="`+rid+`"]`, "Punto d'ascolto")
	vera.screen("desk-referrals")

	vera.open("/referrals/" + rid + "?answer=helped")
	chosen := `main .referral-box [data-answer="helped"]`
	vera.waitJS("the answer picked and focused", `document.activeElement === document.querySelector('`+chosen+`') && document.querySelector('main .answer-confirm')`)
	srv.Do(t, "GET", "/referrals/"+rid, nil, veraU.Token).Expect(t, http.StatusOK).JSON(t, &refs.Items[0])
	if refs.Items[0].Outcome != "" {
		t.Fatalf("opening the link recorded %q before Vera tapped", refs.Items[0].Outcome)
	}
	vera.screen("referral-followup")
	vera.click(chosen)
	vera.waitJS("recorded", `document.querySelector('main [role=status].notice.ok')`)
	srv.Do(t, "GET", "/referrals/"+rid, nil, veraU.Token).Expect(t, http.StatusOK).JSON(t, &refs.Items[0])
	if refs.Items[0].Outcome != "helped" {
		t.Errorf("after tapping \"it helped\" the referral's outcome is %q", refs.Items[0].Outcome)
	}
}
