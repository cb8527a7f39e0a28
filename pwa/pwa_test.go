package pwa_test

import (
	"testing"
)

// TestSignUpSignOutSignIn: a new resident signs up from the sign-in
// screen, lands on their (empty) streets, signs out and back in.
func TestSignUpSignOutSignIn(t *testing.T) {
	t.Parallel()
	srv := start(t)
	anna := newTab(t, srv, "anna")
	// "/" is the landing page for visitors (public_test.go); the app's
	// screens send them to sign in.
	anna.open("/streets")
	if p := anna.path(); p != "/signin?next=%2Fstreets" {
		t.Fatalf("a visitor is sent to %q, want the sign-in screen", p)
	}
	anna.open("/signin")
	anna.screen("signin")
	anna.click(`a[href^="/signup"]`)
	anna.waitPath("/signup")
	anna.fill(`#signup-form [name=name]`, "Anna B.")
	anna.fill(`#signup-form [name=email]`, "anna@example.org")
	anna.fill(`#signup-form [name=password]`, "correct horse battery")
	anna.click(`#signup-form button[type=submit]`)
	anna.waitPath("/")
	anna.waitText("main", "Anna B.")
	anna.waitJS("empty state", `document.querySelector('#my-streets .state.empty')`)
	anna.screen("home-empty")

	anna.open("/account")
	anna.click("#signout")
	anna.waitPath("/signin")
	anna.fill(`#signin-form [name=email]`, "anna@example.org")
	anna.fill(`#signin-form [name=password]`, "wrong password")
	anna.click(`#signin-form button[type=submit]`)
	anna.waitJS("error shown", `document.querySelector('#signin-form .form-error')`)
	anna.fill(`#signin-form [name=password]`, "correct horse battery")
	anna.click(`#signin-form button[type=submit]`)
	anna.waitPath("/")
	anna.waitText("main h1", "Le mie vie")
}

// TestResidentsHelpEachOther: Anna asks for help; Bruno, on the same
// street's board in his own browser, sees it appear without reloading and
// replies; Anna sees the reply arrive, accepts it and marks the request done
// with thanks, which Bruno sees too.
func TestResidentsHelpEachOther(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via del Pratello", brunoU)
	anna, bruno := newTab(t, srv, "anna"), newTab(t, srv, "bruno")
	anna.signIn(annaU)
	bruno.signIn(brunoU)

	bruno.click(`#my-streets a[href="/streets/` + sid + `"]`)
	bruno.waitPath("/streets/" + sid)
	bruno.waitJS("empty board", `document.querySelector('.feed-status .state.empty')`)
	bruno.waitLive()
	bruno.eval(`window.__sameDocument = true`, nil)

	anna.open("/streets/" + sid)
	anna.click("#new-request")
	anna.waitPath("/streets/" + sid + "/new")
	anna.screen("compose")
	anna.choose(`#post-form [name=category]`, "repairs")
	anna.fill(`#post-form [name=title]`, "Mi presti un trapano?")
	anna.fill(`#post-form [name=body]`, "Devo appendere due mensole sabato mattina.")
	anna.click(`#post-form button[type=submit]`)
	anna.waitPath("/posts/")
	anna.waitText("#post-title", "Mi presti un trapano?")
	anna.waitLive()

	// Bruno's board shows it live, in the same document (no reload).
	bruno.waitText("#feed .post", "Mi presti un trapano?")
	var same bool
	bruno.eval(`window.__sameDocument === true`, &same)
	if !same {
		t.Fatal("Bruno's board reloaded to show the new post")
	}
	bruno.screen("feed")
	bruno.click(`#feed .post a`)
	bruno.waitPath("/posts/")
	bruno.fill(`#reply-form [name=body]`, "Certo! Passo alle 10 con il trapano.")
	bruno.click(`#reply-form button[type=submit]`)
	bruno.waitText("#replies .reply", "Passo alle 10")
	bruno.waitLive()

	// Anna, on her post, sees the reply arrive and accepts it.
	anna.waitText("#replies .reply", "Passo alle 10")
	anna.screen("post")
	anna.click(`#replies .reply .accept`)
	anna.waitJS("matched", `document.getElementById('post-status').dataset.status === 'matched'`)
	anna.clickFor("#mark-done", "thanks dialog", `document.querySelector('dialog[open] textarea')`)
	anna.fill(`dialog[open] textarea`, "Grazie Bruno, gentilissimo!")
	anna.click(`dialog[open] button[type=submit]`)
	anna.waitJS("done", `document.getElementById('post-status').dataset.status === 'done'`)
	anna.waitText(".thanks", "Grazie Bruno")

	// Bruno sees it done without reloading.
	bruno.waitJS("done for Bruno", `document.getElementById('post-status').dataset.status === 'done'`)
	bruno.waitText(".thanks", "Grazie Bruno")
}
