package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"civico/internal/config"
	"civico/internal/testutil"
)

type postJSON struct {
	ID            string `json:"id"`
	Title         string `json:"title"`
	Status        string `json:"status"`
	AuthorName    string `json:"author_name"`
	RemovalReason string `json:"removal_reason"`
	ReplyCount    int    `json:"reply_count"`
}

// A member of street B — even its admin — reaches nothing of street A:
// every endpoint answers 404 and changes nothing.
func TestAMemberOfAnotherStreetGetsNotFoundEverywhere(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, zeno := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Zeno")
	sidA := s.StreetWithMembers(t, anna, "Via A", bruno)
	s.CreateStreet(t, zeno, "Via B")
	pid := s.CreatePost(t, bruno, sidA, "request", "Solo per A")
	rid := s.Reply(t, anna, pid, "risposta")
	var rep struct{ ID string }
	s.Do(t, "POST", "/reports", map[string]string{"target": "post", "id": pid, "reason": "prova"}, anna.Token).Expect(t, 201).JSON(t, &rep)
	code := s.Invite(t, anna, sidA)
	a := "/streets/" + sidA
	cases := []struct {
		method, path string
		body         any
	}{
		{"GET", a + "/members", nil},
		{"GET", a + "/members?status=pending", nil},
		{"GET", a + "/audit", nil},
		{"GET", a + "/invites", nil},
		{"POST", a + "/invites", nil},
		{"DELETE", a + "/invites/" + code, nil},
		{"POST", a + "/members/" + bruno.ID + "/approve", nil},
		{"POST", a + "/members/" + bruno.ID + "/reject", nil},
		{"POST", a + "/members/" + bruno.ID + "/ban", map[string]string{"reason": "x"}},
		{"POST", a + "/members/" + bruno.ID + "/unban", nil},
		{"PUT", a + "/members/" + bruno.ID + "/role", map[string]string{"role": "admin"}},
		{"DELETE", a + "/members/me", nil},
		{"GET", a + "/posts", nil},
		{"POST", a + "/posts", map[string]string{"kind": "offer", "category": "other", "title": "x", "body": "y"}},
		{"GET", "/posts/" + pid, nil},
		{"PATCH", "/posts/" + pid, map[string]string{"title": "preso"}},
		{"DELETE", "/posts/" + pid, map[string]string{"reason": "x"}},
		{"GET", "/posts/" + pid + "/replies", nil},
		{"POST", "/posts/" + pid + "/replies", map[string]string{"body": "ciao"}},
		{"POST", "/posts/" + pid + "/accept", map[string]string{"reply_id": rid}},
		{"POST", "/posts/" + pid + "/done", nil},
		{"POST", "/posts/" + pid + "/close", nil},
		{"POST", "/posts/" + pid + "/renew", nil},
		{"POST", "/posts/" + pid + "/pin", nil},
		{"POST", "/posts/" + pid + "/unpin", nil},
		{"POST", "/reports", map[string]string{"target": "post", "id": pid, "reason": "x"}},
		{"POST", "/reports", map[string]string{"target": "reply", "id": rid, "reason": "x"}},
		{"POST", "/reports", map[string]string{"target": "user", "id": bruno.ID, "street_id": sidA, "reason": "x"}},
		{"GET", a + "/reports", nil},
		{"POST", "/reports/" + rep.ID + "/resolve", map[string]string{"action": "remove", "reason": "x"}},
	}
	for _, c := range cases {
		r := s.Do(t, c.method, c.path, c.body, zeno.Token)
		if r.Status != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 404", c.method, c.path, r.Status, r.Body)
		}
	}
	// Nothing changed in street A.
	var post struct {
		postJSON
		Replies []struct{ Body string } `json:"replies"`
	}
	s.Do(t, "GET", "/posts/"+pid, nil, bruno.Token).Expect(t, 200).JSON(t, &post)
	if post.Title != "Solo per A" || post.Status != "open" || post.ReplyCount != 1 {
		t.Fatalf("post A = %+v", post)
	}
	var feed struct {
		Items []postJSON `json:"items"`
	}
	s.Do(t, "GET", a+"/posts", nil, bruno.Token).Expect(t, 200).JSON(t, &feed)
	if len(feed.Items) != 1 {
		t.Fatalf("feed A = %+v", feed.Items)
	}
	s.Do(t, "GET", a, nil, bruno.Token).Expect(t, 200)
	var members struct {
		Items []memberJSON `json:"items"`
	}
	s.Do(t, "GET", a+"/members", nil, anna.Token).Expect(t, 200).JSON(t, &members)
	for _, mm := range members.Items {
		if mm.UserID == zeno.ID || (mm.UserID == bruno.ID && (mm.Status != "active" || mm.Role != "member")) {
			t.Fatalf("members of A changed: %+v", members.Items)
		}
	}
}

func TestPostsErrorCodesAndFlow(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.PostsPerHour = 3 }))
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via Zamboni", bruno)
	feedPath := "/streets/" + sid + "/posts"
	cases := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"unknown kind", map[string]string{"kind": "gift", "category": "repairs", "title": "t", "body": "b"}, 422, "kind"},
		{"unknown category", map[string]string{"kind": "offer", "category": "plumbing", "title": "t", "body": "b"}, 422, "category"},
		{"empty title", map[string]string{"kind": "offer", "category": "repairs", "title": "", "body": "b"}, 422, "title"},
		{"long body", map[string]string{"kind": "offer", "category": "repairs", "title": "t", "body": strings.Repeat("b", 4001)}, 422, "body"},
		{"unknown field", map[string]string{"kind": "offer", "category": "repairs", "title": "t", "body": "b", "author_id": anna.ID}, 422, "author_id"},
		{"operator injection", `{"kind":{"$ne":""},"category":"repairs","title":"t","body":"b"}`, 422, "kind"},
	}
	for _, c := range cases {
		r := s.Do(t, "POST", feedPath, c.body, bruno.Token)
		if r.Status != c.status || r.Fields()[c.field] == "" {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	s.Do(t, "POST", feedPath, "{", bruno.Token).ExpectError(t, 400, "bad_json")

	pid := s.CreatePost(t, bruno, sid, "request", "Rubinetto")
	s.CreatePost(t, bruno, sid, "offer", "Scala")
	s.CreatePost(t, bruno, sid, "offer", "Trapano")
	r := s.Do(t, "POST", feedPath, map[string]string{"kind": "offer", "category": "repairs", "title": "quarto", "body": "b"}, bruno.Token)
	r.ExpectError(t, 429, "rate_limited")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 3600 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}

	// The feed: newest first, filters, cursors.
	var page struct {
		Items      []postJSON `json:"items"`
		NextCursor string     `json:"next_cursor"`
	}
	s.Do(t, "GET", feedPath+"?limit=2", nil, anna.Token).Expect(t, 200).JSON(t, &page)
	if len(page.Items) != 2 || page.Items[0].Title != "Trapano" || page.NextCursor == "" || page.Items[0].AuthorName != "Bruno" {
		t.Fatalf("page 1 = %+v", page)
	}
	cursor := page.NextCursor
	page.NextCursor = ""
	s.Do(t, "GET", feedPath+"?limit=2&cursor="+cursor, nil, anna.Token).Expect(t, 200).JSON(t, &page)
	if len(page.Items) != 1 || page.Items[0].Title != "Rubinetto" || page.NextCursor != "" {
		t.Fatalf("page 2 = %+v", page)
	}
	s.Do(t, "GET", feedPath+"?cursor=AAAA~BBBB", nil, anna.Token).ExpectError(t, 400, "bad_cursor")
	s.Do(t, "GET", feedPath+"?kind=gift", nil, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "GET", feedPath+"?kind=offer&q=SCAL", nil, anna.Token).Expect(t, 200).JSON(t, &page)
	if len(page.Items) != 1 || page.Items[0].Title != "Scala" {
		t.Fatalf("filtered = %+v", page.Items)
	}

	// Replies, accept, done, with their role checks.
	for _, bad := range []string{"/posts/nope", "/posts/0123456789abcdef01234567"} {
		s.Do(t, "GET", bad, nil, anna.Token).ExpectError(t, 404, "post_not_found")
	}
	rid := s.Reply(t, anna, pid, "passo io")
	s.Do(t, "POST", "/posts/"+pid+"/done", nil, bruno.Token).ExpectError(t, 409, "post_not_matched")
	s.Do(t, "POST", "/posts/"+pid+"/accept", map[string]string{"reply_id": rid}, anna.Token).ExpectError(t, 403, "not_author")
	s.Do(t, "POST", "/posts/"+pid+"/accept", map[string]string{"reply_id": "nope"}, bruno.Token).ExpectError(t, 422, "validation_failed")
	var p postJSON
	s.Do(t, "POST", "/posts/"+pid+"/accept", map[string]string{"reply_id": rid}, bruno.Token).Expect(t, 200).JSON(t, &p)
	if p.Status != "matched" {
		t.Fatalf("accept = %+v", p)
	}
	s.Do(t, "POST", "/posts/"+pid+"/done", map[string]string{"thanks": "grazie"}, anna.Token).ExpectError(t, 403, "not_author")
	s.Do(t, "POST", "/posts/"+pid+"/done", map[string]string{"thanks": "grazie"}, bruno.Token).Expect(t, 200).JSON(t, &p)
	if p.Status != "done" {
		t.Fatalf("done = %+v", p)
	}
	s.Do(t, "POST", "/posts/"+pid+"/replies", map[string]string{"body": "tardi"}, anna.Token).ExpectError(t, 409, "post_closed")
	s.Do(t, "POST", "/posts/"+pid+"/pin", nil, bruno.Token).ExpectError(t, 403, "not_admin")
	s.Do(t, "POST", "/posts/"+pid+"/pin", nil, anna.Token).Expect(t, 200)

	// Removal: an admin needs a reason; the author sees why.
	other := page.Items[0].ID
	s.Do(t, "DELETE", "/posts/"+other, nil, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "DELETE", "/posts/"+other, map[string]string{"reason": "doppione"}, anna.Token).Expect(t, 200)
	s.Do(t, "GET", "/posts/"+other, nil, bruno.Token).Expect(t, 200).JSON(t, &p)
	if p.Status != "removed" || p.RemovalReason != "doppione" {
		t.Fatalf("the author sees %+v", p)
	}
	s.Do(t, "POST", "/posts/"+other+"/renew", nil, bruno.Token).ExpectError(t, 409, "post_not_renewable")
}

// Every id in a path or a body is checked: malformed, unknown or
// operator-like ids answer 404 with the object's code, and a cursor that was
// altered or made for another list answers 400; nothing changes.
func TestBadIDsAndCursorsAreRefusedEverywhere(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via Zamboni", bruno)
	var pids []string
	for _, title := range []string{"Uno", "Due", "Tre"} {
		pids = append(pids, s.CreatePost(t, bruno, sid, "request", title))
	}
	pid := pids[0]
	for i := range 3 {
		s.Reply(t, anna, pid, "risposta "+strconv.Itoa(i))
	}
	a := "/streets/" + sid
	for _, bad := range []string{"nope", "0123456789abcdef01234567", "%24ne", "0123456789ABCDEF0123456G"} {
		cases := []struct {
			method, path string
			body         any
			code         string
		}{
			{"GET", "/streets/" + bad + "/posts", nil, "street_not_found"},
			{"POST", "/streets/" + bad + "/posts", map[string]string{"kind": "offer", "category": "other", "title": "t", "body": "b"}, "street_not_found"},
			{"GET", "/streets/" + bad + "/members", nil, "street_not_found"},
			{"GET", "/streets/" + bad + "/audit", nil, "street_not_found"},
			{"GET", "/streets/" + bad + "/reports", nil, "street_not_found"},
			{"POST", "/streets/" + bad + "/join", nil, "street_not_found"},
			{"POST", "/streets/" + bad + "/invites", nil, "street_not_found"},
			{"DELETE", "/streets/" + bad + "/members/me", nil, "street_not_found"},
			{"DELETE", a + "/invites/" + bad, nil, "invite_not_found"},
			{"POST", a + "/members/" + bad + "/approve", nil, "member_not_found"},
			{"POST", a + "/members/" + bad + "/reject", nil, "member_not_found"},
			{"POST", a + "/members/" + bad + "/unban", nil, "member_not_found"},
			{"PUT", a + "/members/" + bad + "/role", map[string]string{"role": "admin"}, "member_not_found"},
			{"GET", "/posts/" + bad, nil, "post_not_found"},
			{"PATCH", "/posts/" + bad, map[string]string{"title": "x"}, "post_not_found"},
			{"DELETE", "/posts/" + bad, map[string]string{"reason": "x"}, "post_not_found"},
			{"GET", "/posts/" + bad + "/replies", nil, "post_not_found"},
			{"POST", "/posts/" + bad + "/replies", map[string]string{"body": "x"}, "post_not_found"},
			{"POST", "/posts/" + bad + "/accept", map[string]string{"reply_id": "0123456789abcdef01234567"}, "post_not_found"},
			{"POST", "/posts/" + bad + "/done", nil, "post_not_found"},
			{"POST", "/posts/" + bad + "/close", nil, "post_not_found"},
			{"POST", "/posts/" + bad + "/renew", nil, "post_not_found"},
			{"POST", "/posts/" + bad + "/pin", nil, "post_not_found"},
			{"POST", "/posts/" + bad + "/unpin", nil, "post_not_found"},
			{"POST", "/reports", map[string]string{"target": "post", "id": bad, "reason": "x"}, "post_not_found"},
			{"POST", "/reports", map[string]string{"target": "reply", "id": bad, "reason": "x"}, "reply_not_found"},
			{"POST", "/reports", map[string]string{"target": "user", "id": bad, "street_id": sid, "reason": "x"}, "member_not_found"},
			{"POST", "/reports", map[string]string{"target": "user", "id": anna.ID, "street_id": bad, "reason": "x"}, "street_not_found"},
			{"POST", "/reports/" + bad + "/resolve", map[string]string{"action": "dismiss"}, "report_not_found"},
		}
		for _, c := range cases {
			s.Do(t, c.method, c.path, c.body, anna.Token).ExpectError(t, http.StatusNotFound, c.code)
		}
	}
	r := s.Do(t, "POST", "/posts/"+pid+"/accept", map[string]string{"reply_id": "nope"}, bruno.Token)
	if r.Status != 422 || r.Fields()["reply_id"] != "unknown" {
		t.Fatalf("accept a malformed reply id: %d %s", r.Status, r.Body)
	}

	// Cursors: each list's own, altered; and one list's cursor on another.
	next := func(path string) string {
		t.Helper()
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		s.Do(t, "GET", path, nil, anna.Token).Expect(t, 200).JSON(t, &page)
		if page.NextCursor == "" {
			t.Fatalf("%s has no second page", path)
		}
		return page.NextCursor
	}
	lists := map[string]string{
		"feed":      a + "/posts?limit=1",
		"replies":   "/posts/" + pid + "/replies?limit=1",
		"members":   a + "/members?limit=1",
		"audit":     a + "/audit?limit=1",
		"directory": "/streets?limit=1",
	}
	s.CreateStreet(t, anna, "Via Irnerio") // a second page of the directory
	cursors := map[string]string{}
	for name, path := range lists {
		cursors[name] = next(path)
	}
	for name, path := range lists {
		good := cursors[name]
		body, mac, _ := strings.Cut(good, "~")
		for _, bad := range []string{good + "x", "A" + good, body, body + "~" + mac[:len(mac)-1], "garbage", strings.Repeat("a", 2000)} {
			s.Do(t, "GET", path+"&cursor="+bad, nil, anna.Token).ExpectError(t, 400, "bad_cursor")
		}
		for other, c := range cursors {
			if other != name {
				s.Do(t, "GET", path+"&cursor="+c, nil, anna.Token).ExpectError(t, 400, "bad_cursor")
			}
		}
	}
	s.Do(t, "GET", a+"/reports?cursor="+cursors["feed"], nil, anna.Token).ExpectError(t, 400, "bad_cursor")

	// Nothing changed.
	var feed struct {
		Items []postJSON `json:"items"`
	}
	s.Do(t, "GET", a+"/posts", nil, bruno.Token).Expect(t, 200).JSON(t, &feed)
	if len(feed.Items) != 3 || feed.Items[2].ReplyCount != 3 || feed.Items[2].Status != "open" {
		t.Fatalf("feed = %+v", feed.Items)
	}
}
