package pwa_test

// The screens that grow a street (inviting neighbours, sharing, the invite
// link opened signed out) and those the API allowed before the app had
// them (editing a post, leaving a street, changing the password, the
// language kept by the account, the linked desks' skills directory).

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"civico/internal/testutil"
)

// stubShareSheet replaces the browser's share sheet with one that records what
// it was given (window.__shared), or, with none, takes it away so the app
// copies the link instead, into a clipboard that records it (window.__copied).
func (tb *tab) stubShareSheet(sheet bool) {
	tb.t.Helper()
	js := `(() => {
	  window.__shared = null; window.__copied = null;
	  Object.defineProperty(navigator, 'clipboard', { configurable: true,
	    value: { writeText: (s) => { window.__copied = s; return Promise.resolve(); } } });
	  Object.defineProperty(navigator, 'share', { configurable: true, value: %s });
	})()`
	fn := `undefined`
	if sheet {
		fn = `(d) => { window.__shared = { url: d.url, title: d.title, text: d.text }; return Promise.resolve(); }`
	}
	tb.eval(fmt.Sprintf(js, fn), nil)
}

// sharedLink is what the stubbed share sheet was given.
type sharedLink struct {
	URL   string `json:"url"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// streetMembersInvite is the street's members_invite, as its admin reads it.
func streetMembersInvite(t *testing.T, srv *testutil.Server, admin *testutil.User, sid string) bool {
	t.Helper()
	var st struct {
		MembersInvite bool `json:"members_invite"`
	}
	srv.Do(t, "GET", "/streets/"+sid, nil, admin.Token).Expect(t, http.StatusOK).JSON(t, &st)
	return st.MembersInvite
}

// TestMembersInviteAndShareTheLink: Bice, a member, finds no way to invite
// until Ada, the admin, lets every member do it on the invite screen. Ada
// makes a link and shares it through the phone's share sheet; Bice then
// finds "invite neighbours" on the board, makes a link of her own (small
// and short) and, with no share sheet in her browser, it is copied and the
// app says so. Each sees the links they may: Ada all, Bice her own.
func TestMembersInviteAndShareTheLink(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, biceU := srv.Register(t, "Ada"), srv.Register(t, "Bice")
	sid := street(t, srv, adaU, "Via Fondazza", biceU)

	bice := newTab(t, srv, "bice")
	bice.signIn(biceU)
	bice.open("/streets/" + sid)
	bice.waitJS("board drawn", `document.querySelector('#feed[aria-busy=false]') && document.querySelector('main .heading .lead').textContent`)
	if bice.count(`#invite-link:not([hidden])`) != 0 {
		t.Errorf("a member sees the invite link before the admins allow it")
	}
	bice.open("/streets/" + sid + "/invite")
	bice.waitJS("admins only", `document.getElementById('invite-admins-only')`)
	if bice.count(`#make-street-invite, #members-invite-section`) != 0 {
		t.Errorf("a member may make invites, or change who may, before the admins allow it")
	}

	ada := newTab(t, srv, "ada")
	ada.signIn(adaU)
	ada.open("/streets/" + sid + "/invite")
	ada.waitJS("the switch, off", `document.querySelector('#members-invite-section input[role=switch]:not(:checked)') && document.querySelector('#invite-list .state.empty')`)
	ada.click(`#members-invite-section input[role=switch]`)
	ada.waitJS("saved on", `document.querySelector('#members-invite-section input[role=switch]:checked:not(:disabled)')`)
	if !streetMembersInvite(t, srv, adaU, sid) {
		t.Fatal("the switch did not let members invite")
	}
	ada.click("#make-street-invite")
	ada.waitJS("the new link, focused", `document.activeElement && document.activeElement.matches('#street-invites .invite button.share')`)
	var link string
	ada.eval(`document.querySelector('#street-invites .invite .invite-link').value`, &link)
	if !strings.Contains(link, "/streets/"+sid+"/join?code=") {
		t.Fatalf("the invite's link is %q", link)
	}
	ada.screen("street-invite-admin")
	ada.stubShareSheet(true)
	ada.click(`#street-invites .invite button.share`)
	ada.waitJS("shared", `window.__shared`)
	var got sharedLink
	ada.eval(`window.__shared`, &got)
	if got.URL != link || got.Title != "Via Fondazza" || !strings.Contains(got.Text, "Via Fondazza") {
		t.Errorf("the share sheet got %+v, want the link %q and the street's name", got, link)
	}

	bice.open("/streets/" + sid)
	bice.click("#invite-link")
	bice.waitPath("/streets/" + sid + "/invite")
	bice.waitJS("limits said, no switch", `document.getElementById('invite-limits') && !document.getElementById('members-invite-section')`)
	bice.waitJS("none of her own yet", `document.querySelector('#invite-list .state.empty')`)
	bice.click("#make-street-invite")
	bice.waitJS("her link", `document.querySelectorAll('#street-invites .invite').length === 1`)
	bice.waitText("#street-invites .invite .meta", "su 10")
	var mine string
	bice.eval(`document.querySelector('#street-invites .invite .invite-link').value`, &mine)
	bice.screen("street-invite-member")
	bice.stubShareSheet(false)
	bice.click(`#street-invites .invite button.share`)
	bice.waitText("#toast", "Link copiato.")
	var copied string
	bice.eval(`window.__copied`, &copied)
	if copied != mine {
		t.Errorf("copied %q, want her link %q", copied, mine)
	}
	// Reloaded, she still sees her own link only; Ada sees both.
	bice.open("/streets/" + sid + "/invite")
	bice.waitJS("her list", `document.querySelectorAll('#street-invites .invite').length === 1`)
	ada.open("/streets/" + sid + "/invite")
	ada.waitJS("both links", `document.querySelectorAll('#street-invites .invite').length === 2`)
	ada.waitText("#street-invites", "creato da un vicino")
}

// TestEmptyBoardInvitesNeighbours: a new street's board has nothing on it;
// its admin is asked to invite the neighbours, and the card's button leads
// to the invite screen. A member of the same empty board is not asked.
func TestEmptyBoardInvitesNeighbours(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, biceU := srv.Register(t, "Ada"), srv.Register(t, "Bice")
	sid := street(t, srv, adaU, "Via Mascarella", biceU)

	ada := newTab(t, srv, "ada")
	ada.signIn(adaU)
	ada.open("/streets/" + sid)
	ada.waitJS("the invitation to invite", `document.querySelector('#invite-neighbours #empty-invite')`)
	ada.screen("board-empty-admin")
	ada.click("#empty-invite")
	ada.waitPath("/streets/" + sid + "/invite")
	ada.waitJS("the invite screen", `document.getElementById('make-street-invite')`)

	bice := newTab(t, srv, "bice")
	bice.signIn(biceU)
	bice.open("/streets/" + sid)
	bice.waitJS("the empty board", `document.querySelector('.feed-status .state.empty')`)
	if bice.count("#invite-neighbours") != 0 {
		t.Error("a member is asked to invite on a street whose admins did not allow it")
	}
}

// TestInviteLinkSignedOut: Carla opens an invite link with no account: the
// app shows which street invites her (name, city, how many neighbours) and
// "sign up to join"; she signs up and lands back on the invitation, and
// joins with one tap.
func TestInviteLinkSignedOut(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, biceU := srv.Register(t, "Ada"), srv.Register(t, "Bice")
	sid := street(t, srv, adaU, "Via del Pratello", biceU)
	var inv struct {
		Code string `json:"code"`
	}
	srv.Do(t, "POST", "/streets/"+sid+"/invites", nil, adaU.Token).Expect(t, http.StatusCreated).JSON(t, &inv)
	path := "/streets/" + sid + "/join?code=" + inv.Code

	carla := newTab(t, srv, "carla")
	carla.open(path)
	carla.waitJS("the app's invite card", `document.querySelector('#invite-card #invite-street')`)
	carla.waitText("#invite-street", "Via del Pratello")
	carla.waitText("#invite-city", "Bologna")
	carla.waitText("#invite-members", "2 vicini")
	if p := carla.path(); p != path {
		t.Errorf("signed out, the invite link went to %q, want it to stay on %q", p, path)
	}
	var text string
	carla.eval(`document.querySelector('main').innerText`, &text)
	for _, secret := range []string{"Ada", "Bice"} {
		if strings.Contains(text, secret) {
			t.Errorf("the signed-out invite shows %q", secret)
		}
	}
	carla.screen("invite-signed-out")

	carla.click("#invite-signup")
	carla.waitPath("/signup")
	carla.fill(`#signup-form [name=name]`, "Carla")
	carla.fill(`#signup-form [name=email]`, "carla."+testutil.RandomHex(3)+"@example.org")
	carla.fill(`#signup-form [name=password]`, "correct horse battery")
	carla.click(`#signup-form button[type=submit]`)
	carla.waitJS("back on the invitation, signed in", `location.pathname === '/streets/`+sid+`/join' && document.querySelector('#join-form')`)
	carla.waitText("#join-members", "2 vicini")
	carla.click(`#join-form button[type=submit]`)
	carla.waitJS("on the board", `location.pathname === '/streets/`+sid+`' && document.querySelector('#feed')`)
}

// TestPostEditAndShare: Bice corrects her request's title; Ada, who is not
// its author, has no way to edit it. Both can share the post's address.
func TestPostEditAndShare(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, biceU := srv.Register(t, "Ada"), srv.Register(t, "Bice")
	sid := street(t, srv, adaU, "Via Saragozza", biceU)
	pid := post(t, srv, biceU, sid, "request", "Cerco un trapno")

	bice := newTab(t, srv, "bice")
	bice.signIn(biceU)
	bice.open("/posts/" + pid)
	bice.click("#edit-post")
	bice.waitPath("/posts/" + pid + "/edit")
	bice.waitJS("the form, filled", `document.querySelector('#edit-post-form [name=title]').value === 'Cerco un trapno'`)
	bice.screen("post-edit")
	bice.fill(`#edit-post-form [name=title]`, "")
	bice.click(`#edit-post-form button[type=submit]`)
	bice.waitJS("a title is required", `document.querySelector('#edit-post-form [name=title][aria-invalid=true]')`)
	bice.fill(`#edit-post-form [name=title]`, "Cerco un trapano")
	bice.click(`#edit-post-form button[type=submit]`)
	bice.waitJS("back on the post", `location.pathname === '/posts/`+pid+`' && document.getElementById('post-title')`)
	bice.waitText("#post-title", "Cerco un trapano")
	if got := feedTitles(t, srv, adaU, sid); len(got) != 1 || got[0] != "Cerco un trapano" {
		t.Errorf("the board lists %q", got)
	}

	ada := newTab(t, srv, "ada")
	ada.signIn(adaU)
	ada.open("/posts/" + pid)
	ada.waitJS("the post", `document.getElementById('share-post')`)
	if ada.count("#edit-post") != 0 {
		t.Error("someone who is not the author may edit the post")
	}
	ada.stubShareSheet(true)
	ada.click("#share-post")
	ada.waitJS("shared", `window.__shared`)
	var got sharedLink
	ada.eval(`window.__shared`, &got)
	if got.URL != srv.URL+"/posts/"+pid || got.Title != "Cerco un trapano" {
		t.Errorf("the share sheet got %+v", got)
	}
	ada.stubShareSheet(false)
	ada.click("#share-post")
	ada.waitText("#toast", "Link copiato.")
	var copied string
	ada.eval(`window.__copied`, &copied)
	if copied != srv.URL+"/posts/"+pid {
		t.Errorf("copied %q", copied)
	}
	// The author's own edit screen refuses anyone else.
	ada.open("/posts/" + pid + "/edit")
	ada.waitJS("refused", `!document.getElementById('edit-post-form') && document.querySelector('main .state')`)
}

// TestLeaveStreet: Bice leaves Via Zamboni from her account, after saying
// yes to the question; its board is closed to her then. Ada, its only
// admin, is told to name another admin first.
func TestLeaveStreet(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, biceU := srv.Register(t, "Ada"), srv.Register(t, "Bice")
	sid := street(t, srv, adaU, "Via Zamboni", biceU)

	bice := newTab(t, srv, "bice")
	bice.signIn(biceU)
	bice.open("/account")
	row := `#account-streets [data-street-id="` + sid + `"]`
	bice.waitText(row+" h3", "Via Zamboni")
	bice.screen("account-streets")
	bice.click(row + " .leave-street")
	bice.waitJS("asked first", `document.querySelector('dialog[open]')`)
	bice.click(`dialog[open] button[value=cancel]`)
	bice.waitJS("still there", `!document.querySelector('dialog[open]') && document.querySelector('`+row+`')`)
	srv.Do(t, "GET", "/streets/"+sid+"/posts", nil, biceU.Token).Expect(t, http.StatusOK)
	bice.click(row + " .leave-street")
	bice.click(`dialog[open] button[type=submit]`)
	bice.waitText("#toast", "Hai lasciato Via Zamboni")
	bice.waitJS("gone from the list, focus on the heading", `!document.querySelector('`+row+`') && document.activeElement.id === 'streets-heading'`)
	srv.Do(t, "GET", "/streets/"+sid+"/posts", nil, biceU.Token).ExpectError(t, http.StatusNotFound, "street_not_found")

	ada := newTab(t, srv, "ada")
	ada.signIn(adaU)
	ada.open("/account")
	ada.click(row + " .leave-street")
	ada.click(`dialog[open] button[type=submit]`)
	ada.waitText(row+" [role=alert]", "unico amministratore")
	ada.waitJS("a way to name one", `document.querySelector('`+row+` [role=alert] a[href="/streets/`+sid+`/admin/members"]')`)
	srv.Do(t, "GET", "/streets/"+sid+"/posts", nil, adaU.Token).Expect(t, http.StatusOK)
}

// TestChangePassword: Bice changes her password from her account: a wrong
// current one is refused; then this browser stays signed in (it signed in
// again: the change ends every session) and the new password signs in.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	srv := start(t)
	biceU := srv.Register(t, "Bice")
	bice := newTab(t, srv, "bice")
	bice.signIn(biceU)
	bice.open("/account")
	bice.fill(`#password-form [name=current_password]`, "not my password")
	bice.fill(`#password-form [name=password]`, "a new long password")
	bice.fill(`#password-form [name=repeat]`, "a new long password")
	bice.click(`#password-form button[type=submit]`)
	bice.waitText("#password-form .form-error", "password attuale è sbagliata")
	bice.fill(`#password-form [name=current_password]`, biceU.Password)
	bice.fill(`#password-form [name=repeat]`, "another password")
	bice.click(`#password-form button[type=submit]`)
	bice.waitJS("the repeat differs", `document.querySelector('#password-form [name=repeat][aria-invalid=true]')`)
	bice.fill(`#password-form [name=password]`, "a new long password")
	bice.fill(`#password-form [name=repeat]`, "a new long password")
	bice.click(`#password-form button[type=submit]`)
	bice.waitText("#password-said", "Password cambiata")
	bice.waitJS("the form emptied, the news focused", `document.activeElement.id === 'password-said' && !document.querySelector('#password-form [name=password]').value`)
	bice.screen("account-password")

	login := func(pw string) int {
		return srv.Do(t, "POST", "/auth/login", map[string]string{"email": biceU.Email, "password": pw}, "").Status
	}
	if st := login(biceU.Password); st != http.StatusUnauthorized {
		t.Errorf("the old password signs in: %d", st)
	}
	if st := login("a new long password"); st != http.StatusOK {
		t.Errorf("the new password: %d", st)
	}
	// A reload restores the session from this browser's new cookie.
	bice.open("/account")
	bice.waitJS("still signed in", `location.pathname === '/account' && document.getElementById('password-form')`)
}

// TestLanguageKeptByTheAccount: Bice switches the app to English from the
// header: her account keeps the choice (the pushes and emails follow it),
// and switching back to Italian keeps that too.
func TestLanguageKeptByTheAccount(t *testing.T) {
	t.Parallel()
	srv := start(t)
	biceU := srv.Register(t, "Bice")
	locale := func() string {
		var me struct {
			Locale string `json:"locale"`
		}
		srv.Do(t, "GET", "/me", nil, biceU.Token).Expect(t, http.StatusOK).JSON(t, &me)
		return me.Locale
	}
	if l := locale(); l != "it" {
		t.Fatalf("a new account's locale is %q", l)
	}
	bice := newTab(t, srv, "bice")
	bice.signIn(biceU)
	bice.click(`#nav button.lang`)
	bice.waitJS("in English", `document.documentElement.lang === 'en' && document.querySelector('main h1').textContent === 'My streets'`)
	pollServer(t, "the account's locale en", func() bool { return locale() == "en" })
	// Another device signing in speaks the account's language, not the
	// browser's.
	phone := newTab(t, srv, "bice-phone")
	phone.signIn(biceU)
	phone.waitJS("the account's language on a new device", `document.documentElement.lang === 'en' && document.querySelector('main h1').textContent === 'My streets'`)
	bice.click(`#nav button.lang`)
	bice.waitJS("in Italian", `document.documentElement.lang === 'it' && document.querySelector('main h1').textContent === 'Le mie vie'`)
	pollServer(t, "the account's locale it", func() bool { return locale() == "it" })
}

// pollServer polls the server's state (not the page's) until ok, for at most
// the browser steps' deadline.
func pollServer(t *testing.T, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !ok() {
		if time.Now().After(end) {
			t.Fatalf("waited for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestResidentsOpenTheDesksSkills: Via Fondazza is linked with the
// Portinaio Fondazza desk; Bice, a resident, finds "neighbourhood skills"
// on her board and reads who offers what (first names only) and how to
// reach the desk. A street with no linked desk shows no such link.
func TestResidentsOpenTheDesksSkills(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, biceU, coordU := srv.Register(t, "Ada"), srv.Register(t, "Bice"), srv.Register(t, "Cora")
	sid := street(t, srv, adaU, "Via Fondazza", biceU)
	other := street(t, srv, biceU, "Via Solitaria")
	aid := srv.Association(t, coordU, "Portinaio Fondazza", 500)
	srv.Link(t, adaU, coordU, sid, aid)
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Member(t, coordU.Token, aid, map[string]any{"full_name": "Maria Grazia Bianchi", "phone": "333 7654321",
		"skills": []string{"sarta", "stiro"}})
	srv.Pay(t, coordU.Token, aid, m.ID, "fee", 500, time.Now().In(rome).Year())

	bice := newTab(t, srv, "bice")
	bice.signIn(biceU)
	bice.open("/streets/" + sid)
	bice.click("#skills-link")
	bice.waitPath("/streets/" + sid + "/skills")
	section := `.desk-skills[data-association-id="` + aid + `"]`
	bice.waitText(section+" h2", "Portinaio Fondazza")
	bice.waitText(section+" .skill h3", "Maria")
	bice.waitText(section+" .skill", "sarta, stiro")
	bice.waitText(section+" .desk-contact", "051 123456")
	var text string
	bice.eval(`document.querySelector('main').innerText`, &text)
	for _, private := range []string{"Bianchi", "Grazia", "7654321"} {
		if strings.Contains(text, private) {
			t.Errorf("the skills directory shows %q", private)
		}
	}
	bice.screen("street-skills")
	// Her own street has no desk: no link on its board, and the screen says so.
	bice.open("/streets/" + other + "/skills")
	bice.waitJS("no desk", `document.querySelector('main .state.empty')`)
	bice.open("/streets/" + other)
	bice.waitJS("board drawn", `document.querySelector('#feed[aria-busy=false]')`)
	if bice.count(`#skills-link:not([hidden])`) != 0 {
		t.Error("a street with no linked desk shows the skills link")
	}
}
