package pwa_test

import (
	"net/http"
	"slices"
	"testing"
)

// TestAdminApprovesJoinAndRemovesPost: Carla finds Via Fondazza in the
// directory and asks to join with a message; Ada, its admin, sees the
// request and approves it, and Carla's street opens for her. Ada then
// removes Bruno's advert with a reason: it leaves Carla's board while she
// looks at it, and the audit log says who removed what, and why.
func TestAdminApprovesJoinAndRemovesPost(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, brunoU, carlaU := srv.Register(t, "Ada"), srv.Register(t, "Bruno"), srv.Register(t, "Carla")
	sid := street(t, srv, adaU, "Via Fondazza", brunoU)
	advert := post(t, srv, brunoU, sid, "offer", "Vendo divano, 300 euro")
	post(t, srv, brunoU, sid, "offer", "Presto la scala")
	ada, carla := newTab(t, srv, "ada"), newTab(t, srv, "carla")

	carla.signIn(carlaU)
	carla.open("/streets")
	carla.waitJS("directory", `document.querySelector('#directory [data-street-id="`+sid+`"] button')`)
	carla.screen("directory")
	carla.click(`#directory [data-street-id="` + sid + `"] button`)
	carla.waitJS("join dialog", `document.querySelector('dialog[open] textarea')`)
	carla.fill(`dialog[open] textarea`, "Abito al 12, mi piacerebbe dare una mano.")
	carla.click(`dialog[open] button[type=submit]`)
	carla.waitJS("pending", `document.querySelector('#directory [data-street-id="`+sid+`"] .badge.warn')`)

	ada.signIn(adaU)
	ada.open("/streets/" + sid + "/admin")
	ada.waitText(`#admin-requests [data-user-id="`+carlaU.ID+`"]`, "Abito al 12")
	ada.screen("admin-requests")
	ada.click(`#admin-requests [data-user-id="` + carlaU.ID + `"] .approve`)
	ada.waitJS("approved", `document.querySelector('#admin-requests [data-user-id="`+carlaU.ID+`"]').classList.contains('done')`)

	// Carla's street is open for her now: her home links to its board.
	carla.open("/")
	carla.click(`#my-streets a[href="/streets/` + sid + `"]`)
	carla.waitPath("/streets/" + sid)
	carla.waitText("#feed .post", "Vendo divano")
	carla.waitLive()
	carla.eval(`window.__sameDocument = true`, nil)

	ada.open("/posts/" + advert)
	ada.click("#remove-post")
	ada.waitJS("reason asked", `document.querySelector('dialog[open] textarea')`)
	ada.click(`dialog[open] button[type=submit]`) // no reason: refused in the page
	ada.waitJS("reason required", `document.querySelector('dialog[open] textarea:invalid, dialog[open] [aria-invalid=true]')`)
	ada.fill(`dialog[open] textarea`, "Annuncio commerciale: la via non è un mercatino")
	ada.click(`dialog[open] button[type=submit]`)
	ada.waitPath("/streets/" + sid)
	ada.waitText("#feed .post", "Presto la scala")
	if n := ada.count(`#feed .post[data-post-id="` + advert + `"]`); n != 0 {
		t.Errorf("the removed post is still on Ada's board")
	}

	// It leaves Carla's board while she looks at it, without a reload.
	carla.waitJS("advert gone", `!document.querySelector('#feed .post[data-post-id="`+advert+`"]') && document.querySelector('#feed .post')`)
	var same bool
	carla.eval(`window.__sameDocument === true`, &same)
	if !same {
		t.Error("Carla's board reloaded to drop the post")
	}
	if titles := feedTitles(t, srv, carlaU, sid); slices.Contains(titles, "Vendo divano, 300 euro") {
		t.Errorf("the API still lists the removed post: %q", titles)
	}
	srv.Do(t, "GET", "/posts/"+advert, nil, carlaU.Token).ExpectError(t, http.StatusNotFound, "post_not_found")

	ada.open("/streets/" + sid + "/admin/audit")
	ada.waitText("#admin-audit td", "la via non è un mercatino")
	ada.waitText("#admin-audit td", "Carla")
	ada.screen("admin-audit")
	ada.open("/streets/" + sid + "/admin/members")
	ada.waitText("#admin-members h3", "Carla")
	ada.screen("admin-members")
}
