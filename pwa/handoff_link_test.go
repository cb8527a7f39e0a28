package pwa_test

import (
	"net/http"
	"testing"
)

// TestHandoffLinkOnlyPreselects (security finding 5): a link to the
// hand-off's question with ?answer= — what a notification's button opens,
// but also what a neighbour or another site can send — only picks the
// answer. Maria opens /posts/<pid>/handoff?answer=not_needed: the screen
// asks her to confirm "no longer needed", with that button primary and
// focused, and her request stays open until she taps it; then it closes.
func TestHandoffLinkOnlyPreselects(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, mariaU := srv.Register(t, "Ada"), srv.Register(t, "Maria")
	sid := street(t, srv, adaU, "Via del Pratello", mariaU)
	pid := srv.Request(t, mariaU, sid, "errands", "Spesa per sabato")
	status := func() (string, string) {
		t.Helper()
		var p struct {
			Status      string `json:"status"`
			CloseReason string `json:"close_reason"`
		}
		srv.Do(t, "GET", "/posts/"+pid, nil, mariaU.Token).Expect(t, http.StatusOK).JSON(t, &p)
		return p.Status, p.CloseReason
	}

	maria := newTab(t, srv, "maria")
	maria.signIn(mariaU)
	maria.open("/posts/" + pid + "/handoff?answer=not_needed")
	// Either the answer went out on its own (the screen says it is
	// recorded) or the screen waits with the answer picked and focused.
	chosen := `main .handoff-box [data-answer="not_needed"]`
	maria.waitJS("the question, or the answer sent", `document.querySelector('main [role=status]') || document.activeElement === document.querySelector('`+chosen+`')`)
	if st, _ := status(); st != "open" {
		t.Fatalf("opening the link with ?answer=not_needed left the request %s, want it open until Maria taps the answer", st)
	}
	var look struct {
		Primary  []string `json:"primary"`
		Confirm  string   `json:"confirm"`
		Describe bool     `json:"describe"`
	}
	maria.eval(`(() => {
	  const b = document.querySelector('`+chosen+`');
	  const ids = (b.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
	  const c = document.querySelector('main .handoff-confirm');
	  return { primary: [...document.querySelectorAll('main .handoff-box .btn.primary')].map((e) => e.dataset.answer),
	    confirm: c ? c.textContent : '', describe: !!c && ids.includes(c.id) };
	})()`, &look)
	if len(look.Primary) != 1 || look.Primary[0] != "not_needed" || look.Confirm == "" || !look.Describe {
		t.Errorf("the picked answer: primary buttons %v, confirmation %q (describes the button: %v); want only \"not_needed\" primary, described by a line asking to confirm",
			look.Primary, look.Confirm, look.Describe)
	}
	maria.screen("handoff-confirm")

	maria.click(chosen)
	maria.waitJS("recorded", `document.querySelector('main [role=status]')`)
	if st, reason := status(); st != "closed" || reason != "no_longer_needed" {
		t.Errorf("after tapping \"no longer needed\": request %s (%s), want closed (no_longer_needed)", st, reason)
	}
}
