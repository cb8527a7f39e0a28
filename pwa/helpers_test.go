package pwa_test

import (
	"net/http"
	"testing"

	"civico/internal/testutil"
)

// start starts a server for one test.
func start(t *testing.T) *testutil.Server {
	t.Helper()
	return testutil.Start(t)
}

// restart restarts srv on the same data and port.
func restart(t *testing.T, srv *testutil.Server) {
	t.Helper()
	srv.Restart(t)
}

// street creates a street as admin and brings members in with an invite,
// through the API: the browser tests spend their time on the screens they
// are about.
func street(t *testing.T, srv *testutil.Server, admin *testutil.User, name string, members ...*testutil.User) string {
	t.Helper()
	var st struct {
		ID string `json:"id"`
	}
	srv.Do(t, "POST", "/streets", map[string]string{"name": name, "city": "Bologna", "description": "La via di prova"}, admin.Token).
		Expect(t, http.StatusCreated).JSON(t, &st)
	if len(members) == 0 {
		return st.ID
	}
	var inv struct {
		Code string `json:"code"`
	}
	srv.Do(t, "POST", "/streets/"+st.ID+"/invites", map[string]any{"max_uses": len(members)}, admin.Token).
		Expect(t, http.StatusCreated).JSON(t, &inv)
	for _, m := range members {
		srv.Do(t, "POST", "/streets/"+st.ID+"/join", map[string]string{"invite_code": inv.Code}, m.Token).Expect(t, http.StatusOK)
	}
	return st.ID
}

// post publishes a post through the API and returns its id.
func post(t *testing.T, srv *testutil.Server, u *testutil.User, sid, kind, title string) string {
	t.Helper()
	var p struct {
		ID string `json:"id"`
	}
	srv.Do(t, "POST", "/streets/"+sid+"/posts", map[string]string{"kind": kind, "category": "repairs", "title": title,
		"body": "Mi serve una mano, grazie!"}, u.Token).Expect(t, http.StatusCreated).JSON(t, &p)
	return p.ID
}

// feedTitles are the titles of a street's posts, as the API lists them.
func feedTitles(t *testing.T, srv *testutil.Server, u *testutil.User, sid string) []string {
	t.Helper()
	var list struct {
		Items []struct {
			Title string `json:"title"`
		} `json:"items"`
	}
	srv.Do(t, "GET", "/streets/"+sid+"/posts?limit=100", nil, u.Token).Expect(t, http.StatusOK).JSON(t, &list)
	out := make([]string, len(list.Items))
	for i, p := range list.Items {
		out[i] = p.Title
	}
	return out
}

// signIn signs u in through the sign-in screen and waits for the home screen.
func (tb *tab) signIn(u *testutil.User) {
	tb.t.Helper()
	tb.open("/signin")
	tb.fill(`#signin-form [name=email]`, u.Email)
	tb.fill(`#signin-form [name=password]`, u.Password)
	tb.click(`#signin-form button[type=submit]`)
	tb.waitJS("signed in", `location.pathname === '/' && document.querySelector('#my-streets') && !document.querySelector('#my-streets .loading')`)
}

// waitLive waits until the header says the street's channel is live.
func (tb *tab) waitLive() {
	tb.t.Helper()
	tb.waitJS("live channel", `document.getElementById('net').dataset.state === 'live'`)
}
