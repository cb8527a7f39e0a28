package pwa_test

// The harness of the browser tests: one headless Chromium for the whole
// test binary, one browser context (cookies, storage, service workers of its
// own) per simulated person, helpers that wait for DOM conditions, and the
// checks every screen gets (no CSP violation, no uncaught error, axe-core).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/testutil"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		_ = os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// chromiumPath finds Debian's chromium (or CIVICO_CHROMIUM).
func chromiumPath() string {
	if p := os.Getenv("CIVICO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startBrowser returns the shared browser, starting it on first use. Without
// a chromium the browser tests skip, unless CI is set: there they must run.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found, and CI is set: install it (apt-get install chromium) or set CIVICO_CHROMIUM")
		}
		t.Skip("chromium not found: install Debian's chromium (apt-get install chromium) to run the browser tests")
	}
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "civico-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		browser.dir = dir
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(390, 844),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
			chromedp.Flag("lang", "it-IT"),
			chromedp.Flag("accept-lang", "it-IT,it"),
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		// The first Do binds the browser to ctx, so it has no timeout; a
		// stuck start is caught by the test binary's own deadline.
		if err := chromedp.Do(ctx); err != nil {
			cancelCtx()
			cancelAlloc()
			browser.err = fmt.Errorf("start chromium: %w", err)
			return
		}
		browser.ctx = ctx
		browser.cancel = func() {
			cancelCtx()
			cancelAlloc()
		}
	})
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	return browser.ctx
}

// artifacts is where screenshots go: $CIVICO_ARTIFACTS, or artifacts/ at
// the repository root.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CIVICO_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, "pwa")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one person's browser: a browser context of its own, a phone-sized
// viewport, and the server it talks to.
type tab struct {
	t    *testing.T
	ctx  context.Context
	srv  *testutil.Server
	name string
	sw   context.Context // attached to the app's service worker, once asked for
}

// watch records what must never happen on a page: CSP violations and
// uncaught errors. The script runs before the page's own, installed by
// DevTools (so the CSP does not apply to it).
const watch = `(() => {
  window.__civico = { csp: [], errors: [] };
  document.addEventListener('securitypolicyviolation', (e) => window.__civico.csp.push(e.violatedDirective + ' ' + e.blockedURI));
  window.addEventListener('error', (e) => window.__civico.errors.push(String(e.message)));
  window.addEventListener('unhandledrejection', (e) => window.__civico.errors.push(String(e.reason && (e.reason.stack || e.reason.message) || e.reason)));
})();`

// newTab opens a new browser context for one person.
func newTab(t *testing.T, srv *testutil.Server, name string) *tab {
	t.Helper()
	return tabIn(t, startBrowser(t), srv, name)
}

// tabIn opens a tab for one person, in a browser context of its own, in
// the browser root.
func tabIn(t *testing.T, root context.Context, srv *testutil.Server, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab for %s: %v", name, err)
	}
	tb := &tab{t: t, ctx: ctx, srv: srv, name: name}
	tb.do("open tab",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watch})
			return err
		}),
	)
	t.Cleanup(tb.checkClean)
	return tb
}

// deadline is how long one step may take: generous, the machine is shared.
const deadline = 30 * time.Second

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, deadline)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fail("%s: %v", what, err)
	}
}

func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000) + "\n" + JSON.stringify(window.__civico || {})`)); err == nil {
		msg += "\n--- " + tb.name + " page ---\n" + html
	}
	tb.t.Fatal(msg)
}

// open navigates to path on the server and waits for the app to draw.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.srv.URL+path))
	tb.waitJS("app drawn", `document.querySelector('main h1') !== null && !document.querySelector('main .state.loading')`)
}

// eval runs js in the page and decodes its (awaited) result into out.
func (tb *tab) eval(js string, out any) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, deadline)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, func(p *runtime.EvaluateParams) {
		p.AwaitPromise = ptr(true)
		p.ReturnByValue = ptr(true)
	}))
	if err != nil {
		tb.fail("eval %q: %v", js, err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.fail("decode %s: %v", raw, err)
		}
	}
}

// waitJS waits until the expression is truthy: checked on every DOM change,
// and every 100 ms for state that is not in the DOM (a service worker).
// chromedp's Poll compiles with new Function, which the app's CSP forbids.
func (tb *tab) waitJS(what, expr string) {
	tb.t.Helper()
	if err := tb.holds(expr, deadline); err != nil {
		tb.fail("wait for %s (%s): %v", what, expr, err)
	}
}

// holds waits, at most within, until expr is true, watching the DOM.
func (tb *tab) holds(expr string, within time.Duration) error {
	js := `new Promise((resolve) => {
	  const check = () => { try { return !!(` + expr + `); } catch (e) { return false; } };
	  if (check()) { resolve(true); return; }
	  let done = false;
	  const finish = () => { if (done) return; done = true; obs.disconnect(); clearInterval(iv); resolve(true); };
	  const obs = new MutationObserver(() => { if (check()) finish(); });
	  obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
	  const iv = setInterval(() => { if (check()) finish(); }, 100);
	})`
	ctx, cancel := context.WithTimeout(tb.ctx, within)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, func(p *runtime.EvaluateParams) { p.AwaitPromise = ptr(true) }))
	return err
}

// clickFor clicks sel and waits until expr shows the click took effect,
// clicking again if it did not: a live redraw (the post's own event, then
// its refetch) can replace the button between the press and the release
// of a tap, and a browser then fires no click; a person whose tap did
// nothing taps again.
func (tb *tab) clickFor(sel, what, expr string) {
	tb.t.Helper()
	for range 3 {
		tb.click(sel)
		if tb.holds(expr, 3*time.Second) == nil {
			return
		}
	}
	tb.waitJS(what, expr)
}

// waitText waits until an element matching sel contains text.
func (tb *tab) waitText(sel, text string) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf("%q in %s", text, sel), fmt.Sprintf(`[...document.querySelectorAll(%q)].some((e) => e.textContent.includes(%q))`, sel, text))
}

// count is how many elements match sel.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	var n int
	tb.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
	return n
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	// A live update may redraw the element between finding and clicking
	// it; a person's tap lands on the new one, so look for it again.
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(tb.ctx, deadline)
		err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		if attempt < 3 && strings.Contains(err.Error(), "Could not find node") {
			continue
		}
		tb.fail("click %s: %v", sel, err)
	}
}

// fill types text into the field matching sel, as a person would.
func (tb *tab) fill(sel, text string) {
	tb.t.Helper()
	tb.do("find "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	tb.eval(fmt.Sprintf(`document.querySelector(%q).value = ''`, sel), nil)
	tb.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose selects value in the <select> matching sel.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	tb.do("choose "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), value))
	tb.eval(fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event('change', {bubbles: true}))`, sel), nil)
}

// path is the page's path and query.
func (tb *tab) path() string {
	tb.t.Helper()
	var p string
	tb.eval(`location.pathname + location.search`, &p)
	return p
}

// waitPath waits until the app's URL path starts with prefix.
func (tb *tab) waitPath(prefix string) {
	tb.t.Helper()
	tb.waitJS("path "+prefix, fmt.Sprintf(`location.pathname.startsWith(%q) && document.querySelector('main h1') && !document.querySelector('main > .state.loading')`, prefix))
}

// shot saves a screenshot of the viewport (390×844) as name.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, deadline)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.fail("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(artifacts(tb.t), name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// checkClean fails the test if the page broke the CSP or threw.
func (tb *tab) checkClean() {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify(window.__civico || {csp: [], errors: []})`))
	if err != nil {
		return // the tab is gone; nothing to read
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	var got struct {
		CSP    []string `json:"csp"`
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal([]byte(s), &got)
	if len(got.CSP) > 0 {
		tb.t.Errorf("%s: content security policy violations: %s", tb.name, strings.Join(got.CSP, "; "))
	}
	var errs []string
	for _, e := range got.Errors {
		// An aborted fetch while leaving a screen is expected, not a bug.
		if strings.Contains(e, "AbortError") {
			continue
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		tb.t.Errorf("%s: uncaught errors: %s", tb.name, strings.Join(errs, "; "))
	}
}

// axeVersion is the axe-core release the audits use, installed from npm
// into a cache directory on first use (never into the repository).
const axeVersion = "4.14.1"

var axeCore struct {
	once sync.Once
	src  string
	err  error
}

func axeSource() (string, error) {
	axeCore.once.Do(func() {
		dir := os.Getenv("CIVICO_AXE_DIR")
		if dir == "" {
			cache, err := os.UserCacheDir()
			if err != nil {
				cache = os.TempDir()
			}
			dir = filepath.Join(cache, "civico", "axe-core-"+axeVersion)
		}
		file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(file); err != nil {
			npm, err := exec.LookPath("npm")
			if err != nil {
				axeCore.err = fmt.Errorf("npm not found, cannot install axe-core: %w", err)
				return
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				axeCore.err = err
				return
			}
			cmd := exec.Command(npm, "install", "--prefix", dir, "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
				"--loglevel=error", "axe-core@"+axeVersion)
			if out, err := cmd.CombinedOutput(); err != nil {
				axeCore.err = fmt.Errorf("npm install axe-core: %v: %s", err, out)
				return
			}
		}
		b, err := os.ReadFile(file)
		axeCore.src, axeCore.err = string(b), err
	})
	return axeCore.src, axeCore.err
}

// audit runs axe-core on the page and fails on any serious or critical
// violation. Without npm the audit is skipped locally, and fails in CI.
func (tb *tab) audit(screen string) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.t.Fatalf("axe-core: %v", err)
		}
		tb.t.Logf("axe-core audit of %s skipped: %v", screen, err)
		return
	}
	var loaded bool
	tb.eval(`typeof window.axe === 'object'`, &loaded)
	if !loaded {
		ctx, cancel := context.WithTimeout(tb.ctx, deadline)
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			tb.fail("load axe-core: %v", err)
		}
	}
	var raw string
	tb.eval(`axe.run(document, { resultTypes: ['violations'] }).then((r) => JSON.stringify(r.violations
	  .filter((v) => v.impact === 'serious' || v.impact === 'critical')
	  .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '')) }))))`, &raw)
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		tb.fail("axe result %q: %v", raw, err)
	}
	for _, v := range violations {
		tb.t.Errorf("axe on %s: %s (%s): %s\n  %s", screen, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// screen is what every main screen gets: a screenshot at 390×844, an
// axe-core audit, tap targets of at least 44 px, and no sideways scrolling
// at 320 px wide.
func (tb *tab) screen(name string) {
	tb.t.Helper()
	tb.shot(name)
	tb.audit(name)
	tb.targets(name)
	tb.reflow(name)
}

// targets fails on a control smaller than 44×44 px: buttons, button-like
// links, fields and menus (links inside text and the boxes of labelled
// checkboxes are exempt, as in WCAG 2.5.8).
func (tb *tab) targets(screen string) {
	tb.t.Helper()
	var small []string
	tb.eval(`[...document.querySelectorAll('button, .btn, select, textarea, input:not([type=checkbox]):not([type=radio]):not([type=hidden])')]
	  .filter((e) => e.offsetParent !== null && !e.closest('[hidden], .sr-only, .skip'))
	  .filter((e) => { const r = e.getBoundingClientRect(); return r.height < 43.5 || r.width < 43.5; })
	  .map((e) => { const r = e.getBoundingClientRect(); return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className + ' "' + (e.textContent || e.name || '').trim().slice(0, 30) + '" ' + Math.round(r.width) + 'x' + Math.round(r.height); })`, &small)
	for _, s := range small {
		tb.t.Errorf("%s: tap target under 44 px: %s", screen, s)
	}
}

// reflow narrows the viewport to 320 px (what 400 %% zoom leaves of a
// 1280 px screen) and fails if the page then scrolls sideways.
func (tb *tab) reflow(screen string) {
	tb.t.Helper()
	tb.do("320 px wide", chromedp.EmulateViewport(320, 844, chromedp.EmulateScale(1)))
	defer tb.do("390 px wide", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
	var wide []string
	tb.eval(`new Promise((resolve) => requestAnimationFrame(() => {
	  const w = document.documentElement.clientWidth;
	  if (document.documentElement.scrollWidth <= w) { resolve([]); return; }
	  resolve([...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))
	    .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)));
	}))`, &wide)
	if len(wide) > 0 {
		tb.t.Errorf("%s scrolls sideways at 320 px: %s", screen, strings.Join(wide, "; "))
	}
}

func ptr[T any](v T) *T { return &v }
