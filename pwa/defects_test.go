package pwa_test

// The defects a review of the PWA on a 390 × 844 phone found (issue 20,
// point 5), each with the test that shows it gone: a reply written offline
// that looked accepted, toasts over the field being written in, the focus
// lost after an action, raw codes in the audit log, tap targets under
// 44 px, a filters box that did not look tappable, date fields in the
// browser's language instead of the app's, a 401 in the console of every
// signed-out visit, a feed whose description line pushed the board down,
// and modules loaded one after the other.

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Rome, whatever the machine has

	"civico/pwa"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// box is an element's place on the screen, in CSS pixels.
type box struct {
	Top, Bottom, Left, Right, Width, Height float64
}

func (b box) overlaps(o box) bool {
	return b.Left < o.Right && o.Left < b.Right && b.Top < o.Bottom && o.Top < b.Bottom
}

// box is where the first element matching sel is drawn.
func (tb *tab) box(sel string) box {
	tb.t.Helper()
	var b box
	tb.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
	  return { Top: r.top, Bottom: r.bottom, Left: r.left, Right: r.right, Width: r.width, Height: r.height }; })()`, sel), &b)
	return b
}

// hit is the link (its href) or the button a tap at x, y lands on, or
// what it lands on when that is neither.
func (tb *tab) hit(x, y float64) string {
	tb.t.Helper()
	var s string
	tb.eval(fmt.Sprintf(`(() => { const e = document.elementFromPoint(%f, %f); if (!e) return 'nothing';
	  const a = e.closest('a[href]'); if (a) return a.getAttribute('href');
	  const b = e.closest('button'); if (b) return 'button.' + b.className;
	  return e.tagName.toLowerCase() + '.' + e.className; })()`, x, y), &s)
	return s
}

// TestDefectOfflineReplyIsPending: Anna answers Bruno's request while her
// phone has no signal. Her reply shows as waiting to be sent, never as
// accepted, and the heading counts it and says it waits; once the signal
// is back it is sent, and still not accepted.
func TestDefectOfflineReplyIsPending(t *testing.T) {
	t.Parallel()
	tr := translations(t)["it"]
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, brunoU, "Via San Vitale", annaU)
	pid := post(t, srv, brunoU, sid, "request", "Chi mi aiuta a montare una mensola?")
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.waitWorker()
	anna.open("/posts/" + pid)
	anna.waitText("#post-title", "mensola")
	anna.setOffline(true)
	anna.fill(`#reply-form [name=body]`, "Ho il trapano, passo stasera.")
	anna.click(`#reply-form button[type=submit]`)
	anna.waitJS("reply waiting", `document.querySelector('#replies .reply.pending')`)

	var got struct {
		Text, Heading string
		Accepted      int
	}
	anna.eval(`(() => { const li = document.querySelector('#replies .reply.pending');
	  return { Text: li.textContent, Heading: document.getElementById('replies-heading').textContent,
	    Accepted: document.querySelectorAll('#replies .reply.accepted, #replies .reply.pending .badge.ok').length }; })()`, &got)
	if !strings.Contains(got.Text, tr["outbox.waiting"]) {
		t.Errorf("the reply written offline says %q, not that it is %q", got.Text, tr["outbox.waiting"])
	}
	if got.Accepted != 0 || strings.Contains(got.Text, tr["reply.accepted"]) {
		t.Errorf("the reply written offline shows as accepted: %q", got.Text)
	}
	one := strings.ReplaceAll(tr["post.replies.one"], "{n}", "1")
	waiting := strings.ReplaceAll(tr["reply.pending.count.one"], "{n}", "1")
	if !strings.HasPrefix(got.Heading, one) || !strings.Contains(got.Heading, waiting) {
		t.Errorf("the replies' heading says %q, want %q and %q", got.Heading, one, waiting)
	}
	anna.screen("reply-pending")

	anna.setOffline(false)
	anna.waitJS("reply sent", `!document.querySelector('#replies .reply.pending') && document.querySelector('#replies .reply[data-reply-id]')`)
	anna.eval(`(() => ({ Text: '', Heading: document.getElementById('replies-heading').textContent,
	  Accepted: document.querySelectorAll('#replies .reply.accepted').length }))()`, &got)
	if got.Heading != one || got.Accepted != 0 {
		t.Errorf("once sent, the heading says %q and %d replies are accepted; want %q and none", got.Heading, got.Accepted, one)
	}
}

// TestDefectToastClearOfField: Bruno is writing a reply, the keyboard up
// and the reply box at the bottom of what he sees, when something is
// announced. The toast must not cover the box: neither when it comes while
// he writes, nor when he taps into the box while it shows.
func TestDefectToastClearOfField(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU, carlaU := srv.Register(t, "Anna"), srv.Register(t, "Bruno"), srv.Register(t, "Carla")
	sid := street(t, srv, annaU, "Via del Pratello", brunoU, carlaU)
	pid := post(t, srv, annaU, sid, "request", "Qualcuno ha una scala da prestarmi?")
	for _, body := range []string{"Io ne ho una da tre metri.", "Anche io, ma è corta.", "Chiedi al civico 12, ne hanno due."} {
		srv.Do(t, "POST", "/posts/"+pid+"/replies", map[string]string{"body": body}, carlaU.Token).Expect(t, http.StatusCreated)
	}
	bruno := newTab(t, srv, "bruno")
	bruno.signIn(brunoU)
	bruno.open("/posts/" + pid)
	bruno.waitText("#replies .reply", "civico 12")
	// The keyboard takes half of the phone's screen.
	bruno.do("keyboard up", chromedp.EmulateViewport(390, 440, chromedp.EmulateScale(1)))
	defer bruno.do("keyboard down", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
	const field = `#reply-form textarea[name=body]`
	say := func(text string) {
		bruno.eval(fmt.Sprintf(`import('/js/ui.js').then((m) => m.toast(%q))`, text), nil)
		bruno.waitJS("toast shown", `document.getElementById('toast').classList.contains('show')`)
	}
	check := func(when string) {
		t.Helper()
		var vh float64
		bruno.eval(`document.documentElement.clientHeight`, &vh)
		f, toast := bruno.box(field), bruno.box("#toast")
		if f.Bottom < vh-120 {
			t.Fatalf("%s: the reply box ends at %.0f of %.0f px, not at the bottom where the keyboard brings it", when, f.Bottom, vh)
		}
		if toast.overlaps(f) {
			t.Errorf("%s: the toast (%.0f–%.0f px) covers the reply box being written in (%.0f–%.0f px)", when, toast.Top, toast.Bottom, f.Top, f.Bottom)
		}
		if toast.Top < 0 || toast.Bottom > vh {
			t.Errorf("%s: the toast (%.0f–%.0f px) is off the screen (%.0f px)", when, toast.Top, toast.Bottom, vh)
		}
	}

	bruno.eval(`document.querySelector('`+field+`').scrollIntoView({ block: 'end' })`, nil)
	bruno.eval(`document.querySelector('`+field+`').focus({ preventScroll: true })`, nil)
	bruno.fill(field, "Te la porto io")
	say("Nuova risposta di Carla")
	check("a toast while he writes")
	bruno.shot("toast-while-writing")

	// Out of the box, a toast comes; then he taps back into the box.
	bruno.eval(`document.activeElement.blur()`, nil)
	say("Il post è stato aggiornato")
	bruno.eval(`document.querySelector('`+field+`').scrollIntoView({ block: 'end' })`, nil)
	bruno.eval(`document.querySelector('`+field+`').focus()`, nil)
	bruno.waitJS("toast moved", `document.activeElement.name === 'body'`)
	check("focusing the box while a toast shows")
}

// TestDefectFocusFollowsResult: after replying, accepting and marking done,
// the button pressed is gone; the focus goes to what came of it (the new
// reply, the accepted reply, the post's status) and a live region says
// what happened.
func TestDefectFocusFollowsResult(t *testing.T) {
	t.Parallel()
	tr := translations(t)["it"]
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via Mascarella", brunoU)
	pid := post(t, srv, annaU, sid, "request", "Cerco qualcuno che porti a spasso il cane")
	anna, bruno := newTab(t, srv, "anna"), newTab(t, srv, "bruno")
	announced := func(tb *tab, what, text string) {
		t.Helper()
		tb.waitJS(what+" announced", fmt.Sprintf(`[...document.querySelectorAll('[aria-live], [role=status]')].some((e) => e.textContent.includes(%q))`, text))
	}

	bruno.signIn(brunoU)
	bruno.open("/posts/" + pid)
	bruno.waitLive()
	bruno.fill(`#reply-form [name=body]`, "Lo porto io domattina alle 8.")
	bruno.click(`#reply-form button[type=submit]`)
	bruno.waitJS("focus on the new reply", `document.activeElement.matches('#replies .reply[data-reply-id]') && document.activeElement.textContent.includes('domattina alle 8')`)
	announced(bruno, "the reply", tr["reply.sent"])

	anna.signIn(annaU)
	anna.open("/posts/" + pid)
	anna.waitLive()
	anna.click(`#replies .reply[data-reply-id] .accept`)
	anna.waitJS("focus on the accepted reply", `document.activeElement.matches('#replies .reply.accepted[data-reply-id]')`)
	announced(anna, "the acceptance", strings.ReplaceAll(tr["reply.accepted.ok"], "{name}", "Bruno"))
	// The post's own live event redraws the page: the focus stays.
	anna.waitJS("status matched", `document.getElementById('post-status').dataset.status === 'matched'`)
	anna.waitJS("focus kept on the accepted reply", `document.activeElement.matches('#replies .reply.accepted[data-reply-id]')`)

	anna.click("#mark-done")
	anna.waitJS("thanks asked", `document.querySelector('dialog[open] textarea')`)
	anna.fill(`dialog[open] textarea`, "Grazie Bruno!")
	anna.click(`dialog[open] button[type=submit]`)
	anna.waitJS("focus on the status", `document.activeElement.id === 'post-status' && document.activeElement.dataset.status === 'done'`)
	announced(anna, "done", tr["post.done.ok"])
}

// TestDefectAuditInWords: Ada, the street's only admin, deletes her
// account; Bruno becomes admin in her place. The audit log he reads says
// every action in words, names no raw code, and where Ada's name was it
// says a neighbour whose account was deleted, never nothing.
func TestDefectAuditInWords(t *testing.T) {
	t.Parallel()
	tr := translations(t)["it"]
	srv := start(t)
	adaU, brunoU := srv.Register(t, "Ada"), srv.Register(t, "Bruno")
	sid := street(t, srv, adaU, "Via Fondazza", brunoU)
	srv.Do(t, "DELETE", "/me", map[string]string{"password": adaU.Password}, adaU.Token).Expect(t, http.StatusNoContent)

	bruno := newTab(t, srv, "bruno")
	bruno.signIn(brunoU)
	bruno.open("/streets/" + sid + "/admin/audit")
	bruno.waitJS("audit log", `document.querySelector('#admin-audit tbody tr')`)
	var rows [][]string
	bruno.eval(`[...document.querySelectorAll('#admin-audit tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent.trim()))`, &rows)
	code := regexp.MustCompile(`\b[a-z]+(?:[._][a-z]+)+\b`)
	var role []string
	for _, r := range rows {
		if len(r) != 4 {
			t.Fatalf("audit row %q: want when, who, what, why", r)
		}
		if r[1] == "" {
			t.Errorf("audit row %q says nobody did it", r)
		}
		for _, c := range r[1:] {
			if m := code.FindString(c); m != "" {
				t.Errorf("audit row %q shows the raw code %q", r, m)
			}
		}
		if strings.HasPrefix(r[2], tr["audit.member.role"]) {
			role = r
		}
	}
	if role == nil {
		t.Fatalf("no %q row in the audit log: %q", tr["audit.member.role"], rows)
	}
	if role[1] != tr["audit.actor.deleted"] || role[3] != tr["audit.reason.account_deleted"] || !strings.Contains(role[2], "Bruno") {
		t.Errorf("the new admin's row is %q; want who %q, about Bruno, why %q", role, tr["audit.actor.deleted"], tr["audit.reason.account_deleted"])
	}
	bruno.screen("admin-audit-deleted")
}

// TestDefectAuditActionsTranslated: every action the server writes in a
// street's audit log, and every reason it gives as a code, has words in
// Italian and English. The list comes from the server's code: the Action
// constants of each package that writes audit entries, the actions named
// in those entries, and the Reason constants of the streets package.
func TestDefectAuditActionsTranslated(t *testing.T) {
	tr := translations(t)
	fset := token.NewFileSet()
	consts := map[string]map[string]string{} // package → constant → value
	type entry struct {
		pkg    string
		action ast.Expr
	}
	var entries []entry
	err := filepath.WalkDir(filepath.Join("..", "internal"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		pkg := f.Name.Name
		if consts[pkg] == nil {
			consts[pkg] = map[string]string{}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[pkg][name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.CompositeLit:
				typ := ""
				switch x := n.Type.(type) {
				case *ast.Ident:
					typ = x.Name
				case *ast.SelectorExpr:
					typ = x.Sel.Name
				}
				if typ != "AuditEntry" && typ != "auditRecord" {
					return true
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Action" {
							entries = append(entries, entry{pkg, kv.Value})
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	// ownActions are a package's Action constants: what an entry whose
	// action is a variable (passed in, or picked by a switch) may hold.
	ownActions := func(pkg string) {
		for name, v := range consts[pkg] {
			if strings.HasPrefix(name, "Action") {
				actions[v] = true
			}
		}
	}
	for _, e := range entries {
		switch x := e.action.(type) {
		case *ast.BasicLit:
			v, _ := strconv.Unquote(x.Value)
			actions[v] = true
		case *ast.SelectorExpr:
			if pkg, ok := x.X.(*ast.Ident); ok {
				if v, ok := consts[pkg.Name][x.Sel.Name]; ok {
					actions[v] = true
					continue
				}
			}
			ownActions(e.pkg)
		case *ast.Ident:
			if v, ok := consts[e.pkg][x.Name]; ok {
				actions[v] = true
				continue
			}
			ownActions(e.pkg)
		default:
			ownActions(e.pkg)
		}
	}
	ownActions("streets")
	for _, want := range []string{"member.ban", "street.archive", "link.accept"} {
		if !actions[want] {
			t.Errorf("the server's audit actions, as found, miss %q: %v", want, actions)
		}
	}
	keys := []string{}
	for a := range actions {
		keys = append(keys, "audit."+a)
	}
	for name, v := range consts["streets"] {
		if strings.HasPrefix(name, "Reason") {
			keys = append(keys, "audit.reason."+v)
		}
	}
	sort.Strings(keys)
	t.Logf("the audit log's codes: %s", strings.Join(keys, " "))
	for _, k := range keys {
		for _, lang := range []string{"it", "en"} {
			if strings.TrimSpace(tr[lang][k]) == "" {
				t.Errorf("%s.json has no %s: the audit log would show the raw code", lang, k)
			}
		}
	}
	for _, k := range []string{"audit.actor.deleted", "audit.actor.system"} {
		if tr["it"][k] == "" || tr["en"][k] == "" {
			t.Errorf("missing %s", k)
		}
	}
}

// TestDefectTapTargets: at 390 × 844 every street of "my streets" is a row
// at least 44 px high that opens the street wherever it is tapped, and
// every post of the board opens wherever its card is tapped, while a photo
// in the card still opens the photo, and the keyboard still reaches the
// post through its title.
func TestDefectTapTargets(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via Zamboni", brunoU)
	withPhoto, _ := offerWithPhoto(t, srv, brunoU, sid, "Presto una bici", "La bici")
	pid := post(t, srv, brunoU, sid, "request", "Chi mi aiuta con il trasloco sabato?")
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)

	row := `#my-streets .card.street[data-street-id="` + sid + `"]`
	anna.waitJS("my streets", `document.querySelector('`+row+` a')`)
	r := anna.box(row)
	if r.Height < 44 {
		t.Errorf("the street's row is %.0f px high, want at least 44", r.Height)
	}
	for _, p := range [][2]float64{{r.Left + 6, r.Top + 6}, {r.Left + 6, r.Bottom - 6}, {r.Right - 6, r.Bottom - 6}, {(r.Left + r.Right) / 2, (r.Top + r.Bottom) / 2}} {
		if got := anna.hit(p[0], p[1]); got != "/streets/"+sid {
			t.Errorf("a tap on the street's row at %.0f,%.0f lands on %s, not on the street", p[0], p[1], got)
		}
	}
	city := anna.box(row + ` .meta`)
	anna.do("tap the street's city", chromedp.MouseClickXY(city.Left+4, (city.Top+city.Bottom)/2))
	anna.waitPath("/streets/" + sid)

	card := `#feed .post[data-post-id="` + pid + `"]`
	anna.waitJS("the board", `document.querySelector('`+card+`') && document.querySelector('#feed .post[data-post-id="`+withPhoto+`"] .photo-open')`)
	anna.eval(`document.querySelector('`+card+`').scrollIntoView({ block: 'center' })`, nil)
	for _, part := range []string{".tags", ".excerpt", ".meta"} {
		b := anna.box(card + " " + part)
		if got := anna.hit(b.Right-4, (b.Top+b.Bottom)/2); got != "/posts/"+pid {
			t.Errorf("a tap on the card's %s lands on %s, not on the post", part, got)
		}
	}
	anna.eval(`document.querySelector('#feed .post[data-post-id="`+withPhoto+`"] .photo-open').scrollIntoView({ block: 'center' })`, nil)
	photo := anna.box(`#feed .post[data-post-id="` + withPhoto + `"] .photo-open`)
	if got := anna.hit((photo.Left+photo.Right)/2, (photo.Top+photo.Bottom)/2); got != "button.photo-open" {
		t.Errorf("a tap on the card's photo lands on %s, not on the photo's button", got)
	}
	anna.click(`#feed .post[data-post-id="` + withPhoto + `"] .photo-open`)
	anna.waitJS("photo opened", `document.querySelector('dialog[open]')`)
	if p := anna.path(); p != "/streets/"+sid {
		t.Errorf("tapping the photo went to %s", p)
	}
	anna.do("close the photo", chromedp.KeyEvent(kb.Escape))
	anna.waitJS("photo closed", `!document.querySelector('dialog[open]')`)

	anna.eval(`document.querySelector('`+card+`').scrollIntoView({ block: 'center' })`, nil)
	meta := anna.box(card + " .meta")
	anna.do("tap the card's last line", chromedp.MouseClickXY(meta.Left+4, (meta.Top+meta.Bottom)/2))
	anna.waitPath("/posts/" + pid)

	anna.open("/streets/" + sid)
	anna.waitJS("the board", `document.querySelector('`+card+` .post-title a')`)
	anna.eval(`document.querySelector('`+card+` .post-title a').focus()`, nil)
	anna.do("enter", chromedp.KeyEvent(kb.Enter))
	anna.waitPath("/posts/" + pid)
}

// jpegForm is a small photo as a multipart upload.
func jpegForm(t *testing.T) ([]byte, string) {
	t.Helper()
	b, err := os.ReadFile(cameraPhoto(t, 320, 240))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("file", "IMG_0001.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// TestDefectFiltersLookTappable: "Filtri e ricerca" is a button that looks
// like one (a border, a chevron), says whether the filters are open, and
// opens and closes them.
func TestDefectFiltersLookTappable(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU := srv.Register(t, "Anna")
	sid := street(t, srv, annaU, "Via Saragozza")
	post(t, srv, annaU, sid, "offer", "Presto un trapano")
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.open("/streets/" + sid)
	anna.waitText("#feed .post", "trapano")

	var got struct {
		Tag, Expanded, Controls, Border string
		Height, ChevronW, ChevronH      float64
		FormShown                       bool
		Transform                       string
	}
	read := func() {
		anna.eval(`(() => { const b = document.getElementById('filters-toggle'); if (!b) return { Tag: 'none' };
		  const s = getComputedStyle(b); const c = b.querySelector('[aria-hidden=true]');
		  const cr = c ? c.getBoundingClientRect() : { width: 0, height: 0 };
		  const form = document.getElementById(b.getAttribute('aria-controls') || 'feed-filters');
		  return { Tag: b.tagName.toLowerCase(), Expanded: b.getAttribute('aria-expanded'), Controls: b.getAttribute('aria-controls'),
		    Border: s.borderTopStyle + ' ' + s.borderTopWidth, Height: b.getBoundingClientRect().height,
		    ChevronW: cr.width, ChevronH: cr.height, FormShown: !!form && form.offsetParent !== null,
		    Transform: c ? getComputedStyle(c).transform : '' }; })()`, &got)
	}
	read()
	if got.Tag != "button" || got.Expanded != "false" || got.Controls != "feed-filters" || got.FormShown {
		t.Fatalf("the filters' control is %+v; want a button, aria-expanded false, controlling #feed-filters, the filters hidden", got)
	}
	if strings.HasPrefix(got.Border, "none") || strings.HasPrefix(got.Border, "hidden") || strings.HasSuffix(got.Border, " 0px") {
		t.Errorf("the filters' button has no visible border (%s): it does not look like something to tap", got.Border)
	}
	if got.Height < 44 || got.ChevronW < 4 || got.ChevronH < 4 {
		t.Errorf("the filters' button is %.0f px high with a %.0f×%.0f chevron; want 44 px and a visible chevron", got.Height, got.ChevronW, got.ChevronH)
	}
	closed := got.Transform
	anna.click("#filters-toggle")
	anna.waitJS("filters open", `document.getElementById('filters-toggle').getAttribute('aria-expanded') === 'true'`)
	anna.waitJS("the chevron turned", fmt.Sprintf(`getComputedStyle(document.querySelector('#filters-toggle [aria-hidden=true]')).transform !== %q`, closed))
	read()
	if !got.FormShown {
		t.Errorf("open, the filters do not show")
	}
	anna.screen("feed-filters-open")
	anna.fill(`#feed-filters [name=q]`, "trapano")
	anna.click(`#feed-filters button[type=submit]`)
	anna.waitJS("searched", `location.search.includes('q=trapano') && document.getElementById('filters-toggle').getAttribute('aria-expanded') === 'true'`)
	anna.click("#filters-toggle")
	anna.waitJS("filters closed", `document.getElementById('feed-filters').offsetParent === null`)
}

// langBrowser starts a Chromium of its own whose language is lang (the
// shared one speaks Italian), closed when the test ends.
func langBrowser(t *testing.T, lang string) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		startBrowser(t) // skips, or fails in CI, as every browser test does
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(390, 844),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang),
		chromedp.Env("LANG="+strings.ReplaceAll(lang, "-", "_")+".UTF-8", "LANGUAGE="+lang),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium in %s: %v", lang, err)
	}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// TestDefectDatesFollowTheApp: Anna's phone speaks English, she uses
// Civico in Italian. The date and time fields of a new post ask for the
// date as gg/mm/aaaa and the time on a 24-hour clock, as the app writes
// them, not as the browser would; what she types is what is saved. The
// event form and the quiet hours use the same fields.
func TestDefectDatesFollowTheApp(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU := srv.Register(t, "Anna")
	sid := street(t, srv, annaU, "Via Castiglione")
	// Her account speaks English too: a signed-in app follows the account.
	srv.Do(t, "PATCH", "/me", map[string]string{"locale": "en"}, annaU.Token).Expect(t, http.StatusOK)
	anna := tabIn(t, langBrowser(t, "en-US"), srv, "anna")
	anna.call("time zone", func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Rome"})
		return err
	})
	anna.signIn(annaU)
	var browserLang, appLang string
	anna.eval(`navigator.language`, &browserLang)
	anna.eval(`document.documentElement.lang`, &appLang)
	if !strings.HasPrefix(browserLang, "en") || appLang != "en" {
		t.Fatalf("the browser speaks %q and the app %q; want English for both before Anna switches", browserLang, appLang)
	}
	anna.click(`#nav .lang`)
	anna.waitJS("app in Italian", `document.documentElement.lang === 'it'`)

	native := `document.querySelectorAll('main input[type=date], main input[type=time], main input[type=datetime-local]').length`
	anna.open("/streets/" + sid + "/new?kind=request")
	var n int
	anna.eval(native, &n)
	if n != 0 {
		t.Fatalf("the new post's form has %d date or time inputs of the browser's, in its language, not the app's", n)
	}
	from := `#post-form civico-datetime[name="when.from"]`
	var formats []string
	anna.eval(`[...document.querySelectorAll('`+from+` .hint')].map((e) => e.textContent)`, &formats)
	if !slices.Equal(formats, []string{"gg/mm/aaaa", "hh:mm"}) {
		t.Errorf("the date and time ask for %q, want the app's Italian gg/mm/aaaa and hh:mm", formats)
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().In(rome).AddDate(0, 0, 20)
	anna.choose(`#post-form [name=category]`, "babysitting")
	anna.fill(`#post-form [name=title]`, "Cerco una babysitter per una sera")
	anna.fill(`#post-form [name=body]`, "Dalle 19:30, per tre ore.")
	anna.fill(from+` .datetime-date input`, day.Format("02/01/2006"))
	anna.fill(from+` .datetime-time input`, "19:30")
	// Typed without separators, and the time with a dot: read the same.
	anna.fill(`#post-form civico-datetime[name="when.to"] .datetime-date input`, day.Format("02012006"))
	anna.fill(`#post-form civico-datetime[name="when.to"] .datetime-time input`, "22.30")
	anna.screen("compose-dates")
	anna.click(`#post-form button[type=submit]`)
	anna.waitPath("/posts/")
	var p struct {
		When struct {
			From time.Time `json:"from"`
			To   time.Time `json:"to"`
		} `json:"when"`
	}
	srv.Do(t, "GET", "/posts/"+anna.path()[len("/posts/"):], nil, annaU.Token).Expect(t, http.StatusOK).JSON(t, &p)
	if want := time.Date(day.Year(), day.Month(), day.Day(), 19, 30, 0, 0, rome); !p.When.From.Equal(want) {
		t.Errorf("the post's help is wanted from %v, want %v", p.When.From, want)
	}
	if want := time.Date(day.Year(), day.Month(), day.Day(), 22, 30, 0, 0, rome); !p.When.To.Equal(want) {
		t.Errorf("the post's help is wanted until %v, want %v", p.When.To, want)
	}

	// A date that is not one is refused at the field, in words.
	anna.open("/streets/" + sid + "/events/new")
	anna.eval(native, &n)
	if n != 0 {
		t.Errorf("the event form has %d date or time inputs of the browser's", n)
	}
	anna.fill(`#event-form [name=title]`, "Cena in cortile")
	anna.fill(`#event-form civico-datetime[name=starts_at] .datetime-date input`, "31/02/2030")
	anna.fill(`#event-form civico-datetime[name=starts_at] .datetime-time input`, "20:00")
	anna.fill(`#event-form [name=place]`, "Cortile del 7")
	anna.click(`#event-form button[type=submit]`)
	tr := translations(t)["it"]
	anna.waitText(`#event-form .field-error`, tr["field.date_format"])
	if p := anna.path(); p != "/streets/"+sid+"/events/new" {
		t.Errorf("an impossible date was sent: the form went on to %s", p)
	}

	anna.open("/settings")
	anna.waitJS("quiet hours", `document.querySelector('civico-datetime[name="quiet_hours.start"] input')`)
	anna.eval(native, &n)
	if n != 0 {
		t.Errorf("the notification settings have %d time inputs of the browser's", n)
	}
	var quiet string
	anna.eval(`document.querySelector('civico-datetime[name="quiet_hours.start"] input').value`, &quiet)
	if quiet != "22:00" {
		t.Errorf("quiet hours start at %q, want 22:00 on a 24-hour clock", quiet)
	}
}

// TestDefectSignedOutQuiet: a first visit, signed out, asks the server for
// no session it cannot have: no 401, no error in the console.
func TestDefectSignedOutQuiet(t *testing.T) {
	t.Parallel()
	srv := start(t)
	visitor := newTab(t, srv, "visitor")
	var mu sync.Mutex
	var noise []string
	if err := chromedp.Listen(visitor.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if e.Response != nil && e.Response.Status >= 400 {
				noise = append(noise, fmt.Sprintf("%d %s", e.Response.Status, e.Response.URL))
			}
		case *log.EventEntryAdded:
			if e.Entry != nil && (e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning) {
				noise = append(noise, fmt.Sprintf("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				noise = append(noise, fmt.Sprintf("console.%s %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			noise = append(noise, "exception "+e.ExceptionDetails.Text)
		}
	}); err != nil {
		t.Fatal(err)
	}
	// The landing page, then the app's screens open to visitors, and one
	// that sends them to sign in.
	visitor.open("/")
	visitor.open("/places")
	visitor.waitJS("services", `location.pathname === '/places'`)
	visitor.open("/streets")
	visitor.waitPath("/signin")
	visitor.waitJS("sign-in form", `document.querySelector('#signin-form')`)
	mu.Lock()
	defer mu.Unlock()
	if len(noise) > 0 {
		t.Errorf("a signed-out visit logs:\n%s", strings.Join(noise, "\n"))
	}
}

// TestDefectFeedDoesNotShift: the street's city and description arrive
// after the board is drawn (held back here until it is): nothing on the
// screen moves when they do.
func TestDefectFeedDoesNotShift(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU := srv.Register(t, "Anna")
	sid := street(t, srv, annaU, "Via Riva di Reno")
	post(t, srv, annaU, sid, "offer", "Presto una tenda da campeggio")
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)

	paused := make(chan fetch.RequestID, 4)
	if err := chromedp.Listen(anna.ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e.RequestID:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	anna.call("hold the street", func(ctx context.Context, tg *chromedp.Target) error {
		// Past the service worker, so the page's own requests can be held.
		if _, err := cdp.Call(ctx, tg, network.SetBypassServiceWorker, network.SetBypassServiceWorkerParams{Bypass: true}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: "*/api/v1/streets/" + sid, RequestStage: fetch.RequestStageRequest}}})
		return err
	})
	openWatchingShifts(anna, "/streets/"+sid)
	anna.waitText("#feed .post", "tenda da campeggio")
	select {
	case id := <-paused:
		anna.call("let the street through", func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
			return err
		})
	case <-time.After(deadline):
		t.Fatal("the board never asked for its street")
	}
	anna.waitText("main .lead", "La via di prova")
	if total, what := layoutShifts(anna); total > 0.001 {
		t.Errorf("the board shifted by %.4f while it loaded: %s", total, what)
	}
}

// TestDefectModulesPreloaded: index.html preloads every module app.js
// imports, directly or through another (found in the files, not kept in a
// list), so the browser fetches them at once instead of one level at a
// time; and it preloads nothing that does not exist.
func TestDefectModulesPreloaded(t *testing.T) {
	files := scripts(t)
	// Static imports and re-exports start a line; import() does not.
	importRe := regexp.MustCompile(`(?m)^\s*(?:import\s+(?:[\w*{}\s,$]+?\s+from\s+)?|export\s+(?:\*|\{[^}]*\})\s+from\s+)'\./([\w.-]+\.js)'`)
	need := map[string]bool{}
	var walk func(string)
	walk = func(file string) {
		src, ok := files["js/"+file]
		if !ok {
			t.Errorf("js/%s is imported but does not exist", file)
			return
		}
		for _, m := range importRe.FindAllStringSubmatch(src, -1) {
			if !need[m[1]] {
				need[m[1]] = true
				walk(m[1])
			}
		}
	}
	walk("app.js")
	if !need["ui.js"] || !need["api.js"] {
		t.Fatalf("app.js's static imports, as found, are %v: the parse is wrong", need)
	}
	html, err := fs.ReadFile(pwa.FS(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	preloaded := map[string]bool{}
	for _, m := range regexp.MustCompile(`<link rel="modulepreload" href="/js/([\w.-]+\.js)">`).FindAllStringSubmatch(string(html), -1) {
		preloaded[m[1]] = true
		if _, ok := files["js/"+m[1]]; !ok {
			t.Errorf("index.html preloads /js/%s, which does not exist", m[1])
		}
	}
	var missing []string
	for f := range need {
		if !preloaded[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("index.html does not preload %s, which app.js needs before its first screen", strings.Join(missing, ", "))
	}
}

// TestDefectFeedWithEventsDoesNotShift: a street with an upcoming event
// shows the events strip above the posts; the strip comes from its own
// request, and the posts must not be drawn first and pushed down by it.
// The events answer is held until the posts' answer has arrived.
func TestDefectFeedWithEventsDoesNotShift(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU := srv.Register(t, "Anna")
	sid := street(t, srv, annaU, "Via del Pratello")
	post(t, srv, annaU, sid, "offer", "Presto una scala")
	starts := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	srv.Do(t, "POST", "/streets/"+sid+"/events", map[string]any{"title": "Cena in strada", "description": "Ognuno porta un piatto.",
		"starts_at": starts.Format(time.RFC3339), "ends_at": starts.Add(2 * time.Hour).Format(time.RFC3339), "place": "Davanti al 12"}, annaU.Token).
		Expect(t, http.StatusCreated)
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)

	held := make(chan fetch.RequestID, 4)
	postsIn := make(chan struct{}, 4)
	if err := chromedp.Listen(anna.ctx, func(ev any) {
		switch e := ev.(type) {
		case *fetch.EventRequestPaused:
			select {
			case held <- e.RequestID:
			default:
			}
		case *network.EventResponseReceived:
			if strings.Contains(e.Response.URL, "/api/v1/streets/"+sid+"/posts") {
				select {
				case postsIn <- struct{}{}:
				default:
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	anna.call("hold the events", func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, network.SetBypassServiceWorker, network.SetBypassServiceWorkerParams{Bypass: true}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: "*/api/v1/streets/" + sid + "/events*", RequestStage: fetch.RequestStageRequest}}})
		return err
	})
	openWatchingShifts(anna, "/streets/"+sid)
	var id fetch.RequestID
	select {
	case id = <-held:
	case <-time.After(deadline):
		t.Fatal("the board never asked for its events")
	}
	select {
	case <-postsIn:
	case <-time.After(deadline):
		t.Fatal("the board never got its posts")
	}
	// The posts are in the page's hands: let the events through.
	anna.call("let the events through", func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
		return err
	})
	anna.waitText("#upcoming-events", "Cena in strada")
	anna.waitText("#feed .post", "Presto una scala")
	if total, what := layoutShifts(anna); total > 0.001 {
		t.Errorf("the board shifted by %.4f when its events arrived: %s", total, what)
	}
}

// openWatchingShifts records every layout shift from now on, then opens
// path as a link would, without a tap (a tap would excuse the shifts after
// it).
func openWatchingShifts(tb *tab, path string) {
	tb.eval(`(() => {
	  window.__shifts = [];
	  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__shifts.push({ value: e.value,
	    nodes: e.sources.map((s) => s.node ? (s.node.id || s.node.className || s.node.nodeName) : '?').join(',') }); })
	    .observe({ type: 'layout-shift' });
	  history.pushState(null, '', `+strconv.Quote(path)+`);
	  dispatchEvent(new PopStateEvent('popstate'));
	})()`, nil)
}

// layoutShifts sums the shifts recorded since openWatchingShifts and names
// what moved in each.
func layoutShifts(tb *tab) (float64, string) {
	var shifts []struct {
		Value float64
		Nodes string
	}
	// Shifts are reported after the frame that made them.
	tb.eval(`new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => resolve(window.__shifts)))))`, &shifts)
	total := 0.0
	var what []string
	for _, s := range shifts {
		total += s.Value
		what = append(what, fmt.Sprintf("%.4f (%s)", s.Value, s.Nodes))
	}
	return total, strings.Join(what, "; ")
}
