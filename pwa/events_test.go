package pwa_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// setValue sets a control's value the way a picker does (a date and time
// picker cannot be typed into the same way in every locale) and tells the
// page it changed.
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	tb.waitJS(sel, fmt.Sprintf(`document.querySelector(%q)`, sel))
	tb.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value), nil)
}

type eventView struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Place      string `json:"place"`
	Capacity   *int   `json:"capacity"`
	SeatsTaken int    `json:"seats_taken"`
	Yes        int    `json:"yes"`
	MyAnswer   *struct {
		Answer string `json:"answer"`
		Guests int    `json:"guests"`
	} `json:"my_answer"`
}

// TestEventFormAndOfflineRSVP: Bruno proposes the street's dinner from the
// board's events (title, description, start, end, place, 10 places, a
// photo described by the title, shown on the event's page). It
// shows at the top of the street's board. Anna opens it, loses her signal,
// and answers "I'll come" with two guests: the answer waits on her phone,
// the page says so, and the server has nothing yet. When the signal is
// back the answer is sent once, the page says she is coming, and the
// event has three of its ten places taken.
func TestEventFormAndOfflineRSVP(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via Fondazza", brunoU)
	anna, bruno := newTab(t, srv, "anna"), newTab(t, srv, "bruno")

	bruno.signIn(brunoU)
	bruno.open("/streets/" + sid)
	bruno.click("#events-link")
	bruno.waitPath("/streets/" + sid + "/events")
	bruno.waitJS("no events yet", `document.querySelector('main .state.empty')`)
	bruno.click("#new-event")
	bruno.waitPath("/streets/" + sid + "/events/new")
	const title = "Cena di via sotto i portici"
	bruno.fill(`#event-form [name=title]`, title)
	bruno.fill(`#event-form [name=description]`, "Ognuno porta un piatto, tavoli dal civico 12.")
	day := time.Now().AddDate(0, 0, 5).Format("2006-01-02")
	bruno.setValue(`#event-form [name=starts_at]`, day+"T19:30")
	bruno.setValue(`#event-form [name=ends_at]`, day+"T23:00")
	bruno.fill(`#event-form [name=place]`, "Portico del civico 12")
	bruno.fill(`#event-form [name=capacity]`, "10")
	bruno.attach(`#event-form input.file-gallery`, cameraPhoto(t, 800, 600))
	bruno.waitJS("event photo uploaded", `document.querySelector('#event-form .photo-item[data-photo-id]')`)
	bruno.screen("event-form")
	bruno.click(`#event-form button[type=submit]`)
	bruno.waitPath("/events/")
	bruno.waitText("#event-title", title)
	bruno.waitJS("the event's photo", `(() => { const i = document.querySelector('main .photos img'); return i && i.alt === `+jsString(title)+` && i.naturalWidth > 0; })()`)
	eid := bruno.path()[len("/events/"):]
	bruno.screen("event")

	var list struct {
		Items []eventView `json:"items"`
	}
	srv.Do(t, "GET", "/streets/"+sid+"/events", nil, annaU.Token).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].Title != title || list.Items[0].Place != "Portico del civico 12" ||
		list.Items[0].Capacity == nil || *list.Items[0].Capacity != 10 {
		t.Fatalf("the street's events are %+v, want Bruno's dinner with 10 places", list.Items)
	}

	// The dinner is at the top of Anna's board.
	anna.signIn(annaU)
	anna.waitWorker()
	anna.open("/streets/" + sid)
	anna.waitText("#upcoming-events", title)
	anna.click(`#upcoming-events [data-event-id="` + eid + `"] a`)
	anna.waitPath("/events/" + eid)
	anna.waitJS("answer buttons", `document.querySelector('#rsvp #rsvp-yes')`)
	anna.waitLive()

	anna.setOffline(true)
	anna.waitJS("offline shown", `document.getElementById('net').dataset.state === 'offline'`)
	anna.fill(`#rsvp [name=guests]`, "2")
	anna.click(`#rsvp-yes`)
	anna.waitJS("answer waiting", `document.querySelector('#rsvp-state .badge.warn')`)
	anna.waitText("#net", "1")
	anna.screen("event-rsvp-offline")
	var ev eventView
	srv.Do(t, "GET", "/events/"+eid, nil, annaU.Token).Expect(t, http.StatusOK).JSON(t, &ev)
	if ev.MyAnswer != nil || ev.SeatsTaken != 0 {
		t.Fatalf("the server has Anna's answer while she is offline: %+v", ev)
	}

	anna.setOffline(false)
	anna.waitJS("answer sent", `!document.querySelector('#rsvp-state .badge.warn') && document.querySelector('#rsvp-state.ok') && document.getElementById('rsvp-yes').getAttribute('aria-pressed') === 'true'`)
	anna.waitText("#rsvp-state", "2")
	anna.waitJS("indicator quiet", `document.getElementById('net').hidden`)
	srv.Do(t, "GET", "/events/"+eid, nil, annaU.Token).Expect(t, http.StatusOK).JSON(t, &ev)
	if ev.MyAnswer == nil || ev.MyAnswer.Answer != "yes" || ev.MyAnswer.Guests != 2 || ev.SeatsTaken != 3 || ev.Yes != 1 {
		t.Errorf("after Anna is back online the event is %+v, want her yes with 2 guests: 3 seats taken by 1 person", ev)
	}
	var left int
	anna.eval(`new Promise((resolve) => { const r = indexedDB.open('civico'); r.onsuccess = () => { const q = r.result.transaction('outbox').objectStore('outbox').count(); q.onsuccess = () => resolve(q.result); }; })`, &left)
	if left != 0 {
		t.Errorf("%d items left in Anna's outbox", left)
	}
	anna.waitText("#event-counts", "3")
}

// TestEventCancelAndCalendar: the author moves the aperitivo (with the
// reason a move needs), then cancels it with a reason,
// which the page then shows to everyone instead of the answer buttons; in
// the settings Anna reveals her private calendar link, and "new link"
// replaces it.
func TestEventCancelAndCalendar(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via Fondazza", brunoU)
	starts := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Minute)
	var ev eventView
	srv.Do(t, "POST", "/streets/"+sid+"/events", map[string]any{"title": "Aperitivo in cortile", "description": "Si porta qualcosa da bere.",
		"starts_at": starts.Format(time.RFC3339), "ends_at": starts.Add(2 * time.Hour).Format(time.RFC3339), "place": "Cortile del 7"}, brunoU.Token).
		Expect(t, http.StatusCreated).JSON(t, &ev)
	anna, bruno := newTab(t, srv, "anna"), newTab(t, srv, "bruno")

	bruno.signIn(brunoU)
	bruno.open("/events/" + ev.ID)
	// Moving it needs a reason, which those who answered are told.
	bruno.click("#edit-event")
	bruno.waitPath("/events/" + ev.ID + "/edit")
	bruno.fill(`#event-form [name=place]`, "Cortile del 9")
	bruno.click(`#event-form button[type=submit]`)
	bruno.waitJS("reason required", `document.querySelector('#event-form [name=reason][aria-invalid=true]')`)
	bruno.fill(`#event-form [name=reason]`, "Il cortile del 7 è in lavori")
	bruno.click(`#event-form button[type=submit]`)
	bruno.waitPath("/events/" + ev.ID)
	bruno.waitText(".event-facts dd", "Cortile del 9")
	bruno.click("#cancel-event")
	bruno.waitJS("reason asked", `document.querySelector('dialog[open] textarea')`)
	bruno.fill(`dialog[open] textarea`, "Pioggia prevista tutta la sera")
	bruno.click(`dialog[open] button[type=submit]`)
	bruno.waitText("#event-cancelled", "Pioggia prevista")

	anna.signIn(annaU)
	anna.open("/events/" + ev.ID)
	anna.waitText("#event-cancelled", "Pioggia prevista")
	if n := anna.count("#rsvp-yes"); n != 0 {
		t.Error("a cancelled event still offers to answer")
	}

	anna.open("/settings")
	anna.click("#calendar-show")
	anna.waitJS("calendar link", `document.getElementById('calendar-url') && document.getElementById('calendar-url').value.startsWith('http')`)
	var first string
	anna.eval(`document.getElementById('calendar-url').value`, &first)
	anna.screen("settings-calendar")
	anna.click("#calendar-rotate")
	anna.waitJS("confirm asked", `document.querySelector('dialog[open] button[type=submit]')`)
	anna.click(`dialog[open] button[type=submit]`)
	anna.waitJS("new link", fmt.Sprintf(`document.getElementById('calendar-url') && document.getElementById('calendar-url').value !== %q`, first))
	// The link names the server's public address; ask this test's server.
	u, err := url.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(srv.URL + u.Path)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("the replaced calendar link answers %d, want 404", res.StatusCode)
	}
	var second string
	anna.eval(`document.getElementById('calendar-url').value`, &second)
	if u, err = url.Parse(second); err != nil {
		t.Fatal(err)
	}
	if res, err = http.Get(srv.URL + u.Path); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/calendar") {
		t.Errorf("the new calendar link answers %d %q, want 200 text/calendar", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
