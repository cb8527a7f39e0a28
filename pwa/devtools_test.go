package pwa_test

// What the browser tests ask of DevTools beyond clicking and typing: cutting
// a tab's network (page and service worker), granting the notification
// permission, failing one answer on its way back, delivering a push to the
// service worker and running code inside it.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// call runs one DevTools command on the tab's page target.
func (tb *tab) call(what string, fn func(ctx context.Context, tg *chromedp.Target) error) {
	tb.t.Helper()
	tb.do(what, chromedp.Func(fn))
}

// setOffline cuts (or restores) the tab's network as a phone losing its
// signal would: navigator.onLine and the online/offline events, every
// request of the page, and the service worker's own fetches (the worker is
// a target of its own, so it gets the same conditions).
func (tb *tab) setOffline(off bool) {
	tb.t.Helper()
	apply := func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		rules := []*network.Conditions{}
		if off {
			rules = []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}
		}
		if _, err := cdp.Call(ctx, tg, emulateByRule, byRuleParams{Offline: off, EmulateOfflineServiceWorker: off,
			MatchedNetworkConditions: rules}); err != nil {
			return fmt.Errorf("emulateNetworkConditionsByRule: %w", err)
		}
		_, err := cdp.Call(ctx, tg, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
		if err != nil {
			return fmt.Errorf("overrideNetworkState: %w", err)
		}
		return nil
	}
	wctx, cancel := context.WithTimeout(tb.worker(), deadline)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.Func(apply)); err != nil {
		tb.fail("service worker offline=%v: %v", off, err)
	}
	tb.call(fmt.Sprintf("offline=%v", off), apply)
}

// emulateByRule is Network.emulateNetworkConditionsByRule with the
// parameters of both protocol versions: Debian's chromium (148) wants
// "offline" beside the rules, newer ones (cdproto's) inside each rule and
// "emulateOfflineServiceWorker"; each ignores the fields it does not know.
var emulateByRule = cdp.Command[byRuleParams, cdp.Empty]{Method: network.CommandEmulateNetworkConditionsByRule}

type byRuleParams struct {
	Offline                     bool                  `json:"offline"`
	EmulateOfflineServiceWorker bool                  `json:"emulateOfflineServiceWorker"`
	MatchedNetworkConditions    []*network.Conditions `json:"matchedNetworkConditions"`
}

// waitWorker waits until a service worker controls the page: from then on
// the shell is precached and the app opens offline.
func (tb *tab) waitWorker() {
	tb.t.Helper()
	tb.waitJS("service worker in control", `navigator.serviceWorker.controller !== null`)
}

// grantNotifications allows notifications for the app in this tab's browser
// context, as a person answering "allow" would.
func (tb *tab) grantNotifications() {
	tb.t.Helper()
	c := chromedp.FromContext(tb.ctx)
	ctx, cancel := context.WithTimeout(tb.ctx, deadline)
	defer cancel()
	if _, err := cdp.Call(ctx, c.Browser, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted,
		Origin: tb.srv.URL, BrowserContextID: c.BrowserContextID}); err != nil {
		tb.fail("grant notifications: %v", err)
	}
}

// waitAsync waits until the async expression (a Promise of a boolean) is
// true, asking again every 100 ms: for state outside the DOM, such as the
// notifications a service worker shows.
func (tb *tab) waitAsync(what, expr string) {
	tb.t.Helper()
	if err := tb.asyncWithin(expr, deadline); err != nil {
		tb.fail("wait for %s (%s): %v", what, expr, err)
	}
}

// asyncWithin is waitAsync that gives up after d with an error; the
// page's loop ends then too.
func (tb *tab) asyncWithin(expr string, d time.Duration) error {
	js := fmt.Sprintf(`(async () => {
	  const end = Date.now() + %d;
	  while (Date.now() < end) {
	    try { if (await (%s)) return true; } catch (e) { /* not yet */ }
	    await new Promise((r) => setTimeout(r, 100));
	  }
	  return false;
	})()`, d.Milliseconds(), expr)
	ctx, cancel := context.WithTimeout(tb.ctx, d+5*time.Second)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, func(p *runtime.EvaluateParams) { p.AwaitPromise = ptr(true) }))
	if err == nil && !ok {
		err = fmt.Errorf("not true after %s", d)
	}
	return err
}

// pushUntilShown delivers payload as the push service would, and again
// after 10 s, then 20 s, until the worker shows a notification that match
// (a JS function of the worker's notifications) finds. A push service
// retries until the browser takes the message; DevTools, now and then,
// drops a push handed over while the worker starts, even after it
// answered (TestHandoffAnswerFromTheNotification waited 30 s for one in
// CI). The payloads carry a tag, so a repeat replaces the notification,
// never adds; the waits are long, so a repeat of a push that was only
// slow is unlikely.
func (tb *tab) pushUntilShown(payload any, match string) {
	tb.t.Helper()
	shown := `navigator.serviceWorker.ready.then((r) => r.getNotifications()).then(` + match + `)`
	var err error
	for _, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
		tb.deliverPush(payload)
		if err = tb.asyncWithin(shown, wait); err == nil {
			return
		}
	}
	tb.fail("wait for the notification (%s): %v", match, err)
}

// registration is the id DevTools gives the app's service worker
// registration in this tab's browser context.
func (tb *tab) registration() serviceworker.RegistrationID {
	tb.t.Helper()
	found := make(chan serviceworker.RegistrationID, 1)
	ctx, cancel := context.WithCancel(tb.ctx)
	defer cancel()
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*serviceworker.EventWorkerRegistrationUpdated); ok {
			for _, r := range e.Registrations {
				if !r.IsDeleted && strings.HasPrefix(r.ScopeURL, tb.srv.URL) {
					select {
					case found <- r.RegistrationID:
					default:
					}
				}
			}
		}
	}); err != nil {
		tb.fail("listen: %v", err)
	}
	tb.call("enable the ServiceWorker domain", func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, serviceworker.Enable, cdp.Empty{})
		return err
	})
	select {
	case id := <-found:
		return id
	case <-time.After(deadline):
		tb.fail("no service worker registration reported")
		return ""
	}
}

// deliverPush hands payload to the app's service worker as the push
// service would, through DevTools.
func (tb *tab) deliverPush(payload any) {
	tb.t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		tb.t.Fatal(err)
	}
	// The worker answers first: a push DevTools hands over while the worker
	// is starting (the page just navigated) is now and then dropped without
	// an event (about one run in fifteen), which a push service, retrying
	// until the browser takes the message, never sees.
	tb.inWorker(`true`, nil)
	id := tb.registration()
	tb.call("deliver a push", func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
			Origin: tb.srv.URL, RegistrationID: id, Data: string(b)})
		return err
	})
}

// worker is a DevTools context attached to the app's service worker (of
// this tab's browser context), kept for the rest of the test.
func (tb *tab) worker() context.Context {
	tb.t.Helper()
	if tb.sw != nil {
		return tb.sw
	}
	c := chromedp.FromContext(tb.ctx)
	ctx, cancel := context.WithTimeout(tb.ctx, deadline)
	defer cancel()
	targets, err := chromedp.Targets(ctx)
	if err != nil {
		tb.fail("targets: %v", err)
	}
	var id target.ID
	for _, ti := range targets {
		if ti.Type == "service_worker" && ti.URL == tb.srv.URL+"/sw.js" && ti.BrowserContextID == c.BrowserContextID {
			id = ti.TargetID
		}
	}
	if id == "" {
		tb.fail("no service worker target for %s", tb.name)
	}
	wctx, wcancel := chromedp.NewContext(tb.ctx, chromedp.WithTargetID(id))
	tb.t.Cleanup(wcancel)
	if err := chromedp.Do(wctx); err != nil {
		tb.fail("attach to the service worker: %v", err)
	}
	tb.sw = wctx
	return wctx
}

// inWorker evaluates an async expression inside the app's service worker
// and decodes its result into out.
func (tb *tab) inWorker(expr string, out any) {
	tb.t.Helper()
	rctx, rcancel := context.WithTimeout(tb.worker(), deadline)
	defer rcancel()
	raw, err := chromedp.Run(rctx, chromedp.Evaluate[[]byte](expr, func(p *runtime.EvaluateParams) {
		p.AwaitPromise = ptr(true)
		p.ReturnByValue = ptr(true)
	}))
	if err != nil {
		tb.fail("in the service worker, %q: %v", expr, err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.fail("decode %s: %v", raw, err)
		}
	}
}

// loseAnswers makes the next n answers to requests matching pattern (a
// DevTools URL pattern) fail on their way back: the server did the work,
// the page sees a dropped connection, as on a phone with a bad signal. It
// returns a channel that closes once n answers were lost.
func (tb *tab) loseAnswers(pattern string, n int) <-chan struct{} {
	tb.t.Helper()
	paused := make(chan fetch.RequestID, 16)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(tb.ctx)
	tb.t.Cleanup(cancel)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e.RequestID:
			default:
			}
		}
	}); err != nil {
		tb.fail("listen: %v", err)
	}
	tgt := chromedp.FromContext(tb.ctx).Target
	go func() {
		lost := 0
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-paused:
				cctx, ccancel := context.WithTimeout(ctx, deadline)
				if lost < n {
					_, _ = cdp.Call(cctx, tgt, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonConnectionClosed})
					lost++
					if lost == n {
						_, _ = cdp.Call(cctx, tgt, fetch.Disable, cdp.Empty{})
						close(done)
					}
				} else {
					_, _ = cdp.Call(cctx, tgt, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
				}
				ccancel()
			}
		}
	}()
	tb.call("intercept answers", func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: pattern, RequestStage: fetch.RequestStageResponse}}})
		return err
	})
	return done
}

// waitAcrossLoads is waitJS for a condition that a page load brings: a
// check cut short by the navigation is asked again in the new document.
func (tb *tab) waitAcrossLoads(what, expr string) {
	tb.t.Helper()
	end := time.Now().Add(deadline)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+expr+`); } catch (e) { return false; } })()`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(end) {
			tb.fail("wait for %s (%s): %v", what, expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
