package showcase_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"civico/internal/showcase"
	"civico/internal/streets"
	"civico/pwa"
)

func pages(t *testing.T) *showcase.Pages {
	t.Helper()
	p, err := showcase.New(pwa.FS())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLang(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "it"},
		{"en-GB,en;q=0.9", "en"},
		{"de-DE,de;q=0.9,en;q=0.8,it;q=0.7", "en"},
		{"en;q=0.5,it;q=0.9", "it"},
		{"fr", "it"},
		{"EN-us", "en"},
		{"en;q=abc", "it"},
	} {
		if got := showcase.Lang(c.header); got != c.want {
			t.Errorf("Lang(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

// TestStreetPageEscapesAndTags: what a street's admin wrote is text on the
// page, never markup; the page carries its Open Graph and Twitter tags; an
// unlisted street's page and an invite card say noindex.
func TestStreetPageEscapesAndTags(t *testing.T) {
	p := pages(t)
	st := streets.Listing{ID: "0123456789abcdef01234567", Slug: "via-x-bologna", Name: `Via <b>X</b>`, City: `Bo"logna`,
		Description: `<script>alert(1)</script>`, MemberCount: 3, Listed: true}
	b, err := p.Street("en", "https://civico.example", st, showcase.StreetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{"<script>alert", "<b>X</b>", `Bo"logna`} {
		if strings.Contains(page, bad) {
			t.Errorf("the page carries %q unescaped", bad)
		}
	}
	for _, want := range []string{
		`<meta property="og:url" content="https://civico.example/s/via-x-bologna">`,
		`<link rel="canonical" href="https://civico.example/s/via-x-bologna">`,
		`<meta property="og:image" content="https://civico.example/s/via-x-bologna/preview.png?v=`,
		`<meta name="twitter:card" content="summary_large_image">`,
		`<meta property="og:locale" content="en_GB">`,
		`3 neighbours`,
		`href="/streets/0123456789abcdef01234567/join"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %s", want)
		}
	}
	if strings.Contains(page, "noindex") || strings.Contains(page, "<script") {
		t.Errorf("a listed street's page is noindex or loads a script")
	}
	st.Listed = false
	b, _ = p.Street("it", "https://civico.example", st, showcase.StreetOptions{})
	if !strings.Contains(string(b), `<meta name="robots" content="noindex">`) || !strings.Contains(string(b), "3 vicini") {
		t.Errorf("an unlisted street's page is not noindex, or not in Italian")
	}
	st.Listed = true
	b, _ = p.Street("it", "https://civico.example", st, showcase.StreetOptions{Invite: "/streets/x/join?code=a&b", Script: "/js/app.js"})
	if !strings.Contains(string(b), `noindex`) || !strings.Contains(string(b), `href="/streets/x/join?code=a&amp;b"`) ||
		!strings.Contains(string(b), `<script type="module" src="/js/app.js"></script>`) {
		t.Errorf("the invite card:\n%s", b)
	}
}

func TestPreviewIsAPNG(t *testing.T) {
	p := pages(t)
	for _, name := range []string{"Via Fondazza", strings.Repeat("Via Lunghissima della Città ", 6), ""} {
		b, err := p.Preview(name, "Bologna")
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if r := img.Bounds(); r.Dx() != 1200 || r.Dy() != 630 {
			t.Errorf("%q: %v, want 1200×630", name, r)
		}
	}
	if showcase.PreviewTag("a", "b") == showcase.PreviewTag("a b", "") {
		t.Errorf("two streets share a preview tag")
	}
}
