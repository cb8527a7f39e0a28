package pwa_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"civico/internal/testutil"
)

// catchFiles makes the page record, from now until it is next loaded, the
// files it fetches (path, query, status and the Content-Type the server
// sent) and the downloads it starts, and keep each object URL's blob to
// read back. No download really happens: the test reads the bytes the
// page would have saved.
func (tb *tab) catchFiles() {
	tb.t.Helper()
	tb.eval(`(() => {
	  const p = window.__paper = { files: [], saved: [], blobs: {} };
	  const fetch0 = window.fetch;
	  window.fetch = async (input, init) => {
	    const res = await fetch0(input, init);
	    const u = new URL(typeof input === 'string' ? input : input.url, location.href);
	    if (/\.(pdf|png)$/.test(u.pathname)) p.files.push({ path: u.pathname, query: u.search, status: res.status, type: res.headers.get('Content-Type') || '' });
	    return res;
	  };
	  const create = URL.createObjectURL;
	  URL.createObjectURL = (b) => { const href = create.call(URL, b); p.blobs[href] = b; return href; };
	  const click = HTMLAnchorElement.prototype.click;
	  HTMLAnchorElement.prototype.click = function () {
	    if (this.download) { p.saved.push({ name: this.download, href: this.href }); return undefined; }
	    return click.call(this);
	  };
	})()`, nil)
}

// fetched is a file the page fetched, as catchFiles saw it.
type fetched struct {
	Path   string `json:"path"`
	Query  string `json:"query"`
	Status int    `json:"status"`
	Type   string `json:"type"`
}

// lastFile is the last file the page fetched; its path must end with suffix.
func (tb *tab) lastFile(suffix string) fetched {
	tb.t.Helper()
	var files []fetched
	tb.eval(`window.__paper.files`, &files)
	if len(files) == 0 || !strings.HasSuffix(files[len(files)-1].Path, suffix) {
		tb.fail("the page fetched %+v, want a last file ending in %s", files, suffix)
	}
	return files[len(files)-1]
}

// blob is the content and type of the blob behind object URL href.
func (tb *tab) blob(href string) ([]byte, string) {
	tb.t.Helper()
	var out struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	tb.eval(fmt.Sprintf(`(async () => {
	  const b = window.__paper.blobs[%q];
	  if (!b) return { type: '', data: '' };
	  const bytes = new Uint8Array(await b.arrayBuffer());
	  let s = '';
	  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
	  return { type: b.type, data: btoa(s) };
	})()`, href), &out)
	b, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil || len(b) == 0 {
		tb.fail("no blob behind %s (%v)", href, err)
	}
	return b, out.Type
}

// savedFile is the n-th file (from 1) the page saved, once it did.
func (tb *tab) savedFile(n int) ([]byte, string) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf("file %d saved", n), fmt.Sprintf(`window.__paper.saved.length >= %d`, n))
	var saved []struct {
		Href string `json:"href"`
	}
	tb.eval(`window.__paper.saved`, &saved)
	return tb.blob(saved[n-1].Href)
}

// wantPDF checks that f was answered as a PDF and that b is one.
func wantPDF(t *testing.T, f fetched, b []byte, typ string) {
	t.Helper()
	if f.Status != http.StatusOK || !strings.HasPrefix(f.Type, "application/pdf") || typ != "application/pdf" || !strings.HasPrefix(string(b), "%PDF-") {
		t.Fatalf("%s%s: status %d, Content-Type %q, blob type %q, starts %q; want a PDF", f.Path, f.Query, f.Status, f.Type, typ, string(b[:min(8, len(b))]))
	}
	if !strings.Contains(f.Query, "lang=it") {
		t.Errorf("%s was asked for with %q, want the app's language (lang=it)", f.Path, f.Query)
	}
}

// sameInvite says whether two invite links open the same street's join
// screen with the same code: /join?street=<sid>&code=<code> and
// /streets/<sid>/join?code=<code> both do.
func sameInvite(a, b string) bool {
	target := func(s string) (string, bool) {
		u, err := url.Parse(s)
		if err != nil {
			return "", false
		}
		sid, code := u.Query().Get("street"), u.Query().Get("code")
		if p := strings.Split(strings.Trim(u.Path, "/"), "/"); len(p) == 3 && p[0] == "streets" && p[2] == "join" {
			sid = p[1]
		} else if u.Path != "/join" {
			return "", false
		}
		return sid + "/" + code, sid != "" && code != ""
	}
	ta, okA := target(a)
	tb, okB := target(b)
	return okA && okB && ta == tb
}

// TestStreetOnPaper: Ada, who runs Via Fondazza, prints its board from the
// admin screen: the page fetches a PDF with her token, in her language, and
// saves it (a phone opens it in its viewer); its text has Bruno's request with its accents.
// Beside an open invite she prints a flyer and shows its QR code, both
// carrying the invite's link: Carla, reading the flyer's, joins. Ugo, a volunteer of the desk linked with the
// street, prints the same board from the desk's screen. Bruno chooses, in
// his account, never to appear on paper: the switch saves at once and
// survives a reload; Ada's next board (saved as bacheca-via-fondazza.pdf)
// leaves his request out.
func TestStreetOnPaper(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU, brunoU, veraU, ugoU := srv.Register(t, "Ada Rossi"), srv.Register(t, "Bruno Verdi"), srv.Register(t, "Vera"), srv.Register(t, "Ugo")
	sid := street(t, srv, adaU, "Via Fondazza", brunoU)
	const brunos, adas = "Cerco qualcuno per la spesa di papà", "Presto la scala più alta, è già in cortile"
	srv.Request(t, brunoU, sid, "errands", brunos)
	post(t, srv, adaU, sid, "offer", adas)
	aid := srv.Association(t, veraU, "Portinaio di rione Bolognina", 500)
	srv.Volunteer(t, veraU, aid, ugoU, "volunteer")
	srv.Link(t, adaU, veraU, sid, aid)

	ada := newTab(t, srv, "ada")
	ada.signIn(adaU)
	ada.open("/streets/" + sid + "/admin")
	ada.catchFiles()
	ada.click("#print-board")
	pdf, typ := ada.savedFile(1)
	wantPDF(t, ada.lastFile("/board.pdf"), pdf, typ)
	ada.waitText("#toast", "bacheca-via-fondazza.pdf")
	if text := testutil.PDFText(t, pdf); !strings.Contains(text, brunos) || !strings.Contains(text, adas) {
		t.Errorf("the board Ada printed lacks the street's posts %q, %q:\n%s", brunos, adas, text)
	} else if strings.Contains(text, "Verdi") || strings.Contains(text, "Rossi") || strings.Contains(text, "@") {
		t.Errorf("the board has a surname or an address:\n%s", text)
	}

	// An invite, as a flyer and as a QR code, both with the link the app shows.
	ada.open("/streets/" + sid + "/admin/invites")
	ada.waitJS("no open invite", `document.querySelector('#invite-out .state.empty')`)
	ada.click("#make-invite")
	ada.waitJS("the invite", `document.querySelector('#invites .invite .print-flyer')`)
	var link string
	ada.eval(`document.querySelector('#invites .invite .invite-link').value`, &link)
	ada.eval(`document.querySelector('#invites .invite').scrollIntoView()`, nil)
	ada.screen("admin-invites")
	ada.catchFiles()
	ada.click("#invites .invite .print-flyer")
	flyer, typ := ada.savedFile(1)
	wantPDF(t, ada.lastFile("/flyer.pdf"), flyer, typ)
	codes := testutil.PDFQRCodes(t, flyer)
	if len(codes) != 2 || codes[0] != codes[1] || !sameInvite(codes[0], link) {
		t.Errorf("the flyer's QR codes read %q, want two of the invite link %q", codes, link)
	}
	ada.click("#invites .invite .show-qr")
	ada.waitJS("the QR code shown", `(() => { const i = document.querySelector('dialog[open] img.qr'); return i && i.complete && i.naturalWidth > 0; })()`)
	if f := ada.lastFile("/qr.png"); f.Status != http.StatusOK || f.Type != "image/png" {
		t.Errorf("qr.png: status %d, Content-Type %q", f.Status, f.Type)
	}
	var src string
	ada.eval(`document.querySelector('dialog[open] img.qr').src`, &src)
	png, typ := ada.blob(src)
	if got := testutil.QRCodes(t, png); typ != "image/png" || len(got) != 1 || !sameInvite(got[0], link) {
		t.Errorf("the QR code shown (%s) reads %q, want the invite link %q", typ, got, link)
	}
	ada.screen("admin-invite-qr")
	ada.click("#qr-close")
	ada.waitJS("dialog closed", `!document.querySelector('dialog')`)

	// Carla, who reads the flyer's QR code with her phone, is in at once.
	carlaU := srv.Register(t, "Carla")
	carla := newTab(t, srv, "carla")
	carla.signIn(carlaU)
	u, err := url.Parse(codes[0])
	if err != nil {
		t.Fatal(err)
	}
	carla.open(u.RequestURI())
	carla.click(`#join-form button[type=submit]`)
	carla.waitPath("/streets/" + sid)
	carla.waitText("#feed .post", brunos)

	// The desk's volunteer prints the board of the linked street.
	ugo := newTab(t, srv, "ugo")
	ugo.signIn(ugoU)
	ugo.open("/portineria/" + aid + "/streets")
	ugo.waitJS("the linked street", `document.querySelector('#links [data-link="`+sid+`"] .print-board')`)
	ugo.eval(`document.querySelector('#links [data-link="`+sid+`"]').scrollIntoView()`, nil)
	ugo.screen("portineria-streets-print")
	ugo.catchFiles()
	ugo.click(`#links [data-link="` + sid + `"] .print-board`)
	board, typ := ugo.savedFile(1)
	wantPDF(t, ugo.lastFile("/board.pdf"), board, typ)
	if text := testutil.PDFText(t, board); !strings.Contains(text, brunos) {
		t.Errorf("the board the desk printed lacks %q:\n%s", brunos, text)
	}

	// Bruno never wants to appear on paper.
	bruno := newTab(t, srv, "bruno")
	bruno.signIn(brunoU)
	bruno.open("/account")
	const never = `#paper-section input[role=switch]`
	bruno.waitJS("the switch, off", `document.querySelector('`+never+`') && !document.querySelector('`+never+`').checked`)
	bruno.click(never)
	bruno.waitText("#toast", "Non comparirai")
	var me struct {
		OnPaper *bool `json:"on_paper"`
	}
	srv.Do(t, "GET", "/me", nil, brunoU.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.OnPaper == nil || *me.OnPaper {
		t.Fatalf("after the switch GET /me says on_paper %v, want false", me.OnPaper)
	}
	bruno.open("/account")
	bruno.waitJS("the switch, still on", `document.querySelector('`+never+`').checked`)
	bruno.eval(`document.getElementById('paper-section').scrollIntoView()`, nil)
	bruno.screen("account-paper")

	// Ada's next board leaves him out.
	ada.open("/streets/" + sid + "/admin")
	ada.catchFiles()
	ada.click("#print-board")
	ada.waitJS("saved", `window.__paper.saved.length === 1`)
	var saved []struct {
		Name string `json:"name"`
		Href string `json:"href"`
	}
	ada.eval(`window.__paper.saved`, &saved)
	if saved[0].Name != "bacheca-via-fondazza.pdf" {
		t.Errorf("the board was saved as %q, want bacheca-via-fondazza.pdf", saved[0].Name)
	}
	ada.waitText("#toast", "bacheca-via-fondazza.pdf")
	pdf, typ = ada.blob(saved[0].Href)
	wantPDF(t, ada.lastFile("/board.pdf"), pdf, typ)
	text := testutil.PDFText(t, pdf)
	if strings.Contains(text, brunos) || strings.Contains(text, "Bruno") {
		t.Errorf("Bruno chose never to appear on paper, and the board has him:\n%s", text)
	}
	if !strings.Contains(text, adas) {
		t.Errorf("the board lacks Ada's offer %q:\n%s", adas, text)
	}
}
