package pwa_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestStreetPageInChromium: a visitor's browser opens a street's public
// page: it reads the Open Graph tags a chat app builds its card from, the
// preview image they name loads, and no member's name or post shows. The
// "join" button leads into the app, which asks them to sign in first.
func TestStreetPageInChromium(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ada, bice := srv.Register(t, "Ada Lovelace"), srv.Register(t, "Bice Ferri")
	sid := street(t, srv, ada, "Via Fondazza", bice)
	post(t, srv, bice, sid, "request", "Cerco un trapano a percussione")

	v := newTab(t, srv, "visitor")
	v.open("/s/via-fondazza-bologna")
	var tags map[string]string
	v.eval(`Object.fromEntries([...document.querySelectorAll('meta[property^="og:"], meta[name^="twitter:"], meta[name="description"], meta[name="robots"]')]
	  .map((m) => [m.getAttribute('property') || m.getAttribute('name'), m.content]))`, &tags)
	want := map[string]string{
		"og:title": "Via Fondazza, Bologna: social street su Civico", "og:description": "La via di prova", "og:type": "website",
		"og:url": srv.URL + "/s/via-fondazza-bologna", "og:locale": "it_IT", "twitter:card": "summary_large_image",
	}
	for k, w := range want {
		if tags[k] != w {
			t.Errorf("%s = %q, want %q", k, tags[k], w)
		}
	}
	if _, ok := tags["robots"]; ok {
		t.Errorf("a listed street's page has robots %q", tags["robots"])
	}
	if !strings.HasPrefix(tags["og:image"], srv.URL+"/s/via-fondazza-bologna/preview.png") {
		t.Fatalf("og:image %q", tags["og:image"])
	}
	var size []int
	v.eval(`new Promise((resolve) => { const i = new Image(); i.onload = () => resolve([i.naturalWidth, i.naturalHeight]);
	  i.onerror = () => resolve([]); i.src = `+"`"+tags["og:image"]+"`"+`; })`, &size)
	if len(size) != 2 || size[0] != 1200 || size[1] != 630 {
		t.Errorf("the og:image loads as %v, want 1200×630", size)
	}
	var text string
	v.eval(`document.documentElement.outerHTML`, &text)
	for _, secret := range []string{"Ada", "Lovelace", "Bice", "Ferri", "trapano"} {
		if strings.Contains(text, secret) {
			t.Errorf("the public page shows %q", secret)
		}
	}
	v.waitText("#street-members", "2 vicini")
	v.screen("public-street")

	v.click("#join")
	v.waitPath("/signin")
	if p := v.path(); p != "/signin?next=%2Fstreets%2F"+sid+"%2Fjoin" {
		t.Errorf("join leads to %q, want the sign-in screen, then the street's join screen", p)
	}
}

// TestLandingFindsAStreet: a visitor reads what Civico is on "/", looks
// for their street with the plain form and reaches its page.
func TestLandingFindsAStreet(t *testing.T) {
	t.Parallel()
	srv := start(t)
	street(t, srv, srv.Register(t, "Ada"), "Via del Pratello")

	v := newTab(t, srv, "visitor")
	v.open("/")
	v.waitJS("landing", `document.getElementById('landing') && location.pathname === '/'`)
	v.screen("landing")
	v.fill("#find-q", "pratello")
	// The form and the link are plain HTML: each is a page load, waited
	// for as chromedp waits (a script in the page would die with it).
	v.click(`#find button[type=submit]`)
	v.do("results", chromedp.WaitVisible(chromedp.CSS(`#results a[href="/s/via-del-pratello-bologna"]`)))
	if p := v.path(); p != "/s?q=pratello&city=" {
		t.Errorf("the search went to %q", p)
	}
	v.screen("landing-results")
	v.click(`#results a[href="/s/via-del-pratello-bologna"]`)
	v.do("street page", chromedp.WaitVisible(chromedp.CSS(`#street-name`)))
	v.waitText("#street-name", "Via del Pratello")
}
