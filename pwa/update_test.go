package pwa_test

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"civico/pwa"
)

// nextVersion is the app with one change, as a deploy would bring: a new
// stylesheet, so a new service worker version.
func nextVersion(t *testing.T) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(pwa.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(pwa.FS(), p)
		if p == "css/app.css" {
			b = append(b, "\n/* the next version */\n"...)
		}
		out[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewVersionAnnounced: a new version is deployed while Anna is typing.
// When the app comes back to the foreground it finds the new version and
// offers to reload; nothing changes under her until she presses "reload" —
// the same page, her text still there, the old version in control. Then
// the new version takes over and the old one's cache is gone.
func TestNewVersionAnnounced(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU := srv.Register(t, "Anna")
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.waitWorker()
	var v1 []string
	anna.eval(`caches.keys().then((ks) => ks.filter((k) => k.startsWith('civico-shell-')))`, &v1)
	if len(v1) != 1 {
		t.Fatalf("shell caches %q, want one", v1)
	}
	anna.open("/account")
	anna.fill(`#account-form [name=name]`, "Anna Bianchi")
	anna.eval(`window.__sameDocument = true`, nil)

	srv.Opts.PWA = nextVersion(t)
	restart(t, srv)
	// The app looks for a new version whenever it comes back to the foreground.
	anna.eval(`document.dispatchEvent(new Event('visibilitychange'))`, nil)
	anna.waitJS("reload offered", `!document.getElementById('update').hidden && document.getElementById('update-reload')`)
	anna.waitAsync("new version waiting", `navigator.serviceWorker.getRegistration().then((r) => !!r.waiting)`)
	var same bool
	var typed string
	anna.eval(`window.__sameDocument === true`, &same)
	anna.eval(`document.querySelector('#account-form [name=name]').value`, &typed)
	if !same || typed != "Anna Bianchi" {
		t.Fatalf("the new version was swapped in under Anna (same page %v, her text %q)", same, typed)
	}
	anna.screen("update-offered")

	anna.click("#update-reload")
	anna.waitAcrossLoads("reloaded", `window.__sameDocument === undefined && document.querySelector('main h1') && navigator.serviceWorker.controller`)
	anna.waitAsync("old cache dropped", `caches.keys().then((ks) => { const s = ks.filter((k) => k.startsWith('civico-shell-')); return s.length === 1 && s[0] !== `+"`"+strings.Join(v1, "")+"`"+`; })`)
	anna.waitJS("no offer after the reload", `document.getElementById('update').hidden`)
}
