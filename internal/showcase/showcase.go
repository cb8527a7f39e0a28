// Package showcase is Civico's public face, as the server renders it: the
// landing page for visitors, each street's page at /s/<slug> (its name,
// city, description, member count and a join button: no posts, no names),
// the card an invite link shows, the street search's results, and the
// preview image a link pasted into a chat is shown with. The pages are
// real HTML, readable with no JavaScript on a cheap phone and by the
// crawlers of search engines and messaging apps (Open Graph and Twitter
// card tags); where the app has a screen, the page loads the app, which
// takes over.
//
// It knows nothing of HTTP or the database: it turns a street's public
// card (streets.Listing) into bytes. Its words are the PWA's, the "public.*"
// keys of pwa/i18n/<lang>.json, so one file holds every string a visitor
// reads.
package showcase

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strings"
	"unicode/utf8"

	"civico/internal/streets"
)

// Languages the pages speak; the first is the default.
var Languages = []string{"it", "en"}

// locales are the Open Graph locales of the languages.
var locales = map[string]string{"it": "it_IT", "en": "en_GB"}

// descriptionLen bounds a meta description (what a search result shows).
const descriptionLen = 160

// Pages renders the public pages.
type Pages struct {
	words map[string]map[string]string // language → public.* key → text
	tmpl  *template.Template
	prev  *previews
}

// New reads the "public.*" strings of every language from the PWA's files
// (i18n/<lang>.json in fsys); a language missing a key the default has is
// an error, found at start rather than by a visitor.
func New(fsys fs.FS) (*Pages, error) {
	p := &Pages{words: map[string]map[string]string{}}
	for _, lang := range Languages {
		b, err := fs.ReadFile(fsys, "i18n/"+lang+".json")
		if err != nil {
			return nil, fmt.Errorf("showcase: %w", err)
		}
		var all map[string]string
		if err := json.Unmarshal(b, &all); err != nil {
			return nil, fmt.Errorf("showcase: i18n/%s.json: %w", lang, err)
		}
		w := map[string]string{}
		for k, v := range all {
			if strings.HasPrefix(k, "public.") {
				w[k] = v
			}
		}
		p.words[lang] = w
	}
	for k := range p.words[Languages[0]] {
		for _, lang := range Languages[1:] {
			if _, ok := p.words[lang][k]; !ok {
				return nil, fmt.Errorf("showcase: i18n/%s.json has no %q", lang, k)
			}
		}
	}
	t, err := template.New("page").Parse(pageHTML)
	if err != nil {
		return nil, err
	}
	p.tmpl = t
	prev, err := newPreviews()
	if err != nil {
		return nil, err
	}
	p.prev = prev
	return p, nil
}

// t is the text of key in lang with {placeholders} filled from vars
// (name, value pairs); a missing key reads as the key, as in the PWA.
func (p *Pages) t(lang, key string, vars ...string) string {
	s, ok := p.words[lang][key]
	if !ok {
		s = key
	}
	for i := 0; i+1 < len(vars); i += 2 {
		s = strings.ReplaceAll(s, "{"+vars[i]+"}", vars[i+1])
	}
	return s
}

// members is "1 vicino", "5 vicini": one and other are the plural forms
// of both languages.
func (p *Pages) members(lang string, n int) string {
	key := "public.members.other"
	if n == 1 {
		key = "public.members.one"
	}
	return p.t(lang, key, "n", fmt.Sprint(n))
}

// Lang picks the page's language from an Accept-Language header: the
// spoken language the visitor ranks highest, else Italian.
func Lang(accept string) string {
	best, bestQ := Languages[0], 0.0
	if len(accept) > 1024 {
		accept = accept[:1024]
	}
	for _, part := range strings.Split(accept, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g", &q); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		for _, l := range Languages {
			if base == l && q > bestQ {
				best, bestQ = l, q
			}
		}
	}
	return best
}

// supported returns lang if the pages speak it, else the default.
func supported(lang string) string {
	for _, l := range Languages {
		if l == lang {
			return l
		}
	}
	return Languages[0]
}

// clip shortens s to at most n characters, at a word, with "…".
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	out := string(r)
	if i := strings.LastIndexByte(out, ' '); i > n/2 {
		out = out[:i]
	}
	return strings.TrimRight(out, " ,.;:") + "…"
}

// page is what the template draws.
type page struct {
	Lang, Locale, AltLocale string
	Title, Description      string
	Canonical, Image, Alt   string
	NoIndex                 bool
	// Script is the app's module the page loads, if any.
	Script string
	// W are the words of the page's language.
	W map[string]string

	Landing  *landing
	Card     *card
	Results  *results
	NotFound bool
}

type landing struct{}

type card struct {
	Name, City, Description, Members string
	JoinURL, JoinLabel, Lead         string
}

type results struct {
	Q, City  string
	Items    []result
	More     string
	Invalid  bool
	Searched bool
}

type result struct {
	Name, City, Members, URL string
}

func (p *Pages) newPage(lang, base string) page {
	lang = supported(lang)
	alt := ""
	for _, l := range Languages {
		if l != lang {
			alt = locales[l]
		}
	}
	return page{Lang: lang, Locale: locales[lang], AltLocale: alt, W: p.words[lang]}
}

func (p *Pages) render(pg page) ([]byte, error) {
	var b bytes.Buffer
	if err := p.tmpl.Execute(&b, pg); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Landing is the page at "/" for visitors: what a social street is, a
// search for one's street, a way to start one. It loads script (the
// module that brings a signed-in user into the app), and base is the
// site's origin (absolute URLs for crawlers).
func (p *Pages) Landing(lang, base, script string) ([]byte, error) {
	pg := p.newPage(lang, base)
	pg.Title = p.t(pg.Lang, "public.landing.title")
	pg.Description = clip(p.t(pg.Lang, "public.landing.description"), descriptionLen)
	pg.Canonical = base + "/"
	pg.Image = base + "/preview.png"
	pg.Alt = "Civico"
	pg.Script = script
	pg.Landing = &landing{}
	return p.render(pg)
}

// StreetOptions say which of a street's two cards is drawn.
type StreetOptions struct {
	// Invite is the invite link's path (with its code): the card then
	// offers to accept the invitation there, is never indexed (the code
	// is a secret of the street's neighbours) and loads Script, the app,
	// whose join screen takes over.
	Invite string
	Script string
}

// Street is a street's public page: its public card and a button that
// leads into the app's join flow. base is the site's origin.
func (p *Pages) Street(lang, base string, st streets.Listing, o StreetOptions) ([]byte, error) {
	pg := p.newPage(lang, base)
	l := pg.Lang
	members := p.members(l, st.MemberCount)
	pg.Title = p.t(l, "public.street.title", "name", st.Name, "city", st.City)
	desc := st.Description
	if desc == "" {
		desc = p.t(l, "public.street.description", "name", st.Name, "city", st.City, "members", members)
	}
	pg.Description = clip(desc, descriptionLen)
	pg.Canonical = base + "/s/" + st.Slug
	pg.Image = base + PreviewPath(st)
	pg.Alt = st.Name + ", " + st.City
	pg.NoIndex = !st.Listed || o.Invite != ""
	c := &card{Name: st.Name, City: st.City, Description: st.Description, Members: members,
		JoinURL: streets.JoinPath(st.ID), JoinLabel: p.t(l, "public.street.join")}
	if o.Invite != "" {
		pg.Title = p.t(l, "public.invite.title", "name", st.Name, "city", st.City)
		c.JoinURL, c.JoinLabel, c.Lead = o.Invite, p.t(l, "public.invite.join"), p.t(l, "public.invite.lead")
		pg.Script = o.Script
	}
	pg.Card = c
	return p.render(pg)
}

// Search is the results page of the landing's "find your street" form
// (GET /s?q=&city=): links to the streets' pages, and the next page's
// link (more) if there is one. Never indexed.
func (p *Pages) Search(lang, base, q, city string, items []streets.Listing, more string, invalid bool) ([]byte, error) {
	pg := p.newPage(lang, base)
	l := pg.Lang
	pg.Title = p.t(l, "public.results.title")
	pg.Description = clip(p.t(l, "public.landing.description"), descriptionLen)
	pg.Canonical = base + "/s"
	pg.Image = base + "/preview.png"
	pg.Alt = "Civico"
	pg.NoIndex = true
	r := &results{Q: q, City: city, Invalid: invalid, Searched: q != "" || city != ""}
	for _, st := range items {
		r.Items = append(r.Items, result{Name: st.Name, City: st.City, Members: p.members(l, st.MemberCount), URL: "/s/" + st.Slug})
	}
	if more != "" {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		if city != "" {
			v.Set("city", city)
		}
		v.Set("cursor", more)
		r.More = "/s?" + v.Encode()
	}
	pg.Results = r
	return p.render(pg)
}

// PreviewPath is the street's preview image, with a version that changes
// with its name or city, so that apps that keep a link's card refetch it.
func PreviewPath(st streets.Listing) string {
	return "/s/" + st.Slug + "/preview.png?v=" + strings.Trim(PreviewTag(st.Name, st.City), `"`)[:8]
}

// NotFound is the page of a street address that leads nowhere (404): it
// says so and offers the search.
func (p *Pages) NotFound(lang, base string) ([]byte, error) {
	pg := p.newPage(lang, base)
	pg.Title = p.t(pg.Lang, "public.notfound.title") + " · Civico"
	pg.Description = clip(p.t(pg.Lang, "public.landing.description"), descriptionLen)
	pg.Canonical = base + "/"
	pg.Image = base + "/preview.png"
	pg.Alt = "Civico"
	pg.NoIndex = true
	pg.NotFound = true
	pg.Results = &results{}
	return p.render(pg)
}

// SitePreview is the landing page's preview image: Civico and its motto.
func (p *Pages) SitePreview() ([]byte, string, error) {
	motto := p.t(Languages[0], "public.landing.heading")
	b, err := p.Preview("Civico", motto)
	return b, PreviewTag("Civico", motto), err
}
