package pwa_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"civico/internal/testutil"
)

// TestVolunteerRecordsPaymentOnce: at the desk, Vera adds Giuseppe (no
// smartphone) to the roster and takes his yearly fee; a double tap on
// "record" records it once. Then she takes a donation on a bad connection:
// the server records it but the answer is lost, she taps again, and the
// ledger still shows one donation, because the retry carries the same
// idempotency key. She reverses it with a reason, and the year's ledger
// and report agree.
func TestVolunteerRecordsPaymentOnce(t *testing.T) {
	t.Parallel()
	srv := start(t)
	veraU := srv.Register(t, "Vera")
	aid := srv.Association(t, veraU, "Portinaio di rione Bolognina", 500)
	vera := newTab(t, srv, "vera")
	vera.signIn(veraU)

	vera.click(`#nav a[href="/portineria"]`)
	vera.waitPath("/portineria")
	vera.click(`[data-association-id="` + aid + `"] a`)
	vera.waitPath("/portineria/" + aid)
	vera.waitJS("empty roster", `document.querySelector('#assoc-roster .state.empty')`)
	vera.click("#add-member")
	vera.waitPath("/portineria/" + aid + "/new")
	vera.screen("portineria-add-member")
	vera.fill(`#member-form [name=full_name]`, "Giuseppe Verdi")
	vera.fill(`#member-form [name=phone]`, "051 555 1234")
	vera.fill(`#member-form [name=skills]`, "sartoria, piccole riparazioni")
	vera.click(`#member-form button[type=submit]`)
	vera.waitPath("/portineria/" + aid + "/members/")
	vera.waitText("#member-name", "Giuseppe Verdi")
	var mid string
	vera.eval(`location.pathname.split('/').pop()`, &mid)

	// The fee, with a double tap.
	vera.waitJS("ledger drawn", `document.querySelector('#member-ledger .state.empty')`)
	vera.eval(`(() => { const f = document.getElementById('payment-form'); f.requestSubmit(); f.requestSubmit(); })()`, nil)
	vera.waitJS("one fee", `document.querySelectorAll('#member-ledger tr[data-entry-id]').length === 1`)
	vera.waitJS("card active", `document.querySelector('#member-status .badge.ok')`)
	vera.screen("member-card")

	// A donation whose answer is lost on the way back.
	vera.choose(`#payment-form [name=type]`, "donation")
	vera.fill(`#payment-form [name=amount]`, "10")
	var key string
	vera.eval(`document.getElementById('payment-form').dataset.key`, &key)
	lost := vera.loseAnswers(srv.URL+"/api/v1/associations/"+aid+"/ledger", 1)
	vera.click("#record-payment")
	select {
	case <-lost:
	case <-time.After(deadline):
		t.Fatal("the payment's answer was never intercepted")
	}
	vera.waitJS("error shown", `document.querySelector('#payment-form .form-error') && !document.querySelector('#payment-form[aria-busy]')`)
	var keyAfter string
	vera.eval(`document.getElementById('payment-form').dataset.key`, &keyAfter)
	if keyAfter != key {
		t.Fatalf("a payment with no answer got a new idempotency key (%s, then %s): a retry would record it twice", key, keyAfter)
	}
	var before struct {
		Items []testutil.LedgerEntry `json:"items"`
	}
	srv.Do(t, "GET", "/associations/"+aid+"/ledger?member_id="+mid, nil, veraU.Token).Expect(t, http.StatusOK).JSON(t, &before)
	if len(before.Items) != 2 {
		t.Fatalf("after the lost answer the server has %d entries, want 2: the donation must have been recorded", len(before.Items))
	}
	vera.click("#record-payment")
	vera.waitJS("recorded", `!document.querySelector('#payment-form .form-error') && document.getElementById('payment-form').dataset.key !== `+fmt.Sprintf("%q", key))
	vera.waitJS("two entries", `document.querySelectorAll('#member-ledger tr[data-entry-id]').length === 2`)
	var ledger struct {
		Items []testutil.LedgerEntry `json:"items"`
	}
	srv.Do(t, "GET", "/associations/"+aid+"/ledger?member_id="+mid, nil, veraU.Token).Expect(t, http.StatusOK).JSON(t, &ledger)
	donations := 0
	for _, e := range ledger.Items {
		if e.Type == "donation" {
			donations++
		}
	}
	if len(ledger.Items) != 2 || donations != 1 {
		t.Fatalf("the ledger has %d entries, %d donations; want the fee and one donation", len(ledger.Items), donations)
	}

	// Reversing the donation asks for a reason and strikes it through.
	vera.click(`#member-ledger tr:not(.reversed) .reverse`)
	vera.waitJS("reason asked", `document.querySelector('dialog[open] textarea')`)
	vera.fill(`dialog[open] textarea`, "Registrata per errore")
	vera.click(`dialog[open] button[type=submit]`)
	vera.waitJS("reversed", `document.querySelectorAll('#member-ledger tr[data-entry-id]').length === 3 && document.querySelector('#member-ledger tr.reversed')`)

	vera.open("/portineria/" + aid + "/ledger")
	vera.waitJS("year's ledger", `document.querySelectorAll('#assoc-ledger tr[data-entry-id]').length === 3`)
	vera.screen("portineria-ledger")
	vera.open("/portineria/" + aid + "/report")
	vera.waitJS("report", `document.querySelector('#report dl')`)
	vera.screen("portineria-report")
	vera.open("/portineria/" + aid + "?q=Verdi")
	vera.waitText("#roster .member", "Giuseppe Verdi")
	vera.screen("portineria-roster")
}
