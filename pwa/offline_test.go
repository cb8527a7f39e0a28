package pwa_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"civico/internal/push"
)

// TestOfflinePostAndReplyArriveOnce: Anna loses her signal on the street's
// board. The header says she is offline, the board she saw is still there,
// and what she writes — a reply to Bruno and a request of her own — waits
// on her phone. When the signal is back both are sent, each exactly once,
// Bruno sees them live, and Anna's board catches up with what Bruno posted
// while she was away, without a reload.
func TestOfflinePostAndReplyArriveOnce(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via del Pratello", brunoU)
	lift := post(t, srv, brunoU, sid, "offer", "Offro un passaggio in centro")
	anna, bruno := newTab(t, srv, "anna"), newTab(t, srv, "bruno")

	anna.signIn(annaU)
	anna.waitWorker()
	// Seen once online, so both are kept for reading offline.
	anna.open("/posts/" + lift)
	anna.waitText("#post-title", "Offro un passaggio")
	anna.open("/streets/" + sid)
	anna.waitText("#feed .post", "Offro un passaggio")
	anna.waitLive()
	anna.eval(`window.__sameDocument = true`, nil)

	bruno.signIn(brunoU)
	bruno.open("/posts/" + lift)
	bruno.waitLive()

	anna.setOffline(true)
	anna.waitJS("offline shown", `document.getElementById('net').dataset.state === 'offline' && !document.getElementById('net').hidden`)

	// While she is away, Bruno asks for something.
	plants := post(t, srv, brunoU, sid, "request", "Chi mi annaffia le piante?")

	anna.click(`#feed .post[data-post-id="` + lift + `"] a`)
	anna.waitText("#post-title", "Offro un passaggio")
	anna.waitJS("read from the saved copy", `document.querySelector('main .saved')`)
	anna.fill(`#reply-form [name=body]`, "Mi farebbe comodo martedì!")
	anna.click(`#reply-form button[type=submit]`)
	anna.waitJS("reply waiting", `document.querySelector('#replies .reply.pending')`)
	anna.click(`a.back`)
	anna.waitPath("/streets/" + sid)
	anna.click("#new-request")
	anna.waitPath("/streets/" + sid + "/new")
	anna.choose(`#post-form [name=category]`, "lending")
	anna.fill(`#post-form [name=title]`, "Qualcuno ha una tenda da campeggio?")
	anna.fill(`#post-form [name=body]`, "Per il weekend, la riporto lunedì.")
	anna.click(`#post-form button[type=submit]`)
	anna.waitPath("/streets/" + sid)
	anna.waitText("#feed .post.pending", "tenda da campeggio")
	anna.waitText("#net", "2")
	anna.screen("feed-offline")
	if titles := feedTitles(t, srv, brunoU, sid); len(titles) != 2 {
		t.Fatalf("the server has %q while Anna is offline, want only Bruno's two posts", titles)
	}

	anna.setOffline(false)
	anna.waitJS("sent", `!document.querySelector('#feed .post.pending') && [...document.querySelectorAll('#feed .post[data-post-id]')].some((e) => e.textContent.includes('tenda da campeggio'))`)
	anna.waitLive()
	anna.waitJS("indicator quiet", `document.getElementById('net').hidden`)
	anna.waitText(`#feed .post[data-post-id="`+plants+`"]`, "annaffia le piante")
	var same bool
	anna.eval(`window.__sameDocument === true`, &same)
	if !same {
		t.Error("Anna's board reloaded")
	}

	// Bruno sees the reply on his post and the new request on the board.
	bruno.waitText("#replies .reply", "martedì")
	bruno.open("/streets/" + sid)
	bruno.waitText("#feed .post", "tenda da campeggio")
	if n := bruno.count(`#feed .post[data-post-id]`); n != 3 {
		t.Errorf("Bruno's board has %d posts, want 3", n)
	}
	titles := feedTitles(t, srv, brunoU, sid)
	if n := strings.Count(strings.Join(titles, "\n"), "tenda da campeggio"); n != 1 {
		t.Errorf("the request was posted %d times: %q", n, titles)
	}
	var thread struct {
		Replies []struct {
			Body string `json:"body"`
		} `json:"replies"`
	}
	srv.Do(t, "GET", "/posts/"+lift, nil, brunoU.Token).Expect(t, http.StatusOK).JSON(t, &thread)
	if len(thread.Replies) != 1 {
		t.Errorf("Bruno's post has %d replies, want Anna's one", len(thread.Replies))
	}
	var left int
	anna.eval(`new Promise((resolve) => { const r = indexedDB.open('civico'); r.onsuccess = () => { const q = r.result.transaction('outbox').objectStore('outbox').count(); q.onsuccess = () => resolve(q.result); }; })`, &left)
	if left != 0 {
		t.Errorf("%d items left in Anna's outbox", left)
	}
}

// TestPushOpensPost: the notification settings explain pushes before
// asking anything; once Anna allowed notifications, a push for Bruno's new
// request, delivered to her service worker, shows a notification, and
// opening it takes her to the post.
//
// DevTools delivers the push (ServiceWorker.deliverPushMessage) but has no
// way to click a notification: the test runs, inside the service worker,
// the function its notificationclick handler calls, with the notification
// the worker showed.
func TestPushOpensPost(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via del Pratello", brunoU)
	pid := post(t, srv, brunoU, sid, "request", "Cerco una babysitter venerdì sera")
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.waitWorker()

	anna.open("/settings")
	anna.waitJS("push explained", `document.querySelector('#push-box #push-on') && document.querySelector('#prefs-form')`)
	var perm string
	anna.eval(`Notification.permission`, &perm)
	if perm != "default" {
		t.Errorf("notification permission is %q before Anna pressed anything, want it not asked (default)", perm)
	}
	anna.screen("settings")

	anna.grantNotifications()
	anna.open("/")
	title := "Via del Pratello: nuova richiesta"
	match := fmt.Sprintf(`(ns) => ns.find((n) => n.title === %q && n.data && n.data.url === %q)`, title, "/posts/"+pid)
	anna.pushUntilShown(push.Payload{Title: title, Body: "Bruno: Cerco una babysitter venerdì sera", URL: "/posts/" + pid, Tag: "post-" + pid}, match)

	var opened bool
	anna.inWorker(`self.registration.getNotifications().then(async (ns) => {
	  const n = (`+match+`)(ns);
	  if (!n) return false;
	  n.close();
	  await openPost(n.data.url);
	  return true;
	})`, &opened)
	if !opened {
		t.Fatal("the service worker has no such notification")
	}
	anna.waitPath("/posts/" + pid)
	anna.waitText("#post-title", "Cerco una babysitter")
	anna.waitAsync("notification closed", `navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.length === 0)`)
}

// TestFeedResumesAfterDrop: the server restarts under Anna's open board.
// The header says it is reconnecting, then goes quiet when the channel is
// back. Then her phone loses its signal while the server restarts again
// and Bruno posts: back online, the board resumes from the last event it
// saw (?since=) and shows Bruno's post once, without a reload or a refetch.
func TestFeedResumesAfterDrop(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via del Pratello", brunoU)
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.open("/streets/" + sid)
	anna.waitJS("empty board", `document.querySelector('.feed-status .state.empty')`)
	anna.waitLive()
	// Every state the header shows, and every board fetch, from now on.
	anna.eval(`(() => {
	  window.__sameDocument = true;
	  window.__states = [];
	  const net = document.getElementById('net');
	  new MutationObserver(() => window.__states.push(net.dataset.state)).observe(net, { attributes: true, attributeFilter: ['data-state'] });
	  window.__fetches = 0;
	  new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.name.includes('/streets/`+sid+`/posts')) window.__fetches++; }).observe({ type: 'resource' });
	})()`, nil)

	post(t, srv, brunoU, sid, "offer", "Presto la scala")
	anna.waitText("#feed .post", "Presto la scala")

	restart(t, srv)
	anna.waitLive()
	var states []string
	anna.eval(`window.__states`, &states)
	if !slices.Contains(states, "connecting") {
		t.Errorf("the header went through %q, never saying it was reconnecting", states)
	}
	anna.waitJS("indicator quiet", `document.getElementById('net').hidden`)

	anna.setOffline(true)
	anna.waitJS("offline shown", `document.getElementById('net').dataset.state === 'offline'`)
	restart(t, srv)
	missed := post(t, srv, brunoU, sid, "request", "Chi mi presta un trapano?")
	anna.setOffline(false)
	anna.waitText(`#feed .post[data-post-id="`+missed+`"]`, "trapano")
	anna.waitLive()
	if n := anna.count(`#feed .post[data-post-id="` + missed + `"]`); n != 1 {
		t.Errorf("the missed post is on the board %d times", n)
	}
	var same bool
	var fetches int
	anna.eval(`window.__sameDocument === true`, &same)
	anna.eval(`window.__fetches`, &fetches)
	if !same || fetches != 0 {
		t.Errorf("the board caught up by reloading (same document %v) or refetching (%d fetches), not by resuming", same, fetches)
	}
}
