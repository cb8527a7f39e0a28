package api_test

import (
	"bytes"
	"html"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"civico/internal/testutil"
)

// metaTags are a page's <meta property|name=… content=…> tags, unescaped.
var metaTag = regexp.MustCompile(`<meta (?:property|name)="([^"]+)" content="([^"]*)">`)

func metaTags(page []byte) map[string]string {
	out := map[string]string{}
	for _, m := range metaTag.FindAllSubmatch(page, -1) {
		out[string(m[1])] = html.UnescapeString(string(m[2]))
	}
	return out
}

// publicStreet makes Via Fondazza with Anna Rossi as its admin, Bruno
// Bianchi as a member and a post, so the tests can check that none of
// them shows on the public face.
func publicStreet(t *testing.T, s *testutil.Server) (sid string, admin, member *testutil.User) {
	t.Helper()
	anna, bruno := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno Bianchi")
	var st struct {
		ID, Slug string
	}
	s.Do(t, "POST", "/streets", map[string]string{"name": "Via Fondazza", "city": "Bologna", "description": "Vicini che si aiutano dal 2013."},
		anna.Token).Expect(t, http.StatusCreated).JSON(t, &st)
	if st.Slug != "via-fondazza-bologna" {
		t.Fatalf("slug %q", st.Slug)
	}
	var inv struct{ Code string }
	s.Do(t, "POST", "/streets/"+st.ID+"/invites", nil, anna.Token).Expect(t, http.StatusCreated).JSON(t, &inv)
	s.Do(t, "POST", "/streets/"+st.ID+"/join", map[string]string{"invite_code": inv.Code}, bruno.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/streets/"+st.ID+"/posts", map[string]string{"kind": "request", "category": "lending", "title": "Trapano a percussione",
		"body": "Me lo prestate per sabato?"}, bruno.Token).Expect(t, http.StatusCreated)
	return st.ID, anna, bruno
}

// TestVisitorFindsAStreetAndOpensItsPage: signed out, a visitor finds Via
// Fondazza by name in the directory, opens its page and sees its name,
// city, description and member count, with the Open Graph and Twitter
// tags a chat app draws its card from and a preview image that is a PNG;
// no member's name and no post is on it.
func TestVisitorFindsAStreetAndOpensItsPage(t *testing.T) {
	s := testutil.Start(t)
	publicStreet(t, s)

	var dir struct {
		Items []map[string]any `json:"items"`
	}
	s.Do(t, "GET", "/streets?q=fondaz&city=bologna", nil, "").Expect(t, http.StatusOK).JSON(t, &dir)
	if len(dir.Items) != 1 || dir.Items[0]["slug"] != "via-fondazza-bologna" || dir.Items[0]["member_count"] != 2.0 ||
		dir.Items[0]["description"] != "Vicini che si aiutano dal 2013." || len(dir.Items[0]) != 6 {
		t.Fatalf("directory, signed out: %+v", dir.Items)
	}

	res := s.DoRaw(t, "GET", "/s/"+dir.Items[0]["slug"].(string), nil, "", "Accept", "text/html")
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("street page: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	page := string(res.Body)
	for _, want := range []string{"<h1 id=\"street-name\">Via Fondazza</h1>", "Bologna", "Vicini che si aiutano dal 2013.", "2 vicini"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	for _, secret := range []string{"Anna", "Rossi", "Bruno", "Bianchi", "Trapano", "prestate"} {
		if strings.Contains(page, secret) {
			t.Errorf("the public page shows %q", secret)
		}
	}
	if strings.Contains(page, "noindex") {
		t.Errorf("a listed street's page is noindex")
	}
	url := s.URL + "/s/via-fondazza-bologna"
	tags := metaTags(res.Body)
	for k, v := range map[string]string{
		"og:title": "Via Fondazza, Bologna: social street su Civico", "og:description": "Vicini che si aiutano dal 2013.",
		"og:url": url, "og:type": "website", "og:locale": "it_IT", "twitter:card": "summary_large_image",
		"twitter:title": "Via Fondazza, Bologna: social street su Civico", "description": "Vicini che si aiutano dal 2013.",
	} {
		if tags[k] != v {
			t.Errorf("%s = %q, want %q", k, tags[k], v)
		}
	}
	if !strings.Contains(page, `<link rel="canonical" href="`+url+`">`) || !strings.Contains(page, "<title>Via Fondazza, Bologna") {
		t.Errorf("no canonical link or title")
	}
	img := tags["og:image"]
	if !strings.HasPrefix(img, url+"/preview.png") || tags["twitter:image"] != img {
		t.Fatalf("og:image %q, twitter:image %q", img, tags["twitter:image"])
	}
	pic := s.DoRaw(t, "GET", strings.TrimPrefix(img, s.URL), nil, "")
	if pic.Status != http.StatusOK || pic.Header.Get("Content-Type") != "image/png" || !strings.Contains(pic.Header.Get("Cache-Control"), "public") {
		t.Fatalf("og:image: %d %s %s", pic.Status, pic.Header.Get("Content-Type"), pic.Header.Get("Cache-Control"))
	}
	decoded, err := png.Decode(bytes.NewReader(pic.Body))
	if err != nil || decoded.Bounds().Dx() != 1200 || decoded.Bounds().Dy() != 630 {
		t.Fatalf("og:image is no 1200×630 PNG: %v", err)
	}
	if again := s.DoRaw(t, "GET", strings.TrimPrefix(img, s.URL), nil, "", "If-None-Match", pic.Header.Get("ETag")); again.Status != http.StatusNotModified {
		t.Errorf("preview revalidation: %d, want 304", again.Status)
	}

	en := s.DoRaw(t, "GET", "/s/via-fondazza-bologna", nil, "", "Accept-Language", "en-GB,en;q=0.9")
	if tags := metaTags(en.Body); !strings.Contains(string(en.Body), "2 neighbours") || tags["og:locale"] != "en_GB" {
		t.Errorf("in English: og:locale %q", tags["og:locale"])
	}
	if r := s.DoRaw(t, "GET", "/s/via-fondazza-bologna", nil, "", "If-None-Match", res.Header.Get("ETag")); r.Status != http.StatusNotModified {
		t.Errorf("page revalidation: %d, want 304", r.Status)
	}
	for _, p := range []string{"/s/via-nessuna-bologna", "/s/Via%20Fondazza", "/s/via--fondazza"} {
		if r := s.DoRaw(t, "GET", p, nil, "", "Accept", "text/html"); r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), "noindex") {
			t.Errorf("%s: %d, want a 404 page", p, r.Status)
		}
	}
	s.DoRaw(t, "GET", "/s/via-nessuna-bologna/preview.png", nil, "").ExpectError(t, http.StatusNotFound, "street_not_found")
}

// TestUnlistedStreet: an admin takes the street out of the directory (a
// member may not); its page stays reachable by link, marked noindex.
func TestUnlistedStreet(t *testing.T) {
	s := testutil.Start(t)
	sid, anna, bruno := publicStreet(t, s)
	s.Do(t, "PATCH", "/streets/"+sid, map[string]any{"listed": false}, bruno.Token).ExpectError(t, http.StatusForbidden, "not_admin")
	s.Do(t, "PATCH", "/streets/"+sid, map[string]any{"listed": false}, "").ExpectError(t, http.StatusUnauthorized, "unauthorized")
	s.Do(t, "PATCH", "/streets/"+sid, map[string]any{"name": "x"}, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	var st struct {
		Slug   string `json:"slug"`
		Name   string `json:"name"`
		Listed bool   `json:"listed"`
	}
	s.Do(t, "PATCH", "/streets/"+sid, map[string]any{"listed": false, "name": "Via Fondazza (social street)"}, anna.Token).
		Expect(t, http.StatusOK).JSON(t, &st)
	if st.Listed || st.Slug != "via-fondazza-bologna" || st.Name != "Via Fondazza (social street)" {
		t.Fatalf("after the change: %+v", st)
	}
	var dir struct {
		Items []map[string]any `json:"items"`
	}
	s.Do(t, "GET", "/streets?q=fondazza", nil, "").Expect(t, http.StatusOK).JSON(t, &dir)
	if len(dir.Items) != 0 {
		t.Fatalf("an unlisted street in the directory: %+v", dir.Items)
	}
	res := s.DoRaw(t, "GET", "/s/via-fondazza-bologna", nil, "").Expect(t, http.StatusOK)
	if !strings.Contains(string(res.Body), `<meta name="robots" content="noindex">`) || !strings.Contains(string(res.Body), "Via Fondazza (social street)") {
		t.Fatalf("the unlisted street's page:\n%s", res.Body)
	}
	if r := s.DoRaw(t, "GET", "/s?q=fondazza", nil, ""); strings.Contains(string(r.Body), "/s/via-fondazza-bologna") {
		t.Errorf("the search page lists an unlisted street")
	}
}

// TestInviteLinkShowsTheCard: the invite link answers the street's card
// with its Open Graph tags (never indexed) and loads the app, whose join
// screen takes over as before; a link to an unknown street is the app's.
func TestInviteLinkShowsTheCard(t *testing.T) {
	s := testutil.Start(t)
	sid, anna, _ := publicStreet(t, s)
	var inv struct{ URL string }
	s.Do(t, "POST", "/streets/"+sid+"/invites", nil, anna.Token).Expect(t, http.StatusCreated).JSON(t, &inv)
	path := strings.TrimPrefix(inv.URL, s.URL)
	res := s.DoRaw(t, "GET", path, nil, "", "Accept", "text/html").Expect(t, http.StatusOK)
	page := string(res.Body)
	for _, want := range []string{`<meta name="robots" content="noindex">`, `<script type="module" src="/js/app.js"></script>`,
		`<main id="main"`, `id="street-name">Via Fondazza<`, `href="` + html.EscapeString(path) + `"`, "2 vicini"} {
		if !strings.Contains(page, want) {
			t.Errorf("the invite card has no %s", want)
		}
	}
	if tags := metaTags(res.Body); tags["og:url"] != s.URL+"/s/via-fondazza-bologna" || !strings.HasPrefix(tags["og:image"], s.URL+"/s/via-fondazza-bologna/preview.png") {
		t.Errorf("invite card tags: %v", tags)
	}
	for _, secret := range []string{"Anna", "Bruno", "Trapano"} {
		if strings.Contains(page, secret) {
			t.Errorf("the invite card shows %q", secret)
		}
	}
	other := s.DoRaw(t, "GET", "/streets/0123456789abcdef01234567/join?code=x", nil, "", "Accept", "text/html").Expect(t, http.StatusOK)
	if strings.Contains(string(other.Body), "street-card") || !strings.Contains(string(other.Body), `<main id="main"`) {
		t.Errorf("an unknown street's join link is not the app's shell")
	}
}

// TestLandingPage: "/" tells a visitor what Civico is, lets them look for
// their street (a plain form whose results link to the streets' pages)
// and start one; it is indexable and loads the module that brings a
// signed-in user into the app.
func TestLandingPage(t *testing.T) {
	s := testutil.Start(t)
	publicStreet(t, s)
	res := s.DoRaw(t, "GET", "/", nil, "", "Accept", "text/html").Expect(t, http.StatusOK)
	page := string(res.Body)
	for _, want := range []string{`id="landing"`, `<form class="card stack" id="find" method="get" action="/s"`, `href="/signup?next=%2Fstreets%2Fnew"`,
		`<script type="module" src="/js/public.js"></script>`, `<link rel="canonical" href="` + s.URL + `/">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the landing page has no %s", want)
		}
	}
	if strings.Contains(page, "noindex") || res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("the landing is noindex or cached (%q)", res.Header.Get("Cache-Control"))
	}
	tags := metaTags(res.Body)
	for _, k := range []string{"og:title", "og:description", "og:image", "og:url", "og:type", "og:locale", "twitter:card", "description"} {
		if tags[k] == "" {
			t.Errorf("the landing has no %s", k)
		}
	}
	if pic := s.DoRaw(t, "GET", strings.TrimPrefix(tags["og:image"], s.URL), nil, ""); pic.Status != 200 || pic.Header.Get("Content-Type") != "image/png" {
		t.Errorf("the landing's og:image: %d", pic.Status)
	}

	found := s.DoRaw(t, "GET", "/s?q=fondazza&city=Bologna", nil, "").Expect(t, http.StatusOK)
	if !strings.Contains(string(found.Body), `href="/s/via-fondazza-bologna"`) || !strings.Contains(string(found.Body), "noindex") {
		t.Errorf("the results page:\n%s", found.Body)
	}
	if none := s.DoRaw(t, "GET", "/s?q=nessuna", nil, "").Expect(t, http.StatusOK); !strings.Contains(string(none.Body), "Nessuna via trovata") {
		t.Errorf("no results are not said")
	}
	s.DoRaw(t, "GET", "/s?q="+strings.Repeat("a", 101), nil, "").Expect(t, http.StatusUnprocessableEntity)
	s.DoRaw(t, "GET", "/s?cursor=nonsense", nil, "").Expect(t, http.StatusUnprocessableEntity)
}
