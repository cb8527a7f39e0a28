package pwa_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/clock"
	"civico/internal/testutil"
)

// TestImpactAndTheDesk: in Via del Pratello two requests were answered and
// done by five neighbours, and Maria's leaking sink got no reply for two
// days. Ada, the admin, goes from the admin screen to the street's
// figures: the period's numbers, a chart per series with its table, and
// the sink among the unanswered requests. She asks the Portinaio desk to
// link from the admin screen and Vera, its coordinator, accepts from hers.
// Vito, a volunteer, finds the sink in the desk's unanswered list, with
// the plumber on the roster, takes it on, and sees the desk's figures,
// which count the linked street's. Maria sees "the desk is on it" on her
// post, and answers the hand-off's question: still needed.
func TestImpactAndTheDesk(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	srv := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	adaU, mariaU, brunoU, carlaU, darioU := srv.Register(t, "Ada"), srv.Register(t, "Maria"), srv.Register(t, "Bruno"),
		srv.Register(t, "Carla"), srv.Register(t, "Dario")
	veraU, vitoU := srv.Register(t, "Vera"), srv.Register(t, "Vito")
	sid := street(t, srv, adaU, "Via del Pratello", mariaU, brunoU, carlaU, darioU)
	drill := srv.Request(t, mariaU, sid, "lending", "Mi prestate un trapano?")
	lent := srv.Reply(t, brunoU, drill, "Te lo porto io")
	srv.Reply(t, carlaU, drill, "Anche io ne ho uno")
	srv.Accept(t, mariaU, drill, lent)
	srv.Done(t, mariaU, drill)
	shopping := srv.Request(t, darioU, sid, "errands", "Spesa per sabato")
	srv.Accept(t, darioU, shopping, srv.Reply(t, adaU, shopping, "Vado io"))
	srv.Done(t, darioU, shopping)
	sink := srv.Request(t, mariaU, sid, "repairs", "Perde il lavandino")
	aid := srv.Association(t, veraU, "Portinaio del Pratello", 500)
	srv.Volunteer(t, veraU, aid, vitoU, "volunteer")
	srv.Member(t, veraU.Token, aid, map[string]any{"full_name": "Mario Rossi", "phone": "333 1234567", "skills": []string{"idraulico"}})
	// Two days on, nobody answered the sink: the sweep lists it and asks Maria.
	fake.Advance(49 * time.Hour)
	if err := srv.App.Handoff.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}

	ada := newTab(t, srv, "ada")
	ada.signIn(adaU)
	ada.open("/streets/" + sid + "/admin")
	ada.click("#street-impact")
	ada.waitPath("/impact/streets/" + sid)
	ada.waitJS("charts", `document.querySelectorAll('#impact-figures-box .impact-chart svg .chart-bar:not(.suppressed)').length >= 3`)
	var people string
	ada.eval(`[...document.querySelectorAll('#impact-figures-box .figures div')].find((d) => d.querySelector('dt').textContent === 'Persone coinvolte')?.querySelector('dd').textContent`, &people)
	if people != "5" {
		t.Errorf("people involved: %q, want 5", people)
	}
	ada.click(`#impact-figures-box .chart-data summary`)
	ada.waitJS("the requests' table", `[...document.querySelectorAll('#impact-figures-box .chart-table')][0].checkVisibility() && [...document.querySelectorAll('#impact-figures-box .chart-table')][0].querySelector('tbody td:not(:empty)')`)
	ada.waitText(`#impact-unanswered-box [data-post-id="`+sink+`"]`, "Perde il lavandino")
	ada.screen("impact-street")

	// The link takes both sides: Ada asks, Vera accepts.
	ada.open("/streets/" + sid + "/admin/desks")
	ada.fill(`#link-search [name=q]`, "Pratello")
	ada.click(`#link-search button[type=submit]`)
	ada.click(`[data-found="` + aid + `"] .ask-link`)
	ada.waitJS("asked", `document.querySelector('#links [data-link="`+aid+`"][data-status="awaiting_association"]')`)
	ada.screen("admin-desks")
	vera := newTab(t, srv, "vera")
	vera.signIn(veraU)
	vera.open("/portineria/" + aid + "/streets")
	vera.click(`#links [data-link="` + sid + `"] .accept-link`)
	vera.waitJS("linked", `document.querySelector('#links [data-link="`+sid+`"][data-status="active"]')`)

	vito := newTab(t, srv, "vito")
	vito.signIn(vitoU)
	vito.open("/portineria/" + aid + "/unanswered")
	row := `#unanswered [data-post-id="` + sink + `"]`
	vito.waitText(row, "Mario Rossi")
	vito.screen("portineria-unanswered")
	vito.click(row + " .take")
	vito.waitText(row+" .desk-note", "Portinaio del Pratello")
	vito.click("#assoc-impact")
	vito.waitPath("/impact/associations/" + aid)
	vito.waitJS("the desk's charts", `document.querySelectorAll('#impact-figures-box .impact-chart .chart-bar:not(.suppressed)').length >= 3`)

	maria := newTab(t, srv, "maria")
	maria.signIn(mariaU)
	maria.open("/posts/" + sink)
	maria.waitText("#desk-note", "Portinaio del Pratello")
	maria.waitJS("the hand-off's question", `document.querySelector('#handoff [data-answer="still_needed"]')`)
	maria.screen("post-handoff")
	maria.click(`#handoff [data-answer="still_needed"]`)
	maria.waitJS("answered", `!document.querySelector('#handoff') && document.querySelector('#desk-note')`)

	login(t, srv, mariaU)
	var status struct {
		Answer string `json:"answer"`
	}
	srv.Do(t, "GET", "/posts/"+sink+"/handoff", nil, mariaU.Token).Expect(t, http.StatusOK).JSON(t, &status)
	var p struct {
		Status    string    `json:"status"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	srv.Do(t, "GET", "/posts/"+sink, nil, mariaU.Token).Expect(t, http.StatusOK).JSON(t, &p)
	if status.Answer != "still_needed" || p.Status != "open" || p.ExpiresAt.Before(fake.Now().Add(29*24*time.Hour)) {
		t.Errorf("after \"still needed\": answer %q, post %s until %s; want it recorded and the request open for 30 more days", status.Answer, p.Status, p.ExpiresAt)
	}
}

// login gives u a fresh access token (after the fake clock moved on).
func login(t *testing.T, srv *testutil.Server, u *testutil.User) {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	srv.Do(t, "POST", "/auth/login", map[string]string{"email": u.Email, "password": u.Password}, "").Expect(t, http.StatusOK).JSON(t, &out)
	u.Token = out.AccessToken
}

// TestHandoffAnswerFromTheNotification: two days after Maria asked for
// help with her shopping and nobody answered, the hand-off's notification
// arrives with its buttons. She taps "no longer needed" on the
// notification itself: the app opens with that answer picked and focused
// (a link alone never answers: anyone could send one), she confirms with
// one tap, and it says it is recorded; the request is closed.
func TestHandoffAnswerFromTheNotification(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	srv := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	adaU, mariaU := srv.Register(t, "Ada"), srv.Register(t, "Maria")
	sid := street(t, srv, adaU, "Via del Pratello", mariaU)
	pid := srv.Request(t, mariaU, sid, "errands", "Spesa per sabato")
	fake.Advance(49 * time.Hour)
	if err := srv.App.Handoff.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}

	maria := newTab(t, srv, "maria")
	maria.signIn(mariaU)
	maria.waitWorker()
	maria.grantNotifications()
	maria.open("/")
	url := "/posts/" + pid + "/handoff" // what the hand-off's push carries (internal/handoff/messages.go)
	match := fmt.Sprintf(`(ns) => ns.find((n) => n.data && n.data.url === %q)`, url)
	maria.pushUntilShown(map[string]any{"title": "Com'è andata?", "body": "Spesa per sabato", "url": url, "tag": "handoff-" + pid,
		"actions": []map[string]string{{"action": "still_needed", "title": "Serve ancora"}, {"action": "not_needed", "title": "Non serve più"}}}, match)

	// DevTools cannot tap a notification's button: run what the worker's
	// notificationclick does with event.action set to the tapped one.
	var buttons []string
	maria.inWorker(`self.registration.getNotifications().then(async (ns) => {
	  const n = (`+match+`)(ns);
	  if (!n) return [];
	  n.close();
	  await openPost(handoffURL(n.data.url, 'not_needed'));
	  return n.actions.map((a) => a.action);
	})`, &buttons)
	if len(buttons) != 2 || buttons[0] != "still_needed" || buttons[1] != "not_needed" {
		t.Fatalf("the notification's buttons are %v, want still_needed and not_needed", buttons)
	}
	maria.waitPath("/posts/" + pid + "/handoff")
	maria.click(`main .handoff-box [data-answer="not_needed"]`)
	maria.waitJS("recorded", `document.querySelector('main [role=status]')`)

	login(t, srv, mariaU)
	var export struct {
		Handoff struct {
			Reminders []struct {
				PostID string `json:"post_id"`
				Answer string `json:"answer"`
			} `json:"reminders"`
		} `json:"handoff"`
	}
	srv.Do(t, "GET", "/me/export", nil, mariaU.Token).Expect(t, http.StatusOK).JSON(t, &export)
	var p struct {
		Status      string `json:"status"`
		CloseReason string `json:"close_reason"`
	}
	srv.Do(t, "GET", "/posts/"+pid, nil, mariaU.Token).Expect(t, http.StatusOK).JSON(t, &p)
	rs := export.Handoff.Reminders
	if len(rs) != 1 || rs[0].PostID != pid || rs[0].Answer != "not_needed" || p.Status != "closed" || p.CloseReason != "no_longer_needed" {
		t.Errorf("after \"no longer needed\" from the notification: reminders %+v, post %s (%s); want the answer kept with the reminder and the request closed", rs, p.Status, p.CloseReason)
	}
}
